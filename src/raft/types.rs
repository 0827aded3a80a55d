//! The openraft type configuration: the one place that names what a log entry carries and
//! what applying it returns, so the rest of the crate talks about `Request` and `Response`.

use std::fmt;
use std::path::PathBuf;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::resp::frame::Frame;

pub use crate::ids::{GroupId, NodeId};

/// One log entry's payload: a command's arguments plus the proposing leader's wall-clock time,
/// so that applying it is a pure function of the entry (docs/architecture.md, "Determinism").
///
/// The arguments sit packed in one buffer (each a little-endian `u32` length, then its bytes),
/// so the clones on an entry's way (log cache, AppendEntries, apply) and a follower's decode
/// cost one reference count and one allocation, not one per argument.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    pub time_ms: u64,
    packed: Bytes,
}

impl Request {
    pub fn new(time_ms: u64, args: &[Bytes]) -> Request {
        let len = args.iter().map(|a| 4 + a.len()).sum();
        let mut packed = Vec::with_capacity(len);
        for a in args {
            // Arguments are limited far below 4 GiB (proto-max-bulk-len).
            packed.extend_from_slice(&(a.len() as u32).to_le_bytes());
            packed.extend_from_slice(a);
        }
        Request {
            time_ms,
            packed: packed.into(),
        }
    }

    /// Bytes the arguments take in the entry (a length before each).
    pub fn packed_len(&self) -> usize {
        self.packed.len()
    }

    /// The arguments, sharing the entry's buffer. Counted first, so a batch fills one
    /// allocation instead of reallocating as it grows.
    pub fn args(&self) -> Vec<Bytes> {
        let mut n = 0;
        walk(&self.packed, |_| n += 1);
        let mut args = Vec::with_capacity(n);
        walk(&self.packed, |r| args.push(self.packed.slice(r)));
        args
    }
}

/// Calls `each` with the range of every argument packed in `packed`; whether it holds a whole
/// number of them (one at least). Decoding checks with it, allocating nothing.
fn walk(packed: &[u8], mut each: impl FnMut(std::ops::Range<usize>)) -> bool {
    let mut at = 0;
    while at < packed.len() {
        let Some(len) = packed
            .get(at..at + 4)
            .and_then(|l| l.try_into().ok())
            .map(u32::from_le_bytes)
        else {
            return false;
        };
        let start = at + 4;
        let Some(end) = start.checked_add(len as usize).filter(|&e| e <= packed.len()) else {
            return false;
        };
        each(start..end);
        at = end;
    }
    at > 0
}

/// Encoded as `(time_ms, 0, packed)`. Entries written before the arguments were packed are
/// `(time_ms, n, n arguments)` with n > 0 (postcard writes a sequence's length as it writes a
/// u64), and still decode.
impl Serialize for Request {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(3)?;
        t.serialize_element(&self.time_ms)?;
        t.serialize_element(&0u64)?;
        t.serialize_element(&self.packed)?;
        t.end()
    }
}

impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = Request;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a log entry's request")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Request, A::Error> {
                use serde::de::Error;
                let mut next = |what: &str| -> Result<u64, A::Error> {
                    seq.next_element()?
                        .ok_or_else(|| A::Error::custom(format!("request without {what}")))
                };
                let time_ms = next("a time")?;
                let legacy = next("an argument count")?;
                let packed = if legacy == 0 {
                    seq.next_element::<Bytes>()?
                        .ok_or_else(|| A::Error::custom("request without arguments"))?
                } else {
                    let mut args = Vec::new();
                    for _ in 0..legacy {
                        args.push(
                            seq.next_element::<Bytes>()?
                                .ok_or_else(|| A::Error::custom("missing argument"))?,
                        );
                    }
                    return Ok(Request::new(time_ms, &args));
                };
                if !walk(&packed, |_| {}) {
                    return Err(A::Error::custom("malformed packed arguments"));
                }
                Ok(Request { time_ms, packed })
            }
        }
        // postcard reads a tuple's elements as they are asked for; the legacy form has more.
        d.deserialize_tuple(usize::MAX, Fields)
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("time_ms", &self.time_ms)
            .field("args", &self.args())
            .finish()
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let args = self.args();
        let name = args.first().map(|a| String::from_utf8_lossy(a)).unwrap_or_default();
        write!(f, "{}({} args)@{}", name, args.len(), self.time_ms)
    }
}

/// What applying a `Request` answered: the reply frame sent back to the client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response(pub Frame);

/// slotraft's Raft types: u64 node ids, `BasicNode` carrying the RPC address, writes answered
/// through `Callback`; the rest are openraft's defaults. Written out rather than with
/// `declare_raft_types!`, whose syntax has no room for the generic `Responder<T>`.
#[derive(Debug, Clone, Copy, Default, Eq, PartialEq, Ord, PartialOrd)]
pub struct TypeConfig {}

impl openraft::RaftTypeConfig for TypeConfig {
    type D = Request;
    type R = Response;
    type NodeId = NodeId;
    type Node = openraft::BasicNode;
    type Term = u64;
    type LeaderId = openraft::impls::leader_id_adv::LeaderId<u64, NodeId>;
    type Vote = openraft::impls::Vote<Self::LeaderId>;
    type Payload = openraft::EntryPayload<Request, NodeId, openraft::BasicNode>;
    type Entry = openraft::Entry<<Self::LeaderId as openraft::vote::RaftLeaderId>::Committed, Self::Payload>;
    type Responder<T>
        = Callback<T>
    where
        T: openraft::OptionalSend + 'static;
    type Batch<T>
        = openraft::impls::InlineBatch<T>
    where
        T: openraft::OptionalSend + 'static;
    type AsyncRuntime = openraft::impls::TokioRuntime;
    type ErrorSource = openraft::impls::BoxedErrorSource;
}

/// What openraft calls with the outcome of a write proposed by `client_write_ff`: a closure,
/// run where the entry is applied (the state machine's task) or refused (the core), so the
/// outcome goes straight to whoever waits for it instead of through a task that awaits it.
/// Dropped uncalled (the core stopped), the closure drops what it holds, and its waiters see
/// their channels close.
pub struct Callback<T>(Box<dyn FnOnce(T) + Send>);

impl<T> Callback<T> {
    pub fn new(f: impl FnOnce(T) + Send + 'static) -> Callback<T> {
        Callback(Box::new(f))
    }
}

impl<T: Send + 'static> openraft::raft::responder::Responder<TypeConfig, T> for Callback<T> {
    fn on_complete(self, result: T) {
        (self.0)(result)
    }
}

pub type Entry = openraft::type_config::alias::EntryOf<TypeConfig>;
pub type LogId = openraft::type_config::alias::LogIdOf<TypeConfig>;
pub type Vote = openraft::type_config::alias::VoteOf<TypeConfig>;
pub type StoredMembership = openraft::type_config::alias::StoredMembershipOf<TypeConfig>;
pub type SnapshotMeta = openraft::type_config::alias::SnapshotMetaOf<TypeConfig>;

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<Bytes> {
        list.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect()
    }

    #[test]
    fn requests_round_trip_packed() {
        let req = Request::new(42, &args(&["SET", "k", "", "v\r\n"]));
        assert_eq!(req.args(), args(&["SET", "k", "", "v\r\n"]));
        let back: Request = postcard::from_bytes(&postcard::to_allocvec(&req).unwrap()).unwrap();
        assert_eq!(back, req);
        assert_eq!(back.time_ms, 42);
        // Inside a log entry, as the log engine and AppendEntries carry it.
        let entry = Entry {
            log_id: openraft::testing::log_id::<TypeConfig>(3, 1, 9),
            payload: openraft::EntryPayload::Normal(req.clone()),
        };
        let back: Entry = postcard::from_bytes(&postcard::to_allocvec(&entry).unwrap()).unwrap();
        assert_eq!(back, entry);
    }

    /// Logs written before the arguments were packed still replay.
    #[test]
    fn requests_written_as_vectors_still_decode() {
        #[derive(Serialize)]
        struct Unpacked {
            time_ms: u64,
            args: Vec<Bytes>,
        }
        let old = postcard::to_allocvec(&Unpacked {
            time_ms: 7,
            args: args(&["DEL", "a", "b"]),
        })
        .unwrap();
        let req: Request = postcard::from_bytes(&old).unwrap();
        assert_eq!(req, Request::new(7, &args(&["DEL", "a", "b"])));
    }

    #[test]
    fn malformed_packing_is_refused() {
        #[derive(Serialize)]
        struct Raw(u64, u64, Bytes);
        for packed in [&b""[..], &[5, 0, 0, 0, b'a'], &[1, 0, 0]] {
            let bytes = postcard::to_allocvec(&Raw(1, 0, Bytes::copy_from_slice(packed))).unwrap();
            assert!(postcard::from_bytes::<Request>(&bytes).is_err(), "{packed:?}");
        }
    }
}

/// A snapshot on disk, as handed to openraft. The file holds the snapshot meta, the clock and
/// the keyspace, so a received file is self-describing.
#[derive(Debug, Clone)]
pub struct SnapshotFile {
    pub path: PathBuf,
}
