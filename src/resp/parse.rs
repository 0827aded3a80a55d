//! RESP parsing: the server-side request parser (what clients send, byte-compatible with
//! Redis's `processMultibulkBuffer` / `processInlineBuffer`) and a client-side reply parser
//! for tests and tools.
//!
//! Both parsers check that a whole frame is buffered before building anything (as tokio's
//! mini-redis does): an incomplete buffer costs one scan of the headers, allocates nothing
//! and consumes nothing, and a bulk payload is checked by comparing lengths, never scanned.

use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;

use super::frame::Frame;

/// Largest capacity reserved up front from a count the peer sent; beyond it the vector
/// grows as elements actually arrive, so `*2147483647` cannot reserve gigabytes.
const MAX_PREALLOC: usize = 1024;

/// Deepest reply nesting `parse_frame` follows; deeper input is an error rather than a
/// stack overflow.
const MAX_REPLY_DEPTH: usize = 128;

/// How much clients may make a node hold: the parser's request limits, connections and
/// subscribers' queues. One type for cluster.toml's `[limits]` and the parser; the defaults are
/// Redis's (docs/architecture.md, "Limits").
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest `$N` a request may declare (Redis `proto-max-bulk-len`).
    pub proto_max_bulk_len: usize,
    /// Largest `*N` a request may declare (Redis: `INT_MAX`).
    pub max_multibulk_len: usize,
    /// Longest unterminated inline request or header line (Redis `PROTO_INLINE_MAX_SIZE`).
    pub max_inline_len: usize,
    /// Most bytes an incomplete request may occupy (Redis `client-query-buffer-limit`).
    pub client_query_buffer_limit: usize,
    /// Connections served at once (Redis `maxclients`).
    pub maxclients: usize,
    /// Bytes of undelivered messages a Pub/Sub subscriber may have queued before it is
    /// disconnected (Redis's `client-output-buffer-limit pubsub` hard limit).
    pub pubsub_output_buffer_limit: usize,
    /// Bytes of replies a normal client may have waiting to be sent before it is closed; 0 for
    /// none (Redis's `client-output-buffer-limit normal` hard limit, 0 by default there: here a
    /// client that does not read is not read from either, so its replies wait one batch at most,
    /// but one reply can be as large as what it asks for).
    pub normal_output_buffer_limit: usize,
    /// Pending reply bytes above which a normal client must read them within
    /// `normal_output_buffer_soft_seconds` or be closed; 0 for none (the soft limit).
    pub normal_output_buffer_soft_limit: usize,
    pub normal_output_buffer_soft_seconds: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            proto_max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: i32::MAX as usize,
            max_inline_len: 64 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            maxclients: 10_000,
            pubsub_output_buffer_limit: 32 * 1024 * 1024,
            normal_output_buffer_limit: 1024 * 1024 * 1024,
            normal_output_buffer_soft_limit: 0,
            normal_output_buffer_soft_seconds: 0,
        }
    }
}

/// Malformed input. The server replies `-ERR <Display>` and closes the connection, so the
/// request-side texts are exactly Redis's.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// The byte found where an argument's `$` header should start (one that is not ASCII as
    /// U+FFFD: Redis echoes the raw byte, which is not text).
    #[error("Protocol error: expected '$', got '{}'", if .0.is_ascii() { char::from(*.0) } else { '\u{FFFD}' })]
    ExpectedDollar(u8),
    #[error("Protocol error: too big inline request")]
    TooBigInlineRequest,
    #[error("Protocol error: too big mbulk count string")]
    TooBigMultibulkCount,
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// Redis closes such a client without a reply; we send this text first.
    #[error("Protocol error: query buffer limit reached")]
    QueryBufferLimit,
    /// A malformed reply seen by `parse_frame` (client side only).
    #[error("Protocol error: {0}")]
    InvalidReply(&'static str),
}

/// Takes one whole request off the front of `buf` and returns its arguments; `Ok(None)`
/// means "read more" and leaves `buf` untouched. An empty vector is a request Redis
/// ignores (`*0`, `*-1`, a blank inline line); the caller skips it. Multibulk arguments
/// are zero-copy slices of the received bytes. Call in a loop to drain pipelined requests.
/// A connection uses a `Parser` instead, which does not scan a partial request again.
pub fn parse_command(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    parse_from(buf, limits, &mut Progress::default())
}

/// `parse_command` for one connection's stream of requests, keeping its place in a request not
/// yet whole: the next call goes on from where this one stopped instead of scanning it again
/// from its start, so a request of n arguments arriving in k reads costs O(n + k), not O(n k).
/// The buffer's front must not change between calls but by what the parser takes off it.
#[derive(Debug, Default)]
pub struct Parser {
    progress: Progress,
}

impl Parser {
    pub fn parse(&mut self, buf: &mut BytesMut, limits: &Limits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let parsed = parse_from(buf, limits, &mut self.progress);
        if !matches!(parsed, Ok(None)) {
            self.progress = Progress::default();
        }
        parsed
    }
}

/// How far the scan of the request at the buffer's front got.
#[derive(Clone, Copy, Debug, Default)]
struct Progress {
    /// Bytes scanned: whole argument headers and payloads, or an inline line without its end.
    pos: usize,
    /// A multibulk request's argument count, once its header was read.
    argc: Option<usize>,
    /// Its arguments scanned whole.
    seen: usize,
}

fn parse_from(
    buf: &mut BytesMut,
    limits: &Limits,
    progress: &mut Progress,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let parsed = if first == b'*' {
        parse_multibulk(buf, limits, progress)?
    } else {
        parse_inline(buf, limits, progress)?
    };
    if parsed.is_none() && buf.len() > limits.client_query_buffer_limit {
        return Err(ProtocolError::QueryBufferLimit);
    }
    Ok(parsed)
}

fn parse_multibulk(
    buf: &mut BytesMut,
    limits: &Limits,
    progress: &mut Progress,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some((len, argc)) = scan_multibulk(buf, limits, progress, |_, _| {})? else {
        return Ok(None);
    };
    let request = buf.split_to(len).freeze();
    let mut args = Vec::with_capacity(argc.min(MAX_PREALLOC));
    // Whole now: one more pass, from its start, to slice the arguments out.
    scan_multibulk(&request, limits, &mut Progress::default(), |start, end| {
        args.push(request.slice(start..end))
    })?;
    Ok(Some(args))
}

/// Walks one `*N` request at the start of `data` from where `progress` says an earlier walk
/// stopped, calling `on_arg(start, end)` for each argument it passes. Returns the request's
/// length in bytes and its argument count, or `None` when it is not all buffered yet (and
/// `progress` then says how far it got). Like Redis, the two bytes after a line's `\r` and
/// after a payload are skipped, not checked to be `\r\n`.
fn scan_multibulk(
    data: &[u8],
    limits: &Limits,
    progress: &mut Progress,
    mut on_arg: impl FnMut(usize, usize),
) -> Result<Option<(usize, usize)>, ProtocolError> {
    let argc = match progress.argc {
        Some(argc) => argc,
        None => {
            let Some(cr) = find_cr(data, 0, limits) else {
                if data.len() > limits.max_inline_len {
                    return Err(ProtocolError::TooBigMultibulkCount);
                }
                return Ok(None);
            };
            if cr + 2 > data.len() {
                return Ok(None);
            }
            let count = parse_i64(&data[1..cr])
                .filter(|&n| n <= 0 || u64::try_from(n).is_ok_and(|n| n <= limits.max_multibulk_len as u64))
                .ok_or(ProtocolError::InvalidMultibulkLength)?;
            // `*0` and negative counts are an empty request, as in Redis.
            let argc = usize::try_from(count).unwrap_or(0);
            *progress = Progress {
                pos: cr + 2,
                argc: Some(argc),
                seen: 0,
            };
            argc
        }
    };
    while progress.seen < argc {
        let pos = progress.pos;
        let Some(cr) = find_cr(data, pos, limits) else {
            if data.len() - pos > limits.max_inline_len {
                return Err(ProtocolError::TooBigBulkCount);
            }
            return Ok(None);
        };
        if cr + 2 > data.len() {
            return Ok(None);
        }
        if data[pos] != b'$' {
            return Err(ProtocolError::ExpectedDollar(data[pos]));
        }
        let len = parse_i64(&data[pos + 1..cr])
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= limits.proto_max_bulk_len)
            .ok_or(ProtocolError::InvalidBulkLength)?;
        let start = cr + 2;
        let end = start.checked_add(len).ok_or(ProtocolError::InvalidBulkLength)?;
        let next = end.checked_add(2).ok_or(ProtocolError::InvalidBulkLength)?;
        if next > data.len() {
            return Ok(None);
        }
        on_arg(start, end);
        progress.pos = next;
        progress.seen += 1;
    }
    Ok(Some((progress.pos, argc)))
}

/// The first `\r` at or after `from`, looking no further than a header line can be long
/// (a longer line is an error either way).
fn find_cr(data: &[u8], from: usize, limits: &Limits) -> Option<usize> {
    let window_end = from
        .saturating_add(limits.max_inline_len)
        .saturating_add(2)
        .min(data.len());
    data.get(from..window_end)?
        .iter()
        .position(|&b| b == b'\r')
        .map(|i| from + i)
}

fn parse_inline(
    buf: &mut BytesMut,
    limits: &Limits,
    progress: &mut Progress,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    // The line's bytes already searched hold no newline.
    let from = progress.pos.min(buf.len());
    let Some(nl) = buf[from..].iter().position(|&b| b == b'\n').map(|i| from + i) else {
        if buf.len() > limits.max_inline_len {
            return Err(ProtocolError::TooBigInlineRequest);
        }
        progress.pos = buf.len();
        return Ok(None);
    };
    let line = match buf[..nl].split_last() {
        Some((b'\r', rest)) => rest,
        _ => &buf[..nl],
    };
    // Unlike Redis (whose verdict depends on how the line was split into reads), a line
    // over the limit is refused even when it arrived whole: the answer is the same every time.
    if line.len() > limits.max_inline_len {
        return Err(ProtocolError::TooBigInlineRequest);
    }
    let args = split_args(line)?;
    buf.advance(nl + 1);
    Ok(Some(args))
}

/// Redis's `sdssplitargs`: blanks separate arguments; `"..."` understands `\n \r \t \b \a
/// \xHH` and `\<any>`; `'...'` understands `\'`; a closing quote must be followed by a
/// blank or the end. Like the C code, a NUL byte ends the line.
fn split_args(line: &[u8]) -> Result<Vec<Bytes>, ProtocolError> {
    let line = match line.iter().position(|&b| b == 0) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while p < line.len() && is_c_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Ok(args);
        }
        let mut current = Vec::new();
        let (mut in_double, mut in_single, mut done) = (false, false, false);
        while !done {
            let c = at(p);
            if in_double {
                if c == b'\\' && at(p + 1) == b'x' && is_hex(at(p + 2)) && is_hex(at(p + 3)) {
                    current.push(hex_value(at(p + 2)) * 16 + hex_value(at(p + 3)));
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    current.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    done = true;
                } else if c == 0 {
                    return Err(ProtocolError::UnbalancedQuotes);
                } else {
                    current.push(c);
                }
            } else if in_single {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    done = true;
                } else if c == 0 {
                    return Err(ProtocolError::UnbalancedQuotes);
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    _ => current.push(c),
                }
            }
            if at(p) != 0 {
                p += 1;
            }
        }
        args.push(Bytes::from(current));
    }
}

/// C's `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

/// Redis's `string2ll`: optional `-`, no `+`, no leading zeros, no blanks, no overflow.
fn parse_i64(s: &[u8]) -> Option<i64> {
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    if !matches!(digits.first(), Some(b'1'..=b'9')) {
        return None;
    }
    let mut value: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(value)
    } else {
        i64::try_from(value).ok()
    }
}

/// Takes one whole reply off the front of `buf`, for clients, tests and tools; `Ok(None)`
/// means "read more" and leaves `buf` untouched. Accepts RESP2 and RESP3. A big number
/// (`(`) becomes `Frame::Bulk` of its digits (lossless, and what RESP2 would have sent);
/// a blob error (`!`) becomes `Frame::Error`; attributes (`|`) are skipped.
pub fn parse_frame(buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
    let mut check = ReplyReader {
        data: &buf[..],
        source: None,
        pos: 0,
    };
    if check.frame(0)?.is_none() {
        return Ok(None);
    }
    let len = check.pos;
    let reply = buf.split_to(len).freeze();
    let mut build = ReplyReader {
        data: &reply,
        source: Some(&reply),
        pos: 0,
    };
    build
        .frame(0)?
        .ok_or(ProtocolError::InvalidReply("reply changed while parsing"))
        .map(Some)
}

/// One pass over a reply. Without `source` it only validates and measures (allocating
/// nothing, placeholder frames); with it, it builds frames sliced from `source`.
struct ReplyReader<'a> {
    data: &'a [u8],
    source: Option<&'a Bytes>,
    pos: usize,
}

impl<'a> ReplyReader<'a> {
    fn frame(&mut self, depth: usize) -> Result<Option<Frame>, ProtocolError> {
        if depth > MAX_REPLY_DEPTH {
            return Err(ProtocolError::InvalidReply("reply nested too deeply"));
        }
        let Some(&kind) = self.data.get(self.pos) else {
            return Ok(None);
        };
        self.pos += 1;
        let Some(line) = self.line()? else {
            return Ok(None);
        };
        let frame = match kind {
            b'+' => Frame::Simple(self.text(line).into()),
            b'-' => Frame::Error(self.text(line)),
            b':' => Frame::Integer(parse_i64(line).ok_or(ProtocolError::InvalidReply("invalid integer"))?),
            b'_' if line.is_empty() => Frame::Null,
            b'_' => return Err(ProtocolError::InvalidReply("invalid null")),
            b'#' => match line {
                b"t" => Frame::Boolean(true),
                b"f" => Frame::Boolean(false),
                _ => return Err(ProtocolError::InvalidReply("invalid boolean")),
            },
            b',' => Frame::Double(
                std::str::from_utf8(line)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
                    .ok_or(ProtocolError::InvalidReply("invalid double"))?,
            ),
            b'(' => {
                let digits = line.strip_prefix(b"-").unwrap_or(line);
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return Err(ProtocolError::InvalidReply("invalid big number"));
                }
                Frame::Bulk(self.bytes_of(line))
            }
            b'$' | b'!' | b'=' => {
                let len = parse_i64(line).ok_or(ProtocolError::InvalidReply("invalid length"))?;
                if len == -1 && kind == b'$' {
                    Frame::Null
                } else {
                    let len = usize::try_from(len).map_err(|_| ProtocolError::InvalidReply("invalid length"))?;
                    let Some(payload) = self.payload(len)? else {
                        return Ok(None);
                    };
                    match kind {
                        b'$' => Frame::Bulk(self.bytes_of(payload)),
                        b'!' => Frame::Error(self.text(payload)),
                        _ => match payload {
                            [f0, f1, f2, b':', rest @ ..] => {
                                Frame::Verbatim(self.text(&[*f0, *f1, *f2]), self.bytes_of(rest))
                            }
                            _ => {
                                return Err(ProtocolError::InvalidReply("invalid verbatim string"));
                            }
                        },
                    }
                }
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let count = parse_i64(line).ok_or(ProtocolError::InvalidReply("invalid aggregate length"))?;
                if count == -1 && kind == b'*' {
                    return Ok(Some(Frame::NullArray));
                }
                let count =
                    usize::try_from(count).map_err(|_| ProtocolError::InvalidReply("invalid aggregate length"))?;
                let building = self.source.is_some();
                let cap = if building { count.min(MAX_PREALLOC) } else { 0 };
                if kind == b'%' || kind == b'|' {
                    let mut pairs = Vec::with_capacity(cap);
                    for _ in 0..count {
                        let Some(key) = self.frame(depth + 1)? else {
                            return Ok(None);
                        };
                        let Some(value) = self.frame(depth + 1)? else {
                            return Ok(None);
                        };
                        if building {
                            pairs.push((key, value));
                        }
                    }
                    if kind == b'|' {
                        // Attributes describe the reply that follows; we drop them.
                        return self.frame(depth + 1);
                    }
                    Frame::Map(pairs)
                } else {
                    let mut items = Vec::with_capacity(cap);
                    for _ in 0..count {
                        let Some(item) = self.frame(depth + 1)? else {
                            return Ok(None);
                        };
                        if building {
                            items.push(item);
                        }
                    }
                    match kind {
                        b'*' => Frame::Array(items),
                        b'~' => Frame::Set(items),
                        _ => Frame::Push(items),
                    }
                }
            }
            _ => return Err(ProtocolError::InvalidReply("unknown reply type")),
        };
        Ok(Some(frame))
    }

    /// The rest of the current line, which must end in `\r\n`.
    fn line(&mut self) -> Result<Option<&'a [u8]>, ProtocolError> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            return Ok(None);
        };
        let Some((b'\r', line)) = rest[..nl].split_last() else {
            return Err(ProtocolError::InvalidReply("line not terminated by CRLF"));
        };
        self.pos += nl + 1;
        Ok(Some(line))
    }

    /// `len` payload bytes followed by `\r\n`, checked by length before being looked at.
    fn payload(&mut self, len: usize) -> Result<Option<&'a [u8]>, ProtocolError> {
        let start = self.pos;
        let end = start
            .checked_add(len)
            .ok_or(ProtocolError::InvalidReply("invalid length"))?;
        let Some(after) = end.checked_add(2).filter(|&a| a <= self.data.len()) else {
            return Ok(None);
        };
        if &self.data[end..after] != b"\r\n" {
            return Err(ProtocolError::InvalidReply("payload not terminated by CRLF"));
        }
        self.pos = after;
        Ok(Some(&self.data[start..end]))
    }

    /// `part` (a slice of `data`) as shared bytes; empty while only checking.
    fn bytes_of(&self, part: &[u8]) -> Bytes {
        match self.source {
            Some(source) => source.slice_ref(part),
            None => Bytes::new(),
        }
    }

    fn text(&self, part: &[u8]) -> String {
        match self.source {
            Some(_) => String::from_utf8_lossy(part).into_owned(),
            None => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    type Parsed = Result<Option<Vec<Bytes>>, ProtocolError>;

    /// A parser fed a stream in pieces, however it is split, takes off the same requests (or
    /// the same error) as `parse_command` given it whole, and keeps its place in between.
    #[test]
    fn a_parser_fed_in_pieces_agrees_with_a_whole_parse() {
        let limits = Limits {
            max_inline_len: 64,
            ..Limits::default()
        };
        let mut streams: Vec<Vec<u8>> = vec![
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nPING\r\n*1\r\n$4\r\nPING\r\n*0\r\n".to_vec(),
            b"SET a \"b c\"\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n\r\n*1\r\n:5\r\n".to_vec(),
            b"*2\r\n$3\r\nGET\r\n$-4\r\n".to_vec(),
            [b"*1\r\n$".to_vec(), vec![b'9'; 80]].concat(),
            [b"GET ".to_vec(), vec![b'x'; 80]].concat(),
        ];
        let mut many = format!("*{}\r\n", 500).into_bytes();
        for i in 0..500 {
            many.extend_from_slice(format!("${}\r\n{i}\r\n", i.to_string().len()).as_bytes());
        }
        streams.push(many);
        let drain = |buf: &mut BytesMut, next: &mut dyn FnMut(&mut BytesMut) -> Parsed| {
            let mut out = Vec::new();
            loop {
                match next(buf) {
                    Ok(Some(args)) => out.push(Ok(args)),
                    Ok(None) => return out,
                    Err(e) => {
                        out.push(Err(e));
                        return out;
                    }
                }
            }
        };
        for stream in &streams {
            let whole = drain(&mut BytesMut::from(&stream[..]), &mut |b| parse_command(b, &limits));
            for piece in [1, 2, 3, 7, 64] {
                let (mut parser, mut buf, mut got) = (Parser::default(), BytesMut::new(), Vec::new());
                for chunk in stream.chunks(piece) {
                    buf.extend_from_slice(chunk);
                    got.extend(drain(&mut buf, &mut |b| parser.parse(b, &limits)));
                    if got.last().is_some_and(|r| r.is_err()) {
                        break;
                    }
                }
                assert_eq!(
                    got,
                    whole,
                    "pieces of {piece}: {:?}",
                    String::from_utf8_lossy(&stream[..stream.len().min(40)])
                );
            }
        }
    }

    use super::*;

    fn args(list: &[&[u8]]) -> Vec<Bytes> {
        list.iter().map(|a| Bytes::copy_from_slice(a)).collect()
    }

    fn parse_all(input: &[u8]) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        parse_command(&mut BytesMut::from(input), &Limits::default())
    }

    #[test]
    fn requests_parse_to_arguments() {
        let cases: &[(&[u8], &[&[u8]])] = &[
            (b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", &[b"GET", b"k"]),
            (b"*1\r\n$0\r\n\r\n", &[b""]),
            (b"*2\r\n$3\r\nSET\r\n$4\r\na\r\nb\r\n", &[b"SET", b"a\r\nb"]),
            (b"*1\r\n$3\r\n\x00\xff\x01\r\n", &[b"\x00\xff\x01"]),
            (b"*0\r\n", &[]),
            (b"*-1\r\n", &[]),
            (b"*-5\r\n", &[]),
            (b"PING\r\n", &[b"PING"]),
            (b"PING\n", &[b"PING"]),
            (b"\r\n", &[]),
            (b"\n", &[]),
            (b"  \t \r\n", &[]),
            (b"set  a\tb \r\n", &[b"set", b"a", b"b"]),
            (b"set a \"b c\"\r\n", &[b"set", b"a", b"b c"]),
            (b"set a 'b c'\r\n", &[b"set", b"a", b"b c"]),
            (b"\"\"\r\n", &[b""]),
            (
                b"\"\\x41\\x4a\\n\\r\\t\\b\\a\\\\\\\"\\q\" '\\'x\\n'\r\n",
                &[b"AJ\n\r\t\x08\x07\\\"q", b"'x\\n"],
            ),
            (b"\"\\x4g\"\r\n", &[b"x4g"]),
            (b"a\"b c\" d\r\n", &[b"ab c", b"d"]),
            (b"get a\x00 junk\r\n", &[b"get", b"a"]),
            (b"a\rb\r\n", &[b"a", b"b"]),
        ];
        for (input, expected) in cases {
            let mut buf = BytesMut::from(*input);
            let got = parse_command(&mut buf, &Limits::default());
            assert_eq!(got, Ok(Some(args(expected))), "input {input:?}");
            assert!(buf.is_empty(), "input {input:?} left {buf:?}");
        }
    }

    #[test]
    fn like_redis_bytes_after_payload_are_skipped_unchecked() {
        assert_eq!(parse_all(b"*1\r\n$3\r\nfooXY"), Ok(Some(args(&[b"foo"]))));
    }

    #[test]
    fn malformed_requests_are_redis_errors() {
        use ProtocolError::*;
        let cases: &[(&[u8], ProtocolError)] = &[
            (b"*abc\r\n", InvalidMultibulkLength),
            (b"*+5\r\n", InvalidMultibulkLength),
            (b"*05\r\n", InvalidMultibulkLength),
            (b"*\r\n", InvalidMultibulkLength),
            (b"* 1\r\n", InvalidMultibulkLength),
            (b"*99999999999\r\n", InvalidMultibulkLength),
            (b"*2147483648\r\n", InvalidMultibulkLength),
            (b"*99999999999999999999999\r\n", InvalidMultibulkLength),
            (b"*1\r\n$-5\r\n", InvalidBulkLength),
            (b"*1\r\n$-1\r\n", InvalidBulkLength),
            (b"*1\r\n$+5\r\n", InvalidBulkLength),
            (b"*1\r\n$abc\r\n", InvalidBulkLength),
            (b"*1\r\n$\r\n", InvalidBulkLength),
            (b"*1\r\n$600000000\r\n", InvalidBulkLength),
            (b"*1\r\n$536870913\r\n", InvalidBulkLength),
            (b"*1\r\n$99999999999999999999\r\n", InvalidBulkLength),
            (b"*1\r\nx3\r\nfoo\r\n", ExpectedDollar(b'x')),
            (b"*2\r\n$1\r\na\r\n:1\r\n", ExpectedDollar(b':')),
            (b"\"abc\r\n", UnbalancedQuotes),
            (b"'abc\r\n", UnbalancedQuotes),
            (b"\"abc\"d\r\n", UnbalancedQuotes),
            (b"'abc'd\r\n", UnbalancedQuotes),
            (b"a\"b c\"d\r\n", UnbalancedQuotes),
            (b"\"a\\\"\r\n", UnbalancedQuotes),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_all(input), Err(expected.clone()), "input {input:?}");
        }
    }

    #[test]
    fn a_declared_bulk_at_the_limit_is_accepted_and_waits() {
        assert_eq!(parse_all(b"*1\r\n$536870912\r\n"), Ok(None));
        assert_eq!(parse_all(b"*2147483647\r\n$1\r\na\r\n"), Ok(None));
    }

    #[test]
    fn error_texts_match_redis() {
        use ProtocolError::*;
        let cases = [
            (InvalidMultibulkLength, "Protocol error: invalid multibulk length"),
            (InvalidBulkLength, "Protocol error: invalid bulk length"),
            (ExpectedDollar(b'x'), "Protocol error: expected '$', got 'x'"),
            (TooBigInlineRequest, "Protocol error: too big inline request"),
            (TooBigMultibulkCount, "Protocol error: too big mbulk count string"),
            (TooBigBulkCount, "Protocol error: too big bulk count string"),
            (UnbalancedQuotes, "Protocol error: unbalanced quotes in request"),
            (QueryBufferLimit, "Protocol error: query buffer limit reached"),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }

    #[test]
    fn unterminated_lines_longer_than_inline_limit_are_errors() {
        let mut inline = vec![b'a'; 64 * 1024];
        assert_eq!(parse_all(&inline), Ok(None));
        inline.push(b'a');
        assert_eq!(parse_all(&inline), Err(ProtocolError::TooBigInlineRequest));

        let mut mbulk = b"*".to_vec();
        mbulk.extend(std::iter::repeat_n(b'1', 64 * 1024));
        assert_eq!(parse_all(&mbulk), Err(ProtocolError::TooBigMultibulkCount));

        let mut bulk = b"*1\r\n$".to_vec();
        bulk.extend(std::iter::repeat_n(b'1', 64 * 1024));
        assert_eq!(parse_all(&bulk), Err(ProtocolError::TooBigBulkCount));
    }

    #[test]
    fn incomplete_request_beyond_query_buffer_limit_is_an_error() {
        let limits = Limits {
            client_query_buffer_limit: 40,
            ..Limits::default()
        };
        let mut partial = b"*1\r\n$100\r\n".to_vec();
        partial.extend([b'x'; 30]);
        assert_eq!(parse_command(&mut BytesMut::from(&partial[..]), &limits), Ok(None));
        partial.extend([b'x'; 1]);
        assert_eq!(
            parse_command(&mut BytesMut::from(&partial[..]), &limits),
            Err(ProtocolError::QueryBufferLimit)
        );
    }

    #[test]
    fn custom_limits_apply() {
        let limits = Limits {
            proto_max_bulk_len: 3,
            max_multibulk_len: 2,
            ..Limits::default()
        };
        let parse = |input: &[u8]| parse_command(&mut BytesMut::from(input), &limits);
        assert_eq!(parse(b"*2\r\n$3\r\nabc\r\n$0\r\n\r\n"), Ok(Some(args(&[b"abc", b""]))));
        assert_eq!(parse(b"*3\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        assert_eq!(parse(b"*1\r\n$4\r\n"), Err(ProtocolError::InvalidBulkLength));
    }

    #[test]
    fn every_split_point_waits_then_matches_whole_parse() {
        let samples: &[&[u8]] = &[
            b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n",
            b"*1\r\n$0\r\n\r\n",
            b"*0\r\n",
            b"set a \"b c\" 'd'\r\n",
            b"PING\n",
        ];
        for sample in samples {
            let whole = parse_all(sample);
            let mut buf = BytesMut::new();
            for (i, byte) in sample.iter().enumerate() {
                buf.extend_from_slice(&[*byte]);
                let got = parse_command(&mut buf, &Limits::default());
                if i + 1 < sample.len() {
                    assert_eq!(got, Ok(None), "sample {sample:?} prefix {i}");
                    assert_eq!(&buf[..], &sample[..=i], "incomplete parse consumed input");
                } else {
                    assert_eq!(got, whole, "sample {sample:?}");
                    assert!(buf.is_empty());
                }
            }
        }
    }

    #[test]
    fn pipelined_requests_come_out_one_at_a_time() {
        let mut buf =
            BytesMut::from(&b"*1\r\n$4\r\nPING\r\nECHO hi\r\n*0\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPI"[..]);
        let limits = Limits::default();
        assert_eq!(parse_command(&mut buf, &limits), Ok(Some(args(&[b"PING"]))));
        assert_eq!(parse_command(&mut buf, &limits), Ok(Some(args(&[b"ECHO", b"hi"]))));
        assert_eq!(parse_command(&mut buf, &limits), Ok(Some(vec![])));
        assert_eq!(parse_command(&mut buf, &limits), Ok(Some(args(&[b"GET", b"k"]))));
        assert_eq!(parse_command(&mut buf, &limits), Ok(None));
        assert_eq!(&buf[..], b"*1\r\n$4\r\nPI");
        buf.extend_from_slice(b"NG\r\n");
        assert_eq!(parse_command(&mut buf, &limits), Ok(Some(args(&[b"PING"]))));
        assert_eq!(parse_command(&mut buf, &limits), Ok(None));
    }

    #[test]
    fn bulk_arguments_share_the_read_buffer() {
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nSET\r\n$5\r\nhello\r\n"[..]);
        let range = buf.as_ptr_range();
        let parsed = parse_command(&mut buf, &Limits::default());
        let Ok(Some(parsed)) = parsed else {
            panic!("expected a request, got {parsed:?}");
        };
        for arg in &parsed {
            assert!(range.contains(&arg.as_ptr()), "argument {arg:?} was copied");
        }
    }

    #[test]
    fn big_bulk_arriving_in_pieces_waits_without_consuming() {
        let mut buf = BytesMut::from(&b"*1\r\n$1000000\r\n"[..]);
        let limits = Limits::default();
        for _ in 0..1000 {
            assert_eq!(parse_command(&mut buf, &limits), Ok(None));
            buf.extend_from_slice(&[b'z'; 1000]);
        }
        assert_eq!(parse_command(&mut buf, &limits), Ok(None));
        buf.extend_from_slice(b"\r\n");
        let Ok(Some(parsed)) = parse_command(&mut buf, &limits) else {
            panic!("expected the request");
        };
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].len(), 1_000_000);
    }

    #[test]
    fn string2ll_rules() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        for bad in [&b""[..], b"-", b"-0", b"00", b"+1", b"1 ", b"9223372036854775808"] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn default_limits_are_redis_defaults() {
        let limits = Limits::default();
        assert_eq!(limits.proto_max_bulk_len, 536_870_912);
        assert_eq!(limits.max_multibulk_len, 2_147_483_647);
        assert_eq!(limits.max_inline_len, 65_536);
        assert_eq!(limits.client_query_buffer_limit, 1_073_741_824);
    }

    #[test]
    fn replies_parse_to_frames() {
        let cases: Vec<(&[u8], Frame)> = vec![
            (b"+OK\r\n", Frame::ok()),
            (b"-ERR bad\r\n", Frame::error("ERR bad")),
            (b":-42\r\n", Frame::Integer(-42)),
            (b"$3\r\na\nb\r\n", Frame::bulk(&b"a\nb"[..])),
            (b"$-1\r\n", Frame::Null),
            (b"*-1\r\n", Frame::NullArray),
            (b"_\r\n", Frame::Null),
            (b",1.5\r\n", Frame::Double(1.5)),
            (b",-inf\r\n", Frame::Double(f64::NEG_INFINITY)),
            (b"#f\r\n", Frame::Boolean(false)),
            (
                b"(-12345678901234567890\r\n",
                Frame::bulk(&b"-12345678901234567890"[..]),
            ),
            (b"!5\r\nERR x\r\n", Frame::error("ERR x")),
            (
                b"=9\r\nmkd:hello\r\n",
                Frame::Verbatim("mkd".into(), Bytes::from_static(b"hello")),
            ),
            (
                b"|1\r\n+ttl\r\n:3\r\n*2\r\n:1\r\n$-1\r\n",
                Frame::Array(vec![Frame::Integer(1), Frame::Null]),
            ),
        ];
        for (input, expected) in cases {
            let mut buf = BytesMut::from(input);
            assert_eq!(parse_frame(&mut buf), Ok(Some(expected)), "input {input:?}");
            assert!(buf.is_empty());
        }
        let nan = parse_frame(&mut BytesMut::from(&b",nan\r\n"[..]));
        assert!(matches!(nan, Ok(Some(Frame::Double(d))) if d.is_nan()));
    }

    #[test]
    fn malformed_replies_are_errors() {
        let cases: &[&[u8]] = &[
            b"?x\r\n",
            b":abc\r\n",
            b"#x\r\n",
            b"_x\r\n",
            b",one\r\n",
            b"(12a\r\n",
            b"$-2\r\n",
            b"$3\r\nabcde",
            b"=3\r\nabc\r\n",
            b"*-2\r\n",
            b"+OK\n",
        ];
        for input in cases {
            let got = parse_frame(&mut BytesMut::from(*input));
            assert!(
                matches!(got, Err(ProtocolError::InvalidReply(_))),
                "input {input:?} gave {got:?}"
            );
        }
        let deep = "*1\r\n".repeat(MAX_REPLY_DEPTH + 2);
        assert!(parse_frame(&mut BytesMut::from(deep.as_bytes())).is_err());
    }

    #[test]
    fn incomplete_replies_wait() {
        let reply = b"%2\r\n+a\r\n*2\r\n:1\r\n$2\r\nxy\r\n~1\r\n,2.5\r\n>1\r\n#t\r\n";
        for cut in 0..reply.len() {
            let mut buf = BytesMut::from(&reply[..cut]);
            assert_eq!(parse_frame(&mut buf), Ok(None), "cut {cut}");
            assert_eq!(buf.len(), cut);
        }
        assert!(matches!(
            parse_frame(&mut BytesMut::from(&reply[..])),
            Ok(Some(Frame::Map(_)))
        ));
    }
}
