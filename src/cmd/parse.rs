//! The argument cursor every handler reads through (mini-redis `parse.rs`): arguments are
//! taken in order and `finish()` turns leftovers into `ERR syntax error`, so no handler
//! silently ignores extra input. Errors are client-visible `Frame`s.

use bytes::Bytes;

use crate::resp::frame::Frame;

pub use crate::errors::{NOT_AN_INTEGER, SYNTAX_ERROR, WRONGTYPE};

/// A client-visible error or a parse failure, already rendered.
pub type Reply<T> = Result<T, Frame>;

/// Reads a command's arguments after its name.
pub struct Cursor<'a> {
    args: &'a [Bytes],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor positioned after the command name (`args[0]`).
    pub fn new(args: &'a [Bytes]) -> Cursor<'a> {
        Cursor {
            args,
            pos: 1.min(args.len()),
        }
    }

    /// Arguments not yet consumed.
    pub fn remaining(&self) -> usize {
        self.args.len() - self.pos
    }

    pub fn is_done(&self) -> bool {
        self.remaining() == 0
    }

    /// The next argument; a missing one is a syntax error (arity was checked before, so
    /// this only happens on options that need a value, like `EX` without seconds).
    pub fn next_bytes(&mut self) -> Reply<&'a Bytes> {
        let arg = self.args.get(self.pos).ok_or_else(|| Frame::error(SYNTAX_ERROR))?;
        self.pos += 1;
        Ok(arg)
    }

    /// The next argument as an i64 under Redis's `string2ll` rules.
    pub fn next_int(&mut self) -> Reply<i64> {
        let arg = self.next_bytes()?;
        parse_i64(arg).ok_or_else(|| Frame::error(NOT_AN_INTEGER))
    }

    /// The next argument as an option name, ASCII-lowercased, without consuming it.
    pub fn peek_lower(&self) -> Option<String> {
        self.args
            .get(self.pos)
            .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
    }

    /// Consumes the next argument if it equals `flag` (case-insensitive).
    pub fn eat_flag(&mut self, flag: &str) -> bool {
        match self.args.get(self.pos) {
            Some(a) if a.eq_ignore_ascii_case(flag.as_bytes()) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    /// Every remaining argument.
    pub fn rest(&mut self) -> &'a [Bytes] {
        let rest = &self.args[self.pos..];
        self.pos = self.args.len();
        rest
    }

    /// Ends parsing: leftover arguments are a syntax error.
    pub fn finish(&self) -> Reply<()> {
        if self.is_done() {
            Ok(())
        } else {
            Err(Frame::error(SYNTAX_ERROR))
        }
    }
}

/// The key positions of a command whose keys follow a `numkeys` argument at `numkeys_at`,
/// after the keys at `fixed` (ZUNIONSTORE's destination): what the table's first/last/step
/// cannot say. Read as Redis 7.0's key finders read it (`genericGetKeys`, C's `atoi`): a count
/// below 1 or beyond the arguments gives no keys at all, the fixed ones included, and the
/// command, served where it arrives, answers its own argument error.
pub fn numkeys_keys(args: &[Bytes], fixed: &[usize], numkeys_at: usize) -> Vec<usize> {
    let first = numkeys_at + 1;
    let n = args.get(numkeys_at).map_or(0, |a| atoi(a));
    let Ok(n) = usize::try_from(n) else {
        return Vec::new();
    };
    if n < 1 || n > args.len().saturating_sub(first) {
        return Vec::new();
    }
    let mut out: Vec<usize> = fixed.iter().copied().filter(|i| *i < args.len()).collect();
    out.extend(first..first + n);
    out
}

/// C's `atoi` as glibc has it, `(int) strtol(s, NULL, 10)`: leading white space, a sign,
/// the digits up to the first other byte, saturated at the 64-bit bounds, then cut to 32
/// bits. What Redis's key finders read a numkeys with.
pub fn atoi(s: &[u8]) -> i32 {
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'));
    let s = start.map_or(&[][..], |i| &s[i..]);
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    let mut v: i64 = 0;
    for d in digits.iter().take_while(|d| d.is_ascii_digit()) {
        let d = i64::from(d - b'0');
        v = if negative {
            v.saturating_mul(10).saturating_sub(d)
        } else {
            v.saturating_mul(10).saturating_add(d)
        };
    }
    v as i32
}

/// Redis's `string2ll`: optional `-`, no `+`, no spaces, no leading zeros (only "0" itself),
/// no "-0", and no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_rules() {
        let cases: &[(&str, Option<i64>)] = &[
            ("0", Some(0)),
            ("1", Some(1)),
            ("-1", Some(-1)),
            ("123", Some(123)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("-9223372036854775809", None),
            ("99999999999999999999999", None),
            ("-0", None),
            ("01", None),
            ("00", None),
            ("+1", None),
            (" 1", None),
            ("1 ", None),
            ("", None),
            ("-", None),
            ("1.0", None),
            ("abc", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_i64(s.as_bytes()), *want, "{s:?}");
        }
    }

    #[test]
    fn atoi_as_glibc_reads_it() {
        let cases: &[(&str, i32)] = &[
            ("2", 2),
            (" 2", 2),
            ("+2", 2),
            ("02", 2),
            ("2abc", 2),
            ("-1", -1),
            ("abc", 0),
            ("", 0),
            ("2147483648", i32::MIN),
            ("4294967298", 2),
            ("99999999999999999999", -1),
            ("-99999999999999999999", 0),
        ];
        for (s, want) in cases {
            assert_eq!(atoi(s.as_bytes()), *want, "{s:?}");
        }
    }

    #[test]
    fn numkeys_keys_are_all_or_none() {
        use crate::cmd::testing::args as a;
        // ZUNIONSTORE d numkeys key ...: the destination only with usable keys.
        let zunionstore = |v: &[&str]| numkeys_keys(&a(v), &[1], 2);
        assert_eq!(zunionstore(&["zunionstore", "d", "2", "a", "b"]), vec![1, 3, 4]);
        assert_eq!(zunionstore(&["zunionstore", "d", "3", "a", "b"]), Vec::<usize>::new());
        assert_eq!(zunionstore(&["zunionstore", "d", "0", "a"]), Vec::<usize>::new());
        assert_eq!(zunionstore(&["zunionstore", "d", "abc", "a"]), Vec::<usize>::new());
        // Options after the keys are counted as keys when numkeys says so (Redis: CROSSSLOT).
        assert_eq!(
            numkeys_keys(&a(&["lmpop", "3", "a", "b", "left"]), &[], 1),
            vec![2, 3, 4]
        );
        assert_eq!(numkeys_keys(&a(&["zunion", "-1", "a"]), &[], 1), Vec::<usize>::new());
        assert_eq!(
            numkeys_keys(&a(&["zunion", "4294967298", "a", "b"]), &[], 1),
            vec![2, 3]
        );
        assert_eq!(numkeys_keys(&a(&["zunion"]), &[], 1), Vec::<usize>::new());
    }

    #[test]
    fn cursor_finish_rejects_leftovers() {
        let args: Vec<Bytes> = ["set", "k", "v", "NX"].iter().map(|s| Bytes::from(*s)).collect();
        let mut c = Cursor::new(&args);
        assert_eq!(c.next_bytes().unwrap(), "k");
        assert_eq!(c.next_bytes().unwrap(), "v");
        assert_eq!(c.finish(), Err(Frame::error(SYNTAX_ERROR)));
        assert!(c.eat_flag("nx"));
        assert_eq!(c.finish(), Ok(()));
        assert_eq!(c.next_bytes(), Err(Frame::error(SYNTAX_ERROR)));
    }
}
