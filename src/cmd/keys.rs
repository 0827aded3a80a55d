//! Generic key commands: DEL, UNLINK, EXISTS, TOUCH, EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT,
//! EXPIRETIME, PEXPIRETIME, TTL, PTTL, PERSIST, TYPE, RENAME, RENAMENX, COPY, OBJECT, SORT,
//! SORT_RO, and the internal SLOTRAFT.EXPIRED used by active expiry.

use std::cmp::Ordering;

use bytes::Bytes;

use super::parse::{Cursor, NOT_AN_INTEGER, Reply, SYNTAX_ERROR, WRONGTYPE, parse_i64};
use super::{EXPIRED_DELETE, ms_i64};
use crate::resp::frame::Frame;
use crate::slots::{Slot, crc16, key_slot};
use crate::store::{Entry, Store, Value};

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
    Rename {
        from: Bytes,
        to: Bytes,
        nx: bool,
    },
    Copy {
        from: Bytes,
        to: Bytes,
        replace: bool,
    },
    Sort(Sort),
}

fn invalid_expire(name: &str) -> Frame {
    Frame::Error(format!("ERR invalid expire time in '{name}' command"))
}

pub(super) fn parse_write(name: &'static str, args: &[Bytes]) -> Reply<Write> {
    let mut c = Cursor::new(args);
    let cmd = match name {
        "del" | "unlink" => Write::Del(c.rest().to_vec()),
        "rename" | "renamenx" => Write::Rename {
            from: c.next_bytes()?.clone(),
            to: c.next_bytes()?.clone(),
            nx: name == "renamenx",
        },
        "copy" => {
            let from = c.next_bytes()?.clone();
            let to = c.next_bytes()?.clone();
            let mut replace = false;
            let mut db = 0;
            while let Some(opt) = c.peek_lower() {
                c.next_bytes()?;
                match opt.as_str() {
                    "replace" => replace = true,
                    "db" if !c.is_done() => {
                        db = parse_i64(c.next_bytes()?)
                            .and_then(|v| i32::try_from(v).ok())
                            .ok_or_else(|| Frame::error(NOT_AN_INTEGER))?;
                        if !(0..16).contains(&db) {
                            return Err(Frame::error("ERR DB index is out of range"));
                        }
                    }
                    _ => return Err(Frame::error(SYNTAX_ERROR)),
                }
            }
            if db != 0 {
                return Err(Frame::error(
                    "ERR Copying to another database is not allowed in cluster mode",
                ));
            }
            if from == to {
                return Err(Frame::error("ERR source and destination objects are the same"));
            }
            Write::Copy { from, to, replace }
        }
        "sort" => return parse_sort(args, false).map(Write::Sort),
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
                    if store.expire_if_needed(k, time_ms) {
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
            Write::Rename { from, to, nx } => {
                let Some(entry) = store.get(&from) else {
                    return Err(Frame::error("ERR no such key"));
                };
                if from == to {
                    return Ok(if nx { Frame::Integer(0) } else { Frame::ok() });
                }
                if nx && store.get(&to).is_some() {
                    return Ok(Frame::Integer(0));
                }
                let deadline = entry.deadline();
                if let Some(entry) = store.remove(&from) {
                    store.insert(&to, entry.value, deadline);
                }
                Ok(if nx { Frame::Integer(1) } else { Frame::ok() })
            }
            Write::Copy { from, to, replace } => {
                let Some(entry) = store.get(&from) else {
                    return Ok(Frame::Integer(0));
                };
                if !replace && store.get(&to).is_some() {
                    return Ok(Frame::Integer(0));
                }
                let (value, deadline) = (entry.value.clone(), entry.deadline());
                store.insert(&to, value, deadline);
                Ok(Frame::Integer(1))
            }
            Write::Sort(sort) => {
                let rows = run_sort(store, &sort, time_ms)?;
                let Some(dest) = &sort.store else {
                    return Ok(sort_reply(rows));
                };
                let n = rows.len();
                if n == 0 {
                    store.remove(dest);
                } else {
                    let list = rows.into_iter().map(Option::unwrap_or_default).collect();
                    store.insert(dest, Value::List(Box::new(list)), None);
                }
                Ok(Frame::Integer(n as i64))
            }
        }
    }
}

/// A parsed SORT / SORT_RO.
#[derive(Debug, Clone)]
pub(super) struct Sort {
    key: Bytes,
    desc: bool,
    alpha: bool,
    /// LIMIT offset count, as given.
    limit: Option<(i64, i64)>,
    store: Option<Bytes>,
    /// A BY pattern with a `*`; a BY without one means "don't sort".
    by: Option<Bytes>,
    dont_sort: bool,
    gets: Vec<Bytes>,
}

/// Redis's `patternHashSlot`: the one slot every key a pattern can form hashes to, or None
/// when wildcards before a hash tag let it reach any slot.
fn pattern_slot(p: &[u8]) -> Option<Slot> {
    let mut open: Option<usize> = None;
    let mut empty_tag = false;
    for (i, &b) in p.iter().enumerate() {
        match b {
            b'*' | b'?' | b'[' | b'\\' => return None,
            b'{' if open.is_none() && !empty_tag => open = Some(i),
            b'}' if open.is_some_and(|s| i == s + 1) => {
                open = None;
                empty_tag = true;
            }
            b'}' if open.is_some() => {
                let s = open.unwrap_or(0);
                return Some(crc16(&p[s + 1..i]) & 0x3FFF);
            }
            _ => {}
        }
    }
    Some(crc16(p) & 0x3FFF)
}

/// SORT's options in Redis's order: BY / GET patterns that could reach another slot are
/// refused as Redis Cluster refuses them.
fn parse_sort(args: &[Bytes], readonly: bool) -> Reply<Sort> {
    let key = args[1].clone();
    let slot = key_slot(&key);
    let mut s = Sort {
        key,
        desc: false,
        alpha: false,
        limit: None,
        store: None,
        by: None,
        dont_sort: false,
        gets: Vec::new(),
    };
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let opt = String::from_utf8_lossy(&args[j]).to_ascii_lowercase();
        match opt.as_str() {
            "asc" => s.desc = false,
            "desc" => s.desc = true,
            "alpha" => s.alpha = true,
            "limit" if left >= 2 => {
                let off = parse_i64(&args[j + 1]).ok_or_else(|| Frame::error(NOT_AN_INTEGER))?;
                let count = parse_i64(&args[j + 2]).ok_or_else(|| Frame::error(NOT_AN_INTEGER))?;
                s.limit = Some((off, count));
                j += 2;
            }
            "store" if !readonly && left >= 1 => {
                s.store = Some(args[j + 1].clone());
                j += 1;
            }
            "by" if left >= 1 => {
                let p = &args[j + 1];
                if !p.contains(&b'*') {
                    s.dont_sort = true;
                    s.by = None;
                } else {
                    if pattern_slot(p) != Some(slot) {
                        return Err(Frame::error(
                            "ERR BY option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots.",
                        ));
                    }
                    // As in Redis, an earlier BY without `*` still means "don't sort".
                    s.by = Some(p.clone());
                }
                j += 1;
            }
            "get" if left >= 1 => {
                let p = &args[j + 1];
                if p.contains(&b'*') && pattern_slot(p) != Some(slot) {
                    return Err(Frame::error(
                        "ERR GET option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots.",
                    ));
                }
                s.gets.push(p.clone());
                j += 1;
            }
            _ => return Err(Frame::error(SYNTAX_ERROR)),
        }
        j += 1;
    }
    Ok(s)
}

/// Redis's `lookupKeyByPattern`: `#` is the element itself, the first `*` is replaced by
/// it, and a `->field` suffix reads a hash field. None when the key or field is missing.
fn by_pattern(store: &Store, pattern: &[u8], elem: &Bytes, now_ms: u64) -> Option<Bytes> {
    if pattern == b"#" {
        return Some(elem.clone());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let after = &pattern[star + 1..];
    let arrow = after
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&a| a + 2 < after.len());
    let (post, field) = match arrow {
        Some(a) => (&after[..a], Some(&after[a + 2..])),
        None => (after, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(post);
    match (&store.get_live(&key, now_ms)?.value, field) {
        (Value::Hash(h), Some(f)) => h.get(f).cloned(),
        (Value::String(s), None) => Some(s.to_bytes()),
        _ => None,
    }
}

/// C's `strtod` as SORT uses it: the whole string must convert, no overflow, no NaN. The
/// string ends at its first NUL byte, as a C string does ("" and "\0..." are 0).
fn sort_score(s: &[u8]) -> Option<f64> {
    let s = &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())];
    if s.is_empty() {
        return Some(0.0);
    }
    let t = std::str::from_utf8(s).ok()?;
    let t = t.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let v: f64 = t.parse().ok()?;
    let lower = t.to_ascii_lowercase();
    if v.is_nan() || (v.is_infinite() && !lower.contains("inf")) {
        return None;
    }
    if v == 0.0
        && lower
            .bytes()
            .take_while(|b| *b != b'e')
            .any(|b| (b'1'..=b'9').contains(&b))
    {
        return None;
    }
    Some(v)
}

/// The elements SORT reads from a value, in the value's own order (a sorted set's by score);
/// None for types SORT refuses.
fn sort_input(value: &Value) -> Option<Vec<Bytes>> {
    match value {
        Value::List(l) => Some(l.iter().cloned().collect()),
        Value::Set(set) => Some(set.iter().cloned().collect()),
        Value::ZSet(z) => Some(z.iter_from(0).map(|(m, _)| m.clone()).collect()),
        _ => None,
    }
}

/// Runs SORT: the selected rows, one entry per element and GET pattern (None = missing).
fn run_sort(store: &Store, s: &Sort, now_ms: u64) -> Reply<Vec<Option<Bytes>>> {
    let (elems, unordered) = match store.get_live(&s.key, now_ms) {
        None => (Vec::new(), false),
        Some(e) => (
            sort_input(&e.value).ok_or_else(|| Frame::error(WRONGTYPE))?,
            matches!(e.value, Value::Set(_)),
        ),
    };
    // As Redis: a set stored "unsorted" is sorted lexicographically, so the stored list does
    // not depend on a set's internal order.
    let forced;
    let s = if s.dont_sort && unordered && s.store.is_some() {
        forced = Sort {
            dont_sort: false,
            alpha: true,
            by: None,
            ..s.clone()
        };
        &forced
    } else {
        s
    };
    let len = elems.len() as i64;
    let (mut start, mut end) = match s.limit {
        None => (0, len - 1),
        Some((off, count)) => {
            let start = off.max(0);
            let end = if count < 0 {
                len - 1
            } else {
                start.saturating_add(count) - 1
            };
            (start, end)
        }
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);
    let mut items: Vec<(Bytes, Option<f64>, Option<Bytes>)> = Vec::with_capacity(elems.len());
    let mut bad_score = false;
    for e in elems {
        let (mut score, mut cmp) = (None, None);
        if !s.dont_sort {
            let by = match &s.by {
                Some(p) => by_pattern(store, p, &e, now_ms),
                None => Some(e.clone()),
            };
            if s.alpha {
                cmp = by;
            } else if let Some(b) = by {
                match sort_score(&b) {
                    Some(v) => score = Some(v),
                    None => bad_score = true,
                }
            }
        }
        items.push((e, score, cmp));
    }
    if bad_score {
        return Err(Frame::error("ERR One or more scores can't be converted into double"));
    }
    if !s.dont_sort {
        let by_pattern = s.by.is_some();
        items.sort_by(|a, b| {
            let cmp = if !s.alpha {
                let (x, y) = (a.1.unwrap_or(0.0), b.1.unwrap_or(0.0));
                x.partial_cmp(&y).unwrap_or(Ordering::Equal).then_with(|| a.0.cmp(&b.0))
            } else if by_pattern {
                match (&a.2, &b.2) {
                    (Some(x), Some(y)) => x.cmp(y),
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                }
            } else {
                a.0.cmp(&b.0)
            };
            if s.desc { cmp.reverse() } else { cmp }
        });
    }
    let mut rows = Vec::new();
    if start <= end && start >= 0 {
        for (e, _, _) in &items[start as usize..=end as usize] {
            if s.gets.is_empty() {
                rows.push(Some(e.clone()));
            } else {
                for g in &s.gets {
                    rows.push(by_pattern(store, g, e, now_ms));
                }
            }
        }
    }
    Ok(rows)
}

fn sort_reply(rows: Vec<Option<Bytes>>) -> Frame {
    Frame::Array(rows.into_iter().map(|r| r.map_or(Frame::Null, Frame::Bulk)).collect())
}

/// Key positions of SORT: the sorted key, and the STORE destination, which moves with the
/// options (the table's first/last/step cannot say where).
pub fn sort_keys(args: &[Bytes]) -> Vec<usize> {
    let mut keys = vec![1];
    let mut j = 2;
    while j < args.len() {
        let opt = &args[j];
        if opt.eq_ignore_ascii_case(b"limit") {
            j += 2;
        } else if opt.eq_ignore_ascii_case(b"by") || opt.eq_ignore_ascii_case(b"get") {
            j += 1;
        } else if opt.eq_ignore_ascii_case(b"store") && j + 1 < args.len() {
            keys.push(j + 1);
            j += 1;
        }
        j += 1;
    }
    keys
}

/// Key positions of SORT_RO: the sorted key only (it has no STORE).
pub fn sort_ro_keys(args: &[Bytes]) -> Vec<usize> {
    if args.len() > 1 { vec![1] } else { Vec::new() }
}

/// How Redis 7.2 would encode a value this small or large, with default thresholds.
fn encoding(value: &Value) -> &'static str {
    match value {
        Value::String(s) => {
            if s.len() <= 20 && parse_i64(s).is_some() {
                "int"
            } else if s.len() <= 44 {
                "embstr"
            } else {
                "raw"
            }
        }
        Value::Hash(h) => {
            if h.len() <= 128 && h.iter().all(|(f, v)| f.len() <= 64 && v.len() <= 64) {
                "listpack"
            } else {
                "hashtable"
            }
        }
        Value::List(l) => {
            // One listpack while its bytes stay under list-max-listpack-size -2 (8 KB).
            let bytes: usize = 7 + l.iter().map(|e| listpack_entry_len(e)).sum::<usize>();
            if bytes <= 8192 { "listpack" } else { "quicklist" }
        }
        #[allow(unreachable_patterns)] // Set and ZSet variants are added by their family.
        other => match other.type_name() {
            "set" => "hashtable",
            "zset" => "skiplist",
            _ => "raw",
        },
    }
}

/// Bytes one element takes in a listpack (encoding header, data, back-length).
fn listpack_entry_len(e: &[u8]) -> usize {
    let body = match parse_i64(e) {
        Some(v) if e.len() <= 20 => match v {
            0..=127 => 1,
            -4096..=4095 => 2,
            -32768..=32767 => 3,
            -8_388_608..=8_388_607 => 4,
            -2_147_483_648..=2_147_483_647 => 5,
            _ => 9,
        },
        _ => {
            let header = match e.len() {
                0..=63 => 1,
                64..=4095 => 2,
                _ => 5,
            };
            header + e.len()
        }
    };
    body + match body {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// OBJECT ENCODING | REFCOUNT | IDLETIME | FREQ | HELP.
fn object(store: &Store, args: &[Bytes], now_ms: u64) -> Reply<Frame> {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let want_args = match sub.as_str() {
        "help" => 2,
        "encoding" | "refcount" | "idletime" | "freq" => 3,
        _ => {
            return Err(Frame::Error(format!(
                "ERR unknown subcommand '{}'. Try OBJECT HELP.",
                String::from_utf8_lossy(&args[1][..args[1].len().min(128)])
            )));
        }
    };
    if args.len() != want_args {
        return Err(Frame::Error(format!(
            "ERR wrong number of arguments for 'object|{sub}' command"
        )));
    }
    if sub == "help" {
        return Ok(Frame::Array(
            OBJECT_HELP.iter().map(|l| Frame::Simple((*l).into())).collect(),
        ));
    }
    let Some(entry) = store.get_live(&args[2], now_ms) else {
        return Ok(Frame::Null);
    };
    Ok(match sub.as_str() {
        "encoding" => Frame::Bulk(Bytes::from_static(encoding(&entry.value).as_bytes())),
        "refcount" => {
            // Redis shares the integers 0..10000 (OBJ_SHARED_REFCOUNT).
            let shared = matches!(&entry.value, Value::String(s) if s.len() <= 20
                && parse_i64(s).is_some_and(|v| (0..10_000).contains(&v)));
            Frame::Integer(if shared { i64::from(i32::MAX) } else { 1 })
        }
        "idletime" => Frame::Integer(0),
        _ => Frame::error(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ),
    })
}

pub(super) fn read(name: &str, store: &Store, args: &[Bytes], now_ms: u64) -> Reply<Frame> {
    let mut c = Cursor::new(args);
    match name {
        "exists" | "touch" => {
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
        "expiretime" | "pexpiretime" => {
            let key = c.next_bytes()?;
            c.finish()?;
            let Some(entry) = store.get_live(key, now_ms) else {
                return Ok(Frame::Integer(-2));
            };
            let Some(deadline) = entry.deadline().map(ms_i64) else {
                return Ok(Frame::Integer(-1));
            };
            Ok(Frame::Integer(if name == "pexpiretime" {
                deadline
            } else {
                deadline.saturating_add(500) / 1000
            }))
        }
        "object" => object(store, args, now_ms),
        "sort_ro" => {
            let sort = parse_sort(args, true)?;
            Ok(sort_reply(run_sort(store, &sort, now_ms)?))
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

    fn simple(s: &'static str) -> Frame {
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

    #[test]
    fn unlink_touch_rename_copy() {
        run(&[
            (0, &["mset", "{k}a", "1", "{k}b", "2"], ok()),
            (0, &["touch", "{k}a", "{k}b", "{k}c"], int(2)),
            (0, &["unlink", "{k}a", "{k}c"], int(1)),
            (0, &["rename", "{k}a", "{k}x"], err("ERR no such key")),
            (0, &["renamenx", "{k}a", "{k}x"], err("ERR no such key")),
            (0, &["set", "{k}a", "v", "px", "100"], ok()),
            (0, &["rename", "{k}a", "{k}a"], ok()),
            (0, &["renamenx", "{k}a", "{k}a"], int(0)),
            (0, &["rename", "{k}a", "{k}c"], ok()),
            (0, &["exists", "{k}a"], int(0)),
            (0, &["pttl", "{k}c"], int(100)),
            (0, &["renamenx", "{k}c", "{k}b"], int(0)),
            (0, &["renamenx", "{k}c", "{k}d"], int(1)),
            (0, &["rename", "{k}d", "{k}b"], ok()),
            (0, &["get", "{k}b"], bulk("v")),
            (0, &["pttl", "{k}b"], int(100)),
            (100, &["rename", "{k}b", "{k}e"], err("ERR no such key")),
            (0, &["rpush", "{k}l", "x", "y"], int(2)),
            (0, &["copy", "{k}l", "{k}m"], int(1)),
            (0, &["rpush", "{k}m", "z"], int(3)),
            (0, &["lrange", "{k}l", "0", "-1"], arr(&["x", "y"])),
            (0, &["copy", "{k}l", "{k}m"], int(0)),
            (0, &["copy", "{k}l", "{k}m", "REPLACE"], int(1)),
            (0, &["llen", "{k}m"], int(2)),
            (0, &["copy", "{k}none", "{k}m"], int(0)),
            (0, &["copy", "{k}l", "{k}n", "db", "0"], int(1)),
            (
                0,
                &["copy", "{k}l", "{k}l"],
                err("ERR source and destination objects are the same"),
            ),
            (
                0,
                &["copy", "{k}l", "{k}n", "db", "1"],
                err("ERR Copying to another database is not allowed in cluster mode"),
            ),
            (
                0,
                &["copy", "{k}l", "{k}n", "db", "16"],
                err("ERR DB index is out of range"),
            ),
            (
                0,
                &["copy", "{k}l", "{k}n", "db", "x"],
                err("ERR value is not an integer or out of range"),
            ),
            (0, &["copy", "{k}l", "{k}n", "db"], err("ERR syntax error")),
            (0, &["copy", "{k}l", "{k}n", "foo"], err("ERR syntax error")),
        ]);
    }

    #[test]
    fn expiretime() {
        run(&[
            (0, &["expiretime", "k"], int(-2)),
            (0, &["set", "k", "v"], ok()),
            (0, &["pexpiretime", "k"], int(-1)),
            (0, &["pexpireat", "k", "1700000000499"], int(1)),
            (0, &["pexpiretime", "k"], int(1_700_000_000_499)),
            (0, &["expiretime", "k"], int(1_700_000_000)),
            (0, &["expireat", "k", "1800000000"], int(1)),
            (0, &["expiretime", "k"], int(1_800_000_000)),
        ]);
    }

    #[test]
    fn object() {
        let help = Frame::Array(super::OBJECT_HELP.iter().map(|l| simple(l)).collect());
        run(&[
            (0, &["object", "help"], help),
            (0, &["object", "encoding", "none"], Frame::Null),
            (0, &["set", "i", "12345"], ok()),
            (0, &["set", "e", "hello"], ok()),
            (0, &["set", "r", &"x".repeat(45)], ok()),
            (0, &["set", "big", "123456789012345678901"], ok()),
            (0, &["object", "encoding", "i"], bulk("int")),
            (0, &["object", "ENCODING", "e"], bulk("embstr")),
            (0, &["object", "encoding", "r"], bulk("raw")),
            (0, &["object", "encoding", "big"], bulk("embstr")),
            (0, &["rpush", "l", "a"], int(1)),
            (0, &["object", "encoding", "l"], bulk("listpack")),
            (0, &["rpush", "q", &"x".repeat(9000)], int(1)),
            (0, &["object", "encoding", "q"], bulk("quicklist")),
            (0, &["hset", "h", "f", "v"], int(1)),
            (0, &["object", "encoding", "h"], bulk("listpack")),
            (0, &["hset", "h", "g", &"x".repeat(65)], int(1)),
            (0, &["object", "encoding", "h"], bulk("hashtable")),
            (0, &["object", "refcount", "e"], int(1)),
            (0, &["set", "n", "100"], ok()),
            (0, &["object", "refcount", "n"], int(2147483647)),
            (0, &["object", "idletime", "e"], int(0)),
            (0, &["object", "freq", "none"], Frame::Null),
            (
                0,
                &["object", "freq", "e"],
                err(
                    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
                ),
            ),
            (
                0,
                &["object", "foo"],
                err("ERR unknown subcommand 'foo'. Try OBJECT HELP."),
            ),
            (
                0,
                &["object", "encoding"],
                err("ERR wrong number of arguments for 'object|encoding' command"),
            ),
            (
                0,
                &["object", "encoding", "a", "b"],
                err("ERR wrong number of arguments for 'object|encoding' command"),
            ),
        ]);
    }

    #[test]
    fn sort() {
        const SYNTAX: &str = "ERR syntax error";
        let nul = Frame::Null;
        run(&[
            (0, &["rpush", "{s}l", "3", "1", "2", "10"], int(4)),
            (0, &["sort", "{s}l"], arr(&["1", "2", "3", "10"])),
            (0, &["sort", "{s}l", "desc", "limit", "1", "2"], arr(&["3", "2"])),
            (0, &["sort", "{s}l", "ALPHA"], arr(&["1", "10", "2", "3"])),
            (0, &["sort", "{s}l", "limit", "5", "2"], arr(&[])),
            (0, &["sort", "{s}l", "limit", "-1", "2"], arr(&["1", "2"])),
            (
                0,
                &["sort", "{s}l", "by", "nosort", "limit", "1", "10"],
                arr(&["1", "2", "10"]),
            ),
            (
                0,
                &[
                    "mset", "{s}w_3", "1", "{s}w_1", "3", "{s}w_2", "2", "{s}n_1", "one", "{s}n_2", "two",
                ],
                ok(),
            ),
            (
                0,
                &["sort", "{s}l", "by", "{s}w_*", "get", "{s}n_*", "get", "#"],
                Frame::Array(vec![
                    nul.clone(),
                    bulk("10"),
                    nul.clone(),
                    bulk("3"),
                    bulk("two"),
                    bulk("2"),
                    bulk("one"),
                    bulk("1"),
                ]),
            ),
            (
                0,
                &["sort", "{s}l", "by", "{s}w_*", "alpha", "desc"],
                arr(&["1", "2", "3", "10"]),
            ),
            (0, &["hset", "{s}hw_1", "f", "9"], int(1)),
            (0, &["sort", "{s}l", "by", "{s}hw_*->f"], arr(&["10", "2", "3", "1"])),
            (0, &["sort", "{s}l", "store", "{s}dst"], int(4)),
            (0, &["lrange", "{s}dst", "0", "-1"], arr(&["1", "2", "3", "10"])),
            (0, &["sort", "{s}l", "get", "{s}n_*", "store", "{s}dst"], int(4)),
            (0, &["lrange", "{s}dst", "0", "-1"], arr(&["one", "two", "", ""])),
            (0, &["sort", "{s}none", "store", "{s}dst"], int(0)),
            (0, &["exists", "{s}dst"], int(0)),
            (0, &["sort_ro", "{s}l", "desc"], arr(&["10", "3", "2", "1"])),
            // Sets and sorted sets sort too; a set stored "unsorted" is sorted by ALPHA.
            (0, &["sadd", "{s}set", "3", "1", "b", "20"], int(4)),
            (0, &["sort", "{s}set", "alpha"], arr(&["1", "20", "3", "b"])),
            (0, &["sort", "{s}set", "by", "nosort", "store", "{s}dst"], int(4)),
            (0, &["lrange", "{s}dst", "0", "-1"], arr(&["1", "20", "3", "b"])),
            (
                0,
                &["sort", "{s}set"],
                err("ERR One or more scores can't be converted into double"),
            ),
            // A score ends at its first NUL byte, as strtod reads a C string.
            (0, &["rpush", "{s}nul", "2", "", "\0x", "1\0junk"], int(4)),
            (0, &["sort", "{s}nul"], arr(&["", "\0x", "1\0junk", "2"])),
            (0, &["zadd", "{s}z", "1", "c", "2", "a", "3", "b"], int(3)),
            (
                0,
                &["sort", "{s}z", "by", "nosort", "limit", "1", "5"],
                arr(&["a", "b"]),
            ),
            (0, &["sort", "{s}z", "alpha", "desc"], arr(&["c", "b", "a"])),
            (0, &["set", "{s}str", "x"], ok()),
            (
                0,
                &["sort", "{s}str"],
                err("WRONGTYPE Operation against a key holding the wrong kind of value"),
            ),
            (0, &["sort_ro", "{s}l", "store", "{s}x"], err(SYNTAX)),
            (0, &["sort", "{s}l", "limit", "1"], err(SYNTAX)),
            (
                0,
                &["sort", "{s}l", "limit", "a", "1"],
                err("ERR value is not an integer or out of range"),
            ),
            (
                0,
                &["sort", "{s}l", "by", "w_*"],
                err(
                    "ERR BY option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots.",
                ),
            ),
            (
                0,
                &["sort", "{s}l", "get", "n_*"],
                err(
                    "ERR GET option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots.",
                ),
            ),
            (
                0,
                &["sort", "{s}l", "get", "*{s}"],
                err(
                    "ERR GET option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots.",
                ),
            ),
            (
                0,
                &["sort", "{s}l", "get", "#", "get", "{s}n_*"],
                Frame::Array(vec![
                    bulk("1"),
                    bulk("one"),
                    bulk("2"),
                    bulk("two"),
                    bulk("3"),
                    nul.clone(),
                    bulk("10"),
                    nul.clone(),
                ]),
            ),
            (0, &["rpush", "{s}bad", "a", "1"], int(2)),
            (
                0,
                &["sort", "{s}bad"],
                err("ERR One or more scores can't be converted into double"),
            ),
            (0, &["sort", "{s}bad", "alpha"], arr(&["1", "a"])),
            (0, &["set", "{s}str", "x"], ok()),
            (0, &["sort", "{s}str"], err(WRONGTYPE)),
        ]);
    }

    #[test]
    fn movable_keys() {
        let a = args(&["sort", "l", "by", "store", "limit", "0", "1", "store", "d", "get", "x"]);
        assert_eq!(super::sort_keys(&a), vec![1, 8]);
        assert_eq!(super::sort_ro_keys(&args(&["sort_ro", "l", "get", "x"])), vec![1]);
        assert_eq!(super::pattern_slot(b"{s}w_*"), Some(crate::slots::key_slot(b"s")));
        assert_eq!(super::pattern_slot(b"w_*{s}"), None);
        assert_eq!(super::pattern_slot(b"{}x{s}"), Some(crate::slots::key_slot(b"{}x{s}")));
    }

    #[test]
    fn wire_bytes_in_both_protocols() {
        crate::cmd::testing::run_wire(&[
            (&["rpush", "{w}l", "1", "2"], ":2\r\n", ":2\r\n"),
            (
                &["sort", "{w}l", "get", "{w}nokey_*"],
                "*2\r\n$-1\r\n$-1\r\n",
                "*2\r\n_\r\n_\r\n",
            ),
            (&["object", "encoding", "{w}missing"], "$-1\r\n", "_\r\n"),
            (&["ttl", "{w}missing"], ":-2\r\n", ":-2\r\n"),
            (&["type", "{w}l"], "+list\r\n", "+list\r\n"),
        ]);
    }
}
