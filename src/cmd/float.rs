//! INCRBYFLOAT / HINCRBYFLOAT arithmetic, bit-exact with Redis on x86-64: Redis parses with
//! `strtold`, adds in 80-bit `long double` and prints `%.17Lf` with trailing zeros trimmed
//! (`ld2string(.., LD_STR_HUMAN)`). Those 17 fraction digits show the rounding error of the
//! 64-bit mantissa (1234 + 0.1 is "1234.09999999999999998"), so f64 would give different
//! replies; this module emulates the 80-bit format with exact integer arithmetic instead.
//! Deterministic on every platform, as apply must be.

use std::cmp::Ordering;

/// Exponent range of x87 extended precision, for a value `m × 2^e` with a 64-bit `m`.
const MAX_EXP: i64 = 16384 - 64;
const MIN_EXP: i64 = -16382 - 63;
/// `MAX_LONG_DOUBLE_CHARS` in Redis: longer input is not a float.
const MAX_CHARS: usize = 5 * 1024;

/// A finite long double: `(-1)^neg × mant × 2^exp`, `mant` normalized (top bit set) or 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct LongDouble {
    neg: bool,
    mant: u64,
    exp: i64,
}

/// A parsed operand: infinities are valid input (`strtold` accepts "inf") but make the
/// result NaN or infinite, which Redis refuses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Parsed {
    Finite(LongDouble),
    Infinite,
}

impl Parsed {
    /// A missing key counts as 0.
    pub(super) fn zero() -> Parsed {
        Parsed::Finite(LongDouble {
            neg: false,
            mant: 0,
            exp: 0,
        })
    }
}

/// Little-endian base-2^32 unsigned integer, just what the conversions need.
#[derive(Clone, Debug, Default)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(v: u64) -> Big {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn bits(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(&top) => (self.0.len() as u64 - 1) * 32 + u64::from(32 - top.leading_zeros()),
        }
    }

    fn bit(&self, i: u64) -> bool {
        let limb = (i / 32) as usize;
        self.0.get(limb).is_some_and(|l| (l >> (i % 32)) & 1 == 1)
    }

    /// Whether any bit below `i` is set.
    fn any_below(&self, i: u64) -> bool {
        let full = (i / 32) as usize;
        if self.0.iter().take(full).any(|&l| l != 0) {
            return true;
        }
        let rem = i % 32;
        rem > 0 && self.0.get(full).is_some_and(|l| l & ((1u32 << rem) - 1) != 0)
    }

    fn mul_add_small(&mut self, m: u32, a: u32) {
        let mut carry = u64::from(a);
        for l in &mut self.0 {
            let v = u64::from(*l) * u64::from(m) + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }

    fn shl(&self, n: u64) -> Big {
        let limbs = (n / 32) as usize;
        let bits = n % 32;
        let mut out = vec![0u32; limbs];
        let mut carry = 0u32;
        for &l in &self.0 {
            if bits == 0 {
                out.push(l);
            } else {
                out.push((l << bits) | carry);
                carry = l >> (32 - bits);
            }
        }
        if carry > 0 {
            out.push(carry);
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn shr(&self, n: u64) -> Big {
        let limbs = (n / 32) as usize;
        let bits = n % 32;
        let src = self.0.get(limbs..).unwrap_or_default();
        let mut out = Vec::with_capacity(src.len());
        for (i, &l) in src.iter().enumerate() {
            let hi = src.get(i + 1).copied().unwrap_or(0);
            out.push(if bits == 0 {
                l
            } else {
                (l >> bits) | (hi << (32 - bits))
            });
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    fn add(&self, other: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len().max(other.0.len()) + 1);
        let mut carry = 0u64;
        for i in 0..self.0.len().max(other.0.len()) {
            let v = u64::from(self.0.get(i).copied().unwrap_or(0))
                + u64::from(other.0.get(i).copied().unwrap_or(0))
                + carry;
            out.push(v as u32);
            carry = v >> 32;
        }
        out.push(carry as u32);
        let mut b = Big(out);
        b.trim();
        b
    }

    /// `self - other`, requires `self >= other`.
    fn sub(&self, other: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = 0i64;
        for (i, &l) in self.0.iter().enumerate() {
            let mut v = i64::from(l) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = 0;
            if v < 0 {
                v += 1 << 32;
                borrow = 1;
            }
            out.push(v as u32);
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn pow10(n: u64) -> Big {
        let mut b = Big::from_u64(1);
        for _ in 0..n {
            b.mul_add_small(10, 0);
        }
        b
    }

    /// Decimal digits, most significant first ("0" for zero).
    fn to_decimal(&self) -> Vec<u8> {
        let mut limbs = self.0.clone();
        let mut chunks = Vec::new();
        while !limbs.is_empty() {
            let mut rem = 0u64;
            for l in limbs.iter_mut().rev() {
                let v = (rem << 32) | u64::from(*l);
                *l = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
            chunks.push(rem);
        }
        let mut out = String::new();
        for (i, c) in chunks.iter().rev().enumerate() {
            if i == 0 {
                out.push_str(&c.to_string());
            } else {
                out.push_str(&format!("{c:09}"));
            }
        }
        if out.is_empty() {
            out.push('0');
        }
        out.into_bytes()
    }
}

/// Rounds `n × 2^exp` (plus a nonzero tail below it when `sticky`) to a 64-bit mantissa,
/// round-half-to-even. None on overflow.
fn round_to_ld(neg: bool, n: &Big, exp: i64, sticky: bool) -> Option<LongDouble> {
    if n.is_zero() {
        return Some(LongDouble { neg, mant: 0, exp: 0 });
    }
    let bits = n.bits();
    let (mut mant, mut exp) = if bits > 64 {
        let shift = bits - 64;
        let top = n.shr(shift);
        let mut m = top.0.first().copied().map_or(0, u64::from) | (top.0.get(1).copied().map_or(0, u64::from) << 32);
        let guard = n.bit(shift - 1);
        let rest = sticky || n.any_below(shift - 1);
        if guard && (rest || m & 1 == 1) {
            m = m.wrapping_add(1);
        }
        (m, exp + shift as i64)
    } else {
        let top = n.shl(64 - bits);
        let m = top.0.first().copied().map_or(0, u64::from) | (top.0.get(1).copied().map_or(0, u64::from) << 32);
        (m, exp - (64 - bits) as i64)
    };
    if mant == 0 {
        // The rounding carried out of 64 bits.
        mant = 1 << 63;
        exp += 1;
    }
    if exp > MAX_EXP {
        return None;
    }
    if exp < MIN_EXP {
        return Some(LongDouble { neg, mant: 0, exp: 0 });
    }
    Some(LongDouble { neg, mant, exp })
}

/// Redis's `string2ld`: the whole argument must be a `strtold` number, no leading space,
/// not NaN, not out of range. Hexadecimal floats are not accepted (a rare divergence).
pub(super) fn parse(s: &[u8]) -> Option<Parsed> {
    if s.is_empty() || s.len() >= MAX_CHARS {
        return None;
    }
    let (neg, body) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Some(Parsed::Infinite);
    }
    let mut digits = Big::default();
    let mut any_digit = false;
    let mut exp10: i64 = 0;
    let mut i = 0;
    let mut seen_dot = false;
    while i < body.len() {
        match body[i] {
            d @ b'0'..=b'9' => {
                any_digit = true;
                digits.mul_add_small(10, u32::from(d - b'0'));
                if seen_dot {
                    exp10 -= 1;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => break,
        }
        i += 1;
    }
    if !any_digit {
        return None;
    }
    if i < body.len() {
        if body[i] != b'e' && body[i] != b'E' {
            return None;
        }
        let rest = &body[i + 1..];
        let (eneg, edigits) = match rest.first() {
            Some(b'-') => (true, &rest[1..]),
            Some(b'+') => (false, &rest[1..]),
            _ => (false, rest),
        };
        if edigits.is_empty() || !edigits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut e: i64 = 0;
        for &d in edigits {
            e = (e * 10 + i64::from(d - b'0')).min(1_000_000);
        }
        exp10 += if eneg { -e } else { e };
    }
    if digits.is_zero() {
        return Some(Parsed::Finite(LongDouble { neg, mant: 0, exp: 0 }));
    }
    // Cheap range checks before any big power of ten.
    let approx = digits.to_decimal().len() as i64 + exp10;
    if approx > 4934 {
        return None;
    }
    if approx < -4952 {
        return None;
    }
    let ld = if exp10 >= 0 {
        let n = digits_times_pow10(&digits, exp10 as u64);
        round_to_ld(neg, &n, 0, false)?
    } else {
        // digits / 10^k: long division to 66+ quotient bits, remainder as sticky.
        let p = Big::pow10(exp10.unsigned_abs());
        let k = (66 + p.bits() as i64 - digits.bits() as i64).max(0) as u64;
        let mut num = digits.shl(k);
        let mut q = Big::default();
        let qbits = num.bits().saturating_sub(p.bits()) + 1;
        for b in (0..qbits).rev() {
            let d = p.shl(b);
            if num.cmp(&d) != Ordering::Less {
                num = num.sub(&d);
                q = q.add(&Big::from_u64(1).shl(b));
            }
        }
        round_to_ld(neg, &q, -(k as i64), !num.is_zero())?
    };
    if ld.mant == 0 {
        // Underflow to zero is ERANGE for strtold, refused by Redis.
        return None;
    }
    Some(Parsed::Finite(ld))
}

fn digits_times_pow10(d: &Big, n: u64) -> Big {
    let mut b = d.clone();
    for _ in 0..n {
        b.mul_add_small(10, 0);
    }
    b
}

/// `a + b` rounded to long double; None if it overflows (Redis: NaN or Infinity).
pub(super) fn add(a: LongDouble, b: LongDouble) -> Option<LongDouble> {
    if a.mant == 0 {
        return Some(if b.mant == 0 {
            LongDouble {
                neg: a.neg && b.neg,
                ..b
            }
        } else {
            b
        });
    }
    if b.mant == 0 {
        return Some(a);
    }
    let (hi, lo) = if a.exp >= b.exp { (a, b) } else { (b, a) };
    let diff = hi.exp - lo.exp;
    if diff > 200 {
        // `lo` is far below half an ulp of `hi`: the sum rounds to `hi`.
        return Some(hi);
    }
    let hi_big = Big::from_u64(hi.mant).shl(diff as u64);
    let lo_big = Big::from_u64(lo.mant);
    if hi.neg == lo.neg {
        return round_to_ld(hi.neg, &hi_big.add(&lo_big), lo.exp, false);
    }
    match hi_big.cmp(&lo_big) {
        Ordering::Equal => Some(LongDouble {
            neg: false,
            mant: 0,
            exp: 0,
        }),
        Ordering::Greater => round_to_ld(hi.neg, &hi_big.sub(&lo_big), lo.exp, false),
        Ordering::Less => round_to_ld(lo.neg, &lo_big.sub(&hi_big), lo.exp, false),
    }
}

/// `%.17Lf`, then trailing zeros (and a bare '.') trimmed, and "-0" written "0".
pub(super) fn format_human(v: LongDouble) -> String {
    // round(|v| × 10^17), half to even, exactly.
    let scaled = Big::from_u64(v.mant).add(&Big::default());
    let scaled = {
        let mut s = scaled;
        for _ in 0..17 {
            s.mul_add_small(10, 0);
        }
        s
    };
    let n = if v.exp >= 0 {
        scaled.shl(v.exp as u64)
    } else {
        let sh = v.exp.unsigned_abs();
        let mut q = scaled.shr(sh);
        let guard = scaled.bit(sh - 1);
        let rest = scaled.any_below(sh - 1);
        if guard && (rest || q.bit(0)) {
            q = q.add(&Big::from_u64(1));
        }
        q
    };
    let mut digits = n.to_decimal();
    while digits.len() < 18 {
        digits.insert(0, b'0');
    }
    let (int, frac) = digits.split_at(digits.len() - 17);
    let frac_len = frac.iter().rposition(|&d| d != b'0').map_or(0, |p| p + 1);
    let mut out = String::with_capacity(digits.len() + 2);
    if v.neg {
        out.push('-');
    }
    out.push_str(&String::from_utf8_lossy(int));
    if frac_len > 0 {
        out.push('.');
        out.push_str(&String::from_utf8_lossy(&frac[..frac_len]));
    }
    if out == "-0" {
        out = "0".into();
    }
    out
}

/// INCRBYFLOAT's arithmetic on two arguments already known to be floats.
pub(super) fn incr(cur: Parsed, by: Parsed) -> Option<String> {
    match (cur, by) {
        (Parsed::Finite(a), Parsed::Finite(b)) => add(a, b).map(format_human),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(a: &str, b: &str) -> Option<String> {
        incr(parse(a.as_bytes())?, parse(b.as_bytes())?)
    }

    #[test]
    fn matches_x87_long_double() {
        // Expected values from `printf("%.17Lf", strtold(a) + strtold(b))` on x86-64 glibc.
        let cases: &[(&str, &str, &str)] = &[
            ("10.5", "0", "10.5"),
            ("0", "3.0e3", "3000"),
            ("0", "5.0e+3", "5000"),
            ("1234", "0.1", "1234.09999999999999998"),
            ("0.1", "0.2", "0.3"),
            ("12345678", "0.9", "12345678.8999999999996362"),
            ("1e20", "1", "100000000000000000000"),
            ("1", "-1", "0"),
            ("-1e-20", "0", "0"),
            ("10", "-10.5", "-0.5"),
            ("1", "1.5e3", "1501"),
            ("17179869184", "1.5", "17179869185.5"),
            ("0", "-0", "0"),
            ("3", ".5", "3.5"),
            ("3", "5.", "8"),
            ("3.7", "-1.2", "2.5"),
            ("1e-5", "99.99", "99.99001"),
            ("123456789.123", "0.877", "123456790"),
            ("0.1", "0.7", "0.8"),
            ("1.1", "2.2", "3.3"),
            ("999999999999999999", "1", "1000000000000000000"),
            (
                "1e308",
                "1e308",
                "199999999999999999993371759311691291321120199694831134415594095989843469737676123744200253843777078640893494450108026446304269499187921167194841628860392837535918200039206381557326219209014213335878306791577877829121087126122536729803237260434173178506889763247582601711514636284849020905456510092687857156096",
            ),
            ("2.5e-17", "0", "0.00000000000000002"),
            ("7", "-7.00000000000000001", "-0.00000000000000001"),
        ];
        for (a, b, want) in cases {
            assert_eq!(sum(a, b).as_deref(), Some(*want), "{a} + {b}");
        }
    }

    #[test]
    fn parse_rules() {
        for bad in [
            "", " 1", "1 ", "abc", "1e", "1e+", ".", "nan", "1..2", "0x10", "1e5000", "1e-5000", "--1",
        ] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(parse(b"inf"), Some(Parsed::Infinite));
        assert_eq!(parse(b"-Infinity"), Some(Parsed::Infinite));
        assert_eq!(sum("inf", "1"), None);
        assert_eq!(sum("1e4932", "1e4932"), None);
    }
}
