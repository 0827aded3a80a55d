//! Set commands: SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SPOP, SRANDMEMBER,
//! SMOVE, SINTER, SUNION, SDIFF, SINTERSTORE, SUNIONSTORE, SDIFFSTORE, SINTERCARD, SSCAN.
//!
//! Also the pieces sorted sets share: seeded picks, SCAN cursors and options, glob MATCH.
//! "Random" picks are deterministic (docs/architecture.md, "Determinism"): the seed is mixed
//! from the command's arguments and its time (the entry's in apply, `now_ms` in a read), and
//! a pick is a rank in the set's replica-independent order.

use bytes::Bytes;

use super::parse::{Cursor, NOT_AN_INTEGER, Reply, SYNTAX_ERROR, WRONGTYPE, numkeys_keys, parse_i64};
use crate::errors::MUST_BE_POSITIVE;
use crate::resp::frame::Frame;
use crate::store::scan::glob_match;
use crate::store::{Entry, MemberSet, Store, Value, mix64};

/// Key positions of SINTERCARD: `numkeys key [key ...] [LIMIT limit]`, which the table's
/// first/last/step cannot say (Redis reports it as `movablekeys`).
pub fn sintercard_keys(args: &[Bytes]) -> Vec<usize> {
    numkeys_keys(args, &[], 1)
}

pub(super) fn set_of(entry: Option<&Entry>) -> Reply<Option<&MemberSet>> {
    match entry.map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(Frame::error(WRONGTYPE)),
    }
}

/// A deterministic pick sequence (splitmix64).
pub(super) struct Picker(u64);

impl Picker {
    /// Seeded by every argument (name and key included) and the command's time.
    pub(super) fn new(args: &[Bytes], time_ms: u64) -> Picker {
        Picker(mix64(args_hash(args) ^ mix64(time_ms)))
    }

    pub(super) fn from_seed(seed: u64) -> Picker {
        Picker(seed)
    }

    /// Uniform-enough index in `0..n` (`n > 0`).
    pub(super) fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        (mix64(self.0) % n.max(1) as u64) as usize
    }

    /// `k` distinct indexes of `0..n` (`k < n`), in pick order (Floyd's sampling).
    pub(super) fn distinct(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut chosen = std::collections::BTreeSet::new();
        let mut out = Vec::with_capacity(k);
        for j in n - k..n {
            let t = self.below(j + 1);
            let pick = if chosen.contains(&t) { j } else { t };
            chosen.insert(pick);
            out.push(pick);
        }
        out
    }
}

pub(super) fn args_hash(args: &[Bytes]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for a in args {
        for &b in a.iter().chain(&[0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Negative counts (repeats allowed) beyond this are refused instead of building a reply
/// that would exhaust memory (Redis streams it until the output buffer limit kills it, or the
/// machine's memory runs out).
pub(super) const MAX_REPEATED_PICKS: u64 = 1 << 24;

/// SRANDMEMBER / ZRANDMEMBER / HRANDFIELD count: Redis accepts -LONG_MAX..=LONG_MAX.
pub(super) fn rand_count(arg: &[u8]) -> Reply<i64> {
    let n = parse_i64(arg).ok_or_else(|| Frame::error(NOT_AN_INTEGER))?;
    if n == i64::MIN {
        return Err(Frame::error(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    Ok(n)
}

/// Refuses more than `MAX_REPEATED_PICKS` repeated picks from a collection with members (a
/// missing key still answers its empty array, as in Redis).
pub(super) fn check_repeats(count: Option<i64>, has_members: bool) -> Reply<()> {
    match count {
        Some(n) if has_members && n < 0 && n.unsigned_abs() > MAX_REPEATED_PICKS => {
            Err(Frame::error("ERR value is out of range"))
        }
        _ => Ok(()),
    }
}

/// A SCAN cursor: an unsigned decimal.
pub(crate) fn parse_cursor(arg: &[u8]) -> Reply<u64> {
    let valid = !arg.is_empty() && arg.iter().all(u8::is_ascii_digit);
    valid
        .then(|| std::str::from_utf8(arg).ok()?.parse::<u64>().ok())
        .flatten()
        .ok_or_else(|| Frame::error("ERR invalid cursor"))
}

/// SCAN / SSCAN / ZSCAN options after the cursor.
pub(crate) struct ScanOpts<'a> {
    pub(crate) pattern: Option<&'a [u8]>,
    pub(crate) count: usize,
    /// SCAN's TYPE filter (a type name as TYPE reports it).
    pub(crate) type_filter: Option<String>,
}

impl ScanOpts<'_> {
    pub(super) fn parse<'a>(c: &mut Cursor<'a>) -> Reply<ScanOpts<'a>> {
        ScanOpts::parse_options(c, false)
    }

    /// `allow_type`: SCAN takes TYPE, the per-key scans do not.
    pub(crate) fn parse_options<'a>(c: &mut Cursor<'a>, allow_type: bool) -> Reply<ScanOpts<'a>> {
        let mut opts = ScanOpts {
            pattern: None,
            count: 10,
            type_filter: None,
        };
        while !c.is_done() {
            if allow_type && c.remaining() >= 2 && c.eat_flag("type") {
                opts.type_filter = Some(String::from_utf8_lossy(c.next_bytes()?).to_ascii_lowercase());
                continue;
            }
            if c.remaining() >= 2 && c.eat_flag("count") {
                let n = c.next_int()?;
                opts.count = usize::try_from(n)
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| Frame::error(SYNTAX_ERROR))?;
            } else if c.remaining() >= 2 && c.eat_flag("match") {
                let p = c.next_bytes()?;
                opts.pattern = (&p[..] != b"*").then_some(&p[..]);
            } else {
                return Err(Frame::error(SYNTAX_ERROR));
            }
        }
        Ok(opts)
    }

    pub(super) fn keeps(&self, item: &[u8]) -> bool {
        self.pattern.is_none_or(|p| glob_match(p, item))
    }
}

/// The replies every SCAN family shares: `[cursor, [items]]`.
pub(super) fn scan_reply(cursor: u64, items: Vec<Frame>) -> Frame {
    Frame::Array(vec![Frame::Bulk(Bytes::from(cursor.to_string())), Frame::Array(items)])
}

/// SINTERCARD / ZINTERCARD `numkeys key... [LIMIT n]`: the keys and the limit (0 = none).
pub(super) fn parse_card(args: &[Bytes], exact_numkeys_error: bool) -> Reply<(Vec<Bytes>, usize)> {
    let mut c = Cursor::new(args);
    let numkeys = parse_i64(c.next_bytes()?)
        .filter(|n| *n >= 1)
        .ok_or_else(|| Frame::error("ERR numkeys should be greater than 0"))?;
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > c.remaining() {
        return Err(Frame::error(if exact_numkeys_error {
            "ERR Number of keys can't be greater than number of args"
        } else {
            SYNTAX_ERROR
        }));
    }
    let keys: Vec<Bytes> = (0..numkeys).map(|_| c.next_bytes().cloned()).collect::<Reply<_>>()?;
    let mut limit = 0;
    while !c.is_done() {
        if c.remaining() >= 2 && c.eat_flag("limit") {
            limit = parse_i64(c.next_bytes()?)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| Frame::error("ERR LIMIT can't be negative"))?;
        } else {
            return Err(Frame::error(SYNTAX_ERROR));
        }
    }
    Ok((keys, limit))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SetOp {
    Inter,
    Union,
    Diff,
}

/// A parsed set write.
#[derive(Debug)]
pub(super) enum Write {
    Add {
        key: Bytes,
        members: Vec<Bytes>,
    },
    Rem {
        key: Bytes,
        members: Vec<Bytes>,
    },
    /// `count` None is the single-member form; `seed` mixes the arguments (time added at apply).
    Pop {
        key: Bytes,
        count: Option<usize>,
        seed: u64,
    },
    Move {
        src: Bytes,
        dst: Bytes,
        member: Bytes,
    },
    Store {
        op: SetOp,
        dst: Bytes,
        keys: Vec<Bytes>,
    },
}

pub(super) fn parse_write(name: &str, args: &[Bytes]) -> Reply<Write> {
    let mut c = Cursor::new(args);
    let key = c.next_bytes()?.clone();
    let cmd = match name {
        "sadd" => Write::Add {
            key,
            members: c.rest().to_vec(),
        },
        "srem" => Write::Rem {
            key,
            members: c.rest().to_vec(),
        },
        "spop" => {
            if args.len() > 3 {
                return Err(Frame::error(SYNTAX_ERROR));
            }
            let count = if c.is_done() {
                None
            } else {
                // Not a number is out of range too (`getPositiveLongFromObjectOrReply`).
                let n = parse_i64(c.next_bytes()?).and_then(|n| usize::try_from(n).ok());
                Some(n.ok_or_else(|| Frame::error(MUST_BE_POSITIVE))?)
            };
            Write::Pop {
                key,
                count,
                seed: args_hash(args),
            }
        }
        "smove" => Write::Move {
            src: key,
            dst: c.next_bytes()?.clone(),
            member: c.next_bytes()?.clone(),
        },
        "sinterstore" | "sunionstore" | "sdiffstore" => {
            let op = match name {
                "sinterstore" => SetOp::Inter,
                "sunionstore" => SetOp::Union,
                _ => SetOp::Diff,
            };
            Write::Store {
                op,
                dst: key,
                keys: c.rest().to_vec(),
            }
        }
        _ => return Err(super::not_served(name)),
    };
    c.finish()?;
    Ok(cmd)
}

/// The sets behind `keys` (None for a missing key); any other type is WRONGTYPE.
fn sources<'s>(store: &'s Store, keys: &[Bytes], now_ms: u64) -> Reply<Vec<Option<&'s MemberSet>>> {
    keys.iter().map(|k| set_of(store.get_live(k, now_ms))).collect()
}

/// SINTER / SUNION / SDIFF over already-looked-up sets.
fn combine(op: SetOp, sets: &[Option<&MemberSet>]) -> Vec<Bytes> {
    match op {
        SetOp::Inter => {
            let Some(mut present) = sets.iter().copied().collect::<Option<Vec<&MemberSet>>>() else {
                return Vec::new();
            };
            present.sort_by_key(|s| s.len());
            let Some((smallest, others)) = present.split_first() else {
                return Vec::new();
            };
            smallest
                .iter()
                .filter(|m| others.iter().all(|o| o.contains(m)))
                .cloned()
                .collect()
        }
        SetOp::Union => {
            let all: MemberSet = sets.iter().flatten().flat_map(|s| s.iter()).map(|m| &m[..]).collect();
            all.iter().cloned().collect()
        }
        SetOp::Diff => {
            let Some(Some(first)) = sets.first() else {
                return Vec::new();
            };
            let others: Vec<&MemberSet> = sets[1..].iter().flatten().copied().collect();
            first
                .iter()
                .filter(|m| !others.iter().any(|o| o.contains(m)))
                .cloned()
                .collect()
        }
    }
}

fn bulks<'a>(items: impl IntoIterator<Item = &'a Bytes>) -> Vec<Frame> {
    items.into_iter().map(|b| Frame::Bulk(b.clone())).collect()
}

impl Write {
    pub(super) fn apply(self, store: &mut Store, time_ms: u64) -> Reply<Frame> {
        match self {
            Write::Add { key, members } => {
                // Type check before any change, so a WRONGTYPE write leaves nothing behind.
                if set_of(store.get(&key))?.is_none() {
                    store.insert(&key, Value::Set(MemberSet::new()), None);
                }
                let Some(Value::Set(s)) = store.value_mut(&key) else {
                    return Err(Frame::error(WRONGTYPE));
                };
                let added = members.iter().filter(|m| s.insert(m)).count();
                Ok(Frame::Integer(added as i64))
            }
            Write::Rem { key, members } => {
                if set_of(store.get(&key))?.is_none() {
                    return Ok(Frame::Integer(0));
                }
                let Some(Value::Set(s)) = store.value_mut(&key) else {
                    return Err(Frame::error(WRONGTYPE));
                };
                let removed = members.iter().filter(|m| s.remove(m)).count();
                store.remove_if_empty(&key);
                Ok(Frame::Integer(removed as i64))
            }
            Write::Pop { key, count, seed } => {
                if set_of(store.get(&key))?.is_none() {
                    return Ok(match count {
                        None => Frame::Null,
                        Some(_) => Frame::Set(Vec::new()),
                    });
                }
                let Some(Value::Set(s)) = store.value_mut(&key) else {
                    return Err(Frame::error(WRONGTYPE));
                };
                let mut pick = Picker::from_seed(mix64(seed ^ mix64(time_ms)));
                let reply = match count {
                    None => {
                        let rank = pick.below(s.len());
                        s.remove_nth(rank).map_or(Frame::Null, Frame::Bulk)
                    }
                    Some(n) if n >= s.len() => {
                        let all = bulks(s.iter());
                        *s = MemberSet::new();
                        Frame::Set(all)
                    }
                    Some(n) => Frame::Set(
                        (0..n)
                            .filter_map(|_| {
                                let rank = pick.below(s.len());
                                s.remove_nth(rank)
                            })
                            .map(Frame::Bulk)
                            .collect(),
                    ),
                };
                store.remove_if_empty(&key);
                Ok(reply)
            }
            Write::Move { src, dst, member } => {
                let Some(from) = set_of(store.get(&src))? else {
                    return Ok(Frame::Integer(0));
                };
                let has = from.contains(&member);
                set_of(store.get(&dst))?;
                if src == dst || !has {
                    return Ok(Frame::Integer(has.into()));
                }
                if let Some(Value::Set(s)) = store.value_mut(&src) {
                    s.remove(&member);
                }
                store.remove_if_empty(&src);
                if store.get(&dst).is_none() {
                    store.insert(&dst, Value::Set(MemberSet::new()), None);
                }
                if let Some(Value::Set(s)) = store.value_mut(&dst) {
                    s.insert(&member);
                }
                Ok(Frame::Integer(1))
            }
            Write::Store { op, dst, keys } => {
                let result: MemberSet = {
                    let sets = sources(store, &keys, time_ms)?;
                    combine(op, &sets).iter().map(|m| &m[..]).collect()
                };
                let n = result.len();
                if n == 0 {
                    store.remove(&dst);
                } else {
                    store.insert(&dst, Value::Set(result), None);
                }
                Ok(Frame::Integer(n as i64))
            }
        }
    }
}

pub(super) fn read(name: &str, store: &Store, args: &[Bytes], now_ms: u64) -> Reply<Frame> {
    let mut c = Cursor::new(args);
    if name == "sintercard" {
        let (keys, limit) = parse_card(args, true)?;
        let sets = sources(store, &keys, now_ms)?;
        let n = combine(SetOp::Inter, &sets).len();
        return Ok(Frame::Integer(if limit > 0 { n.min(limit) } else { n } as i64));
    }
    if let Some(op) = match name {
        "sinter" => Some(SetOp::Inter),
        "sunion" => Some(SetOp::Union),
        "sdiff" => Some(SetOp::Diff),
        _ => None,
    } {
        let sets = sources(store, c.rest(), now_ms)?;
        return Ok(Frame::Set(bulks(&combine(op, &sets))));
    }
    let key = c.next_bytes()?;
    let reply = match name {
        "sscan" => {
            let cursor = parse_cursor(c.next_bytes()?)?;
            let Some(set) = set_of(store.get_live(key, now_ms))? else {
                c.rest();
                return Ok(scan_reply(0, Vec::new()));
            };
            let opts = ScanOpts::parse(&mut c)?;
            let (next, items) = set.scan(cursor, opts.count);
            scan_reply(
                next,
                items
                    .into_iter()
                    .filter(|m| opts.keeps(m))
                    .map(|m| Frame::Bulk(m.clone()))
                    .collect(),
            )
        }
        "srandmember" => {
            if args.len() > 3 {
                return Err(Frame::error(SYNTAX_ERROR));
            }
            let count = if c.is_done() {
                None
            } else {
                Some(rand_count(c.next_bytes()?)?)
            };
            c.finish()?;
            let set = set_of(store.get_live(key, now_ms))?;
            check_repeats(count, set.is_some_and(|s| !s.is_empty()))?;
            let mut pick = Picker::new(args, now_ms);
            match (set, count) {
                (None, None) => Frame::Null,
                (None, Some(_)) | (_, Some(0)) => Frame::Array(Vec::new()),
                (Some(s), None) => s
                    .nth(pick.below(s.len()))
                    .map_or(Frame::Null, |m| Frame::Bulk(m.clone())),
                (Some(s), Some(n)) if n < 0 => Frame::Array(
                    (0..n.unsigned_abs())
                        .filter_map(|_| s.nth(pick.below(s.len())))
                        .map(|m| Frame::Bulk(m.clone()))
                        .collect(),
                ),
                (Some(s), Some(n)) => {
                    let n = usize::try_from(n).unwrap_or(usize::MAX);
                    if n >= s.len() {
                        Frame::Array(bulks(s.iter()))
                    } else {
                        Frame::Array(
                            pick.distinct(s.len(), n)
                                .into_iter()
                                .filter_map(|i| s.nth(i))
                                .map(|m| Frame::Bulk(m.clone()))
                                .collect(),
                        )
                    }
                }
            }
        }
        _ => {
            let set = set_of(store.get_live(key, now_ms))?;
            match name {
                "smembers" => Frame::Set(set.map(|s| bulks(s.iter())).unwrap_or_default()),
                "scard" => Frame::Integer(set.map_or(0, MemberSet::len) as i64),
                "sismember" => {
                    let m = c.next_bytes()?;
                    Frame::Integer(set.is_some_and(|s| s.contains(m)).into())
                }
                "smismember" => Frame::Array(
                    c.rest()
                        .iter()
                        .map(|m| Frame::Integer(set.is_some_and(|s| s.contains(m)).into()))
                        .collect(),
                ),
                _ => return Err(super::not_served(name)),
            }
        }
    };
    c.finish()?;
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::super::testing::WRONGTYPE;
    use super::super::testing::*;
    use super::*;

    fn set(v: &[&str]) -> Frame {
        Frame::Set(v.iter().map(|s| bulk(s)).collect())
    }

    /// Set replies come in the set's internal order; compare them as sorted lists.
    fn sorted(f: Frame) -> Vec<String> {
        let (Frame::Set(items) | Frame::Array(items)) = f else {
            panic!("not an aggregate: {f:?}")
        };
        let mut v: Vec<String> = items
            .into_iter()
            .map(|i| match i {
                Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
                other => panic!("{other:?}"),
            })
            .collect();
        v.sort();
        v
    }

    fn read_at(store: &Store, req: &[&str], t: u64) -> Frame {
        super::super::execute_read(store, &args(req), t)
    }

    #[test]
    fn sadd_srem_members() {
        let store = run(&[
            (0, &["sadd", "s", "a", "b", "a"], int(2)),
            (0, &["sadd", "s", "b", "c"], int(1)),
            (0, &["scard", "s"], int(3)),
            (0, &["scard", "nokey"], int(0)),
            (0, &["sismember", "s", "a"], int(1)),
            (0, &["sismember", "s", "z"], int(0)),
            (0, &["sismember", "nokey", "a"], int(0)),
            (
                0,
                &["smismember", "s", "a", "z", "c"],
                Frame::Array(vec![int(1), int(0), int(1)]),
            ),
            (0, &["smismember", "nokey", "a"], Frame::Array(vec![int(0)])),
            (0, &["smembers", "nokey"], set(&[])),
            (0, &["srem", "s", "a", "z"], int(1)),
            (0, &["srem", "nokey", "a"], int(0)),
            (
                0,
                &["sadd", "s"],
                err("ERR wrong number of arguments for 'sadd' command"),
            ),
            (
                0,
                &["sismember", "s"],
                err("ERR wrong number of arguments for 'sismember' command"),
            ),
            (
                0,
                &["smismember", "s"],
                err("ERR wrong number of arguments for 'smismember' command"),
            ),
            (0, &["srem", "s", "b", "c"], int(2)),
            // Removing the last member deletes the key.
            (0, &["exists", "s"], int(0)),
            (0, &["type", "s"], Frame::Simple("none".into())),
            (0, &["sadd", "t", "x"], int(1)),
            (0, &["type", "t"], Frame::Simple("set".into())),
            (0, &["smembers", "t"], set(&["x"])),
        ]);
        let mut s2 = store.clone();
        super::super::apply_write(&mut s2, &args(&["sadd", "t", "y", "z"]), 0);
        assert_eq!(sorted(read_at(&s2, &["smembers", "t"], 0)), ["x", "y", "z"]);
    }

    #[test]
    fn wrong_type_and_expiry() {
        run(&[
            (0, &["set", "str", "v"], ok()),
            (0, &["sadd", "str", "a"], err(WRONGTYPE)),
            (0, &["srem", "str", "a"], err(WRONGTYPE)),
            (0, &["smembers", "str"], err(WRONGTYPE)),
            (0, &["sismember", "str", "a"], err(WRONGTYPE)),
            (0, &["smismember", "str", "a"], err(WRONGTYPE)),
            (0, &["scard", "str"], err(WRONGTYPE)),
            (0, &["spop", "str"], err(WRONGTYPE)),
            (0, &["spop", "str", "2"], err(WRONGTYPE)),
            (0, &["srandmember", "str"], err(WRONGTYPE)),
            (0, &["srandmember", "str", "2"], err(WRONGTYPE)),
            (0, &["sinter", "str"], err(WRONGTYPE)),
            (0, &["sunion", "nokey", "str"], err(WRONGTYPE)),
            (0, &["sdiff", "nokey", "str"], err(WRONGTYPE)),
            (0, &["sinterstore", "d", "nokey", "str"], err(WRONGTYPE)),
            (0, &["sintercard", "2", "nokey", "str"], err(WRONGTYPE)),
            (0, &["sscan", "str", "0"], err(WRONGTYPE)),
            (0, &["sadd", "s", "a"], int(1)),
            (0, &["smove", "s", "str", "a"], err(WRONGTYPE)),
            (0, &["smove", "str", "s", "a"], err(WRONGTYPE)),
            (0, &["smove", "nokey", "str", "a"], int(0)),
            (0, &["get", "str"], bulk("v")),
            (0, &["pexpire", "s", "10"], int(1)),
            (9, &["scard", "s"], int(1)),
            (10, &["scard", "s"], int(0)),
            (10, &["sismember", "s", "a"], int(0)),
            (10, &["smembers", "s"], set(&[])),
            (10, &["sadd", "s", "b"], int(1)),
            (10, &["smembers", "s"], set(&["b"])),
            (10, &["ttl", "s"], int(-1)),
        ]);
    }

    #[test]
    fn spop_and_srandmember() {
        let store = run(&[
            (0, &["spop", "nokey"], Frame::Null),
            (0, &["spop", "nokey", "3"], set(&[])),
            (0, &["srandmember", "nokey"], Frame::Null),
            (0, &["srandmember", "nokey", "3"], arr(&[])),
            (0, &["srandmember", "nokey", "-3"], arr(&[])),
            (0, &["sadd", "s", "a", "b", "c", "d", "e"], int(5)),
            (
                0,
                &["spop", "s", "-1"],
                err("ERR value is out of range, must be positive"),
            ),
            (
                0,
                &["spop", "s", "x"],
                err("ERR value is out of range, must be positive"),
            ),
            (
                0,
                &["spop", "s", "-9223372036854775809"],
                err("ERR value is out of range, must be positive"),
            ),
            (0, &["spop", "s", "1", "2"], err("ERR syntax error")),
            (0, &["spop", "s", "0"], set(&[])),
            (0, &["srandmember", "s", "0"], arr(&[])),
            (
                0,
                &["srandmember", "s", "x"],
                err("ERR value is not an integer or out of range"),
            ),
            (
                0,
                &["srandmember", "s", "-9223372036854775808"],
                err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
            ),
            (0, &["srandmember", "s", "1", "2"], err("ERR syntax error")),
            (0, &["scard", "s"], int(5)),
        ]);
        // Replies are members, distinct for a positive count, repeats allowed for negative.
        let all = ["a", "b", "c", "d", "e"];
        for t in 0..20 {
            let one = sorted(Frame::Array(vec![read_at(&store, &["srandmember", "s"], t)]));
            assert!(all.contains(&one[0].as_str()));
            let three = sorted(read_at(&store, &["srandmember", "s", "3"], t));
            assert_eq!(three.len(), 3);
            assert!(three.windows(2).all(|w| w[0] < w[1]));
            assert_eq!(sorted(read_at(&store, &["srandmember", "s", "9"], t)), all);
            let rep = sorted(read_at(&store, &["srandmember", "s", "-8"], t));
            assert_eq!(rep.len(), 8);
            assert!(rep.iter().all(|m| all.contains(&m.as_str())));
        }
        // Same seed (args + time), same answer: the read is a function of its inputs.
        assert_eq!(
            read_at(&store, &["srandmember", "s", "-8"], 5),
            read_at(&store, &["srandmember", "s", "-8"], 5)
        );
        // SPOP is deterministic across replicas applying the same entries.
        let mut a = store.clone();
        let mut b = store.clone();
        for (i, req) in [&["spop", "s"][..], &["spop", "s", "2"], &["spop", "s", "5"]]
            .iter()
            .enumerate()
        {
            let ra = super::super::apply_write(&mut a, &args(req), 100 + i as u64);
            let rb = super::super::apply_write(&mut b, &args(req), 100 + i as u64);
            assert_eq!(ra, rb);
        }
        assert_eq!(a.len(), 0, "the last SPOP empties and deletes the set");
        let mut c = store.clone();
        let popped = super::super::apply_write(&mut c, &args(&["spop", "s", "2"]), 7);
        let left = sorted(read_at(&c, &["smembers", "s"], 7));
        let mut together = sorted(popped);
        assert_eq!(together.len(), 2);
        together.extend(left);
        together.sort();
        assert_eq!(together, all);
    }

    #[test]
    fn random_picks_survive_snapshot_restore() {
        use super::super::apply_write;
        let mut a = Store::new();
        let mut req = vec!["sadd".to_string(), "s".to_string()];
        req.extend((0..200).map(|i| format!("m{i}")));
        let req: Vec<&str> = req.iter().map(String::as_str).collect();
        apply_write(&mut a, &args(&req), 0);
        apply_write(&mut a, &args(&["zadd", "z", "1", "x", "2", "y", "3", "w"]), 0);
        for i in 0..50 {
            apply_write(&mut a, &args(&["srem", "s", &format!("m{}", i * 3)]), 0);
        }
        let mut buf = Vec::new();
        a.write_snapshot(&mut buf).unwrap();
        let mut b = Store::read_snapshot(&mut buf.as_slice()).unwrap();
        for t in 1..20 {
            for req in [
                &["spop", "s"][..],
                &["spop", "s", "3"],
                &["srandmember", "s", "-4"],
                &["zrandmember", "z", "2"],
            ] {
                assert_eq!(apply_write(&mut a, &args(req), t), apply_write(&mut b, &args(req), t));
            }
        }
    }

    #[test]
    fn smove() {
        run(&[
            (0, &["sadd", "a", "x", "y"], int(2)),
            (0, &["smove", "a", "b", "x"], int(1)),
            (0, &["smove", "a", "b", "x"], int(0)),
            (0, &["smove", "nokey", "b", "x"], int(0)),
            (0, &["smove", "a", "a", "y"], int(1)),
            (0, &["smove", "a", "a", "q"], int(0)),
            (0, &["smembers", "b"], set(&["x"])),
            (0, &["smove", "a", "b", "y"], int(1)),
            (0, &["exists", "a"], int(0)),
            (0, &["scard", "b"], int(2)),
            (
                0,
                &["smove", "a", "b"],
                err("ERR wrong number of arguments for 'smove' command"),
            ),
        ]);
    }

    #[test]
    fn algebra_and_store() {
        let store = run(&[
            (0, &["sadd", "{k}1", "a", "b", "c", "d"], int(4)),
            (0, &["sadd", "{k}2", "c"], int(1)),
            (0, &["sadd", "{k}3", "a", "c", "e"], int(3)),
            (0, &["sinter", "{k}1", "{k}2", "{k}3"], set(&["c"])),
            (0, &["sinter", "{k}1", "nokey"], set(&[])),
            (0, &["sdiff", "nokey", "{k}1"], set(&[])),
            (0, &["sdiff", "{k}2", "{k}1"], set(&[])),
            (0, &["sunion", "nokey"], set(&[])),
            (0, &["sinterstore", "{k}d", "{k}1", "{k}3"], int(2)),
            (0, &["sunionstore", "{k}u", "{k}1", "{k}3", "nokey"], int(5)),
            (0, &["sdiffstore", "{k}f", "{k}1", "{k}2", "{k}3"], int(2)),
            (0, &["sintercard", "2", "{k}1", "{k}3"], int(2)),
            (0, &["sintercard", "2", "{k}1", "{k}3", "LIMIT", "1"], int(1)),
            (0, &["sintercard", "2", "{k}1", "{k}3", "limit", "0"], int(2)),
            (0, &["sintercard", "1", "nokey"], int(0)),
            (
                0,
                &["sintercard", "0", "{k}1"],
                err("ERR numkeys should be greater than 0"),
            ),
            (
                0,
                &["sintercard", "x", "{k}1"],
                err("ERR numkeys should be greater than 0"),
            ),
            (
                0,
                &["sintercard", "3", "{k}1", "{k}2"],
                err("ERR Number of keys can't be greater than number of args"),
            ),
            (
                0,
                &["sintercard", "1", "{k}1", "limit", "-1"],
                err("ERR LIMIT can't be negative"),
            ),
            (0, &["sintercard", "1", "{k}1", "limit"], err("ERR syntax error")),
            (0, &["sintercard", "1", "{k}1", "foo", "1"], err("ERR syntax error")),
            // An empty result deletes the destination, and the stored set has no TTL.
            (0, &["set", "{k}d2", "v", "px", "100"], ok()),
            (0, &["sinterstore", "{k}d2", "{k}2", "nokey"], int(0)),
            (0, &["exists", "{k}d2"], int(0)),
            (0, &["set", "{k}d3", "v", "px", "100"], ok()),
            (0, &["sunionstore", "{k}d3", "{k}2"], int(1)),
            (0, &["pttl", "{k}d3"], int(-1)),
            (
                0,
                &["sinterstore", "{k}x"],
                err("ERR wrong number of arguments for 'sinterstore' command"),
            ),
        ]);
        let r = |req: &[&str]| sorted(read_at(&store, req, 0));
        assert_eq!(r(&["smembers", "{k}d"]), ["a", "c"]);
        assert_eq!(r(&["smembers", "{k}u"]), ["a", "b", "c", "d", "e"]);
        assert_eq!(r(&["smembers", "{k}f"]), ["b", "d"]);
        assert_eq!(r(&["sunion", "{k}1", "{k}3"]), ["a", "b", "c", "d", "e"]);
        assert_eq!(r(&["sdiff", "{k}1", "{k}3"]), ["b", "d"]);
        assert_eq!(r(&["sinter", "{k}1", "{k}3"]), ["a", "c"]);
        // The destination may be one of the sources.
        let mut s = store.clone();
        super::super::apply_write(&mut s, &args(&["sdiffstore", "{k}1", "{k}1", "{k}3"]), 0);
        assert_eq!(sorted(read_at(&s, &["smembers", "{k}1"], 0)), ["b", "d"]);
    }

    #[test]
    fn sscan() {
        let mut members: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
        let mut req = vec!["sadd", "big"];
        req.extend(members.iter().map(String::as_str));
        let mut store = run(&[
            (0, &["sscan", "nokey", "0"], scan_reply(0, vec![])),
            (0, &["sscan", "nokey", "0", "badopt"], scan_reply(0, vec![])),
            (0, &["sscan", "nokey", "x"], err("ERR invalid cursor")),
            (0, &["sscan", "nokey", "-1"], err("ERR invalid cursor")),
            (0, &["sadd", "s", "a", "b", "ab"], int(3)),
            (0, &["sscan", "s", "0", "count", "0"], err("ERR syntax error")),
            (
                0,
                &["sscan", "s", "0", "count", "x"],
                err("ERR value is not an integer or out of range"),
            ),
            (0, &["sscan", "s", "0", "match"], err("ERR syntax error")),
            (0, &["sscan", "s", "0", "match", "a*", "count", "1"], {
                // Small sets answer everything at once, as Redis's compact encodings do.
                let Frame::Array(v) = read_scan_small() else {
                    unreachable!()
                };
                Frame::Array(v)
            }),
        ]);
        super::super::apply_write(&mut store, &args(&req), 0);
        let mut seen = Vec::new();
        let mut cursor = "0".to_string();
        let mut calls = 0;
        loop {
            let Frame::Array(reply) = read_at(&store, &["sscan", "big", &cursor, "COUNT", "20"], 0) else {
                panic!()
            };
            let [Frame::Bulk(next), items] = &reply[..] else {
                panic!()
            };
            seen.extend(sorted(items.clone()));
            calls += 1;
            cursor = String::from_utf8_lossy(next).into_owned();
            if cursor == "0" {
                break;
            }
        }
        assert!(calls > 10);
        seen.sort();
        members.sort();
        assert_eq!(seen, members);
    }

    fn read_scan_small() -> Frame {
        let mut s = Store::new();
        super::super::apply_write(&mut s, &args(&["sadd", "s", "a", "b", "ab"]), 0);
        let got = read_at(&s, &["sscan", "s", "0", "match", "a*", "count", "1"], 0);
        let Frame::Array(v) = &got else { panic!() };
        assert_eq!(v[0], bulk("0"));
        assert_eq!(sorted(v[1].clone()), ["a", "ab"]);
        got
    }

    #[test]
    fn wire_bytes_in_both_protocols() {
        crate::cmd::testing::run_wire(&[
            (&["sadd", "{w}s", "a"], ":1\r\n", ":1\r\n"),
            (&["smembers", "{w}s"], "*1\r\n$1\r\na\r\n", "~1\r\n$1\r\na\r\n"),
            (&["sinter", "{w}s", "{w}s"], "*1\r\n$1\r\na\r\n", "~1\r\n$1\r\na\r\n"),
            (&["smembers", "{w}missing"], "*0\r\n", "~0\r\n"),
            (
                &["smismember", "{w}s", "a", "b"],
                "*2\r\n:1\r\n:0\r\n",
                "*2\r\n:1\r\n:0\r\n",
            ),
            (&["spop", "{w}missing"], "$-1\r\n", "_\r\n"),
            (&["srandmember", "{w}missing"], "$-1\r\n", "_\r\n"),
        ]);
    }

    #[test]
    fn sintercard_keys_follow_numkeys() {
        // More keys than arguments: none, as Redis's key finder (the parse then refuses it).
        assert_eq!(
            super::sintercard_keys(&args(&["sintercard", "5", "x"])),
            Vec::<usize>::new()
        );
        assert_eq!(
            super::sintercard_keys(&args(&["sintercard", "2", "a", "b", "limit", "1"])),
            vec![2, 3]
        );
    }
}
