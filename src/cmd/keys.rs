//! Generic key commands: DEL, EXISTS, EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL,
//! PERSIST, TYPE, and the internal SLOTRAFT.EXPIRED used by active expiry.

use bytes::Bytes;

use super::parse::{Cursor, NOT_AN_INTEGER, Reply, parse_i64};
use super::{EXPIRED_DELETE, ms_i64};
use crate::resp::frame::Frame;
use crate::store::{Entry, Store};

/// EXPIRE's NX / XX / GT / LT options.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Cond {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

/// A parsed key write.
#[derive(Debug)]
pub(super) enum Write {
    Del(Vec<Bytes>),
    Expire {
        name: &'static str,
        key: Bytes,
        /// Milliseconds, relative to `base` (entry time, or 0 for the *AT forms).
        when: i64,
        relative: bool,
        cond: Cond,
    },
    Persist(Bytes),
    ExpiredDelete(Vec<Bytes>),
}

fn invalid_expire(name: &str) -> Frame {
    Frame::Error(format!("ERR invalid expire time in '{name}' command"))
}

pub(super) fn parse_write(name: &'static str, args: &[Bytes]) -> Reply<Write> {
    let mut c = Cursor::new(args);
    let cmd = match name {
        "del" => Write::Del(c.rest().to_vec()),
        EXPIRED_DELETE => Write::ExpiredDelete(c.rest().to_vec()),
        "persist" => Write::Persist(c.next_bytes()?.clone()),
        "expire" | "pexpire" | "expireat" | "pexpireat" => {
            let key = c.next_bytes()?.clone();
            let raw = c.next_bytes()?;
            // Options are checked before the number, as in Redis's expireGenericCommand.
            let mut cond = Cond::default();
            while !c.is_done() {
                let opt = c.next_bytes()?;
                match String::from_utf8_lossy(opt).to_ascii_lowercase().as_str() {
                    "nx" => cond.nx = true,
                    "xx" => cond.xx = true,
                    "gt" => cond.gt = true,
                    "lt" => cond.lt = true,
                    _ => {
                        return Err(Frame::Error(format!(
                            "ERR Unsupported option {}",
                            String::from_utf8_lossy(opt)
                        )));
                    }
                }
            }
            if cond.nx && (cond.xx || cond.gt || cond.lt) {
                return Err(Frame::error(
                    "ERR NX and XX, GT or LT options at the same time are not compatible",
                ));
            }
            if cond.gt && cond.lt {
                return Err(Frame::error(
                    "ERR GT and LT options at the same time are not compatible",
                ));
            }
            let mut when = parse_i64(raw).ok_or_else(|| Frame::error(NOT_AN_INTEGER))?;
            if !name.starts_with('p') {
                if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
                    return Err(invalid_expire(name));
                }
                when *= 1000;
            }
            Write::Expire {
                name,
                key,
                when,
                relative: !name.ends_with("at"),
                cond,
            }
        }
        _ => return Err(super::not_served(name)),
    };
    c.finish()?;
    Ok(cmd)
}

impl Write {
    pub(super) fn apply(self, store: &mut Store, time_ms: u64) -> Reply<Frame> {
        match self {
            Write::Del(keys) => {
                let n = keys.iter().filter(|k| store.remove(k).is_some()).count();
                Ok(Frame::Integer(n as i64))
            }
            Write::ExpiredDelete(keys) => {
                let mut n = 0;
                for k in &keys {
                    if store.get(k).is_some_and(|e| e.is_expired(time_ms)) {
                        store.remove(k);
                        n += 1;
                    }
                }
                Ok(Frame::Integer(n))
            }
            Write::Persist(key) => {
                let had = store.get(&key).and_then(Entry::deadline).is_some();
                if had {
                    store.set_deadline(&key, None);
                }
                Ok(Frame::Integer(had.into()))
            }
            Write::Expire {
                name,
                key,
                when,
                relative,
                cond,
            } => {
                let now = ms_i64(time_ms);
                let base = if relative { now } else { 0 };
                if when > i64::MAX - base {
                    return Err(invalid_expire(name));
                }
                let when = when + base;
                let Some(entry) = store.get(&key) else {
                    return Ok(Frame::Integer(0));
                };
                let current = entry.deadline().map(ms_i64);
                let refused = (cond.nx && current.is_some())
                    || (cond.xx && current.is_none())
                    || (cond.gt && current.is_none_or(|c| when <= c))
                    || (cond.lt && current.is_some_and(|c| when >= c));
                if refused {
                    return Ok(Frame::Integer(0));
                }
                if when <= now {
                    store.remove(&key);
                } else {
                    store.set_deadline(&key, u64::try_from(when).ok());
                }
                Ok(Frame::Integer(1))
            }
        }
    }
}

pub(super) fn read(name: &str, store: &Store, args: &[Bytes], now_ms: u64) -> Reply<Frame> {
    let mut c = Cursor::new(args);
    match name {
        "exists" => {
            let n = c.rest().iter().filter(|k| store.get_live(k, now_ms).is_some()).count();
            Ok(Frame::Integer(n as i64))
        }
        "ttl" | "pttl" => {
            let key = c.next_bytes()?;
            c.finish()?;
            let Some(entry) = store.get_live(key, now_ms) else {
                return Ok(Frame::Integer(-2));
            };
            let Some(deadline) = entry.deadline() else {
                return Ok(Frame::Integer(-1));
            };
            let ms = ms_i64(deadline.saturating_sub(now_ms));
            Ok(Frame::Integer(if name == "pttl" { ms } else { (ms + 500) / 1000 }))
        }
        "type" => {
            let key = c.next_bytes()?;
            c.finish()?;
            let t = store.get_live(key, now_ms).map_or("none", |e| e.value.type_name());
            Ok(Frame::Simple(t.into()))
        }
        _ => Err(super::not_served(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{EXPIRED_DELETE, apply_write};
    use crate::resp::frame::Frame;

    fn simple(s: &str) -> Frame {
        Frame::Simple(s.into())
    }

    #[test]
    fn del_exists_type() {
        run(&[
            (0, &["set", "a", "1"], ok()),
            (0, &["rpush", "l", "x"], int(1)),
            (0, &["hset", "h", "f", "v"], int(1)),
            (0, &["exists", "a", "a", "b", "l"], int(3)),
            (0, &["type", "a"], simple("string")),
            (0, &["type", "l"], simple("list")),
            (0, &["type", "h"], simple("hash")),
            (0, &["type", "b"], simple("none")),
            (0, &["del", "a", "a", "b", "l"], int(2)),
            (0, &["exists", "a", "l", "h"], int(1)),
            (0, &["set", "e", "v", "px", "5"], ok()),
            (4, &["exists", "e"], int(1)),
            (5, &["exists", "e"], int(0)),
            (5, &["type", "e"], simple("none")),
            (5, &["del", "e"], int(0)),
            (0, &["del"], err("ERR wrong number of arguments for 'del' command")),
        ]);
    }

    #[test]
    fn expire_and_ttl() {
        run(&[
            (0, &["expire", "k", "10"], int(0)),
            (0, &["ttl", "k"], int(-2)),
            (0, &["pttl", "k"], int(-2)),
            (0, &["set", "k", "v"], ok()),
            (0, &["ttl", "k"], int(-1)),
            (0, &["pttl", "k"], int(-1)),
            (1000, &["expire", "k", "10"], int(1)),
            (1000, &["ttl", "k"], int(10)),
            (1499, &["ttl", "k"], int(10)),
            (1501, &["ttl", "k"], int(9)),
            (1000, &["pexpire", "k", "2500"], int(1)),
            (1000, &["pttl", "k"], int(2500)),
            (1000, &["ttl", "k"], int(3)),
            (1000, &["expireat", "k", "100"], int(1)),
            (1000, &["pttl", "k"], int(99_000)),
            (1000, &["pexpireat", "k", "5000"], int(1)),
            (1000, &["pttl", "k"], int(4000)),
            (1000, &["persist", "k"], int(1)),
            (1000, &["persist", "k"], int(0)),
            (1000, &["persist", "nokey"], int(0)),
            (1000, &["pttl", "k"], int(-1)),
            // A deadline in the past (or now) deletes the key and replies 1.
            (1000, &["expire", "k", "-1"], int(1)),
            (1000, &["exists", "k"], int(0)),
            (1000, &["set", "k", "v"], ok()),
            (1000, &["pexpire", "k", "0"], int(1)),
            (1000, &["exists", "k"], int(0)),
            (1000, &["set", "k", "v"], ok()),
            (1000, &["pexpireat", "k", "1000"], int(1)),
            (1000, &["exists", "k"], int(0)),
            // An expired key is gone for EXPIRE too.
            (1000, &["set", "k", "v", "px", "10"], ok()),
            (1010, &["expire", "k", "10"], int(0)),
            (1010, &["persist", "k"], int(0)),
        ]);
    }

    #[test]
    fn expire_options() {
        run(&[
            (0, &["set", "k", "v"], ok()),
            (0, &["expire", "k", "100", "xx"], int(0)),
            (0, &["expire", "k", "100", "gt"], int(0)),
            (0, &["expire", "k", "100", "lt"], int(1)),
            (0, &["ttl", "k"], int(100)),
            (0, &["expire", "k", "50", "nx"], int(0)),
            (0, &["expire", "k", "50", "gt"], int(0)),
            (0, &["expire", "k", "100", "gt"], int(0)),
            (0, &["expire", "k", "200", "GT"], int(1)),
            (0, &["expire", "k", "300", "lt"], int(0)),
            (0, &["expire", "k", "200", "lt"], int(0)),
            (0, &["expire", "k", "150", "lt", "xx"], int(1)),
            (0, &["ttl", "k"], int(150)),
            (0, &["persist", "k"], int(1)),
            (0, &["expire", "k", "10", "nx"], int(1)),
            (0, &["expire", "k", "10", "foo"], err("ERR Unsupported option foo")),
            (
                0,
                &["expire", "k", "10", "nx", "xx"],
                err("ERR NX and XX, GT or LT options at the same time are not compatible"),
            ),
            (
                0,
                &["expire", "k", "10", "nx", "gt"],
                err("ERR NX and XX, GT or LT options at the same time are not compatible"),
            ),
            (
                0,
                &["expire", "k", "10", "gt", "lt"],
                err("ERR GT and LT options at the same time are not compatible"),
            ),
            (
                0,
                &["expire", "k", "abc"],
                err("ERR value is not an integer or out of range"),
            ),
            (0, &["expire", "k", "abc", "foo"], err("ERR Unsupported option foo")),
            (
                0,
                &["expire", "k", "9223372036854776"],
                err("ERR invalid expire time in 'expire' command"),
            ),
            (
                0,
                &["expire", "k", "-9223372036854776"],
                err("ERR invalid expire time in 'expire' command"),
            ),
            (
                5,
                &["pexpire", "k", "9223372036854775807"],
                err("ERR invalid expire time in 'pexpire' command"),
            ),
            (5, &["pexpireat", "k", "9223372036854775807"], int(1)),
            (
                0,
                &["expire", "k"],
                err("ERR wrong number of arguments for 'expire' command"),
            ),
        ]);
    }

    #[test]
    fn expired_delete_only_removes_still_expired_keys() {
        let mut store = run(&[
            (0, &["set", "a", "1", "px", "10"], ok()),
            (0, &["set", "b", "1", "px", "20"], ok()),
            (0, &["set", "c", "1"], ok()),
        ]);
        assert_eq!(store.expired_sample(15, 10), vec![bytes::Bytes::from("a")]);
        // b was refreshed after the leader sampled it: the entry must not delete it.
        let req = args(&[EXPIRED_DELETE, "a", "b", "c", "nokey", "a"]);
        assert_eq!(apply_write(&mut store, &req, 15), int(1));
        assert_eq!(store.len(), 2);
        assert_eq!(apply_write(&mut store, &args(&["SLOTRAFT.EXPIRED", "b"]), 20), int(1));
        assert_eq!(store.len(), 1);
        assert_eq!(store.keys_with_deadline(), 0);
    }
}
