//! The value of a Set key, and the scan order shared with sorted sets.
//!
//! Members are kept ordered by (a fixed 64-bit hash of the member, member). That order is
//! the same on every replica and after a snapshot restore (no per-process hash seed, no
//! HashMap iteration), so a seeded "random" pick by rank chooses the same member
//! everywhere; and the hash is a stable SCAN cursor: a scan resumes at the first member
//! whose hash is at least the cursor, so members present throughout are always returned.

use std::cmp::Ordering;

use bytes::Bytes;

use super::order_tree::{OrderTree, mix64};

/// FNV-1a then a splitmix finalizer: fixed across processes, well spread for cursors.
pub fn member_hash(member: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in member {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix64(h)
}

/// A member in scan order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HashKey {
    pub hash: u64,
    pub member: Bytes,
}

impl HashKey {
    pub fn new(member: Bytes) -> HashKey {
        HashKey {
            hash: member_hash(&member),
            member,
        }
    }

    /// How this key compares to the one of `member` (whose hash is `hash`).
    pub fn probe(&self, hash: u64, member: &[u8]) -> Ordering {
        self.hash.cmp(&hash).then_with(|| self.member[..].cmp(member))
    }
}

/// One SCAN step over a tree in scan order: up to about `count` entries from `cursor` on
/// (never splitting members of equal hash across calls), and the next cursor (0 at the end).
pub fn scan_tree<V>(tree: &OrderTree<HashKey, V>, cursor: u64, count: usize) -> (u64, Vec<(&HashKey, &V)>) {
    let start = tree.count_before(|k| k.hash < cursor);
    let mut out: Vec<(&HashKey, &V)> = Vec::new();
    for (k, v) in tree.iter_from(start) {
        if out.len() >= count && out.last().is_some_and(|(last, _)| last.hash != k.hash) {
            return (k.hash, out);
        }
        out.push((k, v));
    }
    (0, out)
}

/// Collections this small answer a whole SCAN in one call, as Redis does for its compact
/// encodings (clients and tests commonly rely on it).
pub const SCAN_ALL_BELOW: usize = 128;

/// Set members, unique, in scan order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemberSet {
    tree: OrderTree<HashKey, ()>,
}

impl MemberSet {
    pub fn new() -> MemberSet {
        MemberSet::default()
    }

    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        let h = member_hash(member);
        self.tree.get_by(|k| k.probe(h, member)).is_some()
    }

    /// True when it was not there. The member is copied so the set never pins a request.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        if self.contains(member) {
            return false;
        }
        self.tree.insert(HashKey::new(Bytes::copy_from_slice(member)), ());
        true
    }

    /// True when it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        let h = member_hash(member);
        self.tree.remove_by(|k| k.probe(h, member)).is_some()
    }

    /// The member at `rank` of the scan order (for seeded random picks).
    pub fn nth(&self, rank: usize) -> Option<&Bytes> {
        self.tree.select(rank).map(|(k, _)| &k.member)
    }

    pub fn remove_nth(&mut self, rank: usize) -> Option<Bytes> {
        self.tree.remove_rank(rank).map(|(k, _)| k.member)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Bytes> {
        self.tree.iter_from(0).map(|(k, _)| &k.member)
    }

    /// One SSCAN step (see `scan_tree`).
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<&Bytes>) {
        let count = if self.len() <= SCAN_ALL_BELOW {
            usize::MAX
        } else {
            count
        };
        let (next, items) = scan_tree(&self.tree, cursor, count);
        (next, items.into_iter().map(|(k, _)| &k.member).collect())
    }
}

impl<'a> FromIterator<&'a [u8]> for MemberSet {
    fn from_iter<T: IntoIterator<Item = &'a [u8]>>(iter: T) -> Self {
        let mut s = MemberSet::new();
        for m in iter {
            s.insert(m);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_returns_members_present_throughout() {
        let mut s = MemberSet::new();
        for i in 0..1000 {
            s.insert(format!("m{i}").as_bytes());
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            let (next, items) = s.scan(cursor, 10);
            seen.extend(items.into_iter().cloned());
            // Churn between calls: remove some early members, add new ones.
            s.remove(format!("m{step}").as_bytes());
            s.insert(format!("new{step}").as_bytes());
            step += 1;
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert!(step > 50);
        for i in step..1000 {
            assert!(seen.contains(format!("m{i}").as_bytes()), "m{i}");
        }
    }

    #[test]
    fn insert_remove_nth() {
        let mut s: MemberSet = [&b"a"[..], b"b", b"c", b"a"].into_iter().collect();
        assert_eq!(s.len(), 3);
        assert!(s.contains(b"b"));
        assert!(!s.insert(b"b"));
        assert!(s.remove(b"b"));
        assert!(!s.remove(b"b"));
        let first = s.nth(0).cloned();
        assert_eq!(s.remove_nth(0), first);
        assert_eq!(s.len(), 1);
        let (cur, items) = s.scan(0, 1);
        assert_eq!((cur, items.len()), (0, 1));
    }
}
