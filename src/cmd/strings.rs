//! String commands: SET, GET, MSET, MGET, INCR, DECR, INCRBY, DECRBY, APPEND, STRLEN,
//! GETSET, GETDEL, GETEX, SETNX, SETEX, PSETEX, MSETNX, INCRBYFLOAT, GETRANGE, SUBSTR,
//! SETRANGE, LCS, and the bitmap commands SETBIT, GETBIT, BITCOUNT, BITPOS.

use bytes::Bytes;

use super::float;
use super::ms_i64;
use super::parse::{Cursor, NOT_AN_INTEGER, Reply, SYNTAX_ERROR, WRONGTYPE, parse_i64};
use crate::errors::NOT_A_FLOAT;
use crate::resp::frame::Frame;
use crate::store::{Entry, Store, Str, Value};

/// Redis's default proto-max-bulk-len: APPEND may not grow a string past it.
const MAX_STRING: usize = 512 * 1024 * 1024;

/// The string held by `entry`: None when missing, WRONGTYPE for another type.
fn string_of(entry: Option<&Entry>) -> Reply<Option<&Str>> {
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
pub(super) struct Set<'a> {
    key: &'a Bytes,
    value: &'a Bytes,
    nx: bool,
    xx: bool,
    get: bool,
    ttl: Ttl,
}

/// A parsed string write, borrowing its arguments from the request: the store copies what it
/// keeps, so owning them would only add a locked reference count per argument.
#[derive(Debug)]
pub(super) enum Write<'a> {
    Set(Set<'a>),
    Mset(Vec<(&'a Bytes, &'a Bytes)>),
    IncrBy {
        key: &'a Bytes,
        delta: i64,
    },
    Append {
        key: &'a Bytes,
        value: &'a Bytes,
    },
    GetSet {
        key: &'a Bytes,
        value: &'a Bytes,
    },
    GetDel(&'a Bytes),
    GetEx {
        key: &'a Bytes,
        ttl: GetExTtl,
    },
    SetNx {
        key: &'a Bytes,
        value: &'a Bytes,
    },
    /// SETEX / PSETEX: `ms` is already validated as positive.
    SetEx {
        name: &'static str,
        key: &'a Bytes,
        ms: i64,
        value: &'a Bytes,
    },
    MsetNx(Vec<(&'a Bytes, &'a Bytes)>),
    IncrByFloat {
        key: &'a Bytes,
        by: float::Parsed,
    },
    SetRange {
        key: &'a Bytes,
        offset: usize,
        value: &'a Bytes,
    },
    SetBit {
        key: &'a Bytes,
        offset: usize,
        on: bool,
    },
}

/// What GETEX does with the deadline.
#[derive(Debug, PartialEq)]
pub(super) enum GetExTtl {
    Unchanged,
    Persist,
    Relative(i64),
    Absolute(i64),
}

const NAN_OR_INF: &str = "ERR increment would produce NaN or Infinity";
const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
const BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BIT_VALUE: &str = "ERR bit is not an integer or out of range";

/// SETBIT/GETBIT's offset: a non-negative integer addressing a byte below 512 MB.
fn bit_offset(raw: &[u8]) -> Reply<usize> {
    parse_i64(raw)
        .and_then(|v| usize::try_from(v).ok())
        .filter(|v| v >> 3 < MAX_STRING)
        .ok_or_else(|| Frame::error(BIT_OFFSET))
}

/// GETEX's options, with SET's conflict rules plus PERSIST, which excludes any expire.
fn parse_getex(c: &mut Cursor<'_>) -> Reply<GetExTtl> {
    let mut persist = false;
    let mut expire: Option<(bool, bool, &Bytes)> = None;
    while let Some(opt) = c.peek_lower() {
        c.next_bytes()?;
        let has_next = !c.is_done();
        match opt.as_str() {
            "persist" if expire.is_none() => persist = true,
            "ex" | "px" | "exat" | "pxat" if !persist && has_next => {
                let this = (opt.starts_with('e'), opt.ends_with("at"));
                if expire.is_some_and(|(s, a, _)| (s, a) != this) {
                    return Err(Frame::error(SYNTAX_ERROR));
                }
                expire = Some((this.0, this.1, c.next_bytes()?));
            }
            _ => return Err(Frame::error(SYNTAX_ERROR)),
        }
    }
    Ok(match expire {
        None if persist => GetExTtl::Persist,
        None => GetExTtl::Unchanged,
        Some((secs, abs, raw)) => {
            let v = parse_i64(raw).ok_or_else(|| Frame::error(NOT_AN_INTEGER))?;
            if v <= 0 || (secs && v > i64::MAX / 1000) {
                return Err(invalid_expire("getex"));
            }
            let ms = if secs { v * 1000 } else { v };
            if abs {
                GetExTtl::Absolute(ms)
            } else {
                GetExTtl::Relative(ms)
            }
        }
    })
}

fn pairs<'a>(name: &str, args: &[Bytes], c: &mut Cursor<'a>) -> Reply<Vec<(&'a Bytes, &'a Bytes)>> {
    if args.len().is_multiple_of(2) {
        return Err(Frame::Error(format!(
            "ERR wrong number of arguments for '{name}' command"
        )));
    }
    let mut pairs = Vec::with_capacity(c.remaining() / 2);
    while !c.is_done() {
        pairs.push((c.next_bytes()?, c.next_bytes()?));
    }
    Ok(pairs)
}

pub(super) fn parse_write<'a>(name: &'static str, args: &'a [Bytes]) -> Reply<Write<'a>> {
    let mut c = Cursor::new(args);
    let cmd = match name {
        "set" => Write::Set(parse_set(&mut c)?),
        "mset" => Write::Mset(pairs(name, args, &mut c)?),
        "msetnx" => Write::MsetNx(pairs(name, args, &mut c)?),
        "getset" => Write::GetSet {
            key: c.next_bytes()?,
            value: c.next_bytes()?,
        },
        "getdel" => Write::GetDel(c.next_bytes()?),
        "getex" => {
            let key = c.next_bytes()?;
            Write::GetEx {
                key,
                ttl: parse_getex(&mut c)?,
            }
        }
        "setnx" => Write::SetNx {
            key: c.next_bytes()?,
            value: c.next_bytes()?,
        },
        "setex" | "psetex" => {
            let key = c.next_bytes()?;
            let v = c.next_int()?;
            let secs = name == "setex";
            if v <= 0 || (secs && v > i64::MAX / 1000) {
                return Err(invalid_expire(name));
            }
            Write::SetEx {
                name,
                key,
                ms: if secs { v * 1000 } else { v },
                value: c.next_bytes()?,
            }
        }
        "incrbyfloat" => {
            let key = c.next_bytes()?;
            let by = float::parse(c.next_bytes()?).ok_or_else(|| Frame::error(NOT_A_FLOAT))?;
            Write::IncrByFloat { key, by }
        }
        "setrange" => {
            let key = c.next_bytes()?;
            let offset = c.next_int()?;
            let offset = usize::try_from(offset).map_err(|_| Frame::error("ERR offset is out of range"))?;
            Write::SetRange {
                key,
                offset,
                value: c.next_bytes()?,
            }
        }
        "setbit" => {
            let key = c.next_bytes()?;
            let offset = bit_offset(c.next_bytes()?)?;
            let on = match parse_i64(c.next_bytes()?) {
                Some(0) => false,
                Some(1) => true,
                _ => return Err(Frame::error(BIT_VALUE)),
            };
            Write::SetBit { key, offset, on }
        }
        "incr" | "decr" => Write::IncrBy {
            key: c.next_bytes()?,
            delta: if name == "incr" { 1 } else { -1 },
        },
        "incrby" => Write::IncrBy {
            key: c.next_bytes()?,
            delta: c.next_int()?,
        },
        "decrby" => {
            let key = c.next_bytes()?;
            let d = c.next_int()?;
            if d == i64::MIN {
                return Err(Frame::error("ERR decrement would overflow"));
            }
            Write::IncrBy { key, delta: -d }
        }
        "append" => Write::Append {
            key: c.next_bytes()?,
            value: c.next_bytes()?,
        },
        _ => return Err(super::not_served(name)),
    };
    c.finish()?;
    Ok(cmd)
}

/// SET's options, checked in the same order and with the same conflicts as Redis's
/// `parseExtendedStringArgumentsOrReply`; the expire value is parsed after all options,
/// so a conflicting option is a syntax error even when the number is bad too.
fn parse_set<'a>(c: &mut Cursor<'a>) -> Reply<Set<'a>> {
    let key = c.next_bytes()?;
    let value = c.next_bytes()?;
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

impl Write<'_> {
    /// Whether the write replaces its keys whatever they held, reading none of them (a SET
    /// without NX, XX, GET or KEEPTTL; MSET): an expired key needs no deleting first, as the
    /// write replaces it and its deadline alike. WATCH still sees the change, as a newer
    /// version of the key.
    pub(super) fn overwrites_blindly(&self) -> bool {
        match self {
            Write::Set(s) => !(s.nx || s.xx || s.get || matches!(s.ttl, Ttl::Keep)),
            Write::Mset(_) => true,
            _ => false,
        }
    }

    pub(super) fn apply(self, store: &mut Store, time_ms: u64) -> Reply<Frame> {
        match self {
            Write::Set(s) => apply_set(store, s, time_ms),
            Write::Mset(pairs) => {
                for (k, v) in pairs {
                    store.set_string(k, v, None);
                }
                Ok(Frame::ok())
            }
            Write::IncrBy { key, delta } => incr_by(store, key, delta),
            Write::Append { key, value } => append(store, key, value),
            Write::GetSet { key, value } => {
                let old = string_of(store.get(key))?.map_or(Frame::Null, |v| Frame::Bulk(v.to_bytes()));
                store.insert(key, Value::String(Str::copy_from(value)), None);
                Ok(old)
            }
            Write::GetDel(key) => {
                let old = string_of(store.get(key))?.map_or(Frame::Null, |v| Frame::Bulk(v.to_bytes()));
                store.remove(key);
                Ok(old)
            }
            Write::GetEx { key, ttl } => getex(store, key, ttl, time_ms),
            Write::SetNx { key, value } => {
                if store.get(key).is_some() {
                    return Ok(Frame::Integer(0));
                }
                store.insert(key, Value::String(Str::copy_from(value)), None);
                Ok(Frame::Integer(1))
            }
            Write::SetEx { name, key, ms, value } => {
                let d = ms.checked_add(ms_i64(time_ms)).ok_or_else(|| invalid_expire(name))?;
                store.insert(key, Value::String(Str::copy_from(value)), u64::try_from(d).ok());
                Ok(Frame::ok())
            }
            Write::MsetNx(pairs) => {
                if pairs.iter().any(|(k, _)| store.get(k).is_some()) {
                    return Ok(Frame::Integer(0));
                }
                for (k, v) in pairs {
                    store.insert(k, Value::String(Str::copy_from(v)), None);
                }
                Ok(Frame::Integer(1))
            }
            Write::IncrByFloat { key, by } => incr_by_float(store, key, by),
            Write::SetRange { key, offset, value } => setrange(store, key, offset, value),
            Write::SetBit { key, offset, on } => setbit(store, key, offset, on),
        }
    }
}

/// INCR, DECR, INCRBY, DECRBY: the new value, the key's deadline kept.
fn incr_by(store: &mut Store, key: &Bytes, delta: i64) -> Reply<Frame> {
    let cur = match string_of(store.get(key))? {
        None => 0,
        Some(s) => parse_i64(s).ok_or_else(|| Frame::error(NOT_AN_INTEGER))?,
    };
    let new = cur
        .checked_add(delta)
        .ok_or_else(|| Frame::error("ERR increment or decrement would overflow"))?;
    let text = new.to_string().into_bytes();
    match store.value_mut(key) {
        // Keeps the deadline, as Redis does.
        Some(v) => *v = Value::String(text.into()),
        None => store.insert(key, Value::String(text.into()), None),
    }
    Ok(Frame::Integer(new))
}

/// APPEND: the new length.
fn append(store: &mut Store, key: &Bytes, value: &Bytes) -> Reply<Frame> {
    let cur_len = string_of(store.get(key))?.map(|s| s.len());
    let total = cur_len.unwrap_or(0).saturating_add(value.len());
    if total > MAX_STRING {
        return Err(Frame::error(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        ));
    }
    match store.value_mut(key) {
        // Grows in place, so repeated APPENDs are amortized rather than quadratic.
        Some(Value::String(s)) => s.append(value),
        _ => store.insert(key, Value::String(Str::copy_from(value)), None),
    }
    Ok(Frame::Integer(total as i64))
}

/// GETEX: the value, its deadline changed as the options say (at the entry's time).
fn getex(store: &mut Store, key: &Bytes, ttl: GetExTtl, time_ms: u64) -> Reply<Frame> {
    let now = ms_i64(time_ms);
    let deadline = match ttl {
        GetExTtl::Relative(ms) => Some(ms.checked_add(now).ok_or_else(|| invalid_expire("getex"))?),
        GetExTtl::Absolute(ms) => Some(ms),
        GetExTtl::Unchanged | GetExTtl::Persist => None,
    };
    let Some(v) = string_of(store.get(key))?.map(Str::to_bytes) else {
        return Ok(Frame::Null);
    };
    match (ttl, deadline) {
        (_, Some(d)) if d <= now => {
            store.remove(key);
        }
        (_, Some(d)) => {
            store.set_deadline(key, u64::try_from(d).ok());
        }
        (GetExTtl::Persist, _) => {
            store.set_deadline(key, None);
        }
        _ => {}
    }
    Ok(Frame::Bulk(v))
}

/// INCRBYFLOAT: the new value as Redis prints it.
fn incr_by_float(store: &mut Store, key: &Bytes, by: float::Parsed) -> Reply<Frame> {
    let cur = match string_of(store.get(key))? {
        None => float::Parsed::zero(),
        Some(s) => float::parse(s).ok_or_else(|| Frame::error(NOT_A_FLOAT))?,
    };
    let text = float::incr(cur, by).ok_or_else(|| Frame::error(NAN_OR_INF))?;
    let text = Bytes::from(text);
    match store.value_mut(key) {
        Some(v) => *v = Value::String(Str::copy_from(&text)),
        None => store.insert(key, Value::String(Str::copy_from(&text)), None),
    }
    Ok(Frame::Bulk(text))
}

/// SETRANGE: the new length.
fn setrange(store: &mut Store, key: &Bytes, offset: usize, value: &Bytes) -> Reply<Frame> {
    let cur_len = string_of(store.get(key))?.map_or(0, |s| s.len());
    if value.is_empty() {
        return Ok(Frame::Integer(cur_len as i64));
    }
    if offset.saturating_add(value.len()) > MAX_STRING {
        return Err(Frame::error(TOO_BIG));
    }
    let end = offset + value.len();
    let buf = edit_string(store, key, end)?;
    buf[offset..end].copy_from_slice(value);
    Ok(Frame::Integer(buf.len() as i64))
}

/// SETBIT: the bit's old value.
fn setbit(store: &mut Store, key: &Bytes, offset: usize, on: bool) -> Reply<Frame> {
    string_of(store.get(key))?;
    let byte = offset >> 3;
    let mask = 1u8 << (7 - (offset & 7));
    let buf = edit_string(store, key, byte + 1)?;
    let old = buf[byte] & mask != 0;
    if on {
        buf[byte] |= mask;
    } else {
        buf[byte] &= !mask;
    }
    Ok(Frame::Integer(old.into()))
}

/// The bytes of the string at `key` (which is a string or absent), at least `len` long, to
/// change in place; the key is created without a deadline if absent, keeps its own otherwise.
fn edit_string<'a>(store: &'a mut Store, key: &[u8], len: usize) -> Reply<&'a mut [u8]> {
    if store.get(key).is_none() {
        store.insert(key, Value::String(Str::copy_from(b"")), None);
    }
    match store.value_mut(key) {
        Some(Value::String(s)) => Ok(s.edit(len)),
        _ => Err(Frame::error(WRONGTYPE)),
    }
}

fn apply_set(store: &mut Store, s: Set<'_>, time_ms: u64) -> Reply<Frame> {
    let now = ms_i64(time_ms);
    let deadline = match s.ttl {
        Ttl::Clear => None,
        Ttl::Keep => store.get(s.key).and_then(Entry::deadline).map(ms_i64),
        Ttl::Absolute(ms) => Some(ms),
        Ttl::Relative(ms) => Some(ms.checked_add(now).ok_or_else(|| invalid_expire("set"))?),
    };
    let old = if s.get {
        Some(string_of(store.get(s.key))?.map_or(Frame::Null, |v| Frame::Bulk(v.to_bytes())))
    } else {
        None
    };
    // Only NX and XX need to know: a plain SET looks its key up once, in `insert`.
    let found = (s.nx || s.xx) && store.get(s.key).is_some();
    if (s.nx && found) || (s.xx && !found) {
        return Ok(old.unwrap_or(Frame::Null));
    }
    match deadline {
        // A deadline already passed: the key is set and gone at once (Redis 7.x deletes it).
        Some(d) if d <= now => {
            store.remove(s.key);
        }
        _ => {
            let deadline = deadline.and_then(|d| u64::try_from(d).ok());
            store.set_string(s.key, s.value, deadline);
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
            Ok(string_of(store.get_live(key, now_ms))?.map_or(Frame::Null, |v| Frame::Bulk(v.to_bytes())))
        }
        "mget" => Ok(Frame::Array(
            c.rest()
                .iter()
                .map(|k| match store.get_live(k, now_ms).map(|e| &e.value) {
                    Some(Value::String(v)) => Frame::Bulk(v.to_bytes()),
                    _ => Frame::Null,
                })
                .collect(),
        )),
        "strlen" => {
            let key = c.next_bytes()?;
            c.finish()?;
            let len = string_of(store.get_live(key, now_ms))?.map_or(0, |s| s.len());
            Ok(Frame::Integer(len as i64))
        }
        "getrange" | "substr" => {
            let key = c.next_bytes()?;
            let start = c.next_int()?;
            let end = c.next_int()?;
            c.finish()?;
            let Some(s) = string_of(store.get_live(key, now_ms))? else {
                return Ok(Frame::Bulk(Bytes::new()));
            };
            Ok(Frame::Bulk(match clamp_range(s.len() as i64, start, end) {
                Some((a, b)) => s.to_bytes().slice(a as usize..=b as usize),
                None => Bytes::new(),
            }))
        }
        "getbit" => {
            let key = c.next_bytes()?;
            let offset = bit_offset(c.next_bytes()?)?;
            c.finish()?;
            let s = string_of(store.get_live(key, now_ms))?;
            let bit = s
                .and_then(|s| s.get(offset >> 3))
                .is_some_and(|b| b & (0x80 >> (offset & 7)) != 0);
            Ok(Frame::Integer(bit.into()))
        }
        "bitcount" => bitcount(store, args, now_ms),
        "bitpos" => bitpos(store, args, now_ms),
        "lcs" => lcs(store, args, now_ms),
        _ => Err(super::not_served(name)),
    }
}

/// GETRANGE / BITCOUNT's index rules on a length: negatives count from the end, both
/// ends clamped; None for an empty range.
fn clamp_range(len: i64, start: i64, end: i64) -> Option<(i64, i64)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let start = if start < 0 { len.saturating_add(start) } else { start }.max(0);
    let end = if end < 0 { len.saturating_add(end) } else { end }.max(0).min(len - 1);
    (start <= end && len > 0).then_some((start, end))
}

/// The optional BYTE | BIT unit argument; true for BIT.
fn bit_unit(arg: Option<&Bytes>) -> Reply<bool> {
    match arg {
        None => Ok(false),
        Some(a) if a.eq_ignore_ascii_case(b"bit") => Ok(true),
        Some(a) if a.eq_ignore_ascii_case(b"byte") => Ok(false),
        Some(_) => Err(Frame::error(SYNTAX_ERROR)),
    }
}

/// A byte range converted to an inclusive bit range.
fn bit_range(len: usize, start: i64, end: i64, is_bit: bool) -> Option<(usize, usize)> {
    let total = if is_bit { len as i64 * 8 } else { len as i64 };
    let (a, b) = clamp_range(total, start, end)?;
    let (a, b) = (a as usize, b as usize);
    Some(if is_bit { (a, b) } else { (a * 8, b * 8 + 7) })
}

fn bit_at(s: &[u8], i: usize) -> bool {
    s[i >> 3] & (0x80 >> (i & 7)) != 0
}

/// BITCOUNT key [start end [BYTE | BIT]]
fn bitcount(store: &Store, args: &[Bytes], now_ms: u64) -> Reply<Frame> {
    let key = &args[1];
    let range = match args.len() {
        2 => None,
        4 | 5 => {
            let start = parse_i64(&args[2]).ok_or_else(|| Frame::error(NOT_AN_INTEGER))?;
            let end = parse_i64(&args[3]).ok_or_else(|| Frame::error(NOT_AN_INTEGER))?;
            Some((start, end, bit_unit(args.get(4))?))
        }
        _ => return Err(Frame::error(SYNTAX_ERROR)),
    };
    let Some(s) = string_of(store.get_live(key, now_ms))? else {
        return Ok(Frame::Integer(0));
    };
    let (a, b) = match range {
        None if s.is_empty() => return Ok(Frame::Integer(0)),
        None => (0, s.len() * 8 - 1),
        Some((start, end, is_bit)) => match bit_range(s.len(), start, end, is_bit) {
            Some(r) => r,
            None => return Ok(Frame::Integer(0)),
        },
    };
    // Whole bytes by popcount, the partial edges bit by bit.
    let mut n: u64 = 0;
    let mut i = a;
    while i <= b {
        if i & 7 == 0 && i + 7 <= b {
            n += u64::from(s[i >> 3].count_ones());
            i += 8;
        } else {
            n += u64::from(bit_at(s, i));
            i += 1;
        }
    }
    Ok(Frame::Integer(n as i64))
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
fn bitpos(store: &Store, args: &[Bytes], now_ms: u64) -> Reply<Frame> {
    let key = &args[1];
    let bit = match parse_i64(&args[2]) {
        None => return Err(Frame::error(NOT_AN_INTEGER)),
        Some(b @ (0 | 1)) => b == 1,
        Some(_) => return Err(Frame::error("ERR The bit argument must be 1 or 0.")),
    };
    let Some(s) = string_of(store.get_live(key, now_ms))? else {
        return Ok(Frame::Integer(if bit { -1 } else { 0 }));
    };
    if args.len() > 6 {
        return Err(Frame::error(SYNTAX_ERROR));
    }
    let mut end_given = false;
    let range = if args.len() >= 4 {
        let start = parse_i64(&args[3]).ok_or_else(|| Frame::error(NOT_AN_INTEGER))?;
        let is_bit = bit_unit(args.get(5))?;
        let end = match args.get(4) {
            Some(e) => {
                end_given = true;
                parse_i64(e).ok_or_else(|| Frame::error(NOT_AN_INTEGER))?
            }
            None => -1,
        };
        // Without an end, a negative start is not "start > end" of two negatives.
        let end = if end_given { end } else { i64::MAX };
        bit_range(s.len(), start, end, is_bit)
    } else {
        bit_range(s.len(), 0, -1, false)
    };
    let Some((a, b)) = range else {
        return Ok(Frame::Integer(-1));
    };
    let skip = if bit { 0x00 } else { 0xff };
    let mut i = a;
    while i <= b {
        if i & 7 == 0 && i + 7 <= b && s[i >> 3] == skip {
            i += 8;
            continue;
        }
        if bit_at(s, i) == bit {
            return Ok(Frame::Integer(i as i64));
        }
        i += 1;
    }
    // No clear bit: past the end of the string counts as zeros unless an end was given.
    Ok(Frame::Integer(if bit || end_given { -1 } else { (b + 1) as i64 }))
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN], transcribing Redis 7's
/// `lcsCommand` (same table, same backtracking, so IDX ranges come out identical).
fn lcs(store: &Store, args: &[Bytes], now_ms: u64) -> Reply<Frame> {
    let mut strs = [Bytes::new(), Bytes::new()];
    for (i, key) in args[1..3].iter().enumerate() {
        match store.get_live(key, now_ms).map(|e| &e.value) {
            None => {}
            Some(Value::String(s)) => strs[i] = s.to_bytes(),
            Some(_) => return Err(Frame::error("ERR The specified keys must contain string values")),
        }
    }
    let (mut get_len, mut get_idx, mut with_len, mut min_len) = (false, false, false, 0i64);
    let mut j = 3;
    while j < args.len() {
        let opt = &args[j];
        let more = j + 1 < args.len();
        if opt.eq_ignore_ascii_case(b"idx") {
            get_idx = true;
        } else if opt.eq_ignore_ascii_case(b"len") {
            get_len = true;
        } else if opt.eq_ignore_ascii_case(b"withmatchlen") {
            with_len = true;
        } else if opt.eq_ignore_ascii_case(b"minmatchlen") && more {
            min_len = parse_i64(&args[j + 1])
                .ok_or_else(|| Frame::error(NOT_AN_INTEGER))?
                .max(0);
            j += 1;
        } else {
            return Err(Frame::error(SYNTAX_ERROR));
        }
        j += 1;
    }
    if get_idx && get_len {
        return Err(Frame::error(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let [a, b] = strs;
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen + 1).saturating_mul(blen + 1);
    if cells.saturating_mul(4) > MAX_STRING {
        return Err(Frame::error(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let w = blen + 1;
    let mut t = vec![0u32; cells];
    for i in 1..=alen {
        for j in 1..=blen {
            t[i * w + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let total = t[alen * w + blen] as usize;
    let compute = get_idx || !get_len;
    let mut result = vec![0u8; total];
    let mut matches = Vec::new();
    let (mut i, mut j, mut idx) = (alen, blen, total);
    // Ranges are inclusive; `a_start == alen` means no open range.
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (alen, alen, 0usize, 0usize);
    while compute && i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if a_start == alen {
                (a_start, a_end, b_start, b_end) = (i - 1, i - 1, j - 1, j - 1);
            } else if a_start == i && b_start == j {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t[(i - 1) * w + j] > t[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != alen {
                emit = true;
            }
        }
        if emit {
            let match_len = a_end - a_start + 1;
            if min_len == 0 || match_len as i64 >= min_len {
                let pair = |x: usize, y: usize| Frame::Array(vec![Frame::Integer(x as i64), Frame::Integer(y as i64)]);
                let mut m = vec![pair(a_start, a_end), pair(b_start, b_end)];
                if with_len {
                    m.push(Frame::Integer(match_len as i64));
                }
                matches.push(Frame::Array(m));
            }
            a_start = alen;
        }
    }
    let bulk = |s: &'static str| Frame::Bulk(Bytes::from_static(s.as_bytes()));
    Ok(if get_idx {
        Frame::Map(vec![
            (bulk("matches"), Frame::Array(matches)),
            (bulk("len"), Frame::Integer(total as i64)),
        ])
    } else if get_len {
        Frame::Integer(total as i64)
    } else {
        Frame::Bulk(Bytes::from(result))
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::resp::frame::Frame;

    const INVALID_SET: &str = "ERR invalid expire time in 'set' command";
    const NOT_INT: &str = "ERR value is not an integer or out of range";
    const SYNTAX: &str = "ERR syntax error";

    /// A plain SET or MSET skips the expiry pass over its keys: replacing a key past its
    /// deadline must still leave the key count, the deadline index and the reads right.
    #[test]
    fn blind_overwrites_of_expired_keys_keep_the_store_consistent() {
        let cases: &[(u64, &[&str], Frame)] = &[
            (1000, &["SET", "k", "v", "PX", "10"], ok()),
            (1000, &["SET", "m", "v", "PX", "10"], ok()),
            // Both past their deadlines at 2000, replaced there without one.
            (2000, &["SET", "k", "w"], ok()),
            (2000, &["MSET", "m", "x", "n", "y"], ok()),
            (3000, &["GET", "k"], bulk("w")),
            (3000, &["GET", "m"], bulk("x")),
            // An expired key replaced with a new deadline: counted once, indexed once.
            (3000, &["SET", "k", "v", "PX", "10"], ok()),
            (4000, &["SET", "k", "z", "PX", "100"], ok()),
            (4050, &["PTTL", "k"], int(50)),
            // A deadline already past deletes the key, expired or not.
            (5000, &["SET", "k", "v", "PXAT", "4999"], ok()),
        ];
        let store = run(&cases[..6]);
        assert_eq!(store.len(), 3);
        assert_eq!(store.keys_with_deadline(), 0);
        assert!(store.expired_sample(u64::MAX, 10).is_empty());
        let store = run(&cases[..9]);
        assert_eq!(store.len(), 3);
        assert_eq!(store.keys_with_deadline(), 1);
        let store = run(cases);
        assert_eq!(store.len(), 2);
        assert_eq!(store.keys_with_deadline(), 0);
    }

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

    #[test]
    fn getset_getdel_getex() {
        run(&[
            (0, &["getset", "k", "a"], Frame::Null),
            (0, &["set", "k", "v", "px", "100"], ok()),
            (0, &["getset", "k", "w"], bulk("v")),
            (0, &["pttl", "k"], int(-1)),
            (0, &["getdel", "k"], bulk("w")),
            (0, &["exists", "k"], int(0)),
            (0, &["getdel", "k"], Frame::Null),
            (0, &["rpush", "l", "x"], int(1)),
            (0, &["getset", "l", "x"], err(WRONGTYPE)),
            (0, &["getdel", "l"], err(WRONGTYPE)),
            (0, &["getex", "l"], err(WRONGTYPE)),
            (1000, &["set", "k", "v"], ok()),
            (1000, &["getex", "k"], bulk("v")),
            (1000, &["getex", "k", "EX", "10"], bulk("v")),
            (1000, &["pttl", "k"], int(10_000)),
            (1000, &["getex", "k", "px", "500"], bulk("v")),
            (1000, &["pttl", "k"], int(500)),
            (1000, &["getex", "k", "pxat", "3000"], bulk("v")),
            (1000, &["pttl", "k"], int(2000)),
            (1000, &["getex", "k", "exat", "4"], bulk("v")),
            (1000, &["pttl", "k"], int(3000)),
            (1000, &["getex", "k", "persist"], bulk("v")),
            (1000, &["pttl", "k"], int(-1)),
            // A deadline already passed deletes the key, and still replies the value.
            (1000, &["getex", "k", "pxat", "999"], bulk("v")),
            (1000, &["exists", "k"], int(0)),
            (1000, &["getex", "k", "ex", "10"], Frame::Null),
            (
                1000,
                &["getex", "k", "ex", "0"],
                err("ERR invalid expire time in 'getex' command"),
            ),
            (
                1000,
                &["getex", "k", "px", "-5"],
                err("ERR invalid expire time in 'getex' command"),
            ),
            (1000, &["getex", "k", "ex", "x"], err(NOT_INT)),
            (1000, &["getex", "k", "ex", "1", "px", "1"], err(SYNTAX)),
            (1000, &["getex", "k", "persist", "ex", "1"], err(SYNTAX)),
            (1000, &["getex", "k", "ex", "1", "persist"], err(SYNTAX)),
            (1000, &["getex", "k", "nx"], err(SYNTAX)),
            (1000, &["getex", "k", "ex"], err(SYNTAX)),
        ]);
    }

    #[test]
    fn setnx_setex_msetnx() {
        run(&[
            (0, &["setnx", "k", "a"], int(1)),
            (0, &["setnx", "k", "b"], int(0)),
            (0, &["get", "k"], bulk("a")),
            (1000, &["setex", "k", "10", "v"], ok()),
            (1000, &["pttl", "k"], int(10_000)),
            (1000, &["psetex", "k", "1500", "w"], ok()),
            (1000, &["pttl", "k"], int(1500)),
            (1000, &["get", "k"], bulk("w")),
            (
                1000,
                &["setex", "k", "0", "v"],
                err("ERR invalid expire time in 'setex' command"),
            ),
            (
                1000,
                &["psetex", "k", "-1", "v"],
                err("ERR invalid expire time in 'psetex' command"),
            ),
            (
                1000,
                &["setex", "k", "9223372036854776", "v"],
                err("ERR invalid expire time in 'setex' command"),
            ),
            (
                5,
                &["psetex", "k", "9223372036854775807", "v"],
                err("ERR invalid expire time in 'psetex' command"),
            ),
            (1000, &["setex", "k", "x", "v"], err(NOT_INT)),
            (0, &["rpush", "l", "x"], int(1)),
            (0, &["setex", "l", "10", "v"], ok()),
            (0, &["msetnx", "a", "1", "b", "2"], int(1)),
            (0, &["msetnx", "b", "3", "c", "4"], int(0)),
            (
                0,
                &["mget", "a", "b", "c"],
                Frame::Array(vec![bulk("1"), bulk("2"), Frame::Null]),
            ),
            (
                0,
                &["msetnx", "a"],
                err("ERR wrong number of arguments for 'msetnx' command"),
            ),
            (
                0,
                &["msetnx", "a", "1", "b"],
                err("ERR wrong number of arguments for 'msetnx' command"),
            ),
        ]);
    }

    #[test]
    fn incrbyfloat() {
        const FLOAT: &str = "ERR value is not a valid float";
        run(&[
            (0, &["incrbyfloat", "f", "10.5"], bulk("10.5")),
            (0, &["incrbyfloat", "f", "0.1"], bulk("10.6")),
            (0, &["incrbyfloat", "f", "-5"], bulk("5.6")),
            (0, &["set", "f", "5.0e3"], ok()),
            (0, &["incrbyfloat", "f", "3.0e3"], bulk("8000")),
            (0, &["incrbyfloat", "g", "0.1"], bulk("0.1")),
            (0, &["incrbyfloat", "g", "0.2"], bulk("0.3")),
            (0, &["set", "h", "1234"], ok()),
            (0, &["incrbyfloat", "h", "0.1"], bulk("1234.09999999999999998")),
            (0, &["incrbyfloat", "f", "abc"], err(FLOAT)),
            (0, &["incrbyfloat", "f", " 1"], err(FLOAT)),
            (0, &["incrbyfloat", "f", ""], err(FLOAT)),
            (0, &["incrbyfloat", "f", "nan"], err(FLOAT)),
            (
                0,
                &["incrbyfloat", "f", "inf"],
                err("ERR increment would produce NaN or Infinity"),
            ),
            (0, &["set", "s", "x"], ok()),
            (0, &["incrbyfloat", "s", "1"], err(FLOAT)),
            (0, &["set", "m", "1e4932"], ok()),
            (
                0,
                &["incrbyfloat", "m", "1e4932"],
                err("ERR increment would produce NaN or Infinity"),
            ),
            (0, &["rpush", "l", "1"], int(1)),
            (0, &["incrbyfloat", "l", "1"], err(WRONGTYPE)),
            // Keeps the deadline, like INCR.
            (0, &["set", "t", "1", "px", "100"], ok()),
            (0, &["incrbyfloat", "t", "1.5"], bulk("2.5")),
            (0, &["pttl", "t"], int(100)),
        ]);
    }

    #[test]
    fn getrange_setrange() {
        run(&[
            (0, &["set", "s", "foobar"], ok()),
            (0, &["getrange", "s", "0", "2"], bulk("foo")),
            (0, &["getrange", "s", "-3", "-1"], bulk("bar")),
            (0, &["getrange", "s", "-1", "-5"], bulk("")),
            (0, &["getrange", "s", "10", "20"], bulk("")),
            (0, &["getrange", "s", "-100", "100"], bulk("foobar")),
            (0, &["substr", "s", "1", "1"], bulk("o")),
            (0, &["getrange", "none", "0", "-1"], bulk("")),
            (0, &["getrange", "s", "a", "1"], err(NOT_INT)),
            (0, &["setrange", "s", "3", "BAZ"], int(6)),
            (0, &["get", "s"], bulk("fooBAZ")),
            (0, &["setrange", "n", "3", "x"], int(4)),
            (0, &["get", "n"], bulk("\0\0\0x")),
            (0, &["setrange", "e", "5", ""], int(0)),
            (0, &["exists", "e"], int(0)),
            (0, &["setrange", "s", "100", ""], int(6)),
            (0, &["setrange", "s", "-1", "x"], err("ERR offset is out of range")),
            (
                0,
                &["setrange", "s", "536870911", "xy"],
                err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"),
            ),
            (0, &["rpush", "l", "x"], int(1)),
            (0, &["setrange", "l", "0", "x"], err(WRONGTYPE)),
            (0, &["getrange", "l", "0", "1"], err(WRONGTYPE)),
        ]);
    }

    #[test]
    fn bits() {
        const OFFSET: &str = "ERR bit offset is not an integer or out of range";
        const BIT: &str = "ERR bit is not an integer or out of range";
        run(&[
            (0, &["setbit", "b", "7", "1"], int(0)),
            (0, &["setbit", "b", "7", "1"], int(1)),
            (0, &["get", "b"], bulk("\u{1}")),
            (0, &["setbit", "b", "7", "0"], int(1)),
            (0, &["getbit", "b", "7"], int(0)),
            (0, &["getbit", "b", "100"], int(0)),
            (0, &["getbit", "none", "0"], int(0)),
            (0, &["setbit", "b", "7", "2"], err(BIT)),
            (0, &["setbit", "b", "-1", "1"], err(OFFSET)),
            (0, &["setbit", "b", "4294967296", "1"], err(OFFSET)),
            (0, &["getbit", "b", "x"], err(OFFSET)),
            (0, &["set", "s", "foobar"], ok()),
            (0, &["bitcount", "s"], int(26)),
            (0, &["bitcount", "s", "1", "1"], int(6)),
            (0, &["bitcount", "s", "5", "30", "BIT"], int(17)),
            (0, &["bitcount", "s", "-1", "-2"], int(0)),
            (0, &["bitcount", "s", "0", "-1", "byte"], int(26)),
            (0, &["bitcount", "s", "1"], err(SYNTAX)),
            (0, &["bitcount", "s", "0", "1", "bits"], err(SYNTAX)),
            (0, &["bitcount", "none"], int(0)),
            (0, &["bitpos", "s", "1", "2"], int(17)),
            (0, &["bitpos", "s", "0", "-1", "-1"], int(40)),
            (0, &["bitpos", "s", "0", "0", "-1", "bit"], int(0)),
            (0, &["bitpos", "none", "1"], int(-1)),
            (0, &["bitpos", "none", "0"], int(0)),
            (0, &["bitpos", "s", "2"], err("ERR The bit argument must be 1 or 0.")),
            (0, &["setbit", "f", "15", "1"], int(0)),
            (0, &["bitpos", "f", "1"], int(15)),
            (0, &["bitpos", "f", "1", "0", "14", "bit"], int(-1)),
            (0, &["set", "ff", "\u{7f}"], ok()),
            (0, &["bitpos", "ff", "0"], int(0)),
            (0, &["bitpos", "ff", "0", "1", "-1", "bit"], int(-1)),
            (0, &["bitpos", "ff", "0", "1"], int(-1)),
            (0, &["bitpos", "ff", "0", "-1"], int(0)),
            (0, &["bitpos", "ff", "1", "-100"], int(1)),
            (0, &["bitpos", "ff", "1", "1", "-1", "bit"], int(1)),
            (0, &["rpush", "l", "x"], int(1)),
            (0, &["setbit", "l", "0", "1"], err(WRONGTYPE)),
            (0, &["bitcount", "l"], err(WRONGTYPE)),
        ]);
    }

    #[test]
    fn lcs() {
        let pair = |a: i64, b: i64| Frame::Array(vec![int(a), int(b)]);
        run(&[
            (0, &["mset", "{k}a", "ohmytext", "{k}b", "mynewtext"], ok()),
            (0, &["lcs", "{k}a", "{k}b"], bulk("mytext")),
            (0, &["lcs", "{k}a", "{k}b", "LEN"], int(6)),
            (
                0,
                &["lcs", "{k}a", "{k}b", "IDX"],
                Frame::Map(vec![
                    (
                        bulk("matches"),
                        Frame::Array(vec![
                            Frame::Array(vec![pair(4, 7), pair(5, 8)]),
                            Frame::Array(vec![pair(2, 3), pair(0, 1)]),
                        ]),
                    ),
                    (bulk("len"), int(6)),
                ]),
            ),
            (
                0,
                &["lcs", "{k}a", "{k}b", "idx", "minmatchlen", "4", "withmatchlen"],
                Frame::Map(vec![
                    (
                        bulk("matches"),
                        Frame::Array(vec![Frame::Array(vec![pair(4, 7), pair(5, 8), int(4)])]),
                    ),
                    (bulk("len"), int(6)),
                ]),
            ),
            (
                0,
                &["lcs", "{k}a", "{k}b", "idx", "len"],
                err("ERR If you want both the length and indexes, please just use IDX."),
            ),
            (0, &["lcs", "{k}a", "{k}none"], bulk("")),
            (0, &["lcs", "{k}a", "{k}b", "minmatchlen"], err(SYNTAX)),
            (0, &["lcs", "{k}a", "{k}b", "minmatchlen", "x"], err(NOT_INT)),
            (0, &["rpush", "{k}l", "x"], int(1)),
            (
                0,
                &["lcs", "{k}a", "{k}l"],
                err("ERR The specified keys must contain string values"),
            ),
        ]);
    }

    #[test]
    fn wire_bytes_in_both_protocols() {
        crate::cmd::testing::run_wire(&[
            (&["set", "{w}k", "v"], "+OK\r\n", "+OK\r\n"),
            (&["get", "{w}missing"], "$-1\r\n", "_\r\n"),
            (
                &["mget", "{w}k", "{w}missing"],
                "*2\r\n$1\r\nv\r\n$-1\r\n",
                "*2\r\n$1\r\nv\r\n_\r\n",
            ),
            (&["incrbyfloat", "{w}f", "1.5"], "$3\r\n1.5\r\n", "$3\r\n1.5\r\n"),
            (&["set", "{w}k", "x", "get"], "$1\r\nv\r\n", "$1\r\nv\r\n"),
            (&["set", "{w}k", "x", "nx"], "$-1\r\n", "_\r\n"),
        ]);
    }
}
