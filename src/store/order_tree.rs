//! An order-statistic tree: a treap whose nodes count their subtree, so rank, select, range
//! counts and range removal are O(log n) (expected) instead of linear scans. Sorted sets keep
//! their (score, member) order in one, and sets and sorted sets keep their scan order in one.
//!
//! Priorities are random, from the thread's generator (a CSPRNG seeded from the OS): a client
//! cannot predict them, so no choice of keys can make the tree deep (a counter's priorities,
//! as before, let one ZADD of 30,000 chosen members build a chain that took seconds to apply and
//! overflowed the stack when larger). Its height is O(log n) with high probability whatever
//! the keys, which bounds the recursion of `split` and `merge` too. Shapes differ between
//! replicas and after a snapshot restore, but nothing observable depends on the shape, only on
//! the key order, so they all answer alike.

use std::cmp::Ordering;

type Link<K, V> = Option<Box<Node<K, V>>>;

#[derive(Clone, Debug)]
struct Node<K, V> {
    key: K,
    value: V,
    prio: u64,
    size: usize,
    left: Link<K, V>,
    right: Link<K, V>,
}

impl<K, V> Node<K, V> {
    fn fix(&mut self) {
        self.size = 1 + size(&self.left) + size(&self.right);
    }
}

fn size<K, V>(link: &Link<K, V>) -> usize {
    link.as_ref().map_or(0, |n| n.size)
}

/// Splits `t` into the leading keys for which `below` holds and the rest (`below` must hold
/// on a prefix of the order).
fn split<K, V>(t: Link<K, V>, below: &impl Fn(&K) -> bool) -> (Link<K, V>, Link<K, V>) {
    match t {
        None => (None, None),
        Some(mut n) => {
            if below(&n.key) {
                let (l, r) = split(n.right.take(), below);
                n.right = l;
                n.fix();
                (Some(n), r)
            } else {
                let (l, r) = split(n.left.take(), below);
                n.left = r;
                n.fix();
                (l, Some(n))
            }
        }
    }
}

/// Splits `t` into its first `k` keys and the rest.
fn split_rank<K, V>(t: Link<K, V>, k: usize) -> (Link<K, V>, Link<K, V>) {
    match t {
        None => (None, None),
        Some(mut n) => {
            let ls = size(&n.left);
            if k <= ls {
                let (l, r) = split_rank(n.left.take(), k);
                n.left = r;
                n.fix();
                (l, Some(n))
            } else {
                let (l, r) = split_rank(n.right.take(), k - ls - 1);
                n.right = l;
                n.fix();
                (Some(n), r)
            }
        }
    }
}

/// Joins two trees where every key of `a` orders before every key of `b`.
fn merge<K, V>(a: Link<K, V>, b: Link<K, V>) -> Link<K, V> {
    match (a, b) {
        (None, b) => b,
        (a, None) => a,
        (Some(mut a), Some(mut b)) => {
            if a.prio >= b.prio {
                a.right = merge(a.right.take(), Some(b));
                a.fix();
                Some(a)
            } else {
                b.left = merge(Some(a), b.left.take());
                b.fix();
                Some(b)
            }
        }
    }
}

/// splitmix64's output function: a well-mixed u64 from any u64.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Keys in order with their values, indexable by rank.
#[derive(Clone, Debug)]
pub struct OrderTree<K, V> {
    root: Link<K, V>,
}

impl<K, V> Default for OrderTree<K, V> {
    fn default() -> Self {
        OrderTree { root: None }
    }
}

impl<K: Ord, V: PartialEq> PartialEq for OrderTree<K, V> {
    /// Same keys and values in the same order, whatever the shapes.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter_from(0).eq(other.iter_from(0))
    }
}

impl<K: Ord, V> OrderTree<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        size(&self.root)
    }

    pub fn is_empty(&self) -> bool {
        self.root.is_none()
    }

    /// Inserts `key`, replacing the value if it was there; returns the old value.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Some(v) = self.get_mut_by(|k| k.cmp(&key)) {
            return Some(std::mem::replace(v, value));
        }
        let node = Box::new(Node {
            prio: rand::random(),
            key,
            value,
            size: 1,
            left: None,
            right: None,
        });
        let (l, r) = split(self.root.take(), &|k: &K| *k < node.key);
        self.root = merge(merge(l, Some(node)), r);
        None
    }

    /// Finds a key by a probe giving how each stored key compares to the one sought (so a
    /// lookup needs no owned key).
    pub fn get_by(&self, probe: impl Fn(&K) -> Ordering) -> Option<(&K, &V)> {
        let mut cur = &self.root;
        while let Some(n) = cur {
            match probe(&n.key) {
                Ordering::Less => cur = &n.right,
                Ordering::Greater => cur = &n.left,
                Ordering::Equal => return Some((&n.key, &n.value)),
            }
        }
        None
    }

    fn get_mut_by(&mut self, probe: impl Fn(&K) -> Ordering) -> Option<&mut V> {
        let mut cur = &mut self.root;
        while let Some(n) = cur {
            match probe(&n.key) {
                Ordering::Less => cur = &mut n.right,
                Ordering::Greater => cur = &mut n.left,
                Ordering::Equal => return Some(&mut n.value),
            }
        }
        None
    }

    /// Removes the key the probe finds (see `get_by`).
    pub fn remove_by(&mut self, probe: impl Fn(&K) -> Ordering) -> Option<(K, V)> {
        self.get_by(&probe)?;
        let (l, rest) = split(self.root.take(), &|k: &K| probe(k) == Ordering::Less);
        let (mid, r) = split(rest, &|k: &K| probe(k) != Ordering::Greater);
        self.root = merge(l, r);
        mid.map(|n| (n.key, n.value))
    }

    /// How many leading keys satisfy `below`, which must hold on a prefix of the order.
    pub fn count_before(&self, below: impl Fn(&K) -> bool) -> usize {
        let mut cur = &self.root;
        let mut n = 0;
        while let Some(node) = cur {
            if below(&node.key) {
                n += size(&node.left) + 1;
                cur = &node.right;
            } else {
                cur = &node.left;
            }
        }
        n
    }

    /// The key at 0-based `rank`.
    pub fn select(&self, mut rank: usize) -> Option<(&K, &V)> {
        let mut cur = &self.root;
        while let Some(n) = cur {
            let ls = size(&n.left);
            match rank.cmp(&ls) {
                Ordering::Less => cur = &n.left,
                Ordering::Equal => return Some((&n.key, &n.value)),
                Ordering::Greater => {
                    rank -= ls + 1;
                    cur = &n.right;
                }
            }
        }
        None
    }

    /// Removes and returns the key at `rank`.
    pub fn remove_rank(&mut self, rank: usize) -> Option<(K, V)> {
        if rank >= self.len() {
            return None;
        }
        let (l, rest) = split_rank(self.root.take(), rank);
        let (mid, r) = split_rank(rest, 1);
        self.root = merge(l, r);
        mid.map(|n| (n.key, n.value))
    }

    /// Cuts out ranks `start..end` as a tree of their own.
    pub fn split_off_range(&mut self, start: usize, end: usize) -> OrderTree<K, V> {
        let end = end.min(self.len());
        if start >= end {
            return OrderTree::new();
        }
        let (l, rest) = split_rank(self.root.take(), start);
        let (mid, r) = split_rank(rest, end - start);
        self.root = merge(l, r);
        OrderTree { root: mid }
    }

    /// Keys in ascending order from `rank`: O(log n) to start, O(1) amortized per step.
    pub fn iter_from(&self, rank: usize) -> Iter<'_, K, V> {
        let mut stack = Vec::new();
        let mut cur = &self.root;
        let mut r = rank;
        while let Some(n) = cur {
            let ls = size(&n.left);
            match r.cmp(&ls) {
                Ordering::Less => {
                    stack.push(&**n);
                    cur = &n.left;
                }
                Ordering::Equal => {
                    stack.push(&**n);
                    break;
                }
                Ordering::Greater => {
                    r -= ls + 1;
                    cur = &n.right;
                }
            }
        }
        Iter { stack, rev: false }
    }

    /// Keys in descending order from `rank` down to rank 0.
    pub fn iter_rev_from(&self, rank: usize) -> Iter<'_, K, V> {
        let mut stack = Vec::new();
        let mut cur = &self.root;
        let mut r = rank;
        while let Some(n) = cur {
            let ls = size(&n.left);
            match r.cmp(&ls) {
                Ordering::Less => cur = &n.left,
                Ordering::Equal => {
                    stack.push(&**n);
                    break;
                }
                Ordering::Greater => {
                    stack.push(&**n);
                    r -= ls + 1;
                    cur = &n.right;
                }
            }
        }
        Iter { stack, rev: true }
    }
}

/// In-order walk with an explicit stack (see `iter_from` / `iter_rev_from`).
pub struct Iter<'a, K, V> {
    stack: Vec<&'a Node<K, V>>,
    rev: bool,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        let n = self.stack.pop()?;
        let mut cur = if self.rev { &n.left } else { &n.right };
        while let Some(c) = cur {
            self.stack.push(c);
            cur = if self.rev { &c.right } else { &c.left };
        }
        Some((&n.key, &n.value))
    }
}

#[cfg(test)]
impl<K, V> OrderTree<K, V> {
    /// The longest path from the root, in nodes.
    fn height(&self) -> usize {
        let mut stack: Vec<(&Node<K, V>, usize)> = self.root.as_deref().map(|n| (n, 1)).into_iter().collect();
        let mut deepest = 0;
        while let Some((n, d)) = stack.pop() {
            deepest = deepest.max(d);
            stack.extend([&n.left, &n.right].into_iter().flatten().map(|c| (&**c, d + 1)));
        }
        deepest
    }
}

impl<K, V> Drop for OrderTree<K, V> {
    /// Iterative teardown, so dropping never recurses deeper than one node.
    fn drop(&mut self) {
        let mut stack: Vec<Box<Node<K, V>>> = self.root.take().into_iter().collect();
        while let Some(mut n) = stack.pop() {
            stack.extend(n.left.take());
            stack.extend(n.right.take());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many seeded random operations against a sorted Vec model.
    #[test]
    fn matches_a_naive_model() {
        let mut tree: OrderTree<u32, u32> = OrderTree::new();
        let mut model: Vec<(u32, u32)> = Vec::new();
        let mut seed = 42u64;
        let mut rnd = |m: u64| {
            seed = seed.wrapping_add(1);
            mix64(seed) % m
        };
        for step in 0..20_000u32 {
            let key = rnd(500) as u32;
            match rnd(8) {
                0..=2 => {
                    let old = tree.insert(key, step);
                    match model.binary_search_by_key(&key, |e| e.0) {
                        Ok(i) => {
                            assert_eq!(old, Some(model[i].1));
                            model[i].1 = step;
                        }
                        Err(i) => {
                            assert_eq!(old, None);
                            model.insert(i, (key, step));
                        }
                    }
                }
                3 | 4 => {
                    let got = tree.remove_by(|k| k.cmp(&key));
                    let want = model.binary_search_by_key(&key, |e| e.0).ok().map(|i| model.remove(i));
                    assert_eq!(got, want);
                }
                5 => {
                    let rank = rnd(model.len() as u64 + 2) as usize;
                    let got = tree.remove_rank(rank);
                    let want = (rank < model.len()).then(|| model.remove(rank));
                    assert_eq!(got, want);
                }
                6 => {
                    let a = rnd(model.len() as u64 + 2) as usize;
                    let b = rnd(model.len() as u64 + 2) as usize;
                    let cut = tree.split_off_range(a, b);
                    let want: Vec<(u32, u32)> = if a < b.min(model.len()) {
                        model.drain(a..b.min(model.len())).collect()
                    } else {
                        Vec::new()
                    };
                    let got: Vec<(u32, u32)> = cut.iter_from(0).map(|(k, v)| (*k, *v)).collect();
                    assert_eq!(got, want);
                }
                _ => {
                    assert_eq!(tree.count_before(|k| *k < key), model.partition_point(|e| e.0 < key));
                    assert_eq!(tree.get_by(|k| k.cmp(&key)).map(|(_, v)| *v), {
                        model.binary_search_by_key(&key, |e| e.0).ok().map(|i| model[i].1)
                    });
                    let rank = rnd(model.len() as u64 + 1) as usize;
                    assert_eq!(tree.select(rank).map(|(k, v)| (*k, *v)), model.get(rank).copied());
                    let fwd: Vec<u32> = tree.iter_from(rank).take(5).map(|(k, _)| *k).collect();
                    let want: Vec<u32> = model.iter().skip(rank).take(5).map(|e| e.0).collect();
                    assert_eq!(fwd, want);
                    let rev: Vec<u32> = tree.iter_rev_from(rank).take(5).map(|(k, _)| *k).collect();
                    let want: Vec<u32> = model.iter().take(rank + 1).rev().take(5).map(|e| e.0).collect();
                    assert_eq!(rev, want);
                }
            }
            assert_eq!(tree.len(), model.len());
        }
        let all: Vec<(u32, u32)> = tree.iter_from(0).map(|(k, v)| (*k, *v)).collect();
        assert_eq!(all, model);
        let clone = tree.clone();
        assert!(clone == tree);
    }

    #[test]
    fn large_trees_stay_shallow_and_drop() {
        let mut tree = OrderTree::new();
        for i in 0..200_000u32 {
            tree.insert(i, ());
        }
        assert_eq!(tree.select(123_456).map(|(k, _)| *k), Some(123_456));
        assert_eq!(tree.count_before(|k| *k < 1000), 1000);
    }

    /// Keys chosen against priorities a client can predict (a counter's, as before): each
    /// insert's key ranks among all keys as its priority does among all priorities, which
    /// makes a treap with those priorities a chain (100,000 deep, a stack overflow).
    #[test]
    fn keys_chosen_against_predictable_priorities_do_not_make_it_deep() {
        let n = 100_000usize;
        let prios: Vec<u64> = (1..=n as u64).map(mix64).collect();
        let mut by_prio: Vec<usize> = (0..n).collect();
        by_prio.sort_by_key(|&i| prios[i]);
        let mut rank = vec![0u32; n];
        for (r, &i) in by_prio.iter().enumerate() {
            rank[i] = r as u32;
        }
        let mut tree = OrderTree::new();
        for k in rank {
            tree.insert(k, ());
        }
        assert_eq!(tree.len(), n);
        assert!(tree.height() < 100, "height {} for {n} keys", tree.height());
    }
}
