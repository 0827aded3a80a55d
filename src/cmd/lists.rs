//! List commands: LPUSH, RPUSH, LPOP, RPOP, LRANGE, LLEN.

use std::collections::VecDeque;

use bytes::Bytes;

use super::parse::{Cursor, Reply, WRONGTYPE, parse_i64};
use crate::resp::frame::Frame;
use crate::store::{Entry, Store, Value};

fn list_of(entry: Option<&Entry>) -> Reply<Option<&VecDeque<Bytes>>> {
    match entry.map(|e| &e.value) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(Frame::error(WRONGTYPE)),
    }
}

/// A parsed list write.
#[derive(Debug)]
pub(super) enum Write {
    Push {
        key: Bytes,
        items: Vec<Bytes>,
        left: bool,
    },
    /// `count` is None for the single-element form (bulk reply), Some for the array form.
    Pop {
        key: Bytes,
        count: Option<usize>,
        left: bool,
    },
}

pub(super) fn parse_write(name: &str, args: &[Bytes]) -> Reply<Write> {
    let mut c = Cursor::new(args);
    let key = c.next_bytes()?.clone();
    let cmd = match name {
        "lpush" | "rpush" => Write::Push {
            key,
            items: c.rest().to_vec(),
            left: name == "lpush",
        },
        "lpop" | "rpop" => {
            if args.len() > 3 {
                return Err(Frame::Error(format!(
                    "ERR wrong number of arguments for '{name}' command"
                )));
            }
            let count = if c.is_done() {
                None
            } else {
                let raw = c.next_bytes()?;
                let n = parse_i64(raw)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| Frame::error("ERR value is out of range, must be positive"))?;
                Some(n)
            };
            Write::Pop {
                key,
                count,
                left: name == "lpop",
            }
        }
        _ => return Err(super::not_served(name)),
    };
    c.finish()?;
    Ok(cmd)
}

impl Write {
    pub(super) fn apply(self, store: &mut Store) -> Reply<Frame> {
        match self {
            Write::Push { key, items, left } => {
                if list_of(store.get(&key))?.is_none() {
                    store.insert(&key, Value::List(VecDeque::new()), None);
                }
                let Some(Value::List(l)) = store.value_mut(&key) else {
                    return Err(Frame::error(WRONGTYPE));
                };
                for item in items {
                    let item = Bytes::copy_from_slice(&item);
                    if left {
                        l.push_front(item);
                    } else {
                        l.push_back(item);
                    }
                }
                Ok(Frame::Integer(l.len() as i64))
            }
            Write::Pop { key, count, left } => {
                if list_of(store.get(&key))?.is_none() {
                    return Ok(if count.is_some() { Frame::NullArray } else { Frame::Null });
                }
                if count == Some(0) {
                    return Ok(Frame::Array(Vec::new()));
                }
                let Some(Value::List(l)) = store.value_mut(&key) else {
                    return Err(Frame::error(WRONGTYPE));
                };
                let n = count.unwrap_or(1).min(l.len());
                let popped: Vec<Frame> = (0..n)
                    .filter_map(|_| if left { l.pop_front() } else { l.pop_back() })
                    .map(Frame::Bulk)
                    .collect();
                store.remove_if_empty(&key);
                Ok(match count {
                    Some(_) => Frame::Array(popped),
                    None => popped.into_iter().next().unwrap_or(Frame::Null),
                })
            }
        }
    }
}

pub(super) fn read(name: &str, store: &Store, args: &[Bytes], now_ms: u64) -> Reply<Frame> {
    let mut c = Cursor::new(args);
    let key = c.next_bytes()?;
    match name {
        "lrange" => {
            // Indexes are parsed before the key is looked up, as in Redis.
            let start = c.next_int()?;
            let stop = c.next_int()?;
            c.finish()?;
            let Some(list) = list_of(store.get_live(key, now_ms))? else {
                return Ok(Frame::Array(Vec::new()));
            };
            Ok(Frame::Array(
                range(list, start, stop).map(|b| Frame::Bulk(b.clone())).collect(),
            ))
        }
        "llen" => {
            c.finish()?;
            let len = list_of(store.get_live(key, now_ms))?.map_or(0, VecDeque::len);
            Ok(Frame::Integer(len as i64))
        }
        _ => Err(super::not_served(name)),
    }
}

/// LRANGE's index rules: negatives count from the end, out-of-range ends are clamped.
fn range(list: &VecDeque<Bytes>, start: i64, stop: i64) -> impl Iterator<Item = &Bytes> {
    let len = list.len() as i64;
    let mut start = if start < 0 { len.saturating_add(start) } else { start };
    let mut stop = if stop < 0 { len.saturating_add(stop) } else { stop };
    start = start.max(0);
    let (skip, take) = if start >= len || start > stop {
        (0, 0)
    } else {
        stop = stop.min(len - 1);
        (start as usize, (stop - start + 1) as usize)
    };
    list.iter().skip(skip).take(take)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::resp::frame::Frame;

    const RANGE: &str = "ERR value is out of range, must be positive";

    #[test]
    fn push_and_range() {
        run(&[
            (0, &["rpush", "l", "a", "b"], int(2)),
            (0, &["lpush", "l", "x", "y"], int(4)),
            (0, &["lrange", "l", "0", "-1"], arr(&["y", "x", "a", "b"])),
            (0, &["lrange", "l", "1", "2"], arr(&["x", "a"])),
            (0, &["lrange", "l", "-2", "-1"], arr(&["a", "b"])),
            (0, &["lrange", "l", "-100", "100"], arr(&["y", "x", "a", "b"])),
            (0, &["lrange", "l", "2", "1"], arr(&[])),
            (0, &["lrange", "l", "4", "10"], arr(&[])),
            (0, &["lrange", "l", "0", "-5"], arr(&[])),
            (
                0,
                &["lrange", "l", "-9223372036854775808", "9223372036854775807"],
                arr(&["y", "x", "a", "b"]),
            ),
            (0, &["lrange", "nokey", "0", "-1"], arr(&[])),
            (
                0,
                &["lrange", "l", "a", "1"],
                err("ERR value is not an integer or out of range"),
            ),
            (
                0,
                &["lrange", "nokey", "0", "x"],
                err("ERR value is not an integer or out of range"),
            ),
            (0, &["llen", "l"], int(4)),
            (0, &["llen", "nokey"], int(0)),
            (
                0,
                &["lpush", "l"],
                err("ERR wrong number of arguments for 'lpush' command"),
            ),
        ]);
    }

    #[test]
    fn pops() {
        run(&[
            (0, &["lpop", "nokey"], Frame::Null),
            (0, &["lpop", "nokey", "2"], Frame::NullArray),
            (0, &["lpop", "nokey", "0"], Frame::NullArray),
            (0, &["rpush", "l", "a", "b", "c", "d", "e"], int(5)),
            (0, &["lpop", "l"], bulk("a")),
            (0, &["rpop", "l"], bulk("e")),
            (0, &["lpop", "l", "0"], arr(&[])),
            (0, &["lpop", "l", "1"], arr(&["b"])),
            (0, &["rpop", "l", "10"], arr(&["d", "c"])),
            // The last element gone deletes the key.
            (0, &["exists", "l"], int(0)),
            (0, &["rpop", "l"], Frame::Null),
            (0, &["lpop", "l", "-1"], err(RANGE)),
            (0, &["lpop", "l", "abc"], err(RANGE)),
            (
                0,
                &["rpop", "l", "1", "2"],
                err("ERR wrong number of arguments for 'rpop' command"),
            ),
            (0, &["rpush", "m", "x"], int(1)),
            (0, &["rpop", "m"], bulk("x")),
            (0, &["exists", "m"], int(0)),
        ]);
    }

    #[test]
    fn wrong_type_and_expiry() {
        run(&[
            (0, &["set", "s", "v"], ok()),
            (0, &["lpush", "s", "a"], err(WRONGTYPE)),
            (0, &["rpush", "s", "a"], err(WRONGTYPE)),
            (0, &["lpop", "s"], err(WRONGTYPE)),
            (0, &["rpop", "s", "0"], err(WRONGTYPE)),
            (0, &["lrange", "s", "0", "1"], err(WRONGTYPE)),
            (0, &["llen", "s"], err(WRONGTYPE)),
            (0, &["get", "s"], bulk("v")),
            (0, &["rpush", "l", "a", "b"], int(2)),
            (0, &["pexpire", "l", "10"], int(1)),
            (9, &["llen", "l"], int(2)),
            (10, &["llen", "l"], int(0)),
            (10, &["lrange", "l", "0", "-1"], arr(&[])),
            (10, &["lpop", "l"], Frame::Null),
            (10, &["rpush", "l", "c"], int(1)),
            (10, &["pttl", "l"], int(-1)),
        ]);
    }
}
