//! RESP encoding: one `Frame` written as the exact bytes Redis sends, in RESP2 or RESP3,
//! so handlers build one reply and the connection's `HELLO` version decides the wire form.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};

use super::frame::Frame;

/// The protocol a connection speaks; `HELLO 3` switches it to RESP3.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// Appends `frame` to `out`. RESP3-only types are downgraded for RESP2 as Redis does:
/// nulls to `$-1` / `*-1`, maps to flat arrays, sets and pushes to arrays, doubles to bulk
/// strings, booleans to `:1` / `:0`, verbatim strings to their payload. CR and LF inside a
/// simple string or error line become spaces, so a reply can never break framing.
pub fn encode(frame: &Frame, proto: Protocol, out: &mut BytesMut) {
    let resp3 = proto == Protocol::Resp3;
    match frame {
        Frame::Simple(text) => put_line(out, b'+', text.as_bytes()),
        Frame::Error(text) => put_line(out, b'-', text.as_bytes()),
        Frame::Integer(n) => {
            out.put_u8(b':');
            put_i64(out, *n);
            out.put_slice(b"\r\n");
        }
        Frame::Bulk(data) => put_bulk(out, data),
        Frame::Array(items) => put_aggregate(out, b'*', items, proto),
        Frame::Null if resp3 => out.put_slice(b"_\r\n"),
        Frame::Null => out.put_slice(b"$-1\r\n"),
        Frame::NullArray if resp3 => out.put_slice(b"_\r\n"),
        Frame::NullArray => out.put_slice(b"*-1\r\n"),
        Frame::Map(pairs) => {
            if resp3 {
                put_header(out, b'%', pairs.len());
            } else {
                put_header(out, b'*', pairs.len().saturating_mul(2));
            }
            for (key, value) in pairs {
                encode(key, proto, out);
                encode(value, proto, out);
            }
        }
        Frame::Set(items) => put_aggregate(out, if resp3 { b'~' } else { b'*' }, items, proto),
        Frame::Push(items) => put_aggregate(out, if resp3 { b'>' } else { b'*' }, items, proto),
        Frame::Double(value) => {
            let mut text = StackText::default();
            format_double(*value, &mut text);
            if resp3 {
                put_line(out, b',', text.as_bytes());
            } else {
                put_bulk(out, text.as_bytes());
            }
        }
        Frame::Boolean(value) => out.put_slice(match (resp3, value) {
            (true, true) => b"#t\r\n",
            (true, false) => b"#f\r\n",
            (false, true) => b":1\r\n",
            (false, false) => b":0\r\n",
        }),
        Frame::Verbatim(format, data) if resp3 => {
            // The format is exactly three bytes on the wire; anything else is sent as `txt`.
            let format = if format.len() == 3 { format.as_bytes() } else { b"txt" };
            put_header(out, b'=', data.len() + 4);
            out.put_slice(format);
            out.put_u8(b':');
            out.put_slice(data);
            out.put_slice(b"\r\n");
        }
        Frame::Verbatim(_, data) => put_bulk(out, data),
    }
}

fn put_aggregate(out: &mut BytesMut, kind: u8, items: &[Frame], proto: Protocol) {
    put_header(out, kind, items.len());
    for item in items {
        encode(item, proto, out);
    }
}

fn put_bulk(out: &mut BytesMut, data: &[u8]) {
    put_header(out, b'$', data.len());
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

fn put_header(out: &mut BytesMut, kind: u8, len: usize) {
    out.put_u8(kind);
    put_u64(out, len as u64);
    out.put_slice(b"\r\n");
}

fn put_line(out: &mut BytesMut, kind: u8, text: &[u8]) {
    out.put_u8(kind);
    if text.iter().any(|&b| b == b'\r' || b == b'\n') {
        out.extend(text.iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
    } else {
        out.put_slice(text);
    }
    out.put_slice(b"\r\n");
}

fn put_i64(out: &mut BytesMut, n: i64) {
    if n < 0 {
        out.put_u8(b'-');
    }
    put_u64(out, n.unsigned_abs());
}

/// Decimal digits straight into `out`, without a `String` per number.
fn put_u64(out: &mut BytesMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[start..]);
}

/// Redis's `d2string`: `nan`, `inf`, `-inf`, `0` / `-0`; integral values within
/// ±2^62 as integers; anything else as the shortest round-trip digits laid out like
/// Redis's `fpconv_dtoa` (e.g. `2.75`, `0.001`, `1e-7`, `1.5e+300`).
fn format_double(value: f64, out: &mut StackText) {
    if value.is_nan() {
        out.push_str("nan");
    } else if value.is_infinite() {
        out.push_str(if value < 0.0 { "-inf" } else { "inf" });
    } else if value == 0.0 {
        out.push_str(if value.is_sign_negative() { "-0" } else { "0" });
    } else if let Some(integer) = exact_i64(value) {
        let _ = write!(out, "{integer}");
    } else {
        if value < 0.0 {
            out.push_str("-");
        }
        fpconv_layout(value.abs(), out);
    }
}

/// Redis's `double2ll`: the value as an integer when it is one and |value| <= 2^62.
fn exact_i64(value: f64) -> Option<i64> {
    let bound = (i64::MAX / 2) as f64;
    if !(-bound..=bound).contains(&value) {
        return None;
    }
    let integer = value as i64;
    (integer as f64 == value).then_some(integer)
}

/// `format_double` as a string, for replies that carry a double inside a bulk string (ZSCAN).
pub fn double_text(value: f64) -> String {
    let mut out = StackText::default();
    format_double(value, &mut out);
    String::from_utf8_lossy(out.as_bytes()).into_owned()
}

/// Lays out the shortest digits of a positive finite `value` with `fpconv_dtoa`'s rules
/// for choosing plain, decimal or scientific notation.
fn fpconv_layout(value: f64, out: &mut StackText) {
    // `{:e}` gives the shortest round-trip digits as `d.ddde<exp>`.
    let mut sci = StackText::default();
    let _ = write!(sci, "{value:e}");
    let text = sci.as_bytes();
    let Some(e_at) = text.iter().position(|&b| b == b'e') else {
        out.push_bytes(text);
        return;
    };
    let mut digits = [0u8; 24];
    let mut n = 0usize;
    for &b in &text[..e_at] {
        if b.is_ascii_digit() && n < digits.len() {
            digits[n] = b;
            n += 1;
        }
    }
    let digits = &digits[..n];
    let exp10: i32 = std::str::from_utf8(&text[e_at + 1..])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let n = n as i32;
    // value = digits * 10^k
    let k = exp10 - (n - 1);
    let exp = (k + n - 1).abs();
    if k >= 0 && exp < n + 7 {
        out.push_bytes(digits);
        for _ in 0..k {
            out.push_str("0");
        }
    } else if k < 0 && (k > -7 || exp < 4) {
        let offset = n + k;
        if offset <= 0 {
            out.push_str("0.");
            for _ in 0..-offset {
                out.push_str("0");
            }
            out.push_bytes(digits);
        } else {
            let (int_part, frac_part) = digits.split_at(offset as usize);
            out.push_bytes(int_part);
            out.push_str(".");
            out.push_bytes(frac_part);
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_bytes(first);
        if !rest.is_empty() {
            out.push_str(".");
            out.push_bytes(rest);
        }
        out.push_str(if k + n - 1 < 0 { "e-" } else { "e+" });
        let _ = write!(out, "{exp}");
    }
}

/// A small fixed buffer for formatting a number without allocating; a double never
/// needs more than ~25 bytes.
struct StackText {
    bytes: [u8; 48],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        StackText { bytes: [0; 48], len: 0 }
    }
}

impl StackText {
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn push_str(&mut self, s: &str) {
        self.push_bytes(s.as_bytes());
    }

    /// Silently truncates past capacity; no layout above comes near it.
    fn push_bytes(&mut self, s: &[u8]) {
        let take = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + take].copy_from_slice(&s[..take]);
        self.len += take;
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if s.len() > self.bytes.len() - self.len {
            return Err(std::fmt::Error);
        }
        self.push_str(s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::super::parse::parse_frame;
    use super::*;

    fn encoded(frame: &Frame, proto: Protocol) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode(frame, proto, &mut out);
        out.to_vec()
    }

    fn sample_frames() -> Vec<(Frame, &'static [u8], &'static [u8])> {
        vec![
            (Frame::ok(), b"+OK\r\n", b"+OK\r\n"),
            (Frame::Simple("a\r\nb".into()), b"+a  b\r\n", b"+a  b\r\n"),
            (Frame::error("ERR x\ny"), b"-ERR x y\r\n", b"-ERR x y\r\n"),
            (Frame::Integer(0), b":0\r\n", b":0\r\n"),
            (Frame::Integer(-42), b":-42\r\n", b":-42\r\n"),
            (
                Frame::Integer(i64::MIN),
                b":-9223372036854775808\r\n",
                b":-9223372036854775808\r\n",
            ),
            (
                Frame::Integer(i64::MAX),
                b":9223372036854775807\r\n",
                b":9223372036854775807\r\n",
            ),
            (Frame::bulk(&b""[..]), b"$0\r\n\r\n", b"$0\r\n\r\n"),
            (Frame::bulk(&b"a\r\nb"[..]), b"$4\r\na\r\nb\r\n", b"$4\r\na\r\nb\r\n"),
            (Frame::Null, b"$-1\r\n", b"_\r\n"),
            (Frame::NullArray, b"*-1\r\n", b"_\r\n"),
            (Frame::Array(vec![]), b"*0\r\n", b"*0\r\n"),
            (
                Frame::Array(vec![Frame::Integer(1), Frame::Null, Frame::Array(vec![Frame::ok()])]),
                b"*3\r\n:1\r\n$-1\r\n*1\r\n+OK\r\n",
                b"*3\r\n:1\r\n_\r\n*1\r\n+OK\r\n",
            ),
            (
                Frame::Map(vec![
                    (Frame::bulk(&b"a"[..]), Frame::Integer(1)),
                    (Frame::bulk(&b"b"[..]), Frame::Boolean(true)),
                ]),
                b"*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:1\r\n",
                b"%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n#t\r\n",
            ),
            (
                Frame::Set(vec![Frame::bulk(&b"x"[..])]),
                b"*1\r\n$1\r\nx\r\n",
                b"~1\r\n$1\r\nx\r\n",
            ),
            (
                Frame::Push(vec![Frame::bulk(&b"message"[..]), Frame::Integer(2)]),
                b"*2\r\n$7\r\nmessage\r\n:2\r\n",
                b">2\r\n$7\r\nmessage\r\n:2\r\n",
            ),
            (Frame::Double(1.5), b"$3\r\n1.5\r\n", b",1.5\r\n"),
            (Frame::Double(3.0), b"$1\r\n3\r\n", b",3\r\n"),
            (Frame::Double(f64::INFINITY), b"$3\r\ninf\r\n", b",inf\r\n"),
            (Frame::Double(f64::NEG_INFINITY), b"$4\r\n-inf\r\n", b",-inf\r\n"),
            (Frame::Double(f64::NAN), b"$3\r\nnan\r\n", b",nan\r\n"),
            (Frame::Boolean(true), b":1\r\n", b"#t\r\n"),
            (Frame::Boolean(false), b":0\r\n", b"#f\r\n"),
            (
                Frame::Verbatim("txt".into(), Bytes::from_static(b"hi")),
                b"$2\r\nhi\r\n",
                b"=6\r\ntxt:hi\r\n",
            ),
            (
                Frame::Verbatim("markdown".into(), Bytes::from_static(b"hi")),
                b"$2\r\nhi\r\n",
                b"=6\r\ntxt:hi\r\n",
            ),
        ]
    }

    #[test]
    fn frames_encode_to_exact_bytes() {
        for (frame, resp2, resp3) in sample_frames() {
            assert_eq!(encoded(&frame, Protocol::Resp2), resp2, "RESP2 {frame:?}");
            assert_eq!(encoded(&frame, Protocol::Resp3), resp3, "RESP3 {frame:?}");
        }
    }

    #[test]
    fn doubles_are_formatted_like_redis() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-2.0, "-2"),
            (2.75, "2.75"),
            (-2.75, "-2.75"),
            (0.5, "0.5"),
            (0.1, "0.1"),
            (0.001, "0.001"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (0.000123456789, "1.23456789e-4"),
            (123.456, "123.456"),
            (1.0 / 3.0, "0.3333333333333333"),
            (1e17, "100000000000000000"),
            (4611686018427387904.0, "4611686018427387904"),
            (5e18, "5e+18"),
            (1e20, "1e+20"),
            (1.2345678901234567e20, "123456789012345670000"),
            (1.5e300, "1.5e+300"),
            (-1.5e300, "-1.5e+300"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
        ];
        for (value, text) in cases {
            let mut out = StackText::default();
            format_double(*value, &mut out);
            assert_eq!(std::str::from_utf8(out.as_bytes()), Ok(*text), "value {value:e}");
        }
    }

    #[test]
    fn resp3_frames_round_trip_through_parse_frame() {
        for (frame, _, _) in sample_frames() {
            let mut buf = BytesMut::new();
            encode(&frame, Protocol::Resp3, &mut buf);
            let parsed = parse_frame(&mut buf);
            let expected = match &frame {
                // The encoder replaces CR/LF; nulls share one RESP3 form; formats are 3 bytes.
                Frame::Simple(s) => Frame::Simple(s.replace(['\r', '\n'], " ").into()),
                Frame::Error(s) => Frame::Error(s.replace(['\r', '\n'], " ")),
                Frame::NullArray => Frame::Null,
                Frame::Verbatim(f, d) if f.len() != 3 => Frame::Verbatim("txt".into(), d.clone()),
                other => other.clone(),
            };
            match (&expected, &parsed) {
                (Frame::Double(a), Ok(Some(Frame::Double(b)))) if a.is_nan() => {
                    assert!(b.is_nan())
                }
                _ => assert_eq!(parsed, Ok(Some(expected)), "frame {frame:?}"),
            }
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn doubles_round_trip_exactly() {
        for value in [0.1, 1.0 / 3.0, 1e-7, 6.02214076e23, 1e300, -2.5e-300, 4.9e-324] {
            let mut buf = BytesMut::new();
            encode(&Frame::Double(value), Protocol::Resp3, &mut buf);
            assert_eq!(parse_frame(&mut buf), Ok(Some(Frame::Double(value))));
        }
    }
}
