//! String commands: SET, GET, MSET, MGET, INCR, DECR, INCRBY, DECRBY, APPEND, STRLEN.

use bytes::{Bytes, BytesMut};

use super::ms_i64;
use super::parse::{Cursor, NOT_AN_INTEGER, Reply, SYNTAX_ERROR, WRONGTYPE, parse_i64};
use crate::resp::frame::Frame;
use crate::store::{Entry, Store, Value};

/// Redis's default proto-max-bulk-len: APPEND may not grow a string past it.
const MAX_STRING: usize = 512 * 1024 * 1024;

/// The string held by `entry`: None when missing, WRONGTYPE for another type.
fn string_of(entry: Option<&Entry>) -> Reply<Option<&Bytes>> {
    match entry.map(|e| &e.value) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Frame::error(WRONGTYPE)),
    }
}

fn invalid_expire(name: &str) -> Frame {
    Frame::Error(format!("ERR invalid expire time in '{name}' command"))
}

/// What SET does with the key's deadline.
#[derive(Debug, PartialEq)]
enum Ttl {
    /// Remove any deadline (plain SET).
    Clear,
    /// KEEPTTL.
    Keep,
    /// EX / PX: milliseconds from the entry's time.
    Relative(i64),
    /// EXAT / PXAT: absolute milliseconds.
    Absolute(i64),
}

#[derive(Debug)]
pub(super) struct Set {
    key: Bytes,
    value: Bytes,
    nx: bool,
    xx: bool,
    get: bool,
    ttl: Ttl,
}

/// A parsed string write.
#[derive(Debug)]
pub(super) enum Write {
    Set(Set),
    Mset(Vec<(Bytes, Bytes)>),
    IncrBy { key: Bytes, delta: i64 },
    Append { key: Bytes, value: Bytes },
}

pub(super) fn parse_write(name: &str, args: &[Bytes]) -> Reply<Write> {
    let mut c = Cursor::new(args);
    let cmd = match name {
        "set" => Write::Set(parse_set(&mut c)?),
        "mset" => {
            if args.len().is_multiple_of(2) {
                return Err(Frame::error("ERR wrong number of arguments for 'mset' command"));
            }
            let mut pairs = Vec::with_capacity(c.remaining() / 2);
            while !c.is_done() {
                pairs.push((c.next_bytes()?.clone(), c.next_bytes()?.clone()));
            }
            Write::Mset(pairs)
        }
        "incr" | "decr" => Write::IncrBy {
            key: c.next_bytes()?.clone(),
            delta: if name == "incr" { 1 } else { -1 },
        },
        "incrby" => Write::IncrBy {
            key: c.next_bytes()?.clone(),
            delta: c.next_int()?,
        },
        "decrby" => {
            let key = c.next_bytes()?.clone();
            let d = c.next_int()?;
            if d == i64::MIN {
                return Err(Frame::error("ERR decrement would overflow"));
            }
            Write::IncrBy { key, delta: -d }
        }
        "append" => Write::Append {
            key: c.next_bytes()?.clone(),
            value: c.next_bytes()?.clone(),
        },
        _ => return Err(super::not_served(name)),
    };
    c.finish()?;
    Ok(cmd)
}

/// SET's options, checked in the same order and with the same conflicts as Redis's
/// `parseExtendedStringArgumentsOrReply`; the expire value is parsed after all options,
/// so a conflicting option is a syntax error even when the number is bad too.
fn parse_set(c: &mut Cursor<'_>) -> Reply<Set> {
    let key = c.next_bytes()?.clone();
    let value = c.next_bytes()?.clone();
    let (mut nx, mut xx, mut get, mut keepttl) = (false, false, false, false);
    // (unit is seconds, value is absolute, raw argument)
    let mut expire: Option<(bool, bool, &Bytes)> = None;
    while let Some(opt) = c.peek_lower() {
        c.next_bytes()?;
        let has_next = !c.is_done();
        let exp_kind = expire.map(|(secs, abs, _)| (secs, abs));
        match opt.as_str() {
            "nx" if !xx => nx = true,
            "xx" if !nx => xx = true,
            "get" => get = true,
            "keepttl" if expire.is_none() => keepttl = true,
            "ex" | "px" | "exat" | "pxat" if !keepttl && has_next => {
                let this = (opt.starts_with('e'), opt.ends_with("at"));
                // Only the same unit may repeat (the last value wins), as in Redis.
                if exp_kind.is_some_and(|k| k != this) {
                    return Err(Frame::error(SYNTAX_ERROR));
                }
                expire = Some((this.0, this.1, c.next_bytes()?));
            }
            _ => return Err(Frame::error(SYNTAX_ERROR)),
        }
    }
    let ttl = match expire {
        None if keepttl => Ttl::Keep,
        None => Ttl::Clear,
        Some((secs, abs, raw)) => {
            let v = parse_i64(raw).ok_or_else(|| Frame::error(NOT_AN_INTEGER))?;
            if v <= 0 || (secs && v > i64::MAX / 1000) {
                return Err(invalid_expire("set"));
            }
            let ms = if secs { v * 1000 } else { v };
            if abs { Ttl::Absolute(ms) } else { Ttl::Relative(ms) }
        }
    };
    Ok(Set {
        key,
        value,
        nx,
        xx,
        get,
        ttl,
    })
}

impl Write {
    pub(super) fn apply(self, store: &mut Store, time_ms: u64) -> Reply<Frame> {
        match self {
            Write::Set(s) => apply_set(store, s, time_ms),
            Write::Mset(pairs) => {
                for (k, v) in pairs {
                    store.insert(&k, Value::String(v), None);
                }
                Ok(Frame::ok())
            }
            Write::IncrBy { key, delta } => {
                let cur = match string_of(store.get(&key))? {
                    None => 0,
                    Some(s) => parse_i64(s).ok_or_else(|| Frame::error(NOT_AN_INTEGER))?,
                };
                let new = cur
                    .checked_add(delta)
                    .ok_or_else(|| Frame::error("ERR increment or decrement would overflow"))?;
                let text = Bytes::from(new.to_string());
                match store.value_mut(&key) {
                    // Keeps the deadline, as Redis does.
                    Some(v) => *v = Value::String(text),
                    None => store.insert(&key, Value::String(text), None),
                }
                Ok(Frame::Integer(new))
            }
            Write::Append { key, value } => {
                let cur_len = string_of(store.get(&key))?.map(Bytes::len);
                let total = cur_len.unwrap_or(0).saturating_add(value.len());
                if total > MAX_STRING {
                    return Err(Frame::error(
                        "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
                    ));
                }
                match store.value_mut(&key) {
                    Some(Value::String(s)) => {
                        // Grow in place when we own the buffer, so repeated APPENDs are
                        // amortized rather than quadratic.
                        let mut buf = std::mem::take(s)
                            .try_into_mut()
                            .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
                        buf.extend_from_slice(&value);
                        *s = buf.freeze();
                    }
                    _ => store.insert(&key, Value::String(value), None),
                }
                Ok(Frame::Integer(total as i64))
            }
        }
    }
}

fn apply_set(store: &mut Store, s: Set, time_ms: u64) -> Reply<Frame> {
    let now = ms_i64(time_ms);
    let deadline = match s.ttl {
        Ttl::Clear => None,
        Ttl::Keep => store.get(&s.key).and_then(Entry::deadline).map(ms_i64),
        Ttl::Absolute(ms) => Some(ms),
        Ttl::Relative(ms) => Some(ms.checked_add(now).ok_or_else(|| invalid_expire("set"))?),
    };
    let old = if s.get {
        Some(string_of(store.get(&s.key))?.map_or(Frame::Null, |v| Frame::Bulk(v.clone())))
    } else {
        None
    };
    let found = store.get(&s.key).is_some();
    if (s.nx && found) || (s.xx && !found) {
        return Ok(old.unwrap_or(Frame::Null));
    }
    match deadline {
        // A deadline already passed: the key is set and gone at once (Redis 7.x deletes it).
        Some(d) if d <= now => {
            store.remove(&s.key);
        }
        _ => {
            let deadline = deadline.and_then(|d| u64::try_from(d).ok());
            store.insert(&s.key, Value::String(s.value), deadline);
        }
    }
    Ok(old.unwrap_or_else(Frame::ok))
}

pub(super) fn read(name: &str, store: &Store, args: &[Bytes], now_ms: u64) -> Reply<Frame> {
    let mut c = Cursor::new(args);
    match name {
        "get" => {
            let key = c.next_bytes()?;
            c.finish()?;
            Ok(string_of(store.get_live(key, now_ms))?.map_or(Frame::Null, |v| Frame::Bulk(v.clone())))
        }
        "mget" => Ok(Frame::Array(
            c.rest()
                .iter()
                .map(|k| match store.get_live(k, now_ms).map(|e| &e.value) {
                    Some(Value::String(v)) => Frame::Bulk(v.clone()),
                    _ => Frame::Null,
                })
                .collect(),
        )),
        "strlen" => {
            let key = c.next_bytes()?;
            c.finish()?;
            let len = string_of(store.get_live(key, now_ms))?.map_or(0, Bytes::len);
            Ok(Frame::Integer(len as i64))
        }
        _ => Err(super::not_served(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::resp::frame::Frame;

    const INVALID_SET: &str = "ERR invalid expire time in 'set' command";
    const NOT_INT: &str = "ERR value is not an integer or out of range";
    const SYNTAX: &str = "ERR syntax error";

    #[test]
    fn set_and_get() {
        run(&[
            (0, &["GET", "k"], Frame::Null),
            (0, &["SET", "k", "v"], ok()),
            (0, &["get", "k"], bulk("v")),
            (0, &["set", "k", "w", "NX"], Frame::Null),
            (0, &["set", "k", "w", "XX"], ok()),
            (0, &["get", "k"], bulk("w")),
            (0, &["set", "n", "w", "xx"], Frame::Null),
            (0, &["get", "n"], Frame::Null),
            (0, &["set", "n", "1", "nx"], ok()),
            (0, &["set", "k", "x", "GET"], bulk("w")),
            (0, &["set", "new", "x", "GET"], Frame::Null),
            (0, &["set", "k", "y", "NX", "GET"], bulk("x")),
            (0, &["get", "k"], bulk("x")),
            (0, &["set", "absent", "y", "XX", "GET"], Frame::Null),
            (0, &["get", "absent"], Frame::Null),
            (0, &["set", "k", "v", "nx", "nx"], Frame::Null),
            (0, &["set", "k", "v", "get", "get"], bulk("x")),
            (0, &["set", "k", ""], ok()),
            (0, &["strlen", "k"], int(0)),
            (0, &["set", "k", "v", "bogus"], err(SYNTAX)),
            (0, &["set", "k", "v", "nx", "xx"], err(SYNTAX)),
            (0, &["set", "k", "v", "xx", "nx"], err(SYNTAX)),
            (0, &["set", "k"], err("ERR wrong number of arguments for 'set' command")),
        ]);
    }

    #[test]
    fn set_expiry_options() {
        run(&[
            (1000, &["set", "k", "v", "EX", "10"], ok()),
            (1000, &["pttl", "k"], int(10_000)),
            (1000, &["ttl", "k"], int(10)),
            (10_999, &["get", "k"], bulk("v")),
            (11_000, &["get", "k"], Frame::Null),
            (11_000, &["ttl", "k"], int(-2)),
            (1000, &["set", "k", "v", "px", "1500"], ok()),
            (1000, &["pttl", "k"], int(1500)),
            (1000, &["ttl", "k"], int(2)),
            (1000, &["set", "k", "v", "exat", "5"], ok()),
            (1000, &["pttl", "k"], int(4000)),
            (1000, &["set", "k", "v", "pxat", "5555"], ok()),
            (1000, &["pttl", "k"], int(4555)),
            (1000, &["set", "k", "w", "keepttl"], ok()),
            (1000, &["pttl", "k"], int(4555)),
            (1000, &["set", "k", "w"], ok()),
            (1000, &["pttl", "k"], int(-1)),
            (1000, &["set", "k", "v", "ex", "5", "ex", "7"], ok()),
            (1000, &["pttl", "k"], int(7000)),
            (1000, &["set", "k", "v", "ex", "abc", "ex", "7"], ok()),
            // A deadline in the past: OK, and the key is gone.
            (1000, &["set", "k", "v", "pxat", "1000"], ok()),
            (1000, &["exists", "k"], int(0)),
            (1000, &["set", "k", "v", "exat", "1", "get"], Frame::Null),
            // Errors.
            (1000, &["set", "k", "v", "ex", "0"], err(INVALID_SET)),
            (1000, &["set", "k", "v", "ex", "-1"], err(INVALID_SET)),
            (1000, &["set", "k", "v", "px", "0"], err(INVALID_SET)),
            (1000, &["set", "k", "v", "exat", "0"], err(INVALID_SET)),
            (1000, &["set", "k", "v", "ex", "9223372036854776"], err(INVALID_SET)),
            (1000, &["set", "k", "v", "px", "9223372036854775807"], err(INVALID_SET)),
            (1000, &["set", "k", "v", "pxat", "9223372036854775807"], ok()),
            (1000, &["set", "k", "v", "ex", "abc"], err(NOT_INT)),
            (1000, &["set", "k", "v", "ex", "1.5"], err(NOT_INT)),
            (1000, &["set", "k", "v", "ex"], err(SYNTAX)),
            (1000, &["set", "k", "v", "ex", "10", "px", "100"], err(SYNTAX)),
            (1000, &["set", "k", "v", "ex", "10", "keepttl"], err(SYNTAX)),
            (1000, &["set", "k", "v", "keepttl", "ex", "10"], err(SYNTAX)),
            (1000, &["set", "k", "v", "ex", "abc", "nx", "xx"], err(SYNTAX)),
            (1000, &["set", "k", "v", "keepttl", "keepttl"], ok()),
        ]);
    }

    #[test]
    fn set_get_on_wrong_type() {
        run(&[
            (0, &["hset", "h", "f", "v"], int(1)),
            (0, &["set", "h", "v", "get"], err(WRONGTYPE)),
            (0, &["type", "h"], Frame::Simple("hash".into())),
            (0, &["get", "h"], err(WRONGTYPE)),
            (0, &["strlen", "h"], err(WRONGTYPE)),
            (0, &["set", "h", "v", "nx"], Frame::Null),
            (0, &["set", "h", "v"], ok()),
            (0, &["get", "h"], bulk("v")),
        ]);
    }

    #[test]
    fn mset_mget() {
        run(&[
            (0, &["mset", "a", "1", "b", "2", "a", "3"], ok()),
            (
                0,
                &["mset", "a", "1", "b"],
                err("ERR wrong number of arguments for 'mset' command"),
            ),
            (0, &["rpush", "l", "x"], int(1)),
            (0, &["set", "e", "v", "px", "10"], ok()),
            (
                0,
                &["mget", "a", "b", "c", "l", "e"],
                Frame::Array(vec![bulk("3"), bulk("2"), Frame::Null, Frame::Null, bulk("v")]),
            ),
            (10, &["mget", "e"], Frame::Array(vec![Frame::Null])),
            (0, &["mset", "l", "v"], ok()),
            (0, &["get", "l"], bulk("v")),
            (0, &["set", "t", "v", "ex", "100"], ok()),
            (0, &["mset", "t", "w"], ok()),
            (0, &["ttl", "t"], int(-1)),
        ]);
    }

    #[test]
    fn incr_decr() {
        run(&[
            (0, &["incr", "n"], int(1)),
            (0, &["incrby", "n", "10"], int(11)),
            (0, &["decr", "n"], int(10)),
            (0, &["decrby", "n", "-5"], int(15)),
            (0, &["decrby", "n", "20"], int(-5)),
            (0, &["get", "n"], bulk("-5")),
            (0, &["set", "n", "9223372036854775806"], ok()),
            (0, &["incr", "n"], int(i64::MAX)),
            (0, &["incr", "n"], err("ERR increment or decrement would overflow")),
            (0, &["get", "n"], bulk("9223372036854775807")),
            (0, &["set", "m", "-9223372036854775808"], ok()),
            (0, &["decr", "m"], err("ERR increment or decrement would overflow")),
            (
                0,
                &["decrby", "m", "-9223372036854775808"],
                err("ERR decrement would overflow"),
            ),
            (
                0,
                &["incrby", "m", "-1"],
                err("ERR increment or decrement would overflow"),
            ),
            (0, &["incrby", "n", "abc"], err(NOT_INT)),
            (0, &["incrby", "n", "01"], err(NOT_INT)),
            (0, &["set", "s", "abc"], ok()),
            (0, &["incr", "s"], err(NOT_INT)),
            (0, &["set", "s", " 1"], ok()),
            (0, &["incr", "s"], err(NOT_INT)),
            (0, &["set", "s", "01"], ok()),
            (0, &["incr", "s"], err(NOT_INT)),
            (0, &["set", "s", "-0"], ok()),
            (0, &["incr", "s"], err(NOT_INT)),
            (0, &["set", "s", ""], ok()),
            (0, &["incr", "s"], err(NOT_INT)),
            (0, &["lpush", "l", "1"], int(1)),
            (0, &["incr", "l"], err(WRONGTYPE)),
            (0, &["incrby", "l", "x"], err(NOT_INT)),
            // INCR keeps the deadline.
            (0, &["set", "t", "5", "px", "100"], ok()),
            (0, &["incr", "t"], int(6)),
            (0, &["pttl", "t"], int(100)),
            // An expired key counts from zero.
            (100, &["incr", "t"], int(1)),
            (100, &["pttl", "t"], int(-1)),
            (
                0,
                &["incr", "a", "b"],
                err("ERR wrong number of arguments for 'incr' command"),
            ),
        ]);
    }

    #[test]
    fn append_strlen() {
        run(&[
            (0, &["append", "k", "ab"], int(2)),
            (0, &["append", "k", "cd"], int(4)),
            (0, &["get", "k"], bulk("abcd")),
            (0, &["strlen", "k"], int(4)),
            (0, &["strlen", "none"], int(0)),
            (0, &["append", "k", ""], int(4)),
            (0, &["hset", "h", "f", "v"], int(1)),
            (0, &["append", "h", "x"], err(WRONGTYPE)),
            (0, &["set", "t", "x", "px", "10"], ok()),
            (0, &["append", "t", "y"], int(2)),
            (0, &["pttl", "t"], int(10)),
            (10, &["append", "t", "z"], int(1)),
            (10, &["get", "t"], bulk("z")),
        ]);
    }
}
