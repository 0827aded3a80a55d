//! List commands: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LRANGE, LLEN, LINDEX, LSET,
//! LINSERT, LREM, LTRIM, LPOS, LMOVE, RPOPLPUSH, LMPOP (non-blocking).

use std::collections::VecDeque;

use bytes::Bytes;

use super::parse::{Cursor, NOT_AN_INTEGER, Reply, SYNTAX_ERROR, WRONGTYPE, numkeys_keys, parse_i64};
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
    /// `only_existing` for LPUSHX / RPUSHX.
    Push {
        key: Bytes,
        items: Vec<Bytes>,
        left: bool,
        only_existing: bool,
    },
    Set {
        key: Bytes,
        index: i64,
        value: Bytes,
    },
    Insert {
        key: Bytes,
        before: bool,
        pivot: Bytes,
        value: Bytes,
    },
    Rem {
        key: Bytes,
        count: i64,
        value: Bytes,
    },
    Trim {
        key: Bytes,
        start: i64,
        stop: i64,
    },
    Move {
        from: Bytes,
        to: Bytes,
        from_left: bool,
        to_left: bool,
    },
    MPop {
        keys: Vec<Bytes>,
        left: bool,
        count: usize,
    },
    /// `count` is None for the single-element form (bulk reply), Some for the array form.
    Pop {
        key: Bytes,
        count: Option<usize>,
        left: bool,
    },
}

/// LEFT | RIGHT; true for LEFT.
fn side(arg: &[u8]) -> Reply<bool> {
    if arg.eq_ignore_ascii_case(b"left") {
        Ok(true)
    } else if arg.eq_ignore_ascii_case(b"right") {
        Ok(false)
    } else {
        Err(Frame::error(SYNTAX_ERROR))
    }
}

/// A positive integer option with Redis's own message for anything else.
fn positive(arg: &[u8], msg: &str) -> Reply<i64> {
    parse_i64(arg).filter(|&v| v >= 1).ok_or_else(|| Frame::error(msg))
}

/// LMPOP's numkeys, and the index of LEFT|RIGHT after the keys.
fn mpop_layout(args: &[Bytes]) -> Reply<(usize, usize)> {
    let n = positive(&args[1], "ERR numkeys should be greater than 0")?;
    let n = usize::try_from(n).map_err(|_| Frame::error(SYNTAX_ERROR))?;
    let where_idx = n
        .checked_add(2)
        .filter(|&w| w < args.len())
        .ok_or_else(|| Frame::error(SYNTAX_ERROR))?;
    Ok((n, where_idx))
}

/// Key positions of LMPOP (`numkeys key [key ...] LEFT|RIGHT`), which the table's
/// first/last/step cannot say: what routing and apply-time expiry use. Empty when numkeys is
/// unusable (the command's own parse then answers with Redis's error).
pub fn lmpop_keys(args: &[Bytes]) -> Vec<usize> {
    numkeys_keys(args, &[], 1)
}

/// Key positions of BLMPOP: LMPOP's after the timeout.
pub fn blmpop_keys(args: &[Bytes]) -> Vec<usize> {
    numkeys_keys(args, &[], 2)
}

pub(super) fn parse_write(name: &str, args: &[Bytes]) -> Reply<Write> {
    if name == "lmpop" {
        let (n, where_idx) = mpop_layout(args)?;
        let left = side(&args[where_idx])?;
        let mut count = None;
        let mut j = where_idx + 1;
        while j < args.len() {
            if count.is_none() && args[j].eq_ignore_ascii_case(b"count") && j + 1 < args.len() {
                let v = positive(&args[j + 1], "ERR count should be greater than 0")?;
                count = Some(usize::try_from(v).unwrap_or(usize::MAX));
                j += 2;
            } else {
                return Err(Frame::error(SYNTAX_ERROR));
            }
        }
        return Ok(Write::MPop {
            keys: args[2..2 + n].to_vec(),
            left,
            count: count.unwrap_or(1),
        });
    }
    let mut c = Cursor::new(args);
    let key = c.next_bytes()?.clone();
    let cmd = match name {
        "lpush" | "rpush" | "lpushx" | "rpushx" => Write::Push {
            key,
            items: c.rest().to_vec(),
            left: name.starts_with('l'),
            only_existing: name.ends_with('x'),
        },
        "lset" => Write::Set {
            key,
            index: c.next_int()?,
            value: c.next_bytes()?.clone(),
        },
        "linsert" => {
            let before = match c.peek_lower().as_deref() {
                Some("before") => true,
                Some("after") => false,
                _ => return Err(Frame::error(SYNTAX_ERROR)),
            };
            c.next_bytes()?;
            Write::Insert {
                key,
                before,
                pivot: c.next_bytes()?.clone(),
                value: c.next_bytes()?.clone(),
            }
        }
        "lrem" => Write::Rem {
            key,
            count: c.next_int()?,
            value: c.next_bytes()?.clone(),
        },
        "ltrim" => Write::Trim {
            key,
            start: c.next_int()?,
            stop: c.next_int()?,
        },
        "lmove" | "rpoplpush" => {
            let to = c.next_bytes()?.clone();
            let (from_left, to_left) = if name == "lmove" {
                (side(c.next_bytes()?)?, side(c.next_bytes()?)?)
            } else {
                (false, true)
            };
            Write::Move {
                from: key,
                to,
                from_left,
                to_left,
            }
        }
        "lpop" | "rpop" => {
            if args.len() > 3 {
                return Err(Frame::Error(crate::errors::wrong_arity(name)));
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
            Write::Push {
                key,
                items,
                left,
                only_existing,
            } => push(store, key, items, left, only_existing),
            Write::Pop { key, count, left } => pop(store, key, count, left),
            Write::Set { key, index, value } => set(store, key, index, value),
            Write::Insert {
                key,
                before,
                pivot,
                value,
            } => insert(store, key, before, pivot, value),
            Write::Rem { key, count, value } => rem(store, key, count, value),
            Write::Trim { key, start, stop } => trim(store, key, start, stop),
            Write::Move {
                from,
                to,
                from_left,
                to_left,
            } => move_between(store, from, to, from_left, to_left),
            Write::MPop { keys, left, count } => mpop(store, keys, left, count),
        }
    }
}

/// LPUSH, RPUSH, LPUSHX, RPUSHX: the new length.
fn push(store: &mut Store, key: Bytes, items: Vec<Bytes>, left: bool, only_existing: bool) -> Reply<Frame> {
    if list_of(store.get(&key))?.is_none() {
        if only_existing {
            return Ok(Frame::Integer(0));
        }
        store.insert(&key, Value::List(Box::default()), None);
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

/// LPOP, RPOP: one element (bulk) or up to `count` (array).
fn pop(store: &mut Store, key: Bytes, count: Option<usize>, left: bool) -> Reply<Frame> {
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

/// LSET.
fn set(store: &mut Store, key: Bytes, index: i64, value: Bytes) -> Reply<Frame> {
    if list_of(store.get(&key))?.is_none() {
        return Err(Frame::error("ERR no such key"));
    }
    let Some(Value::List(l)) = store.value_mut(&key) else {
        return Err(Frame::error(WRONGTYPE));
    };
    let slot = resolve(l.len(), index).and_then(|i| l.get_mut(i));
    let Some(slot) = slot else {
        return Err(Frame::error("ERR index out of range"));
    };
    *slot = Bytes::copy_from_slice(&value);
    Ok(Frame::ok())
}

/// LINSERT: the new length, -1 without the pivot, 0 without the list.
fn insert(store: &mut Store, key: Bytes, before: bool, pivot: Bytes, value: Bytes) -> Reply<Frame> {
    if list_of(store.get(&key))?.is_none() {
        return Ok(Frame::Integer(0));
    }
    let Some(Value::List(l)) = store.value_mut(&key) else {
        return Err(Frame::error(WRONGTYPE));
    };
    let Some(at) = l.iter().position(|e| *e == pivot) else {
        return Ok(Frame::Integer(-1));
    };
    l.insert(if before { at } else { at + 1 }, Bytes::copy_from_slice(&value));
    Ok(Frame::Integer(l.len() as i64))
}

/// LREM: `count` > 0 from the head, < 0 from the tail, 0 all.
fn rem(store: &mut Store, key: Bytes, count: i64, value: Bytes) -> Reply<Frame> {
    if list_of(store.get(&key))?.is_none() {
        return Ok(Frame::Integer(0));
    }
    let Some(Value::List(l)) = store.value_mut(&key) else {
        return Err(Frame::error(WRONGTYPE));
    };
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs() as usize
    };
    let mut removed = 0;
    let mut kept: VecDeque<Bytes> = VecDeque::with_capacity(l.len());
    if count >= 0 {
        for e in l.drain(..) {
            if removed < limit && e == value {
                removed += 1;
            } else {
                kept.push_back(e);
            }
        }
    } else {
        for e in l.drain(..).rev() {
            if removed < limit && e == value {
                removed += 1;
            } else {
                kept.push_front(e);
            }
        }
    }
    **l = kept;
    store.remove_if_empty(&key);
    Ok(Frame::Integer(removed as i64))
}

/// LTRIM.
fn trim(store: &mut Store, key: Bytes, start: i64, stop: i64) -> Reply<Frame> {
    if list_of(store.get(&key))?.is_none() {
        return Ok(Frame::ok());
    }
    let Some(Value::List(l)) = store.value_mut(&key) else {
        return Err(Frame::error(WRONGTYPE));
    };
    let len = l.len() as i64;
    let start = if start < 0 { len.saturating_add(start) } else { start }.max(0);
    let stop = if stop < 0 { len.saturating_add(stop) } else { stop };
    if start > stop || start >= len {
        l.clear();
    } else {
        let stop = stop.min(len - 1);
        l.truncate(stop as usize + 1);
        l.drain(..start as usize);
    }
    store.remove_if_empty(&key);
    Ok(Frame::ok())
}

/// LMOVE and RPOPLPUSH: the element moved, null when the source is empty.
fn move_between(store: &mut Store, from: Bytes, to: Bytes, from_left: bool, to_left: bool) -> Reply<Frame> {
    if list_of(store.get(&from))?.is_none() {
        return Ok(Frame::Null);
    }
    list_of(store.get(&to))?;
    let Some(Value::List(l)) = store.value_mut(&from) else {
        return Err(Frame::error(WRONGTYPE));
    };
    let Some(item) = (if from_left { l.pop_front() } else { l.pop_back() }) else {
        return Ok(Frame::Null);
    };
    if store.get(&to).is_none() {
        store.insert(&to, Value::List(Box::default()), None);
    }
    if let Some(Value::List(d)) = store.value_mut(&to) {
        if to_left {
            d.push_front(item.clone());
        } else {
            d.push_back(item.clone());
        }
    }
    store.remove_if_empty(&from);
    Ok(Frame::Bulk(item))
}

/// LMPOP: from the first non-empty list of `keys`.
fn mpop(store: &mut Store, keys: Vec<Bytes>, left: bool, count: usize) -> Reply<Frame> {
    for key in keys {
        if list_of(store.get(&key))?.is_none_or(VecDeque::is_empty) {
            continue;
        }
        let Some(Value::List(l)) = store.value_mut(&key) else {
            return Err(Frame::error(WRONGTYPE));
        };
        let n = count.min(l.len());
        let popped: Vec<Frame> = (0..n)
            .filter_map(|_| if left { l.pop_front() } else { l.pop_back() })
            .map(Frame::Bulk)
            .collect();
        store.remove_if_empty(&key);
        return Ok(Frame::Array(vec![Frame::Bulk(key), Frame::Array(popped)]));
    }
    Ok(Frame::NullArray)
}

/// A list index as Redis reads it (negative from the end); None when out of range.
fn resolve(len: usize, index: i64) -> Option<usize> {
    let i = if index < 0 {
        (len as i64).checked_add(index)?
    } else {
        index
    };
    usize::try_from(i).ok().filter(|&i| i < len)
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
fn lpos(store: &Store, args: &[Bytes], now_ms: u64) -> Reply<Frame> {
    let (mut rank, mut count, mut maxlen): (i64, Option<usize>, usize) = (1, None, 0);
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        let opt = &args[j];
        if opt.eq_ignore_ascii_case(b"rank") && more {
            rank = parse_i64(&args[j + 1]).ok_or_else(|| Frame::error(NOT_AN_INTEGER))?;
            if rank == 0 {
                return Err(Frame::error(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if opt.eq_ignore_ascii_case(b"count") && more {
            let v = parse_i64(&args[j + 1]).and_then(|v| usize::try_from(v).ok());
            count = Some(v.ok_or_else(|| Frame::error("ERR COUNT can't be negative"))?);
        } else if opt.eq_ignore_ascii_case(b"maxlen") && more {
            let v = parse_i64(&args[j + 1]).and_then(|v| usize::try_from(v).ok());
            maxlen = v.ok_or_else(|| Frame::error("ERR MAXLEN can't be negative"))?;
        } else {
            return Err(Frame::error(SYNTAX_ERROR));
        }
        j += 2;
    }
    let Some(list) = list_of(store.get_live(&args[1], now_ms))? else {
        return Ok(if count.is_some() {
            Frame::Array(Vec::new())
        } else {
            Frame::Null
        });
    };
    let elem = &args[2];
    let len = list.len();
    let from_tail = rank < 0;
    // Redis 7.0 negates a negative rank in a signed long: LLONG_MIN stays negative, and every
    // match from the tail is then at or past it, as rank -1.
    let rank = if rank == i64::MIN { 1 } else { rank.unsigned_abs() };
    let scan = len.min(if maxlen == 0 { usize::MAX } else { maxlen });
    let index_at = |n: usize| if from_tail { len - 1 - n } else { n };
    let mut matches: u64 = 0;
    let mut found = Vec::new();
    for n in 0..scan {
        let i = index_at(n);
        if list[i] != *elem {
            continue;
        }
        matches += 1;
        if matches >= rank {
            found.push(Frame::Integer(i as i64));
            match count {
                None => break,
                Some(c) if c != 0 && found.len() >= c => break,
                Some(_) => {}
            }
        }
    }
    Ok(match count {
        Some(_) => Frame::Array(found),
        None => found.into_iter().next().unwrap_or(Frame::Null),
    })
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
        "lindex" => {
            let index = c.next_int()?;
            c.finish()?;
            let list = list_of(store.get_live(key, now_ms))?;
            Ok(list
                .and_then(|l| resolve(l.len(), index).and_then(|i| l.get(i)))
                .map_or(Frame::Null, |v| Frame::Bulk(v.clone())))
        }
        "lpos" => lpos(store, args, now_ms),
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

    #[test]
    fn pushx_index_set_insert() {
        run(&[
            (0, &["lpushx", "l", "a"], int(0)),
            (0, &["rpushx", "l", "a"], int(0)),
            (0, &["exists", "l"], int(0)),
            (0, &["rpush", "l", "b"], int(1)),
            (0, &["lpushx", "l", "a"], int(2)),
            (0, &["rpushx", "l", "c", "d"], int(4)),
            (0, &["lindex", "l", "0"], bulk("a")),
            (0, &["lindex", "l", "-1"], bulk("d")),
            (0, &["lindex", "l", "4"], Frame::Null),
            (0, &["lindex", "l", "-5"], Frame::Null),
            (0, &["lindex", "none", "0"], Frame::Null),
            (
                0,
                &["lindex", "l", "x"],
                err("ERR value is not an integer or out of range"),
            ),
            (0, &["lset", "l", "1", "B"], ok()),
            (0, &["lset", "l", "-1", "D"], ok()),
            (0, &["lset", "l", "4", "x"], err("ERR index out of range")),
            (0, &["lset", "none", "0", "x"], err("ERR no such key")),
            (0, &["linsert", "l", "before", "B", "x"], int(5)),
            (0, &["linsert", "l", "AFTER", "D", "y"], int(6)),
            (0, &["linsert", "l", "after", "zz", "y"], int(-1)),
            (0, &["linsert", "none", "after", "zz", "y"], int(0)),
            (0, &["linsert", "l", "middle", "B", "y"], err("ERR syntax error")),
            (0, &["lrange", "l", "0", "-1"], arr(&["a", "x", "B", "c", "D", "y"])),
            (0, &["set", "s", "v"], ok()),
            (0, &["lpushx", "s", "a"], err(WRONGTYPE)),
            (0, &["lindex", "s", "0"], err(WRONGTYPE)),
            (0, &["lset", "s", "0", "x"], err(WRONGTYPE)),
            (0, &["linsert", "s", "before", "a", "b"], err(WRONGTYPE)),
        ]);
    }

    #[test]
    fn rem_trim() {
        run(&[
            (0, &["rpush", "l", "a", "b", "a", "c", "a"], int(5)),
            (0, &["lrem", "l", "-2", "a"], int(2)),
            (0, &["lrange", "l", "0", "-1"], arr(&["a", "b", "c"])),
            (0, &["rpush", "l", "a", "a"], int(5)),
            (0, &["lrem", "l", "1", "a"], int(1)),
            (0, &["lrange", "l", "0", "-1"], arr(&["b", "c", "a", "a"])),
            (0, &["lrem", "l", "0", "a"], int(2)),
            (0, &["lrem", "l", "0", "zz"], int(0)),
            (0, &["lrem", "none", "0", "a"], int(0)),
            (0, &["lrem", "l", "0", "b"], int(1)),
            (0, &["lrem", "l", "0", "c"], int(1)),
            (0, &["exists", "l"], int(0)),
            (0, &["rpush", "t", "1", "2", "3", "4", "5"], int(5)),
            (0, &["ltrim", "t", "1", "-2"], ok()),
            (0, &["lrange", "t", "0", "-1"], arr(&["2", "3", "4"])),
            (0, &["ltrim", "t", "-100", "100"], ok()),
            (0, &["llen", "t"], int(3)),
            (0, &["ltrim", "t", "2", "1"], ok()),
            (0, &["exists", "t"], int(0)),
            (0, &["ltrim", "none", "0", "1"], ok()),
            (
                0,
                &["ltrim", "t", "a", "1"],
                err("ERR value is not an integer or out of range"),
            ),
            (0, &["set", "s", "v"], ok()),
            (0, &["lrem", "s", "0", "a"], err(WRONGTYPE)),
            (0, &["ltrim", "s", "0", "1"], err(WRONGTYPE)),
        ]);
    }

    #[test]
    fn lpos() {
        run(&[
            (0, &["rpush", "l", "a", "b", "c", "1", "2", "3", "c", "c"], int(8)),
            (0, &["lpos", "l", "c"], int(2)),
            (0, &["lpos", "l", "c", "rank", "2"], int(6)),
            (0, &["lpos", "l", "c", "rank", "-1"], int(7)),
            (0, &["lpos", "l", "c", "count", "2"], Frame::Array(vec![int(2), int(6)])),
            (
                0,
                &["lpos", "l", "c", "count", "0"],
                Frame::Array(vec![int(2), int(6), int(7)]),
            ),
            (
                0,
                &["lpos", "l", "c", "rank", "-1", "count", "2"],
                Frame::Array(vec![int(7), int(6)]),
            ),
            (
                0,
                &["lpos", "l", "c", "count", "0", "maxlen", "7"],
                Frame::Array(vec![int(2), int(6)]),
            ),
            (0, &["lpos", "l", "c", "rank", "4"], Frame::Null),
            (0, &["lpos", "l", "zz"], Frame::Null),
            (0, &["lpos", "l", "zz", "count", "1"], arr(&[])),
            (0, &["lpos", "none", "a"], Frame::Null),
            (0, &["lpos", "none", "a", "count", "0"], arr(&[])),
            (
                0,
                &["lpos", "l", "c", "rank", "0"],
                err(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ),
            ),
            (
                0,
                &["lpos", "l", "c", "rank", "x"],
                err("ERR value is not an integer or out of range"),
            ),
            (
                0,
                &["lpos", "l", "c", "count", "-1"],
                err("ERR COUNT can't be negative"),
            ),
            (
                0,
                &["lpos", "l", "c", "count", "abc"],
                err("ERR COUNT can't be negative"),
            ),
            (
                0,
                &["lpos", "l", "c", "maxlen", "-1"],
                err("ERR MAXLEN can't be negative"),
            ),
            (0, &["lpos", "l", "c", "count"], err("ERR syntax error")),
            // Redis 7.0 takes LLONG_MIN as a rank (every match from the tail counts) and
            // reads the options in order: the COUNT error comes after it.
            (0, &["lpos", "l", "c", "rank", "-9223372036854775808"], int(7)),
            (
                0,
                &["lpos", "l", "c", "rank", "-9223372036854775808", "count", "0"],
                Frame::Array(vec![int(7), int(6), int(2)]),
            ),
            (
                0,
                &["lpos", "none", "c", "rank", "-9223372036854775808", "count", "-6"],
                err("ERR COUNT can't be negative"),
            ),
            (
                0,
                &["lpos", "none", "c", "count", "-1", "rank", "0"],
                err("ERR COUNT can't be negative"),
            ),
            (0, &["set", "s", "v"], ok()),
            (0, &["lpos", "s", "v"], err(WRONGTYPE)),
        ]);
    }

    #[test]
    fn lmove_rpoplpush_lmpop() {
        run(&[
            (0, &["rpush", "{l}a", "1", "2", "3"], int(3)),
            (0, &["lmove", "{l}a", "{l}b", "left", "right"], bulk("1")),
            (0, &["lmove", "{l}a", "{l}b", "RIGHT", "LEFT"], bulk("3")),
            (0, &["lrange", "{l}b", "0", "-1"], arr(&["3", "1"])),
            (0, &["rpoplpush", "{l}a", "{l}b"], bulk("2")),
            (0, &["exists", "{l}a"], int(0)),
            (0, &["lrange", "{l}b", "0", "-1"], arr(&["2", "3", "1"])),
            (0, &["rpoplpush", "{l}a", "{l}b"], Frame::Null),
            // Rotation of a list onto itself, even with one element.
            (0, &["lmove", "{l}b", "{l}b", "left", "right"], bulk("2")),
            (0, &["lrange", "{l}b", "0", "-1"], arr(&["3", "1", "2"])),
            (0, &["rpush", "{l}one", "x"], int(1)),
            (0, &["rpoplpush", "{l}one", "{l}one"], bulk("x")),
            (0, &["lrange", "{l}one", "0", "-1"], arr(&["x"])),
            (0, &["lmove", "{l}b", "{l}c", "up", "left"], err("ERR syntax error")),
            (0, &["set", "{l}s", "v"], ok()),
            (0, &["lmove", "{l}b", "{l}s", "left", "left"], err(WRONGTYPE)),
            (0, &["llen", "{l}b"], int(3)),
            (0, &["lmove", "{l}s", "{l}b", "left", "left"], err(WRONGTYPE)),
            (0, &["lmove", "{l}none", "{l}s", "left", "left"], Frame::Null),
            (
                0,
                &["lmpop", "2", "{l}none", "{l}b", "left"],
                Frame::Array(vec![bulk("{l}b"), arr(&["3"])]),
            ),
            (
                0,
                &["lmpop", "2", "{l}none", "{l}b", "right", "count", "10"],
                Frame::Array(vec![bulk("{l}b"), arr(&["2", "1"])]),
            ),
            (0, &["exists", "{l}b"], int(0)),
            (0, &["lmpop", "1", "{l}b", "left"], Frame::NullArray),
            (0, &["lmpop", "1", "{l}s", "left"], err(WRONGTYPE)),
            (
                0,
                &["lmpop", "0", "{l}b", "left"],
                err("ERR numkeys should be greater than 0"),
            ),
            (
                0,
                &["lmpop", "x", "{l}b", "left"],
                err("ERR numkeys should be greater than 0"),
            ),
            (0, &["lmpop", "5", "{l}b", "left"], err("ERR syntax error")),
            (0, &["lmpop", "1", "{l}b", "up"], err("ERR syntax error")),
            (
                0,
                &["lmpop", "1", "{l}b", "left", "count", "0"],
                err("ERR count should be greater than 0"),
            ),
            (
                0,
                &["lmpop", "1", "{l}b", "left", "count", "1", "count", "1"],
                err("ERR syntax error"),
            ),
            (
                0,
                &["lmpop", "1", "{l}b"],
                err("ERR wrong number of arguments for 'lmpop' command"),
            ),
        ]);
    }

    #[test]
    fn lmpop_expires_its_keys_at_apply() {
        let mut store = run(&[
            (0, &["rpush", "{l}a", "x"], int(1)),
            (0, &["pexpire", "{l}a", "10"], int(1)),
            (0, &["rpush", "{l}b", "y"], int(1)),
        ]);
        let req = args(&["lmpop", "2", "{l}a", "{l}b", "left"]);
        assert_eq!(
            super::super::apply_write(&mut store, &req, 10),
            Frame::Array(vec![bulk("{l}b"), arr(&["y"])])
        );
        assert_eq!(store.len(), 0);
        assert_eq!(super::lmpop_keys(&req), vec![2, 3]);
        assert_eq!(
            super::lmpop_keys(&args(&["lmpop", "9", "a", "left"])),
            Vec::<usize>::new()
        );
        assert_eq!(
            super::blmpop_keys(&args(&["blmpop", "0", "2", "a", "b", "left"])),
            vec![3, 4]
        );
    }

    #[test]
    fn wire_bytes_in_both_protocols() {
        crate::cmd::testing::run_wire(&[
            (&["rpush", "l", "a", "b"], ":2\r\n", ":2\r\n"),
            (&["lpop", "missing"], "$-1\r\n", "_\r\n"),
            (&["lpop", "missing", "2"], "*-1\r\n", "_\r\n"),
            (&["lpos", "l", "zz"], "$-1\r\n", "_\r\n"),
            (&["lindex", "l", "9"], "$-1\r\n", "_\r\n"),
            (&["lmpop", "1", "missing", "left"], "*-1\r\n", "_\r\n"),
            (
                &["lrange", "l", "0", "-1"],
                "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
                "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
            ),
        ]);
    }
}
