//! A digest of a group's whole replicated state (keys, types, values, deadlines, and the
//! WATCH clock), independent of map order and of how a value is laid out in memory, so two
//! replicas at the same applied index report the same digest exactly when they hold the same
//! data. Reported by `DEBUG DIGEST`; tests compare it across replicas and after recovery.

use bytes::Bytes;

#[cfg(test)]
use super::Str;
use super::{Store, Value, mix64};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Two independent 64-bit lanes: a 128-bit digest, so an accidental match is out of reach.
#[derive(Clone, Copy)]
struct Lanes([u64; 2]);

impl Lanes {
    fn new(tag: u8) -> Lanes {
        let mut l = Lanes([FNV_OFFSET, FNV_OFFSET ^ 0x5bd1_e995_9e37_79b9]);
        l.bytes(&[tag]);
        l
    }

    fn bytes(&mut self, data: &[u8]) {
        // Length first, so ("ab", "c") and ("a", "bc") differ.
        for chunk in [&(data.len() as u64).to_le_bytes()[..], data] {
            for &b in chunk {
                self.0[0] = (self.0[0] ^ u64::from(b)).wrapping_mul(FNV_PRIME);
                self.0[1] = (self.0[1] ^ u64::from(b.rotate_left(3))).wrapping_mul(FNV_PRIME);
            }
        }
    }

    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    /// Folds a finished sub-digest in (for unordered collections: add them up first).
    fn lanes(&mut self, other: Lanes) {
        self.u64(other.0[0]);
        self.u64(other.0[1]);
    }

    fn finish(self) -> [u64; 2] {
        [mix64(self.0[0]), mix64(self.0[1] ^ 0x94d0_49bb_1331_11eb)]
    }
}

/// Order-independent sum of element digests.
fn unordered<'a, I: Iterator<Item = Vec<&'a [u8]>>>(items: I) -> Lanes {
    let mut sum = [0u64; 2];
    for parts in items {
        let mut l = Lanes::new(0);
        for p in parts {
            l.bytes(p);
        }
        let [a, b] = l.finish();
        sum[0] = sum[0].wrapping_add(a);
        sum[1] = sum[1].wrapping_add(b);
    }
    Lanes(sum)
}

fn value_digest(v: &Value) -> Lanes {
    match v {
        Value::String(s) => {
            let mut l = Lanes::new(b's');
            l.bytes(s);
            l
        }
        Value::Hash(h) => {
            let mut l = Lanes::new(b'h');
            l.lanes(unordered(h.iter().map(|(f, v)| vec![&f[..], &v[..]])));
            l
        }
        Value::List(items) => {
            let mut l = Lanes::new(b'l');
            for item in items.iter() {
                l.bytes(item);
            }
            l
        }
        Value::Set(m) => {
            let mut l = Lanes::new(b'S');
            l.lanes(unordered(m.iter().map(|x: &Bytes| vec![&x[..]])));
            l
        }
        Value::ZSet(z) => {
            // Score order is part of the value: a sequential digest.
            let mut l = Lanes::new(b'z');
            for (member, score) in z.iter_from(0) {
                l.bytes(member);
                l.u64(score.to_bits());
            }
            l
        }
    }
}

impl Store {
    /// The digest of everything this store replicates, as 32 hex digits.
    pub fn digest(&self) -> String {
        let mut sum = [0u64; 2];
        for (key, entry) in self.entries() {
            let mut l = Lanes::new(b'k');
            l.bytes(key);
            l.u64(entry.deadline().map_or(0, |d| d.wrapping_add(1)));
            l.lanes(value_digest(&entry.value));
            let [a, b] = l.finish();
            sum[0] = sum[0].wrapping_add(a);
            sum[1] = sum[1].wrapping_add(b);
        }
        let mut total = Lanes::new(b'D');
        total.u64(self.len as u64);
        total.lanes(Lanes(sum));
        total.u64(self.clock);
        let mut deleted: Vec<_> = self.deleted.iter().collect();
        deleted.sort_unstable_by_key(|(slot, _)| **slot);
        for (&slot, d) in deleted {
            total.u64(u64::from(slot));
            total.u64(d.forgotten);
            for r in &d.recent {
                total.u64(r.hash);
                total.u64(r.clock);
                total.u64(u64::from(r.expired));
            }
        }
        let [a, b] = total.finish();
        format!("{a:016x}{b:016x}")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::store::{MemberSet, SortedSet};

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn equal_state_equal_digest_whatever_the_order() {
        let build = |order: &[usize]| {
            let mut s = Store::new();
            for &i in order {
                match i {
                    0 => s.insert(b"a", Value::String(Str::copy_from(b"1")), Some(5)),
                    1 => {
                        let h: HashMap<Bytes, Bytes> = [(b("f"), b("x")), (b("g"), b("y"))].into();
                        s.insert(b"h", Value::Hash(Box::new(h)), None)
                    }
                    _ => {
                        let m: MemberSet = [&b"p"[..], b"q"].into_iter().collect();
                        s.insert(b"s", Value::Set(m), None)
                    }
                }
            }
            s
        };
        // Same keys and values inserted in another order: the clock ends equal too.
        assert_eq!(build(&[0, 1, 2]).digest(), build(&[2, 0, 1]).digest());
    }

    #[test]
    fn any_difference_changes_the_digest() {
        let base = || {
            let mut s = Store::new();
            s.insert(b"a", Value::String(Str::copy_from(b"1")), None);
            let mut z = SortedSet::new();
            z.insert(b"m", 1.0);
            z.insert(b"n", 2.0);
            s.insert(b"z", Value::ZSet(Box::new(z)), None);
            s
        };
        let d = base().digest();
        assert_eq!(d.len(), 32);
        // Each change next to a control doing the same store operations without changing the
        // data (the clock ticks alike): only the change may move the digest.
        type Op = Box<dyn Fn(&mut Store)>;
        let cases: Vec<(Op, Op)> = vec![
            (
                Box::new(|s| s.insert(b"a", Value::String(Str::copy_from(b"2")), None)),
                Box::new(|s| s.insert(b"a", Value::String(Str::copy_from(b"1")), None)),
            ),
            (
                Box::new(|s| {
                    s.set_deadline(b"a", Some(9));
                }),
                Box::new(|s| {
                    s.set_deadline(b"a", None);
                }),
            ),
            (
                Box::new(|s| {
                    if let Some(Value::ZSet(z)) = s.value_mut(b"z") {
                        z.insert(b"m", 3.0);
                    }
                }),
                Box::new(|s| {
                    s.value_mut(b"z");
                }),
            ),
            (
                Box::new(|s| s.insert(b"a", Value::List(Box::new([b("1")].into())), None)),
                Box::new(|s| s.insert(b"a", Value::String(Str::copy_from(b"1")), None)),
            ),
        ];
        for (i, (change, control)) in cases.iter().enumerate() {
            let (mut changed, mut same) = (base(), base());
            change(&mut changed);
            control(&mut same);
            assert_ne!(changed.digest(), same.digest(), "case {i}");
        }
    }
}
