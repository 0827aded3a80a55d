//! The RESP value model shared by the parser, the encoder, the command handlers and the
//! Raft state machine (an applied entry's reply is a `Frame`, carried back to the proposer).

use std::borrow::Cow;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// One RESP value. RESP3-only variants are downgraded to RESP2 by the encoder when the
/// connection speaks RESP2, so handlers build one reply for both protocols.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Frame {
    /// `+OK`. Borrowed when the text is a constant: a SET's `+OK` allocates nothing, on any
    /// replica.
    Simple(Cow<'static, str>),
    /// `-ERR ...`: the whole line after `-`, including the error code.
    Error(String),
    /// `:42`
    Integer(i64),
    /// `$3\r\nfoo`
    Bulk(Bytes),
    /// `*N` of frames.
    Array(Vec<Frame>),
    /// A missing value: `$-1` in RESP2, `_` in RESP3.
    Null,
    /// A missing aggregate: `*-1` in RESP2, `_` in RESP3.
    NullArray,
    /// RESP3 map (`%`); a flat array of key, value, key, value in RESP2.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 set (`~`); an array in RESP2.
    Set(Vec<Frame>),
    /// RESP3 double (`,`); a bulk string in RESP2.
    Double(f64),
    /// RESP3 boolean (`#`); the integer 1 or 0 in RESP2.
    Boolean(bool),
    /// RESP3 verbatim string (`=`) with its three-letter format; a bulk string in RESP2.
    Verbatim(String, Bytes),
    /// RESP3 push (`>`), used for pub/sub messages; an array in RESP2.
    Push(Vec<Frame>),
}

impl Frame {
    pub fn ok() -> Frame {
        Frame::Simple("OK".into())
    }

    /// An error reply; `msg` carries its code (`ERR`, `WRONGTYPE`, `MOVED` ...).
    pub fn error(msg: impl Into<String>) -> Frame {
        Frame::Error(msg.into())
    }

    pub fn bulk(b: impl Into<Bytes>) -> Frame {
        Frame::Bulk(b.into())
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_))
    }
}
