//! Blocking pops read into their non-blocking twins, as the table's `twin` field says: BLPOP's
//! `key [key ...] timeout` becomes LMPOP's `numkeys key [key ...] LEFT`, and so on. The
//! executor (`exec::blocking`) runs the twin through the log and waits between tries.

use std::time::Duration;

use bytes::Bytes;

use super::spec::{CommandSpec, Twin, TwinArgs, TwinReply};
use crate::resp::frame::Frame;

/// A blocking command read into its twin.
#[derive(Debug)]
pub struct Blocking {
    pub twin: Vec<Bytes>,
    pub reply: TwinReply,
    /// None: wait forever (timeout 0). A timeout answers a null array, BLMOVE's and
    /// BRPOPLPUSH's too (Redis 7.0's `replyToBlockedClientTimedOut`), though their twins
    /// answer a null bulk when they find nothing (inside MULTI).
    pub timeout: Option<Duration>,
    /// Only the first key can wake the command (BLMOVE's destination cannot).
    pub first_key_wakes: bool,
}

fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, Frame> {
    let secs: f64 = std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| Frame::error("ERR timeout is not a float or out of range"))?;
    if secs < 0.0 {
        return Err(Frame::error("ERR timeout is negative"));
    }
    Ok((secs > 0.0).then(|| Duration::from_secs_f64(secs.min(1e9))))
}

/// Reads a blocking command (arity already checked) into its twin; `None` for a row without
/// one.
pub fn read(spec: &CommandSpec, args: &[Bytes]) -> Option<Result<Blocking, Frame>> {
    let Twin {
        command,
        args: form,
        reply,
        first_key_wakes,
    } = spec.twin?;
    let name = Bytes::from_static(command.as_bytes());
    let n = args.len();
    let (twin, timeout_arg) = match form {
        TwinArgs::KeysThenTimeout(end) => {
            let keys = &args[1..n - 1];
            let mut twin = Vec::with_capacity(keys.len() + 3);
            twin.push(name);
            twin.push(Bytes::from(keys.len().to_string()));
            twin.extend_from_slice(keys);
            twin.push(Bytes::from_static(end.as_bytes()));
            (twin, &args[n - 1])
        }
        TwinArgs::ArgsThenTimeout => ([&[name][..], &args[1..n - 1]].concat(), &args[n - 1]),
        TwinArgs::TimeoutFirst => ([&[name][..], &args[2..]].concat(), &args[1]),
    };
    Some(parse_timeout(timeout_arg).map(|timeout| Blocking {
        twin,
        reply,
        timeout,
        first_key_wakes,
    }))
}

impl TwinReply {
    /// The twin's reply in the blocking command's shape.
    pub fn convert(self, reply: Frame) -> Frame {
        let Frame::Array(mut outer) = reply else { return reply };
        if self == TwinReply::Same || outer.len() != 2 {
            return Frame::Array(outer);
        }
        let Some(Frame::Array(mut inner)) = outer.pop() else {
            return Frame::Array(outer);
        };
        let key = outer.pop().unwrap_or(Frame::Null);
        match (self, inner.pop()) {
            (TwinReply::KeyValue, Some(v)) => Frame::Array(vec![key, v]),
            (TwinReply::KeyMemberScore, Some(Frame::Array(pair))) => {
                let mut out = vec![key];
                out.extend(pair);
                Frame::Array(out)
            }
            (_, other) => Frame::Array(vec![key, other.unwrap_or(Frame::Null)]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect()
    }

    fn parse(args: &[Bytes]) -> Option<Result<Blocking, Frame>> {
        read(super::super::lookup(&args[0])?, args)
    }

    #[test]
    fn twins_and_timeouts() {
        let blk = parse(&a(&["BLPOP", "a", "b", "1.5"])).unwrap().unwrap();
        assert_eq!(blk.twin, a(&["lmpop", "2", "a", "b", "left"]));
        assert_eq!(blk.timeout, Some(Duration::from_millis(1500)));
        let blk = parse(&a(&["bzpopmax", "z", "0"])).unwrap().unwrap();
        assert_eq!(blk.twin, a(&["zmpop", "1", "z", "max"]));
        assert_eq!(blk.timeout, None);
        let blk = parse(&a(&["blmove", "s", "d", "LEFT", "RIGHT", "2"])).unwrap().unwrap();
        assert_eq!(blk.twin, a(&["lmove", "s", "d", "LEFT", "RIGHT"]));
        let blk = parse(&a(&["blmpop", "0", "2", "a", "b", "right", "count", "3"]))
            .unwrap()
            .unwrap();
        assert_eq!(blk.twin, a(&["lmpop", "2", "a", "b", "right", "count", "3"]));
        assert!(parse(&a(&["get", "k"])).is_none());
        let err = |args: &[&str]| parse(&a(args)).unwrap().err().unwrap();
        assert_eq!(err(&["blpop", "a", "-1"]), Frame::error("ERR timeout is negative"));
        assert_eq!(
            err(&["blpop", "a", "x"]),
            Frame::error("ERR timeout is not a float or out of range")
        );
    }

    #[test]
    fn replies_take_the_blocking_shape() {
        let bulk = |s: &str| Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()));
        let lmpop = Frame::Array(vec![bulk("k"), Frame::Array(vec![bulk("v")])]);
        assert_eq!(
            TwinReply::KeyValue.convert(lmpop),
            Frame::Array(vec![bulk("k"), bulk("v")])
        );
        let zmpop = Frame::Array(vec![
            bulk("z"),
            Frame::Array(vec![Frame::Array(vec![bulk("m"), Frame::Double(2.5)])]),
        ]);
        assert_eq!(
            TwinReply::KeyMemberScore.convert(zmpop),
            Frame::Array(vec![bulk("z"), bulk("m"), Frame::Double(2.5)])
        );
        assert_eq!(TwinReply::KeyValue.convert(Frame::NullArray), Frame::NullArray);
    }
}
