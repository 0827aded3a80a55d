//! Keyspace-wide questions a node answers per group (KEYS, SCAN, RANDOMKEY, FLUSHALL,
//! CLUSTER slot bookkeeping), and the Redis glob matcher they and HSCAN share.
//! Results are sorted so replicas of a group answer alike, whatever their map order.

use bytes::Bytes;

use super::{Store, mix64};
use crate::slots::Slot;

/// Redis's `stringmatchlen` (case-sensitive): `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, and `\x`
/// escapes; an unterminated `[` class runs to the end of the pattern.
pub fn glob_match(pattern: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    // Where to resume after the last `*`: (pattern after the star, next string position).
    let mut backtrack: Option<(usize, usize)> = None;
    loop {
        if p < pattern.len() && pattern[p] == b'*' {
            while p < pattern.len() && pattern[p] == b'*' {
                p += 1;
            }
            if p == pattern.len() {
                return true;
            }
            backtrack = Some((p, i));
            continue;
        }
        if i == s.len() {
            return p == pattern.len();
        }
        if p < pattern.len()
            && let Some((ok, next)) = match_one(pattern, p, s[i])
            && ok
        {
            p = next;
            i += 1;
            continue;
        }
        match backtrack {
            Some((bp, bi)) if bi < s.len() => {
                backtrack = Some((bp, bi + 1));
                p = bp;
                i = bi + 1;
            }
            _ => return false,
        }
    }
}

/// The same, ignoring ASCII case, as Redis matches CONFIG GET and COMMAND LIST patterns.
pub fn glob_match_nocase(pattern: &[u8], s: &[u8]) -> bool {
    glob_match(&pattern.to_ascii_lowercase(), &s.to_ascii_lowercase())
}

/// Matches one pattern token (not `*`) at `p` against `c`: (matched, next token).
fn match_one(pattern: &[u8], p: usize, c: u8) -> Option<(bool, usize)> {
    match pattern[p] {
        b'?' => Some((true, p + 1)),
        b'[' => {
            let mut q = p + 1;
            let negate = pattern.get(q) == Some(&b'^');
            if negate {
                q += 1;
            }
            let mut hit = false;
            loop {
                match pattern.get(q) {
                    None => break,
                    Some(b']') => {
                        q += 1;
                        break;
                    }
                    Some(b'\\') if q + 1 < pattern.len() => {
                        hit |= pattern[q + 1] == c;
                        q += 2;
                    }
                    Some(&lo) if q + 2 < pattern.len() && pattern[q + 1] == b'-' => {
                        let hi = pattern[q + 2];
                        let (lo, hi) = if lo > hi { (hi, lo) } else { (lo, hi) };
                        hit |= (lo..=hi).contains(&c);
                        q += 3;
                    }
                    Some(&x) => {
                        hit |= x == c;
                        q += 1;
                    }
                }
            }
            Some((hit != negate, q))
        }
        b'\\' if p + 1 < pattern.len() => Some((pattern[p + 1] == c, p + 2)),
        x => Some((x == c, p + 1)),
    }
}

impl Store {
    /// KEYS pattern over this group: live keys that match, sorted.
    pub fn keys_matching(&self, pattern: &[u8], now_ms: u64) -> Vec<Bytes> {
        let match_all = pattern == b"*";
        let mut keys: Vec<Bytes> = self
            .slots
            .values()
            .flat_map(|m| m.iter())
            .filter(|(k, e)| !e.is_expired(now_ms) && (match_all || glob_match(pattern, k)))
            .map(|(k, _)| k.to_bytes())
            .collect();
        keys.sort_unstable();
        keys
    }

    /// SCAN's work for one slot: its live keys matching the pattern and TYPE filter
    /// (case-insensitive, as Redis compares type names), sorted.
    pub fn scan_slot(&self, slot: Slot, pattern: Option<&[u8]>, type_filter: Option<&str>, now_ms: u64) -> Vec<Bytes> {
        let Some(map) = self.slots.get(&slot) else {
            return Vec::new();
        };
        let mut keys: Vec<Bytes> = map
            .iter()
            .filter(|(k, e)| {
                !e.is_expired(now_ms)
                    && pattern.is_none_or(|p| glob_match(p, k))
                    && type_filter.is_none_or(|t| e.value.type_name().eq_ignore_ascii_case(t))
            })
            .map(|(k, _)| k.to_bytes())
            .collect();
        keys.sort_unstable();
        keys
    }

    /// RANDOMKEY: a live key chosen by `seed` (uniform over keys; the same seed and state
    /// give the same key on every replica). None when no key is live.
    pub fn random_key(&self, seed: u64, now_ms: u64) -> Option<Bytes> {
        if self.len == 0 {
            return None;
        }
        let slots = self.slots_in_use();
        let mut r = mix64(seed) % self.len as u64;
        let mut start = 0;
        for (n, slot) in slots.iter().enumerate() {
            let count = self.count_keys_in_slot(*slot) as u64;
            if r < count {
                start = n;
                break;
            }
            r -= count;
        }
        // From the chosen key onwards (wrapping), the first one not expired.
        let mut first = true;
        for slot in slots[start..].iter().chain(&slots[..start]).chain(slots.get(start)) {
            let Some(map) = self.slots.get(slot) else {
                continue;
            };
            let mut keys: Vec<(&super::Key, bool)> = map.iter().map(|(k, e)| (k, e.is_expired(now_ms))).collect();
            keys.sort_unstable();
            let skip = if first { r as usize } else { 0 };
            first = false;
            if let Some((k, _)) = keys.iter().skip(skip).find(|(_, expired)| !expired) {
                return Some(k.to_bytes());
            }
        }
        None
    }

    /// FLUSHALL / FLUSHDB for this group.
    pub fn flush(&mut self) {
        self.clock += 1;
        for slot in self.slots.keys() {
            self.deleted.entry(*slot).or_default().record_all(self.clock);
        }
        self.slots.clear();
        self.deadlines.clear();
        self.len = 0;
    }

    /// Slots holding at least one key (expired or not), ascending.
    pub fn slots_in_use(&self) -> Vec<Slot> {
        let mut slots: Vec<Slot> = self.slots.keys().copied().collect();
        slots.sort_unstable();
        slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slots::key_slot;
    use crate::store::Value;

    #[test]
    fn glob_like_redis() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "abc", true),
            ("a*", "abc", true),
            ("a*c", "abc", true),
            ("a*c", "abcd", false),
            ("*c*", "abcd", true),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("h[b-a]llo", "hallo", true),
            ("h[a-b]llo", "hcllo", false),
            ("h\\*llo", "h*llo", true),
            ("h\\*llo", "hello", false),
            ("h[\\]]llo", "h]llo", true),
            ("[abc", "b", true),
            ("[]x", "x", false),
            ("ab\\", "ab\\", true),
            ("A*", "abc", false),
            ("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", false),
            ("user:*:name", "user:42:name", true),
            ("?", "", false),
            ("**", "x", true),
            ("", "", true),
            ("", "a", false),
            ("h*llo*", "heeellooo", true),
            ("*[0-9]", "abc7", true),
        ];
        for (p, s, want) in cases {
            assert_eq!(glob_match(p.as_bytes(), s.as_bytes()), *want, "{p} ~ {s}");
        }
        assert!(glob_match_nocase(b"APP*", b"appendonly"));
        assert!(glob_match_nocase(b"[A-S]ave", b"SAVE"));
        assert!(!glob_match_nocase(b"[^s]ave", b"Save"));
    }

    fn s(v: &str) -> Value {
        Value::String(crate::store::Str::copy_from(v.as_bytes()))
    }

    #[test]
    fn keyspace_helpers() {
        let mut st = Store::new();
        st.insert(b"{a}1", s("x"), None);
        st.insert(
            b"{a}2",
            Value::List(Box::new(["v"].iter().map(|v| Bytes::from(*v)).collect())),
            None,
        );
        st.insert(b"b", s("z"), Some(5));
        st.insert(b"c", s("z"), None);
        assert_eq!(
            st.keys_matching(b"*", 0),
            vec![
                Bytes::from("b"),
                Bytes::from("c"),
                Bytes::from("{a}1"),
                Bytes::from("{a}2")
            ]
        );
        assert_eq!(st.keys_matching(b"*", 5).len(), 3);
        assert_eq!(
            st.keys_matching(b"{a}?", 5),
            vec![Bytes::from("{a}1"), Bytes::from("{a}2")]
        );
        let sa = key_slot(b"a");
        assert_eq!(st.scan_slot(sa, None, Some("LIST"), 0), vec![Bytes::from("{a}2")]);
        assert_eq!(st.scan_slot(sa, Some(b"*1"), None, 0), vec![Bytes::from("{a}1")]);
        assert_eq!(st.scan_slot(key_slot(b"b"), None, None, 5), Vec::<Bytes>::new());
        let mut want = vec![sa, key_slot(b"b"), key_slot(b"c")];
        want.sort_unstable();
        assert_eq!(st.slots_in_use(), want);

        // Deterministic, live, and every live key reachable.
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let k = st.random_key(seed, 5);
            assert_eq!(k, st.random_key(seed, 5));
            let k = k.unwrap();
            assert_ne!(k, Bytes::from("b"));
            seen.insert(k);
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(st.clone().random_key(7, 5), st.random_key(7, 5));

        st.flush();
        assert!(st.is_empty());
        assert_eq!(st.keys_with_deadline(), 0);
        assert_eq!(st.random_key(1, 0), None);
        assert!(st.slots_in_use().is_empty());

        let mut only_expired = Store::new();
        only_expired.insert(b"x", s("1"), Some(1));
        assert_eq!(only_expired.random_key(3, 10), None);
    }
}
