//! Hash commands: HSET, HMSET, HSETNX, HGET, HMGET, HGETALL, HKEYS, HVALS, HDEL, HLEN,
//! HEXISTS, HSTRLEN, HINCRBY, HINCRBYFLOAT, HRANDFIELD, HSCAN.
//!
//! Hashes are `HashMap`s whose iteration order differs between processes, so every reply
//! that lists fields orders them explicitly (sorted fields; HSCAN by a fixed field hash),
//! and replicas answer alike.

use std::collections::HashMap;

use bytes::Bytes;

use super::float;
use super::parse::{Cursor, NOT_AN_INTEGER, Reply, SYNTAX_ERROR, WRONGTYPE, parse_i64};
use super::sets::check_repeats;
use crate::resp::frame::Frame;
use crate::store::scan::glob_match;
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
    SetNx {
        key: Bytes,
        field: Bytes,
        value: Bytes,
    },
    IncrBy {
        key: Bytes,
        field: Bytes,
        delta: i64,
    },
    IncrByFloat {
        key: Bytes,
        field: Bytes,
        by: float::Parsed,
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
        "hsetnx" => Write::SetNx {
            key,
            field: c.next_bytes()?.clone(),
            value: c.next_bytes()?.clone(),
        },
        "hincrby" => Write::IncrBy {
            key,
            field: c.next_bytes()?.clone(),
            delta: c.next_int()?,
        },
        "hincrbyfloat" => {
            let field = c.next_bytes()?.clone();
            let by = match float::parse(c.next_bytes()?) {
                None => return Err(Frame::error("ERR value is not a valid float")),
                Some(float::Parsed::Infinite) => return Err(Frame::error("ERR value is NaN or Infinity")),
                Some(by) => by,
            };
            Write::IncrByFloat { key, field, by }
        }
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
                    store.insert(&key, Value::Hash(Box::default()), None);
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
            Write::SetNx { key, field, value } => {
                if hash_of(store.get(&key))?.is_some_and(|h| h.contains_key(&field)) {
                    return Ok(Frame::Integer(0));
                }
                hash_mut(store, &key)?.insert(Bytes::copy_from_slice(&field), Bytes::copy_from_slice(&value));
                Ok(Frame::Integer(1))
            }
            Write::IncrBy { key, field, delta } => {
                let cur = match hash_of(store.get(&key))?.and_then(|h| h.get(&field)) {
                    None => 0,
                    Some(v) => parse_i64(v).ok_or_else(|| Frame::error("ERR hash value is not an integer"))?,
                };
                let new = cur
                    .checked_add(delta)
                    .ok_or_else(|| Frame::error("ERR increment or decrement would overflow"))?;
                hash_mut(store, &key)?.insert(Bytes::copy_from_slice(&field), Bytes::from(new.to_string()));
                Ok(Frame::Integer(new))
            }
            Write::IncrByFloat { key, field, by } => {
                let cur = match hash_of(store.get(&key))?.and_then(|h| h.get(&field)) {
                    None => float::Parsed::zero(),
                    Some(v) => float::parse(v).ok_or_else(|| Frame::error("ERR hash value is not a float"))?,
                };
                let text =
                    float::incr(cur, by).ok_or_else(|| Frame::error("ERR increment would produce NaN or Infinity"))?;
                let text = Bytes::from(text);
                hash_mut(store, &key)?.insert(Bytes::copy_from_slice(&field), text.clone());
                Ok(Frame::Bulk(text))
            }
        }
    }
}

/// The hash at `key`, created empty if missing (callers type-check first).
fn hash_mut<'a>(store: &'a mut Store, key: &[u8]) -> Reply<&'a mut HashMap<Bytes, Bytes>> {
    if hash_of(store.get(key))?.is_none() {
        store.insert(key, Value::Hash(Box::default()), None);
    }
    match store.value_mut(key) {
        Some(Value::Hash(h)) => Ok(h),
        _ => Err(Frame::error(WRONGTYPE)),
    }
}

/// Fields and values in field order: the deterministic order of HGETALL, HKEYS, HVALS.
fn sorted(hash: Option<&HashMap<Bytes, Bytes>>) -> Vec<(&Bytes, &Bytes)> {
    let mut v: Vec<_> = hash.into_iter().flatten().collect();
    v.sort_unstable_by(|a, b| a.0.cmp(b.0));
    v
}

/// splitmix64: a tiny deterministic generator for HRANDFIELD, seeded per read.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-enough index below `n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// FNV-1a: a fixed hash, the same on every replica and every run (HSCAN cursors, seeds).
fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// HRANDFIELD's count and WITHVALUES, read before the key is looked up, as Redis reads them
/// (a bad count answers before WRONGTYPE). `None`: no count.
fn hrandfield_args(args: &[Bytes]) -> Reply<Option<(i64, bool)>> {
    let Some(raw) = args.get(2) else {
        return Ok(None);
    };
    let l = parse_i64(raw).ok_or_else(|| Frame::error(NOT_AN_INTEGER))?;
    if l == i64::MIN {
        return Err(Frame::error(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let with_values = match args.get(3) {
        None => false,
        Some(a) if args.len() == 4 && a.eq_ignore_ascii_case(b"withvalues") => true,
        Some(_) => return Err(Frame::error(SYNTAX_ERROR)),
    };
    // Field and value pairs: a count whose double overflows is refused (CVE-2023-22458).
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(Frame::error("ERR value is out of range"));
    }
    Ok(Some((l, with_values)))
}

/// HRANDFIELD key [count [WITHVALUES]] (`count`: `hrandfield_args`). Random but
/// reproducible: seeded from the read's time and the key, choosing among the fields in
/// sorted order.
fn hrandfield(
    hash: Option<&HashMap<Bytes, Bytes>>,
    key: &[u8],
    count: Option<(i64, bool)>,
    now_ms: u64,
) -> Reply<Frame> {
    let mut rng = SplitMix(now_ms ^ fnv1a(key));
    let Some((l, with_values)) = count else {
        let fields = sorted(hash);
        if fields.is_empty() {
            return Ok(Frame::Null);
        }
        return Ok(Frame::Bulk(fields[rng.below(fields.len())].0.clone()));
    };
    check_repeats(Some(l), hash.is_some_and(|h| !h.is_empty()))?;
    let fields = sorted(hash);
    if l == 0 || fields.is_empty() {
        return Ok(Frame::Array(Vec::new()));
    }
    let picked: Vec<(&Bytes, &Bytes)> = if l < 0 {
        let n = l.unsigned_abs() as usize;
        (0..n).map(|_| fields[rng.below(fields.len())]).collect()
    } else if l as usize >= fields.len() {
        fields
    } else {
        // A partial Fisher-Yates shuffle: `l` distinct fields.
        let mut pool = fields;
        let n = l as usize;
        for i in 0..n {
            let j = i + rng.below(pool.len() - i);
            pool.swap(i, j);
        }
        pool.truncate(n);
        pool
    };
    Ok(Frame::Array(
        picked
            .into_iter()
            .flat_map(|(f, v)| {
                let value = with_values.then(|| Frame::Bulk(v.clone()));
                std::iter::once(Frame::Bulk(f.clone())).chain(value)
            })
            .collect(),
    ))
}

/// HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]. Fields are visited in the
/// order of a fixed 64-bit hash and the cursor is the next hash to visit, so a full scan
/// returns every field present throughout it, whatever is added or removed meanwhile.
/// Small hashes come back whole in one call, as Redis does for listpack-encoded hashes.
fn hscan(hash: Option<&HashMap<Bytes, Bytes>>, args: &[Bytes]) -> Reply<Frame> {
    let empty = || Frame::Array(vec![Frame::Bulk(Bytes::from_static(b"0")), Frame::Array(Vec::new())]);
    let Some(hash) = hash else {
        return Ok(empty());
    };
    let mut c = Cursor::new(&args[2..]);
    let (mut pattern, mut count, mut novalues) = (None, 10usize, false);
    while let Some(opt) = c.peek_lower() {
        c.next_bytes()?;
        match opt.as_str() {
            "match" if !c.is_done() => pattern = Some(c.next_bytes()?),
            "count" if !c.is_done() => {
                let n = c.next_int()?;
                count = usize::try_from(n)
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| Frame::error(SYNTAX_ERROR))?;
            }
            "novalues" => novalues = true,
            _ => return Err(Frame::error(SYNTAX_ERROR)),
        }
    }
    let cursor = parse_cursor(&args[2])?;
    let small = hash.len() <= 128 && hash.iter().all(|(f, v)| f.len() <= 64 && v.len() <= 64);
    let mut batch: Vec<(u64, &Bytes, &Bytes)> = hash
        .iter()
        .map(|(f, v)| (fnv1a(f), f, v))
        .filter(|(h, _, _)| small || *h >= cursor)
        .collect();
    let mut next = 0;
    if !small && batch.len() > count {
        batch.select_nth_unstable_by_key(count - 1, |e| e.0);
        let boundary = batch[count - 1].0;
        // Fields sharing the last hash go together: the cursor cannot split them.
        let tail = batch.split_off(count);
        batch.extend(tail.into_iter().filter(|e| e.0 == boundary));
        next = boundary.wrapping_add(1);
    }
    if small {
        // Returned whole: in field order, like HGETALL.
        batch.sort_unstable_by(|a, b| a.1.cmp(b.1));
    } else {
        batch.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    }
    let items = batch
        .into_iter()
        .filter(|(_, f, _)| pattern.is_none_or(|p| glob_match(p, f)))
        .flat_map(|(_, f, v)| {
            let value = (!novalues).then(|| Frame::Bulk(v.clone()));
            std::iter::once(Frame::Bulk(f.clone())).chain(value)
        })
        .collect();
    Ok(Frame::Array(vec![
        Frame::Bulk(Bytes::from(next.to_string())),
        Frame::Array(items),
    ]))
}

/// A SCAN cursor: an unsigned 64-bit number (`strtoull` also takes a wrapped negative).
fn parse_cursor(raw: &[u8]) -> Reply<u64> {
    let invalid = || Frame::error("ERR invalid cursor");
    if raw.first() == Some(&b'-') {
        return parse_i64(raw).map(|v| v as u64).ok_or_else(invalid);
    }
    std::str::from_utf8(raw)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|_| raw.first() != Some(&b'+'))
        .ok_or_else(invalid)
}

pub(super) fn read(name: &str, store: &Store, args: &[Bytes], now_ms: u64) -> Reply<Frame> {
    let mut c = Cursor::new(args);
    let key = c.next_bytes()?;
    if name == "hscan" {
        // The cursor is checked before the key, as in Redis.
        parse_cursor(&args[2])?;
    }
    let count = if name == "hrandfield" {
        hrandfield_args(args)?
    } else {
        None
    };
    let hash = hash_of(store.get_live(key, now_ms))?;
    let reply = match name {
        "hrandfield" => return hrandfield(hash, key, count, now_ms),
        "hscan" => return hscan(hash, args),
        "hkeys" => Frame::Array(sorted(hash).into_iter().map(|(f, _)| Frame::Bulk(f.clone())).collect()),
        "hvals" => Frame::Array(sorted(hash).into_iter().map(|(_, v)| Frame::Bulk(v.clone())).collect()),
        "hstrlen" => {
            let field = c.next_bytes()?;
            Frame::Integer(hash.and_then(|h| h.get(&field[..])).map_or(0, Bytes::len) as i64)
        }
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
            sorted(hash)
                .into_iter()
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
            // HRANDFIELD reads its count and WITHVALUES before the key's type, as Redis does.
            (0, &["hrandfield", "s"], err(WRONGTYPE)),
            (0, &["hrandfield", "s", "1"], err(WRONGTYPE)),
            (
                0,
                &["hrandfield", "s", "x"],
                err("ERR value is not an integer or out of range"),
            ),
            (0, &["hrandfield", "s", "1", "withvalue"], err("ERR syntax error")),
            (
                0,
                &["hrandfield", "s", "-9223372036854775808"],
                err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
            ),
            (
                0,
                &["hrandfield", "s", "9223372036854775807", "withvalues"],
                err("ERR value is out of range"),
            ),
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

    #[test]
    fn setnx_incr_strlen_keys_vals() {
        run(&[
            (0, &["hsetnx", "h", "a", "1"], int(1)),
            (0, &["hsetnx", "h", "a", "2"], int(0)),
            (0, &["hget", "h", "a"], bulk("1")),
            (0, &["hincrby", "h", "a", "10"], int(11)),
            (0, &["hincrby", "h", "n", "-3"], int(-3)),
            (
                0,
                &["hincrby", "h", "a", "x"],
                err("ERR value is not an integer or out of range"),
            ),
            (0, &["hset", "h", "s", "abc", "big", "9223372036854775807"], int(2)),
            (0, &["hincrby", "h", "s", "1"], err("ERR hash value is not an integer")),
            (
                0,
                &["hincrby", "h", "big", "1"],
                err("ERR increment or decrement would overflow"),
            ),
            (0, &["hincrbyfloat", "h", "a", "0.5"], bulk("11.5")),
            (0, &["hincrbyfloat", "h", "f", "5.0e3"], bulk("5000")),
            (
                0,
                &["hincrbyfloat", "h", "s", "1"],
                err("ERR hash value is not a float"),
            ),
            (
                0,
                &["hincrbyfloat", "h", "a", "x"],
                err("ERR value is not a valid float"),
            ),
            (
                0,
                &["hincrbyfloat", "h", "a", "inf"],
                err("ERR value is NaN or Infinity"),
            ),
            (0, &["hstrlen", "h", "s"], int(3)),
            (0, &["hstrlen", "h", "zz"], int(0)),
            (0, &["hstrlen", "none", "zz"], int(0)),
            (0, &["hkeys", "h"], arr(&["a", "big", "f", "n", "s"])),
            (
                0,
                &["hvals", "h"],
                arr(&["11.5", "9223372036854775807", "5000", "-3", "abc"]),
            ),
            (0, &["hkeys", "none"], arr(&[])),
            (0, &["set", "str", "v"], ok()),
            (0, &["hsetnx", "str", "a", "1"], err(WRONGTYPE)),
            (0, &["hincrby", "str", "a", "1"], err(WRONGTYPE)),
            (0, &["hincrbyfloat", "str", "a", "1"], err(WRONGTYPE)),
            (0, &["hkeys", "str"], err(WRONGTYPE)),
            (0, &["hstrlen", "str", "a"], err(WRONGTYPE)),
        ]);
    }

    #[test]
    fn hrandfield() {
        let store = run(&[
            (0, &["hrandfield", "none"], Frame::Null),
            (0, &["hrandfield", "none", "3"], arr(&[])),
            (0, &["hset", "h", "a", "1", "b", "2", "c", "3"], int(3)),
            (0, &["hrandfield", "h", "0"], arr(&[])),
            (0, &["hrandfield", "h", "5"], arr(&["a", "b", "c"])),
            (
                0,
                &["hrandfield", "h", "3", "withvalues"],
                arr(&["a", "1", "b", "2", "c", "3"]),
            ),
            (
                0,
                &["hrandfield", "h", "x"],
                err("ERR value is not an integer or out of range"),
            ),
            (0, &["hrandfield", "h", "1", "withvalue"], err("ERR syntax error")),
            (0, &["hrandfield", "h", "1", "withvalues", "x"], err("ERR syntax error")),
            (
                0,
                &["hrandfield", "h", "-9223372036854775808"],
                err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
            ),
        ]);
        let read = |req: &[&str], t: u64| super::super::execute_read(&store, &args(req), t);
        // Same time, same answer (replicas agree); the answer is a field of the hash.
        for t in 0..20 {
            let one = read(&["hrandfield", "h"], t);
            assert_eq!(one, read(&["hrandfield", "h"], t));
            assert!([bulk("a"), bulk("b"), bulk("c")].contains(&one));
            let Frame::Array(two) = read(&["hrandfield", "h", "2"], t) else {
                panic!()
            };
            assert_eq!(two.len(), 2);
            assert_ne!(two[0], two[1]);
            let Frame::Array(many) = read(&["hrandfield", "h", "-7", "withvalues"], t) else {
                panic!()
            };
            assert_eq!(many.len(), 14);
        }
    }

    #[test]
    fn hscan() {
        let mut store = run(&[
            (0, &["hscan", "none", "0"], Frame::Array(vec![bulk("0"), arr(&[])])),
            (
                0,
                &["hscan", "none", "0", "count", "0"],
                Frame::Array(vec![bulk("0"), arr(&[])]),
            ),
            (0, &["hscan", "h", "abc"], err("ERR invalid cursor")),
            (0, &["hset", "h", "a", "1", "b", "2", "ab", "3"], int(3)),
            (
                0,
                &["hscan", "h", "0", "match", "a*"],
                Frame::Array(vec![bulk("0"), arr(&["a", "1", "ab", "3"])]),
            ),
            (
                0,
                &["hscan", "h", "0", "match", "a*", "novalues"],
                Frame::Array(vec![bulk("0"), arr(&["a", "ab"])]),
            ),
            (0, &["hscan", "h", "0", "count", "0"], err("ERR syntax error")),
            (
                0,
                &["hscan", "h", "0", "count", "x"],
                err("ERR value is not an integer or out of range"),
            ),
            (0, &["hscan", "h", "0", "foo"], err("ERR syntax error")),
            (0, &["set", "s", "v"], ok()),
            (0, &["hscan", "s", "0"], err(WRONGTYPE)),
        ]);
        // A large hash is scanned in steps; a field present throughout is always returned,
        // even when others are added and removed between calls.
        for i in 0..300 {
            let f = format!("f{i}");
            super::super::apply_write(&mut store, &args(&["hset", "big", &f, "v"]), 0);
        }
        let mut cursor = "0".to_string();
        let mut seen = std::collections::BTreeSet::new();
        let mut calls = 0;
        loop {
            let reply =
                super::super::execute_read(&store, &args(&["hscan", "big", &cursor, "count", "7", "novalues"]), 0);
            let Frame::Array(parts) = reply else { panic!() };
            let (Frame::Bulk(c), Frame::Array(items)) = (&parts[0], &parts[1]) else {
                panic!()
            };
            for it in items {
                let Frame::Bulk(f) = it else { panic!() };
                seen.insert(f.clone());
            }
            calls += 1;
            let n = format!("n{calls}");
            super::super::apply_write(&mut store, &args(&["hset", "big", &n, "v"]), 0);
            super::super::apply_write(&mut store, &args(&["hdel", "big", &format!("n{}", calls - 1)]), 0);
            cursor = String::from_utf8(c.to_vec()).unwrap();
            if cursor == "0" {
                break;
            }
            assert!(calls < 200);
        }
        assert!(calls > 30);
        for i in 0..300 {
            assert!(seen.contains(format!("f{i}").as_bytes()), "f{i}");
        }
    }

    #[test]
    fn wire_bytes_in_both_protocols() {
        crate::cmd::testing::run_wire(&[
            (&["hset", "h", "f", "v"], ":1\r\n", ":1\r\n"),
            (
                &["hgetall", "h"],
                "*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
                "%1\r\n$1\r\nf\r\n$1\r\nv\r\n",
            ),
            (&["hgetall", "missing"], "*0\r\n", "%0\r\n"),
            (
                &["hrandfield", "h", "1", "withvalues"],
                "*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
                "*1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
            ),
            (&["hget", "h", "nofield"], "$-1\r\n", "_\r\n"),
            (
                &["hmget", "h", "f", "g"],
                "*2\r\n$1\r\nv\r\n$-1\r\n",
                "*2\r\n$1\r\nv\r\n_\r\n",
            ),
        ]);
    }
}
