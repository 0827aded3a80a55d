//! Hash commands: HSET, HMSET, HGET, HMGET, HGETALL, HDEL, HLEN, HEXISTS.

use std::collections::HashMap;

use bytes::Bytes;

use super::parse::{Cursor, Reply, WRONGTYPE};
use crate::resp::frame::Frame;
use crate::store::{Entry, Store, Value};

fn hash_of(entry: Option<&Entry>) -> Reply<Option<&HashMap<Bytes, Bytes>>> {
    match entry.map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(Frame::error(WRONGTYPE)),
    }
}

/// A parsed hash write.
#[derive(Debug)]
pub(super) enum Write {
    /// HSET replies with the number of new fields, HMSET (`legacy`) with OK.
    Set {
        key: Bytes,
        pairs: Vec<(Bytes, Bytes)>,
        legacy: bool,
    },
    Del {
        key: Bytes,
        fields: Vec<Bytes>,
    },
}

pub(super) fn parse_write(name: &str, args: &[Bytes]) -> Reply<Write> {
    let mut c = Cursor::new(args);
    let key = c.next_bytes()?.clone();
    let cmd = match name {
        "hset" | "hmset" => {
            if args.len() % 2 == 1 {
                return Err(Frame::Error(format!(
                    "ERR wrong number of arguments for '{name}' command"
                )));
            }
            let mut pairs = Vec::with_capacity(c.remaining() / 2);
            while !c.is_done() {
                pairs.push((c.next_bytes()?.clone(), c.next_bytes()?.clone()));
            }
            Write::Set {
                key,
                pairs,
                legacy: name == "hmset",
            }
        }
        "hdel" => Write::Del {
            key,
            fields: c.rest().to_vec(),
        },
        _ => return Err(super::not_served(name)),
    };
    c.finish()?;
    Ok(cmd)
}

impl Write {
    pub(super) fn apply(self, store: &mut Store) -> Reply<Frame> {
        match self {
            Write::Set { key, pairs, legacy } => {
                // Type check before any change, so a WRONGTYPE write leaves nothing behind.
                if hash_of(store.get(&key))?.is_none() {
                    store.insert(&key, Value::Hash(HashMap::new()), None);
                }
                let Some(Value::Hash(h)) = store.value_mut(&key) else {
                    return Err(Frame::error(WRONGTYPE));
                };
                let mut added = 0;
                for (f, v) in pairs {
                    let old = h.insert(Bytes::copy_from_slice(&f), Bytes::copy_from_slice(&v));
                    if old.is_none() {
                        added += 1;
                    }
                }
                Ok(if legacy { Frame::ok() } else { Frame::Integer(added) })
            }
            Write::Del { key, fields } => {
                if hash_of(store.get(&key))?.is_none() {
                    return Ok(Frame::Integer(0));
                }
                let Some(Value::Hash(h)) = store.value_mut(&key) else {
                    return Err(Frame::error(WRONGTYPE));
                };
                let removed = fields.iter().filter(|f| h.remove(&f[..]).is_some()).count();
                store.remove_if_empty(&key);
                Ok(Frame::Integer(removed as i64))
            }
        }
    }
}

pub(super) fn read(name: &str, store: &Store, args: &[Bytes], now_ms: u64) -> Reply<Frame> {
    let mut c = Cursor::new(args);
    let key = c.next_bytes()?;
    let hash = hash_of(store.get_live(key, now_ms))?;
    let reply = match name {
        "hget" => {
            let field = c.next_bytes()?;
            hash.and_then(|h| h.get(&field[..]))
                .map_or(Frame::Null, |v| Frame::Bulk(v.clone()))
        }
        "hmget" => Frame::Array(
            c.rest()
                .iter()
                .map(|f| {
                    hash.and_then(|h| h.get(&f[..]))
                        .map_or(Frame::Null, |v| Frame::Bulk(v.clone()))
                })
                .collect(),
        ),
        "hgetall" => Frame::Map(
            hash.into_iter()
                .flatten()
                .map(|(f, v)| (Frame::Bulk(f.clone()), Frame::Bulk(v.clone())))
                .collect(),
        ),
        "hlen" => Frame::Integer(hash.map_or(0, HashMap::len) as i64),
        "hexists" => {
            let field = c.next_bytes()?;
            Frame::Integer(hash.is_some_and(|h| h.contains_key(&field[..])).into())
        }
        _ => return Err(super::not_served(name)),
    };
    c.finish()?;
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::resp::frame::Frame;

    #[test]
    fn hset_hget_hlen() {
        run(&[
            (0, &["hset", "h", "a", "1", "b", "2"], int(2)),
            (0, &["hset", "h", "a", "9", "c", "3", "c", "4"], int(1)),
            (0, &["hget", "h", "a"], bulk("9")),
            (0, &["hget", "h", "c"], bulk("4")),
            (0, &["hget", "h", "zz"], Frame::Null),
            (0, &["hget", "nokey", "a"], Frame::Null),
            (0, &["hlen", "h"], int(3)),
            (0, &["hlen", "nokey"], int(0)),
            (0, &["hexists", "h", "a"], int(1)),
            (0, &["hexists", "h", "q"], int(0)),
            (0, &["hmget", "h", "a", "q"], Frame::Array(vec![bulk("9"), Frame::Null])),
            (0, &["hmget", "nokey", "a"], Frame::Array(vec![Frame::Null])),
            (0, &["hmset", "h", "d", "5"], ok()),
            (0, &["hlen", "h"], int(4)),
            (
                0,
                &["hset", "h", "a"],
                err("ERR wrong number of arguments for 'hset' command"),
            ),
            (
                0,
                &["hset", "h", "a", "1", "b"],
                err("ERR wrong number of arguments for 'hset' command"),
            ),
            (
                0,
                &["hmset", "h", "a", "1", "b"],
                err("ERR wrong number of arguments for 'hmset' command"),
            ),
            (
                0,
                &["hget", "h"],
                err("ERR wrong number of arguments for 'hget' command"),
            ),
        ]);
    }

    #[test]
    fn hgetall_and_hdel() {
        run(&[
            (0, &["hgetall", "h"], Frame::Map(vec![])),
            (0, &["hset", "h", "a", "1"], int(1)),
            (0, &["hgetall", "h"], Frame::Map(vec![(bulk("a"), bulk("1"))])),
            (0, &["hset", "h", "b", "2"], int(1)),
            (0, &["hdel", "h", "a", "a", "zz"], int(1)),
            (0, &["hdel", "nokey", "a"], int(0)),
            (0, &["hdel", "h", "b"], int(1)),
            // Removing the last field deletes the key.
            (0, &["exists", "h"], int(0)),
            (0, &["type", "h"], Frame::Simple("none".into())),
        ]);
    }

    #[test]
    fn wrong_type_and_expiry() {
        let store = run(&[
            (0, &["set", "s", "v"], ok()),
            (0, &["hset", "s", "a", "1"], err(WRONGTYPE)),
            (0, &["hmset", "s", "a", "1"], err(WRONGTYPE)),
            (0, &["hget", "s", "a"], err(WRONGTYPE)),
            (0, &["hgetall", "s"], err(WRONGTYPE)),
            (0, &["hdel", "s", "a"], err(WRONGTYPE)),
            (0, &["hlen", "s"], err(WRONGTYPE)),
            (0, &["hexists", "s", "a"], err(WRONGTYPE)),
            (0, &["hmget", "s", "a"], err(WRONGTYPE)),
            (0, &["get", "s"], bulk("v")),
            (0, &["hset", "h", "a", "1"], int(1)),
            (0, &["pexpire", "h", "10"], int(1)),
            (9, &["hget", "h", "a"], bulk("1")),
            (10, &["hget", "h", "a"], Frame::Null),
            (10, &["hlen", "h"], int(0)),
            // A write on an expired hash starts a new one without the old deadline.
            (10, &["hset", "h", "b", "2"], int(1)),
            (10, &["hgetall", "h"], Frame::Map(vec![(bulk("b"), bulk("2"))])),
            (10, &["ttl", "h"], int(-1)),
        ]);
        assert_eq!(store.len(), 2);
    }
}
