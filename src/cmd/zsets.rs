//! Sorted set commands: ZADD, ZINCRBY, ZREM, ZSCORE, ZMSCORE, ZCARD, ZCOUNT, ZLEXCOUNT,
//! ZRANGE (+ BYSCORE / BYLEX / REV / LIMIT / WITHSCORES), ZRANGESTORE, ZRANGEBYSCORE,
//! ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX, ZREVRANGE, ZRANK, ZREVRANK,
//! ZREMRANGEBYRANK / SCORE / LEX, ZPOPMIN, ZPOPMAX, ZMPOP, ZRANDMEMBER, ZUNION, ZINTER, ZDIFF
//! and their STORE forms, ZINTERCARD, ZSCAN.
//!
//! Every range is resolved to a rank interval of the order-statistic tree
//! (`store::SortedSet`), so ranks, counts and range removals are O(log n) plus the output.
//!
//! Scores go out as `Frame::Double` (a bulk string in RESP2). Member/score lists go out
//! flat (`member, score, ...`), which is Redis's RESP2 shape; see `scored`.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::parse::{Cursor, NOT_AN_INTEGER, Reply, SYNTAX_ERROR, WRONGTYPE, numkeys_keys, parse_i64};
use super::sets::{Picker, ScanOpts, args_hash, check_repeats, parse_cursor, rand_count, scan_reply};
use crate::errors::{MUST_BE_POSITIVE, NOT_A_FLOAT};
use crate::resp::frame::Frame;
use crate::store::{Entry, LexBound, MemberSet, ScoreRange, SortedSet, Store, Value, mix64};

const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";
const RANGE_NOT_FLOAT: &str = "ERR min or max is not a float";
const RANGE_NOT_LEX: &str = "ERR min or max not valid string range item";

/// Key positions of ZUNION, ZINTER, ZDIFF, ZINTERCARD and ZMPOP: `numkeys key [key ...]`
/// (Redis reports them as `movablekeys`; the table's first/last/step cannot say where).
pub fn numkeys_at_1(args: &[Bytes]) -> Vec<usize> {
    numkeys_keys(args, &[], 1)
}

/// Key positions of ZUNIONSTORE, ZINTERSTORE and ZDIFFSTORE: `destination numkeys key ...`.
pub fn destination_and_numkeys(args: &[Bytes]) -> Vec<usize> {
    numkeys_keys(args, &[1], 2)
}

/// Key positions of BZMPOP: `timeout numkeys key ...`.
pub fn bzmpop_keys(args: &[Bytes]) -> Vec<usize> {
    numkeys_keys(args, &[], 2)
}

fn zset_of(entry: Option<&Entry>) -> Reply<Option<&SortedSet>> {
    match entry.map(|e| &e.value) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(Frame::error(WRONGTYPE)),
    }
}

/// Redis's `getDoubleFromObject`: the whole argument is a number (`inf` allowed), never NaN,
/// and a finite literal that overflows or underflows to zero is refused.
fn parse_score(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg).ok()?;
    let v: f64 = s.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    let unsigned = s.trim_start_matches(['+', '-']);
    let literal_inf = unsigned.len() >= 3 && unsigned[..3].eq_ignore_ascii_case("inf");
    if v.is_infinite() && !literal_inf {
        return None;
    }
    if v == 0.0 {
        let mantissa = unsigned.split(['e', 'E']).next().unwrap_or("");
        if mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
            return None;
        }
    }
    Some(v)
}

/// `strtod` as `zslParseRange` uses it: leading spaces skipped, overflow is ±inf, no NaN.
fn parse_bound_float(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg)
        .ok()?
        .trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let v: f64 = s.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

fn parse_score_range(min: &[u8], max: &[u8]) -> Reply<ScoreRange> {
    let one = |b: &[u8]| -> Option<(f64, bool)> {
        match b.split_first() {
            Some((b'(', rest)) => Some((parse_bound_float(rest)?, true)),
            _ => Some((parse_bound_float(b)?, false)),
        }
    };
    match (one(min), one(max)) {
        (Some((min, min_exclusive)), Some((max, max_exclusive))) => Ok(ScoreRange {
            min,
            min_exclusive,
            max,
            max_exclusive,
        }),
        _ => Err(Frame::error(RANGE_NOT_FLOAT)),
    }
}

fn parse_lex_bound(b: &[u8]) -> Option<LexBound> {
    match b.split_first()? {
        (b'+', []) => Some(LexBound::PosInf),
        (b'-', []) => Some(LexBound::NegInf),
        (b'[', rest) => Some(LexBound::Inclusive(Bytes::copy_from_slice(rest))),
        (b'(', rest) => Some(LexBound::Exclusive(Bytes::copy_from_slice(rest))),
        _ => None,
    }
}

fn parse_lex_range(min: &[u8], max: &[u8]) -> Reply<(LexBound, LexBound)> {
    match (parse_lex_bound(min), parse_lex_bound(max)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(Frame::error(RANGE_NOT_LEX)),
    }
}

/// Redis's `d2string` for scores sent as bulk strings outside `Frame::Double` (ZSCAN):
/// the same text the encoder writes for a double.
fn score_text(v: f64) -> String {
    crate::resp::encode::double_text(v)
}

/// A member list, with scores interleaved when asked. One place decides the shape: Redis 7
/// sends RESP3 clients `[member, score]` pairs here, which needs the connection's protocol
/// (see INTEGRATION.md); the flat form is exact for RESP2.
fn scored<'a>(items: impl IntoIterator<Item = (&'a Bytes, f64)>, withscores: bool) -> Frame {
    let mut out = Vec::new();
    for (m, s) in items {
        out.push(Frame::Bulk(m.clone()));
        if withscores {
            out.push(Frame::Double(s));
        }
    }
    Frame::Array(out)
}

fn owned_scored(items: &[(Bytes, f64)], withscores: bool) -> Frame {
    scored(items.iter().map(|(m, s)| (m, *s)), withscores)
}

/// Which ZRANGE form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum By {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Debug)]
pub(super) enum Span {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexBound, LexBound),
}

/// A parsed ZRANGE-family query.
#[derive(Clone, Debug)]
pub(super) struct RangeQuery {
    span: Span,
    rev: bool,
    offset: i64,
    /// -1 is "no limit", as in Redis.
    limit: i64,
    withscores: bool,
}

/// Redis's `zrangeGenericCommand` argument rules, shared by ZRANGE, ZRANGESTORE and the
/// legacy forms (which fix `by` and the direction, so those keywords become syntax errors).
fn parse_range(c: &mut Cursor, mut by: By, mut rev: Option<bool>, store: bool) -> Reply<RangeQuery> {
    let a = c.next_bytes()?;
    let b = c.next_bytes()?;
    let (mut withscores, mut offset, mut limit) = (false, 0, -1);
    while !c.is_done() {
        if !store && c.eat_flag("withscores") {
            withscores = true;
        } else if c.remaining() >= 3 && c.eat_flag("limit") {
            offset = c.next_int()?;
            limit = c.next_int()?;
        } else if rev.is_none() && c.eat_flag("rev") {
            rev = Some(true);
        } else if by == By::Auto && c.eat_flag("bylex") {
            by = By::Lex;
        } else if by == By::Auto && c.eat_flag("byscore") {
            by = By::Score;
        } else {
            return Err(Frame::error(SYNTAX_ERROR));
        }
    }
    let rev = rev.unwrap_or(false);
    if by == By::Auto {
        by = By::Rank;
    }
    if limit != -1 && by == By::Rank {
        return Err(Frame::error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(Frame::error(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    // BYSCORE / BYLEX with REV take the range as max, min.
    let (min, max) = if rev && by != By::Rank { (b, a) } else { (a, b) };
    let span = match by {
        By::Score => Span::Score(parse_score_range(min, max)?),
        By::Lex => {
            let (lo, hi) = parse_lex_range(min, max)?;
            Span::Lex(lo, hi)
        }
        _ => Span::Rank(
            parse_i64(min).ok_or_else(|| Frame::error(NOT_AN_INTEGER))?,
            parse_i64(max).ok_or_else(|| Frame::error(NOT_AN_INTEGER))?,
        ),
    };
    Ok(RangeQuery {
        span,
        rev,
        offset,
        limit,
        withscores,
    })
}

/// Redis's rank-range rule (negatives from the end, clamped) as a half-open rank interval.
fn rank_interval(len: usize, start: i64, end: i64) -> (usize, usize) {
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let start = if start < 0 { len_i.saturating_add(start) } else { start }.max(0);
    let end = if end < 0 { len_i.saturating_add(end) } else { end };
    if start > end || start >= len_i {
        return (0, 0);
    }
    let end = end.min(len_i - 1);
    (start as usize, end as usize + 1)
}

impl RangeQuery {
    /// The members the query selects, in reply order.
    fn run(&self, z: &SortedSet) -> Vec<(Bytes, f64)> {
        let owned = |(m, s): (&Bytes, f64)| (m.clone(), s);
        match &self.span {
            Span::Rank(start, end) => {
                let (lo, hi) = rank_interval(z.len(), *start, *end);
                if lo >= hi {
                    return Vec::new();
                }
                if self.rev {
                    // Ranks counted from the highest score.
                    z.iter_rev_from(z.len() - 1 - lo).take(hi - lo).map(owned).collect()
                } else {
                    z.iter_from(lo).take(hi - lo).map(owned).collect()
                }
            }
            Span::Score(r) => self.window(z, z.score_ranks(r)),
            Span::Lex(a, b) => self.window(z, z.lex_ranks(a, b)),
        }
    }

    /// LIMIT over the rank interval `lo..hi`: a negative offset selects nothing, a negative
    /// count everything after the offset (Redis's loop semantics), without walking the offset.
    fn window(&self, z: &SortedSet, (lo, hi): (usize, usize)) -> Vec<(Bytes, f64)> {
        let Ok(offset) = usize::try_from(self.offset) else {
            return Vec::new();
        };
        let count = hi - lo;
        if offset >= count {
            return Vec::new();
        }
        let mut n = count - offset;
        if let Ok(limit) = usize::try_from(self.limit) {
            n = n.min(limit);
        }
        let owned = |(m, s): (&Bytes, f64)| (m.clone(), s);
        if self.rev {
            z.iter_rev_from(hi - 1 - offset).take(n).map(owned).collect()
        } else {
            z.iter_from(lo + offset).take(n).map(owned).collect()
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    fn fold(self, acc: f64, v: f64) -> f64 {
        match self {
            Aggregate::Sum => {
                let s = acc + v;
                if s.is_nan() { 0.0 } else { s }
            }
            Aggregate::Min => {
                if v < acc {
                    v
                } else {
                    acc
                }
            }
            Aggregate::Max => {
                if v > acc {
                    v
                } else {
                    acc
                }
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ZOp {
    Union,
    Inter,
    Diff,
}

/// ZUNION / ZINTER / ZDIFF (and STORE, and ZINTERCARD) arguments after the destination.
#[derive(Clone, Debug)]
pub(super) struct Combine {
    op: ZOp,
    keys: Vec<Bytes>,
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
    /// ZINTERCARD's LIMIT (0 = none).
    limit: usize,
}

/// Redis's `zunionInterDiffGenericCommand` argument rules.
fn parse_combine(name: &str, c: &mut Cursor, op: ZOp, store: bool, card: bool) -> Reply<Combine> {
    let setnum = c.next_int()?;
    if setnum < 1 {
        return Err(Frame::Error(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    let setnum = usize::try_from(setnum).unwrap_or(usize::MAX);
    if setnum > c.remaining() {
        return Err(Frame::error(SYNTAX_ERROR));
    }
    let keys: Vec<Bytes> = (0..setnum).map(|_| c.next_bytes().cloned()).collect::<Reply<_>>()?;
    let mut out = Combine {
        op,
        keys,
        weights: vec![1.0; setnum],
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    while !c.is_done() {
        let remaining = c.remaining();
        if op != ZOp::Diff && !card && remaining > setnum && c.eat_flag("weights") {
            for w in out.weights.iter_mut() {
                *w = parse_score(c.next_bytes()?).ok_or_else(|| Frame::error("ERR weight value is not a float"))?;
            }
        } else if op != ZOp::Diff && !card && remaining >= 2 && c.eat_flag("aggregate") {
            out.aggregate = match c.peek_lower().as_deref() {
                Some("sum") => Aggregate::Sum,
                Some("min") => Aggregate::Min,
                Some("max") => Aggregate::Max,
                _ => return Err(Frame::error(SYNTAX_ERROR)),
            };
            c.next_bytes()?;
        } else if !store && !card && c.eat_flag("withscores") {
            out.withscores = true;
        } else if card && remaining >= 2 && c.eat_flag("limit") {
            out.limit = parse_i64(c.next_bytes()?)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| Frame::error("ERR LIMIT can't be negative"))?;
        } else {
            return Err(Frame::error(SYNTAX_ERROR));
        }
    }
    Ok(out)
}

/// An input of ZUNION & co: sorted sets, or plain sets whose members score 1.
#[derive(Clone, Copy)]
enum Source<'a> {
    Z(&'a SortedSet),
    S(&'a MemberSet),
}

impl<'a> Source<'a> {
    fn len(&self) -> usize {
        match self {
            Source::Z(z) => z.len(),
            Source::S(s) => s.len(),
        }
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Source::Z(z) => z.score(m),
            Source::S(s) => s.contains(m).then_some(1.0),
        }
    }

    fn items(&self) -> Box<dyn Iterator<Item = (&'a Bytes, f64)> + 'a> {
        match *self {
            Source::Z(z) => Box::new(z.iter_from(0)),
            Source::S(s) => Box::new(s.iter().map(|m| (m, 1.0))),
        }
    }
}

impl Combine {
    fn sources<'s>(&self, store: &'s Store, now_ms: u64) -> Reply<Vec<Option<Source<'s>>>> {
        self.keys
            .iter()
            .map(|k| match store.get_live(k, now_ms).map(|e| &e.value) {
                None => Ok(None),
                Some(Value::ZSet(z)) => Ok(Some(Source::Z(z))),
                Some(Value::Set(s)) => Ok(Some(Source::S(s))),
                Some(_) => Err(Frame::error(WRONGTYPE)),
            })
            .collect()
    }

    /// The resulting member → score, ordered by member (never a HashMap's order).
    fn compute(&self, store: &Store, now_ms: u64) -> Reply<BTreeMap<Bytes, f64>> {
        let srcs = self.sources(store, now_ms)?;
        let weighted = |s: f64, w: f64| {
            let v = s * w;
            if v.is_nan() { 0.0 } else { v }
        };
        let mut out = BTreeMap::new();
        match self.op {
            ZOp::Union => {
                for (src, w) in srcs.iter().zip(&self.weights) {
                    let Some(src) = src else { continue };
                    for (m, s) in src.items() {
                        let v = weighted(s, *w);
                        out.entry(m.clone())
                            .and_modify(|acc: &mut f64| *acc = self.aggregate.fold(*acc, v))
                            .or_insert(v);
                    }
                }
            }
            ZOp::Inter => {
                let Some(present) = srcs.iter().copied().collect::<Option<Vec<Source>>>() else {
                    return Ok(out);
                };
                // Smallest first, weights travelling with their sets (as Redis sorts them).
                let mut order: Vec<(Source, f64)> = present.into_iter().zip(self.weights.iter().copied()).collect();
                order.sort_by_key(|(s, _)| s.len());
                let Some(((first, w0), rest)) = order.split_first() else {
                    return Ok(out);
                };
                'members: for (m, s) in first.items() {
                    let mut acc = weighted(s, *w0);
                    for (other, w) in rest {
                        let Some(so) = other.score(m) else {
                            continue 'members;
                        };
                        acc = self.aggregate.fold(acc, weighted(so, *w));
                    }
                    out.insert(m.clone(), acc);
                }
            }
            ZOp::Diff => {
                let Some(Some(first)) = srcs.first() else {
                    return Ok(out);
                };
                for (m, s) in first.items() {
                    if !srcs[1..].iter().flatten().any(|o| o.score(m).is_some()) {
                        out.insert(m.clone(), s);
                    }
                }
            }
        }
        Ok(out)
    }

    fn to_zset(map: &BTreeMap<Bytes, f64>) -> SortedSet {
        let mut z = SortedSet::new();
        for (m, s) in map {
            z.insert(m, *s);
        }
        z
    }
}

/// ZADD's options.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// A parsed sorted-set write.
#[derive(Debug)]
pub(super) enum Write {
    Add {
        key: Bytes,
        flags: AddFlags,
        pairs: Vec<(f64, Bytes)>,
    },
    Rem {
        key: Bytes,
        members: Vec<Bytes>,
    },
    RemRange {
        key: Bytes,
        span: Span,
    },
    /// `count` None is the single-pair form.
    Pop {
        key: Bytes,
        max: bool,
        count: Option<usize>,
    },
    MPop {
        keys: Vec<Bytes>,
        max: bool,
        count: usize,
    },
    RangeStore {
        dst: Bytes,
        src: Bytes,
        query: RangeQuery,
    },
    Store {
        dst: Bytes,
        combine: Combine,
    },
}

fn parse_zadd(key: Bytes, c: &mut Cursor) -> Reply<Write> {
    let mut f = AddFlags::default();
    loop {
        if c.eat_flag("nx") {
            f.nx = true;
        } else if c.eat_flag("xx") {
            f.xx = true;
        } else if c.eat_flag("gt") {
            f.gt = true;
        } else if c.eat_flag("lt") {
            f.lt = true;
        } else if c.eat_flag("ch") {
            f.ch = true;
        } else if c.eat_flag("incr") {
            f.incr = true;
        } else {
            break;
        }
    }
    let rest = c.rest();
    if rest.is_empty() || rest.len() % 2 == 1 {
        return Err(Frame::error(SYNTAX_ERROR));
    }
    if f.nx && f.xx {
        return Err(Frame::error(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(Frame::error(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && rest.len() > 2 {
        return Err(Frame::error("ERR INCR option supports a single increment-element pair"));
    }
    let pairs = rest
        .chunks_exact(2)
        .map(|p| {
            parse_score(&p[0])
                .map(|s| (s, p[1].clone()))
                .ok_or_else(|| Frame::error(NOT_A_FLOAT))
        })
        .collect::<Reply<Vec<_>>>()?;
    Ok(Write::Add { key, flags: f, pairs })
}

/// ZPOPMIN / ZPOPMAX count: a non-negative integer; anything else (not a number, out of
/// range) is Redis's `getPositiveLongFromObjectOrReply` message.
fn pop_count(arg: &[u8]) -> Reply<usize> {
    parse_i64(arg)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| Frame::error(MUST_BE_POSITIVE))
}

fn parse_mpop(args: &[Bytes]) -> Reply<Write> {
    let mut c = Cursor::new(args);
    let numkeys = parse_i64(c.next_bytes()?)
        .filter(|n| *n >= 1)
        .ok_or_else(|| Frame::error("ERR numkeys should be greater than 0"))?;
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys >= c.remaining() {
        return Err(Frame::error(SYNTAX_ERROR));
    }
    let keys: Vec<Bytes> = (0..numkeys).map(|_| c.next_bytes().cloned()).collect::<Reply<_>>()?;
    let max = match c.peek_lower().as_deref() {
        Some("min") => false,
        Some("max") => true,
        _ => return Err(Frame::error(SYNTAX_ERROR)),
    };
    c.next_bytes()?;
    let mut count = None;
    while !c.is_done() {
        if count.is_none() && c.remaining() >= 2 && c.eat_flag("count") {
            let n = parse_i64(c.next_bytes()?)
                .filter(|n| *n >= 1)
                .ok_or_else(|| Frame::error("ERR count should be greater than 0"))?;
            count = Some(usize::try_from(n).unwrap_or(usize::MAX));
        } else {
            return Err(Frame::error(SYNTAX_ERROR));
        }
    }
    Ok(Write::MPop {
        keys,
        max,
        count: count.unwrap_or(1),
    })
}

pub(super) fn parse_write(name: &str, args: &[Bytes]) -> Reply<Write> {
    if name == "zmpop" {
        return parse_mpop(args);
    }
    let mut c = Cursor::new(args);
    let key = c.next_bytes()?.clone();
    let cmd = match name {
        "zadd" => parse_zadd(key, &mut c)?,
        "zincrby" => {
            let incr = parse_score(c.next_bytes()?).ok_or_else(|| Frame::error(NOT_A_FLOAT))?;
            let member = c.next_bytes()?.clone();
            Write::Add {
                key,
                flags: AddFlags {
                    incr: true,
                    ..AddFlags::default()
                },
                pairs: vec![(incr, member)],
            }
        }
        "zrem" => Write::Rem {
            key,
            members: c.rest().to_vec(),
        },
        "zremrangebyrank" | "zremrangebyscore" | "zremrangebylex" => {
            let a = c.next_bytes()?;
            let b = c.next_bytes()?;
            let span = match name {
                "zremrangebyrank" => Span::Rank(
                    parse_i64(a).ok_or_else(|| Frame::error(NOT_AN_INTEGER))?,
                    parse_i64(b).ok_or_else(|| Frame::error(NOT_AN_INTEGER))?,
                ),
                "zremrangebyscore" => Span::Score(parse_score_range(a, b)?),
                _ => {
                    let (lo, hi) = parse_lex_range(a, b)?;
                    Span::Lex(lo, hi)
                }
            };
            Write::RemRange { key, span }
        }
        "zpopmin" | "zpopmax" => {
            if args.len() > 3 {
                return Err(Frame::error(SYNTAX_ERROR));
            }
            let count = if c.is_done() {
                None
            } else {
                Some(pop_count(c.next_bytes()?)?)
            };
            Write::Pop {
                key,
                max: name == "zpopmax",
                count,
            }
        }
        "zrangestore" => {
            let src = c.next_bytes()?.clone();
            let query = parse_range(&mut c, By::Auto, None, true)?;
            Write::RangeStore { dst: key, src, query }
        }
        "zunionstore" | "zinterstore" | "zdiffstore" => {
            let op = match name {
                "zunionstore" => ZOp::Union,
                "zinterstore" => ZOp::Inter,
                _ => ZOp::Diff,
            };
            let combine = parse_combine(name, &mut c, op, true, false)?;
            Write::Store { dst: key, combine }
        }
        _ => return Err(super::not_served(name)),
    };
    c.finish()?;
    Ok(cmd)
}

/// Stores `z` at `dst` (no TTL), or deletes `dst` when `z` is empty; replies its size.
fn store_result(store: &mut Store, dst: &[u8], z: SortedSet) -> Frame {
    let n = z.len();
    if n == 0 {
        store.remove(dst);
    } else {
        store.insert(dst, Value::ZSet(Box::new(z)), None);
    }
    Frame::Integer(n as i64)
}

impl Write {
    pub(super) fn apply(self, store: &mut Store, time_ms: u64) -> Reply<Frame> {
        match self {
            Write::Add { key, flags, pairs } => {
                let f = flags;
                if zset_of(store.get(&key))?.is_none() {
                    if f.xx {
                        return Ok(if f.incr { Frame::Null } else { Frame::Integer(0) });
                    }
                    store.insert(&key, Value::ZSet(Box::default()), None);
                }
                let Some(Value::ZSet(z)) = store.value_mut(&key) else {
                    return Err(Frame::error(WRONGTYPE));
                };
                let (mut added, mut updated) = (0, 0);
                let mut last = None;
                let mut failed = None;
                for (score, member) in &pairs {
                    match z.score(member) {
                        Some(cur) => {
                            if f.nx {
                                continue;
                            }
                            let new = if f.incr { cur + score } else { *score };
                            if new.is_nan() {
                                failed = Some(Frame::error(NAN_SCORE));
                                break;
                            }
                            if (f.lt && new >= cur) || (f.gt && new <= cur) {
                                continue;
                            }
                            if new != cur {
                                z.insert(member, new);
                                updated += 1;
                            }
                            last = Some(new);
                        }
                        None => {
                            if f.xx {
                                continue;
                            }
                            z.insert(member, *score);
                            added += 1;
                            last = Some(*score);
                        }
                    }
                }
                store.remove_if_empty(&key);
                if let Some(e) = failed {
                    return Err(e);
                }
                Ok(if f.incr {
                    last.map_or(Frame::Null, Frame::Double)
                } else {
                    Frame::Integer(added + if f.ch { updated } else { 0 })
                })
            }
            Write::Rem { key, members } => {
                if zset_of(store.get(&key))?.is_none() {
                    return Ok(Frame::Integer(0));
                }
                let Some(Value::ZSet(z)) = store.value_mut(&key) else {
                    return Err(Frame::error(WRONGTYPE));
                };
                let n = members.iter().filter(|m| z.remove(m).is_some()).count();
                store.remove_if_empty(&key);
                Ok(Frame::Integer(n as i64))
            }
            Write::RemRange { key, span } => {
                if zset_of(store.get(&key))?.is_none() {
                    return Ok(Frame::Integer(0));
                }
                let Some(Value::ZSet(z)) = store.value_mut(&key) else {
                    return Err(Frame::error(WRONGTYPE));
                };
                let (lo, hi) = match &span {
                    Span::Rank(a, b) => rank_interval(z.len(), *a, *b),
                    Span::Score(r) => z.score_ranks(r),
                    Span::Lex(a, b) => z.lex_ranks(a, b),
                };
                let n = z.remove_ranks(lo, hi);
                store.remove_if_empty(&key);
                Ok(Frame::Integer(n as i64))
            }
            Write::Pop { key, max, count } => {
                if zset_of(store.get(&key))?.is_none() || count == Some(0) {
                    return Ok(Frame::Array(Vec::new()));
                }
                let Some(Value::ZSet(z)) = store.value_mut(&key) else {
                    return Err(Frame::error(WRONGTYPE));
                };
                let n = count.unwrap_or(1).min(z.len());
                let popped: Vec<(Bytes, f64)> = (0..n).filter_map(|_| z.pop(max)).collect();
                store.remove_if_empty(&key);
                Ok(owned_scored(&popped, true))
            }
            Write::MPop { keys, max, count } => {
                for k in &keys {
                    store.expire_if_needed(k, time_ms);
                }
                for k in keys {
                    if zset_of(store.get(&k))?.is_none() {
                        continue;
                    }
                    let Some(Value::ZSet(z)) = store.value_mut(&k) else {
                        continue;
                    };
                    let n = count.min(z.len());
                    let popped: Vec<Frame> = (0..n)
                        .filter_map(|_| z.pop(max))
                        .map(|(m, s)| Frame::Array(vec![Frame::Bulk(m), Frame::Double(s)]))
                        .collect();
                    store.remove_if_empty(&k);
                    return Ok(Frame::Array(vec![Frame::Bulk(k), Frame::Array(popped)]));
                }
                Ok(Frame::NullArray)
            }
            Write::RangeStore { dst, src, query } => {
                store.expire_if_needed(&src, time_ms);
                let result = match zset_of(store.get(&src))? {
                    None => SortedSet::new(),
                    Some(z) => {
                        let mut out = SortedSet::new();
                        for (m, s) in query.run(z) {
                            out.insert(&m, s);
                        }
                        out
                    }
                };
                Ok(store_result(store, &dst, result))
            }
            Write::Store { dst, combine } => {
                let map = combine.compute(store, time_ms)?;
                Ok(store_result(store, &dst, Combine::to_zset(&map)))
            }
        }
    }
}

pub(super) fn read(name: &str, store: &Store, args: &[Bytes], now_ms: u64) -> Reply<Frame> {
    let mut c = Cursor::new(args);
    let combine_op = match name {
        "zunion" => Some(ZOp::Union),
        "zinter" | "zintercard" => Some(ZOp::Inter),
        "zdiff" => Some(ZOp::Diff),
        _ => None,
    };
    if let Some(op) = combine_op {
        return combined(name, store, &mut c, op, now_ms);
    }
    let key = c.next_bytes()?;
    let range_form = match name {
        "zrange" => Some((By::Auto, None)),
        "zrevrange" => Some((By::Rank, Some(true))),
        "zrangebyscore" => Some((By::Score, Some(false))),
        "zrevrangebyscore" => Some((By::Score, Some(true))),
        "zrangebylex" => Some((By::Lex, Some(false))),
        "zrevrangebylex" => Some((By::Lex, Some(true))),
        _ => None,
    };
    if let Some((by, rev)) = range_form {
        let q = parse_range(&mut c, by, rev, false)?;
        let Some(z) = zset_of(store.get_live(key, now_ms))? else {
            return Ok(Frame::Array(Vec::new()));
        };
        return Ok(owned_scored(&q.run(z), q.withscores));
    }
    // Each reads its arguments before it looks the key up, so a syntax error comes before
    // WRONGTYPE, as in Redis.
    let lookup = || zset_of(store.get_live(key, now_ms));
    let reply = match name {
        "zscan" => zscan(lookup, &mut c)?,
        "zcount" | "zlexcount" => count_in_range(name, lookup, &mut c)?,
        "zrank" | "zrevrank" => rank(name, lookup, &mut c)?,
        "zrandmember" => random_members(lookup, &mut c, mix64(args_hash(args) ^ mix64(now_ms)))?,
        _ => {
            let z = lookup()?;
            match name {
                "zcard" => Frame::Integer(z.map_or(0, SortedSet::len) as i64),
                "zscore" => {
                    let m = c.next_bytes()?;
                    z.and_then(|z| z.score(m)).map_or(Frame::Null, Frame::Double)
                }
                "zmscore" => Frame::Array(
                    c.rest()
                        .iter()
                        .map(|m| z.and_then(|z| z.score(m)).map_or(Frame::Null, Frame::Double))
                        .collect(),
                ),
                _ => return Err(super::not_served(name)),
            }
        }
    };
    c.finish()?;
    Ok(reply)
}

/// ZUNION, ZINTER, ZDIFF (members, with scores if asked) and ZINTERCARD (a count).
fn combined(name: &str, store: &Store, c: &mut Cursor, op: ZOp, now_ms: u64) -> Reply<Frame> {
    let card = name == "zintercard";
    let combine = parse_combine(name, c, op, false, card)?;
    let map = combine.compute(store, now_ms)?;
    if card {
        let n = map.len();
        let n = if combine.limit > 0 { n.min(combine.limit) } else { n };
        return Ok(Frame::Integer(n as i64));
    }
    let z = Combine::to_zset(&map);
    Ok(scored(z.iter_from(0), combine.withscores))
}

/// ZSCAN cursor [MATCH pattern] [COUNT count]
fn zscan<'a>(lookup: impl Fn() -> Reply<Option<&'a SortedSet>>, c: &mut Cursor) -> Reply<Frame> {
    let cursor = parse_cursor(c.next_bytes()?)?;
    let Some(z) = lookup()? else {
        c.rest();
        return Ok(scan_reply(0, Vec::new()));
    };
    let opts = ScanOpts::parse(c)?;
    let (next, items) = z.scan(cursor, opts.count);
    let mut out = Vec::new();
    for (m, s) in items.into_iter().filter(|(m, _)| opts.keeps(m)) {
        out.push(Frame::Bulk(m.clone()));
        out.push(Frame::Bulk(Bytes::from(score_text(s))));
    }
    Ok(scan_reply(next, out))
}

/// ZCOUNT and ZLEXCOUNT: members within a range of scores or of names.
fn count_in_range<'a>(name: &str, lookup: impl Fn() -> Reply<Option<&'a SortedSet>>, c: &mut Cursor) -> Reply<Frame> {
    let a = c.next_bytes()?;
    let b = c.next_bytes()?;
    let bounds = if name == "zcount" {
        Span::Score(parse_score_range(a, b)?)
    } else {
        let (lo, hi) = parse_lex_range(a, b)?;
        Span::Lex(lo, hi)
    };
    let n = lookup()?.map_or(0, |z| {
        let (lo, hi) = match &bounds {
            Span::Score(r) => z.score_ranks(r),
            Span::Lex(a, b) => z.lex_ranks(a, b),
            Span::Rank(..) => (0, 0),
        };
        hi - lo
    });
    Ok(Frame::Integer(n as i64))
}

/// ZRANK and ZREVRANK member [WITHSCORE]
fn rank<'a>(name: &str, lookup: impl Fn() -> Reply<Option<&'a SortedSet>>, c: &mut Cursor) -> Reply<Frame> {
    let member = c.next_bytes()?;
    let withscore = match c.rest() {
        [] => false,
        [opt] if opt.eq_ignore_ascii_case(b"withscore") => true,
        _ => return Err(Frame::error(SYNTAX_ERROR)),
    };
    let z = lookup()?;
    let found = z.and_then(|z| Some((z.rank(member)?, z.score(member)?, z.len())));
    Ok(match found {
        None if withscore => Frame::NullArray,
        None => Frame::Null,
        Some((rank, score, len)) => {
            let rank = if name == "zrevrank" { len - 1 - rank } else { rank };
            let rank = Frame::Integer(rank as i64);
            if withscore {
                Frame::Array(vec![rank, Frame::Double(score)])
            } else {
                rank
            }
        }
    })
}

/// ZRANDMEMBER [count [WITHSCORES]]: picks from `seed`, a function of the request and its
/// time, so every replica picks alike.
fn random_members<'a>(lookup: impl Fn() -> Reply<Option<&'a SortedSet>>, c: &mut Cursor, seed: u64) -> Reply<Frame> {
    let count = if c.is_done() {
        None
    } else {
        Some(rand_count(c.next_bytes()?)?)
    };
    let withscores = match c.rest() {
        [] => false,
        [opt] if opt.eq_ignore_ascii_case(b"withscores") => true,
        _ => return Err(Frame::error(SYNTAX_ERROR)),
    };
    if withscores && count.is_some_and(|n| !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n)) {
        return Err(Frame::error("ERR value is out of range"));
    }
    let z = lookup()?;
    check_repeats(count, z.is_some_and(|z| !z.is_empty()))?;
    let mut pick = Picker::from_seed(seed);
    Ok(match (z, count) {
        (None, None) => Frame::Null,
        (None, Some(_)) | (_, Some(0)) => Frame::Array(Vec::new()),
        (Some(z), None) => z
            .nth(pick.below(z.len()))
            .map_or(Frame::Null, |(m, _)| Frame::Bulk(m.clone())),
        (Some(z), Some(n)) if n < 0 => scored(
            (0..n.unsigned_abs()).filter_map(|_| z.nth(pick.below(z.len()))),
            withscores,
        ),
        (Some(z), Some(n)) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if n >= z.len() {
                scored(z.iter_from(0), withscores)
            } else {
                scored(
                    pick.distinct(z.len(), n).into_iter().filter_map(|i| z.nth(i)),
                    withscores,
                )
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::WRONGTYPE;
    use super::super::testing::*;
    use super::*;

    fn d(v: f64) -> Frame {
        Frame::Double(v)
    }

    /// A flat member, score, member, score ... reply.
    fn ws(v: &[(&str, f64)]) -> Frame {
        Frame::Array(v.iter().flat_map(|(m, s)| [bulk(m), d(*s)]).collect())
    }

    const NOT_INT: &str = "ERR value is not an integer or out of range";

    #[test]
    fn zadd_options_and_errors() {
        run(&[
            (0, &["zadd", "z", "1", "a", "2", "b"], int(2)),
            (0, &["zadd", "z", "3", "a", "2", "b", "4", "c"], int(1)),
            (0, &["zadd", "z", "ch", "5", "a", "2", "b", "6", "d"], int(2)),
            (0, &["zadd", "z", "nx", "9", "a", "7", "e"], int(1)),
            (0, &["zscore", "z", "a"], d(5.0)),
            (0, &["zadd", "z", "xx", "9", "a", "8", "f"], int(0)),
            (0, &["zscore", "z", "a"], d(9.0)),
            (0, &["zscore", "z", "f"], Frame::Null),
            (0, &["zadd", "z", "gt", "ch", "1", "a", "10", "b"], int(1)),
            (0, &["zadd", "z", "lt", "ch", "100", "a", "1", "b"], int(1)),
            (
                0,
                &["zmscore", "z", "a", "b", "nope"],
                Frame::Array(vec![d(9.0), d(1.0), Frame::Null]),
            ),
            (0, &["zadd", "z", "gt", "5", "new"], int(1)),
            (0, &["zadd", "z", "incr", "2.5", "a"], d(11.5)),
            (0, &["zadd", "z", "nx", "incr", "1", "a"], Frame::Null),
            (0, &["zadd", "z", "xx", "incr", "1", "zz"], Frame::Null),
            (0, &["zadd", "z", "gt", "incr", "-1", "a"], Frame::Null),
            (0, &["zadd", "z", "lt", "incr", "-1", "a"], d(10.5)),
            (0, &["zadd", "nokey", "xx", "1", "a"], int(0)),
            (0, &["zadd", "nokey", "xx", "incr", "1", "a"], Frame::Null),
            (0, &["exists", "nokey"], int(0)),
            (
                0,
                &["zadd", "z", "nx", "xx", "1", "a"],
                err("ERR XX and NX options at the same time are not compatible"),
            ),
            (
                0,
                &["zadd", "z", "nx", "gt", "1", "a"],
                err("ERR GT, LT, and/or NX options at the same time are not compatible"),
            ),
            (
                0,
                &["zadd", "z", "gt", "lt", "1", "a"],
                err("ERR GT, LT, and/or NX options at the same time are not compatible"),
            ),
            (
                0,
                &["zadd", "z", "incr", "1", "a", "2", "b"],
                err("ERR INCR option supports a single increment-element pair"),
            ),
            (0, &["zadd", "z", "1", "a", "2"], err("ERR syntax error")),
            (0, &["zadd", "z", "nx", "1"], err("ERR syntax error")),
            (0, &["zadd", "z", "x", "a"], err("ERR value is not a valid float")),
            (0, &["zadd", "z", "nan", "a"], err("ERR value is not a valid float")),
            (0, &["zadd", "z", "1e400", "a"], err("ERR value is not a valid float")),
            (0, &["zadd", "z", "", "a"], err("ERR value is not a valid float")),
            (
                0,
                &["zadd", "z", "1", "a", "x", "b"],
                err("ERR value is not a valid float"),
            ),
            (
                0,
                &["zadd", "z"],
                err("ERR wrong number of arguments for 'zadd' command"),
            ),
            (0, &["zadd", "inf", "inf", "a", "-inf", "b", "+inf", "c"], int(3)),
            (
                0,
                &["zincrby", "inf", "-inf", "a"],
                err("ERR resulting score is not a number (NaN)"),
            ),
            (
                0,
                &["zadd", "inf", "incr", "-inf", "a"],
                err("ERR resulting score is not a number (NaN)"),
            ),
            (0, &["zscore", "inf", "a"], d(f64::INFINITY)),
            (0, &["zincrby", "z", "1.5", "b"], d(2.5)),
            (0, &["zincrby", "z2", "-3", "m"], d(-3.0)),
            (0, &["zincrby", "z", "x", "b"], err("ERR value is not a valid float")),
            (0, &["zcard", "z"], int(6)),
            (0, &["zcard", "nokey"], int(0)),
            (0, &["type", "z"], Frame::Simple("zset".into())),
            (0, &["zadd", "z", "0.1", "a"], int(0)),
            (0, &["zscore", "z", "a"], d(0.1)),
            (0, &["zadd", "z", "1e-400", "a"], err("ERR value is not a valid float")),
            (0, &["zadd", "z", "0e5", "a"], int(0)),
        ]);
    }

    #[test]
    fn zrem_and_wrongtype() {
        run(&[
            (0, &["zadd", "z", "1", "a", "2", "b"], int(2)),
            (0, &["zrem", "z", "a", "x"], int(1)),
            (0, &["zrem", "nokey", "a"], int(0)),
            (0, &["zrem", "z", "b"], int(1)),
            (0, &["exists", "z"], int(0)),
            (0, &["set", "s", "v"], ok()),
            (0, &["zadd", "s", "1", "a"], err(WRONGTYPE)),
            (0, &["zincrby", "s", "1", "a"], err(WRONGTYPE)),
            (0, &["zrem", "s", "a"], err(WRONGTYPE)),
            (0, &["zscore", "s", "a"], err(WRONGTYPE)),
            (0, &["zmscore", "s", "a"], err(WRONGTYPE)),
            (0, &["zcard", "s"], err(WRONGTYPE)),
            (0, &["zcount", "s", "0", "1"], err(WRONGTYPE)),
            (0, &["zrange", "s", "0", "1"], err(WRONGTYPE)),
            (0, &["zrank", "s", "a"], err(WRONGTYPE)),
            (0, &["zpopmin", "s"], err(WRONGTYPE)),
            (0, &["zremrangebyrank", "s", "0", "1"], err(WRONGTYPE)),
            (0, &["zrandmember", "s"], err(WRONGTYPE)),
            (0, &["zscan", "s", "0"], err(WRONGTYPE)),
            (0, &["zunion", "1", "s"], err(WRONGTYPE)),
            (0, &["zmpop", "1", "s", "min"], err(WRONGTYPE)),
            (0, &["zrangestore", "d", "s", "0", "1"], err(WRONGTYPE)),
            (0, &["sadd", "set", "a"], int(1)),
            (0, &["zadd", "set", "1", "a"], err(WRONGTYPE)),
            (
                0,
                &["zmscore", "nokey", "a", "b"],
                Frame::Array(vec![Frame::Null, Frame::Null]),
            ),
            (0, &["zadd", "e", "1", "a"], int(1)),
            (0, &["pexpire", "e", "10"], int(1)),
            (10, &["zcard", "e"], int(0)),
            (10, &["zscore", "e", "a"], Frame::Null),
            (10, &["zadd", "e", "xx", "1", "a"], int(0)),
            (10, &["zadd", "e", "2", "b"], int(1)),
            (10, &["zrange", "e", "0", "-1", "withscores"], ws(&[("b", 2.0)])),
            (10, &["pttl", "e"], int(-1)),
        ]);
    }

    #[test]
    fn ranges() {
        run(&[
            (
                0,
                &["zadd", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"],
                int(5),
            ),
            (0, &["zrange", "z", "0", "-1"], arr(&["a", "b", "c", "d", "e"])),
            (
                0,
                &["zrange", "z", "1", "2", "withscores"],
                ws(&[("b", 2.0), ("c", 3.0)]),
            ),
            (0, &["zrange", "z", "-2", "100"], arr(&["d", "e"])),
            (0, &["zrange", "z", "3", "1"], arr(&[])),
            (0, &["zrange", "z", "5", "10"], arr(&[])),
            (0, &["zrange", "z", "-100", "0"], arr(&["a"])),
            (0, &["zrange", "z", "0", "1", "rev"], arr(&["e", "d"])),
            (
                0,
                &["zrevrange", "z", "0", "1", "WITHSCORES"],
                ws(&[("e", 5.0), ("d", 4.0)]),
            ),
            (0, &["zrevrange", "z", "-1", "-1"], arr(&["a"])),
            (0, &["zrange", "z", "(1", "3", "byscore"], arr(&["b", "c"])),
            (
                0,
                &["zrange", "z", "-inf", "+inf", "byscore", "limit", "1", "2"],
                arr(&["b", "c"]),
            ),
            (
                0,
                &["zrange", "z", "+inf", "(2", "byscore", "rev", "limit", "1", "-1"],
                arr(&["d", "c"]),
            ),
            (0, &["zrange", "z", "1", "5", "byscore", "limit", "-1", "2"], arr(&[])),
            (0, &["zrange", "z", "1", "5", "byscore", "limit", "10", "2"], arr(&[])),
            (0, &["zrange", "z", "1", "5", "byscore", "limit", "0", "0"], arr(&[])),
            (0, &["zrange", "z", "(3", "(3", "byscore"], arr(&[])),
            (
                0,
                &["zrange", "z", "3", "3", "byscore", "withscores"],
                ws(&[("c", 3.0)]),
            ),
            (0, &["zrange", "z", "5", "1", "byscore"], arr(&[])),
            (
                0,
                &["zrangebyscore", "z", "2", "(4", "withscores"],
                ws(&[("b", 2.0), ("c", 3.0)]),
            ),
            (
                0,
                &["zrangebyscore", "z", "-inf", "inf", "limit", "4", "10"],
                arr(&["e"]),
            ),
            (0, &["zrevrangebyscore", "z", "4", "2"], arr(&["d", "c", "b"])),
            (
                0,
                &["zrevrangebyscore", "z", "(4", "-inf", "withscores", "limit", "0", "1"],
                ws(&[("c", 3.0)]),
            ),
            (
                0,
                &["zrangebyscore", "z", "x", "1"],
                err("ERR min or max is not a float"),
            ),
            (
                0,
                &["zrangebyscore", "z", "1", "(x"],
                err("ERR min or max is not a float"),
            ),
            (
                0,
                &["zrangebyscore", "z", "nan", "1"],
                err("ERR min or max is not a float"),
            ),
            (0, &["zrangebyscore", "z", "0", "1", "rev"], err("ERR syntax error")),
            (
                0,
                &["zrangebyscore", "z", "0", "1", "limit", "0"],
                err("ERR syntax error"),
            ),
            (0, &["zrangebyscore", "z", "0", "1", "limit", "x", "1"], err(NOT_INT)),
            (
                0,
                &["zrange", "z", "0", "1", "limit", "0", "1"],
                err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
            ),
            (
                0,
                &["zrevrange", "z", "0", "1", "limit", "0", "1"],
                err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
            ),
            (
                0,
                &["zrange", "z", "-", "+", "bylex", "withscores"],
                err("ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
            ),
            (0, &["zrange", "z", "a", "1"], err(NOT_INT)),
            (0, &["zrange", "z", "0", "1", "bogus"], err("ERR syntax error")),
            (
                0,
                &["zrange", "z", "0", "1", "byscore", "bylex"],
                err("ERR syntax error"),
            ),
            (0, &["zrange", "nokey", "0", "-1"], arr(&[])),
            (0, &["zrange", "nokey", "x", "-1"], err(NOT_INT)),
            (0, &["zcount", "z", "2", "4"], int(3)),
            (0, &["zcount", "z", "(2", "(4"], int(1)),
            (0, &["zcount", "z", "-inf", "+inf"], int(5)),
            (0, &["zcount", "z", "4", "2"], int(0)),
            (0, &["zcount", "nokey", "0", "1"], int(0)),
            (0, &["zcount", "z", "a", "1"], err("ERR min or max is not a float")),
        ]);
    }

    #[test]
    fn lex_ranges() {
        run(&[
            (
                0,
                &["zadd", "z", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e"],
                int(5),
            ),
            (0, &["zrangebylex", "z", "-", "+"], arr(&["a", "b", "c", "d", "e"])),
            (0, &["zrangebylex", "z", "[b", "(d"], arr(&["b", "c"])),
            (0, &["zrangebylex", "z", "(b", "[d", "limit", "1", "5"], arr(&["d"])),
            (0, &["zrevrangebylex", "z", "+", "[c"], arr(&["e", "d", "c"])),
            (
                0,
                &["zrange", "z", "[d", "-", "bylex", "rev", "limit", "0", "2"],
                arr(&["d", "c"]),
            ),
            (0, &["zrangebylex", "z", "+", "-"], arr(&[])),
            (
                0,
                &["zrangebylex", "z", "b", "+"],
                err("ERR min or max not valid string range item"),
            ),
            (
                0,
                &["zrangebylex", "z", "-x", "+"],
                err("ERR min or max not valid string range item"),
            ),
            (
                0,
                &["zrangebylex", "z", "-", "+", "withscores"],
                err("ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
            ),
            (0, &["zlexcount", "z", "-", "+"], int(5)),
            (0, &["zlexcount", "z", "(a", "[c"], int(2)),
            (
                0,
                &["zlexcount", "z", "a", "[c"],
                err("ERR min or max not valid string range item"),
            ),
            (0, &["zlexcount", "nokey", "-", "+"], int(0)),
            (0, &["zremrangebylex", "z", "[b", "(d"], int(2)),
            (0, &["zrange", "z", "0", "-1"], arr(&["a", "d", "e"])),
            (
                0,
                &["zremrangebylex", "z", "x", "(d"],
                err("ERR min or max not valid string range item"),
            ),
            (0, &["zremrangebylex", "z", "-", "+"], int(3)),
            (0, &["exists", "z"], int(0)),
        ]);
    }

    #[test]
    fn ranks_and_removal() {
        run(&[
            (
                0,
                &["zadd", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"],
                int(5),
            ),
            (0, &["zrank", "z", "a"], int(0)),
            (0, &["zrank", "z", "e", "withscore"], Frame::Array(vec![int(4), d(5.0)])),
            (0, &["zrevrank", "z", "e"], int(0)),
            (
                0,
                &["zrevrank", "z", "a", "WITHSCORE"],
                Frame::Array(vec![int(4), d(1.0)]),
            ),
            (0, &["zrank", "z", "nope"], Frame::Null),
            (0, &["zrank", "z", "nope", "withscore"], Frame::NullArray),
            (0, &["zrank", "nokey", "a"], Frame::Null),
            (0, &["zrank", "z", "a", "bogus"], err("ERR syntax error")),
            (0, &["zrank", "z", "a", "withscore", "x"], err("ERR syntax error")),
            (0, &["zremrangebyrank", "z", "0", "0"], int(1)),
            (0, &["zremrangebyrank", "z", "-1", "-1"], int(1)),
            (0, &["zremrangebyrank", "z", "5", "10"], int(0)),
            (0, &["zremrangebyrank", "z", "x", "1"], err(NOT_INT)),
            (0, &["zremrangebyrank", "nokey", "0", "1"], int(0)),
            (0, &["zrange", "z", "0", "-1"], arr(&["b", "c", "d"])),
            (0, &["zremrangebyscore", "z", "(2", "3"], int(1)),
            (
                0,
                &["zremrangebyscore", "z", "x", "3"],
                err("ERR min or max is not a float"),
            ),
            (0, &["zremrangebyscore", "z", "-inf", "+inf"], int(2)),
            (0, &["exists", "z"], int(0)),
        ]);
    }

    #[test]
    fn pops() {
        run(&[
            (0, &["zpopmin", "nokey"], arr(&[])),
            (0, &["zpopmin", "nokey", "2"], arr(&[])),
            (0, &["zadd", "z", "1", "a", "2", "b", "3", "c", "4", "d"], int(4)),
            (0, &["zpopmin", "z"], ws(&[("a", 1.0)])),
            (0, &["zpopmax", "z"], ws(&[("d", 4.0)])),
            (0, &["zpopmin", "z", "0"], arr(&[])),
            (
                0,
                &["zpopmin", "z", "-1"],
                err("ERR value is out of range, must be positive"),
            ),
            (0, &["zpopmin", "z", "x"], err(MUST_BE_POSITIVE)),
            (0, &["zpopmax", "z", "-9223372036854775809"], err(MUST_BE_POSITIVE)),
            (0, &["zpopmin", "none", "-9223372036854775809"], err(MUST_BE_POSITIVE)),
            (0, &["zpopmin", "z", "1", "2"], err("ERR syntax error")),
            (0, &["zpopmax", "z", "5"], ws(&[("c", 3.0), ("b", 2.0)])),
            (0, &["exists", "z"], int(0)),
            (0, &["zadd", "{t}b", "1", "x", "2", "y", "3", "z"], int(3)),
            (
                0,
                &["zmpop", "2", "{t}a", "{t}b", "min"],
                Frame::Array(vec![
                    bulk("{t}b"),
                    Frame::Array(vec![Frame::Array(vec![bulk("x"), d(1.0)])]),
                ]),
            ),
            (
                0,
                &["zmpop", "2", "{t}a", "{t}b", "MAX", "COUNT", "5"],
                Frame::Array(vec![
                    bulk("{t}b"),
                    Frame::Array(vec![
                        Frame::Array(vec![bulk("z"), d(3.0)]),
                        Frame::Array(vec![bulk("y"), d(2.0)]),
                    ]),
                ]),
            ),
            (0, &["exists", "{t}b"], int(0)),
            (0, &["zmpop", "2", "{t}a", "{t}b", "min"], Frame::NullArray),
            (
                0,
                &["zmpop", "0", "{t}a", "min"],
                err("ERR numkeys should be greater than 0"),
            ),
            (
                0,
                &["zmpop", "x", "{t}a", "min"],
                err("ERR numkeys should be greater than 0"),
            ),
            (0, &["zmpop", "2", "{t}a", "min"], err("ERR syntax error")),
            (0, &["zmpop", "1", "{t}a", "mid"], err("ERR syntax error")),
            (
                0,
                &["zmpop", "1", "{t}a", "min", "count", "0"],
                err("ERR count should be greater than 0"),
            ),
            (
                0,
                &["zmpop", "1", "{t}a", "min", "count", "1", "count", "1"],
                err("ERR syntax error"),
            ),
            (0, &["zmpop", "1", "{t}a", "min", "count"], err("ERR syntax error")),
        ]);
    }

    #[test]
    fn rangestore_and_combine() {
        run(&[
            (0, &["zadd", "{k}1", "1", "a", "2", "b", "3", "c"], int(3)),
            (0, &["zadd", "{k}2", "10", "b", "20", "c", "30", "d"], int(3)),
            (0, &["sadd", "{k}s", "a", "d"], int(2)),
            (0, &["zrangestore", "{k}d", "{k}1", "1", "-1"], int(2)),
            (
                0,
                &["zrange", "{k}d", "0", "-1", "withscores"],
                ws(&[("b", 2.0), ("c", 3.0)]),
            ),
            (
                0,
                &[
                    "zrangestore",
                    "{k}d",
                    "{k}1",
                    "(1",
                    "+inf",
                    "byscore",
                    "rev",
                    "limit",
                    "0",
                    "1",
                ],
                int(0),
            ),
            (
                0,
                &[
                    "zrangestore",
                    "{k}d",
                    "{k}1",
                    "+inf",
                    "(1",
                    "byscore",
                    "rev",
                    "limit",
                    "0",
                    "1",
                ],
                int(1),
            ),
            (0, &["zrange", "{k}d", "0", "-1"], arr(&["c"])),
            (0, &["zrangestore", "{k}d", "nokey", "0", "-1"], int(0)),
            (0, &["exists", "{k}d"], int(0)),
            (
                0,
                &["zrangestore", "{k}d", "{k}1", "0", "-1", "withscores"],
                err("ERR syntax error"),
            ),
            (
                0,
                &["zunion", "2", "{k}1", "{k}2", "withscores"],
                ws(&[("a", 1.0), ("b", 12.0), ("c", 23.0), ("d", 30.0)]),
            ),
            (
                0,
                &["zunion", "3", "{k}1", "{k}2", "{k}s", "aggregate", "max"],
                arr(&["a", "b", "c", "d"]),
            ),
            (
                0,
                &["zunion", "2", "{k}1", "{k}2", "weights", "2", "0.5", "withscores"],
                ws(&[("a", 2.0), ("b", 9.0), ("c", 16.0), ("d", 15.0)]).sorted_pairs(),
            ),
            (
                0,
                &["zinter", "2", "{k}1", "{k}2", "aggregate", "min", "withscores"],
                ws(&[("b", 2.0), ("c", 3.0)]),
            ),
            (0, &["zinter", "2", "{k}1", "{k}s", "withscores"], ws(&[("a", 2.0)])),
            (0, &["zinter", "2", "{k}1", "nokey"], arr(&[])),
            (0, &["zdiff", "2", "{k}1", "{k}2", "withscores"], ws(&[("a", 1.0)])),
            (0, &["zdiff", "1", "nokey"], arr(&[])),
            (
                0,
                &["zdiff", "2", "{k}1", "{k}2", "weights", "1", "1"],
                err("ERR syntax error"),
            ),
            (
                0,
                &["zunion", "0", "{k}1"],
                err("ERR at least 1 input key is needed for 'zunion' command"),
            ),
            (0, &["zunion", "x", "{k}1"], err(NOT_INT)),
            (0, &["zunion", "3", "{k}1", "{k}2"], err("ERR syntax error")),
            (
                0,
                &["zunion", "2", "{k}1", "{k}2", "weights", "1"],
                err("ERR syntax error"),
            ),
            (
                0,
                &["zunion", "2", "{k}1", "{k}2", "weights", "1", "x"],
                err("ERR weight value is not a float"),
            ),
            (0, &["zunion", "1", "{k}1", "aggregate", "avg"], err("ERR syntax error")),
            (0, &["zunionstore", "{k}u", "2", "{k}1", "{k}2"], int(4)),
            (
                0,
                &["zrange", "{k}u", "0", "-1", "withscores"],
                ws(&[("a", 1.0), ("b", 12.0), ("c", 23.0), ("d", 30.0)]),
            ),
            (
                0,
                &["zinterstore", "{k}i", "2", "{k}1", "{k}2", "weights", "1", "-1"],
                int(2),
            ),
            (
                0,
                &["zrange", "{k}i", "0", "-1", "withscores"],
                ws(&[("c", -17.0), ("b", -8.0)]),
            ),
            (0, &["zdiffstore", "{k}f", "2", "{k}2", "{k}s"], int(2)),
            (0, &["zinterstore", "{k}f", "2", "{k}2", "nokey"], int(0)),
            (0, &["exists", "{k}f"], int(0)),
            (
                0,
                &["zunionstore", "{k}u", "1", "{k}1", "withscores"],
                err("ERR syntax error"),
            ),
            (0, &["zintercard", "2", "{k}1", "{k}2"], int(2)),
            (0, &["zintercard", "2", "{k}1", "{k}2", "limit", "1"], int(1)),
            (0, &["zintercard", "1", "{k}1", "{k}1"], err("ERR syntax error")),
            (
                0,
                &["zintercard", "1", "{k}1", "limit", "-1"],
                err("ERR LIMIT can't be negative"),
            ),
            (0, &["zintercard", "1", "{k}1", "limit"], err("ERR syntax error")),
            (
                0,
                &["zintercard", "0", "{k}1"],
                err("ERR at least 1 input key is needed for 'zintercard' command"),
            ),
            (0, &["zintercard", "1", "{k}1", "withscores"], err("ERR syntax error")),
            // inf * 0 weights to 0 rather than NaN; inf + -inf sums to 0.
            (0, &["zadd", "{k}inf", "inf", "a", "-inf", "b"], int(2)),
            (
                0,
                &["zunion", "1", "{k}inf", "weights", "0", "withscores"],
                ws(&[("a", 0.0), ("b", 0.0)]),
            ),
            (0, &["zadd", "{k}ninf", "-inf", "a"], int(1)),
            (
                0,
                &["zunion", "2", "{k}inf", "{k}ninf", "withscores"],
                ws(&[("b", f64::NEG_INFINITY), ("a", 0.0)]),
            ),
        ]);
    }

    trait SortedPairs {
        fn sorted_pairs(self) -> Frame;
    }

    impl SortedPairs for Frame {
        /// Reorders a flat member/score array by (score, member), as a ZUNION reply is.
        fn sorted_pairs(self) -> Frame {
            let Frame::Array(v) = self else { return self };
            let mut pairs: Vec<(Frame, Frame)> = v.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect();
            pairs.sort_by(|a, b| match (&a.1, &b.1) {
                (Frame::Double(x), Frame::Double(y)) => x.partial_cmp(y).unwrap(),
                _ => std::cmp::Ordering::Equal,
            });
            Frame::Array(pairs.into_iter().flat_map(|(a, b)| [a, b]).collect())
        }
    }

    #[test]
    fn zrandmember_and_zscan() {
        let store = run(&[
            (0, &["zrandmember", "nokey"], Frame::Null),
            (0, &["zrandmember", "nokey", "5"], arr(&[])),
            (0, &["zadd", "z", "1", "a", "2", "b", "3", "c"], int(3)),
            (0, &["zrandmember", "z", "0"], arr(&[])),
            (
                0,
                &["zrandmember", "z", "5", "withscores"],
                ws(&[("a", 1.0), ("b", 2.0), ("c", 3.0)]),
            ),
            (0, &["zrandmember", "z", "x"], err(NOT_INT)),
            (0, &["zrandmember", "z", "1", "bogus"], err("ERR syntax error")),
            (
                0,
                &["zrandmember", "z", "1", "withscores", "x"],
                err("ERR syntax error"),
            ),
            (
                0,
                &["zrandmember", "z", "-5000000000000000000", "withscores"],
                err("ERR value is out of range"),
            ),
            (0, &["zscan", "nokey", "0"], scan_reply(0, vec![])),
            (0, &["zscan", "z", "abc"], err("ERR invalid cursor")),
            (0, &["zscan", "z", "0", "count", "0"], err("ERR syntax error")),
            (0, &["zadd", "f", "1.5", "x", "-0.25", "y", "1e-7", "w"], int(3)),
            (
                0,
                &["zscan", "f", "0", "match", "x"],
                scan_reply(0, vec![bulk("x"), bulk("1.5")]),
            ),
            (
                0,
                &["zscan", "f", "0", "match", "y"],
                scan_reply(0, vec![bulk("y"), bulk("-0.25")]),
            ),
            (
                0,
                &["zscan", "f", "0", "match", "w"],
                scan_reply(0, vec![bulk("w"), bulk("1e-7")]),
            ),
        ]);
        let read = |req: &[&str], t: u64| super::super::execute_read(&store, &args(req), t);
        for t in 0..10 {
            let Frame::Bulk(one) = read(&["zrandmember", "z"], t) else {
                panic!()
            };
            assert!([&b"a"[..], b"b", b"c"].contains(&&one[..]));
            let Frame::Array(two) = read(&["zrandmember", "z", "2", "withscores"], t) else {
                panic!()
            };
            assert_eq!(two.len(), 4);
            assert_ne!(two[0], two[2]);
            let Frame::Array(rep) = read(&["zrandmember", "z", "-7"], t) else {
                panic!()
            };
            assert_eq!(rep.len(), 7);
        }
        assert_eq!(
            read(&["zrandmember", "z", "-7"], 3),
            read(&["zrandmember", "z", "-7"], 3)
        );
        // A full ZSCAN of a big sorted set returns every member once at least.
        let mut big = Store::new();
        let mut req = vec!["zadd".to_string(), "big".to_string()];
        for i in 0..500 {
            req.push(i.to_string());
            req.push(format!("m{i}"));
        }
        let req: Vec<&str> = req.iter().map(String::as_str).collect();
        super::super::apply_write(&mut big, &args(&req), 0);
        let mut seen = std::collections::BTreeSet::new();
        let mut cursor = "0".to_string();
        loop {
            let got = super::super::execute_read(&big, &args(&["zscan", "big", &cursor]), 0);
            let Frame::Array(v) = got else { panic!() };
            let (Frame::Bulk(next), Frame::Array(items)) = (&v[0], &v[1]) else {
                panic!()
            };
            for pair in items.chunks(2) {
                let (Frame::Bulk(m), Frame::Bulk(s)) = (&pair[0], &pair[1]) else {
                    panic!()
                };
                assert_eq!(format!("m{}", String::from_utf8_lossy(s)), String::from_utf8_lossy(m));
                seen.insert(m.clone());
            }
            cursor = String::from_utf8_lossy(next).into_owned();
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 500);
    }

    #[test]
    fn numkeys_positions_cover_every_key() {
        let a = |v: &[&str]| args(v);
        assert_eq!(
            numkeys_at_1(&a(&["zunion", "2", "x", "y", "weights", "1", "2"])),
            vec![2, 3]
        );
        assert_eq!(
            destination_and_numkeys(&a(&["zinterstore", "d", "2", "x", "y"])),
            vec![1, 3, 4]
        );
        assert_eq!(numkeys_at_1(&a(&["zmpop", "1", "x", "min"])), vec![2]);
        assert_eq!(bzmpop_keys(&a(&["bzmpop", "0", "2", "x", "y", "min"])), vec![3, 4]);
        assert_eq!(numkeys_at_1(&a(&["zdiff", "x", "y"])), Vec::<usize>::new());
    }

    #[test]
    fn score_text_matches_the_encoder() {
        for (v, s) in [
            (1.0, "1"),
            (1.5, "1.5"),
            (-0.0, "-0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (0.1, "0.1"),
            (1e-7, "1e-7"),
            (0.000123456789, "1.23456789e-4"),
            (5e18, "5e+18"),
            (1.2345678901234567e20, "123456789012345670000"),
            (1.0 / 3.0, "0.3333333333333333"),
        ] {
            assert_eq!(score_text(v), s);
        }
    }

    #[test]
    fn wire_bytes_in_both_protocols() {
        crate::cmd::testing::run_wire(&[
            (&["zadd", "z", "1.5", "m"], ":1\r\n", ":1\r\n"),
            (&["zscore", "z", "m"], "$3\r\n1.5\r\n", ",1.5\r\n"),
            (&["zscore", "z", "x"], "$-1\r\n", "_\r\n"),
            (
                &["zrange", "z", "0", "-1", "withscores"],
                "*2\r\n$1\r\nm\r\n$3\r\n1.5\r\n",
                "*1\r\n*2\r\n$1\r\nm\r\n,1.5\r\n",
            ),
            (&["zincrby", "z", "1", "m"], "$3\r\n2.5\r\n", ",2.5\r\n"),
            (
                &["zmscore", "z", "m", "x"],
                "*2\r\n$3\r\n2.5\r\n$-1\r\n",
                "*2\r\n,2.5\r\n_\r\n",
            ),
            (&["zrank", "z", "x"], "$-1\r\n", "_\r\n"),
            (&["zadd", "z", "inf", "top"], ":1\r\n", ":1\r\n"),
            (&["zscore", "z", "top"], "$3\r\ninf\r\n", ",inf\r\n"),
            (
                &["zpopmin", "z", "1"],
                "*2\r\n$1\r\nm\r\n$3\r\n2.5\r\n",
                "*1\r\n*2\r\n$1\r\nm\r\n,2.5\r\n",
            ),
            (
                &["zpopmax", "z"],
                "*2\r\n$3\r\ntop\r\n$3\r\ninf\r\n",
                "*2\r\n$3\r\ntop\r\n,inf\r\n",
            ),
        ]);
    }
}
