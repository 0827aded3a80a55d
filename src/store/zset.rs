//! The value of a Sorted Set key: member → score in scan order, and (score, member) in an
//! order-statistic tree, so ZRANK, ZRANGE by rank, ZCOUNT and ZREMRANGEBY* are O(log n)
//! plus the output. Every range question becomes a half-open rank range `lo..hi`.

use std::cmp::Ordering;

use bytes::Bytes;

use super::order_tree::OrderTree;
use super::set::{HashKey, SCAN_ALL_BELOW, member_hash, scan_tree};

/// A position in score order. Scores are never NaN; -0 and 0 compare equal (as in Redis),
/// ties go by member bytes.
#[derive(Clone, Debug)]
pub struct ScoreKey {
    pub score: f64,
    pub member: Bytes,
}

impl ScoreKey {
    fn probe(&self, score: f64, member: &[u8]) -> Ordering {
        self.score
            .partial_cmp(&score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| self.member[..].cmp(member))
    }
}

impl PartialEq for ScoreKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ScoreKey {}

impl PartialOrd for ScoreKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ScoreKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.probe(other.score, &other.member)
    }
}

/// A score interval; `(` bounds are exclusive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub min_exclusive: bool,
    pub max: f64,
    pub max_exclusive: bool,
}

/// One end of a lexicographic interval: `-`, `+`, `[x` or `(x`.
#[derive(Clone, Debug, PartialEq)]
pub enum LexBound {
    NegInf,
    PosInf,
    Inclusive(Bytes),
    Exclusive(Bytes),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SortedSet {
    members: OrderTree<HashKey, f64>,
    ranks: OrderTree<ScoreKey, ()>,
}

impl SortedSet {
    pub fn new() -> SortedSet {
        SortedSet::default()
    }

    pub fn len(&self) -> usize {
        self.ranks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranks.is_empty()
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        let h = member_hash(member);
        self.members.get_by(|k| k.probe(h, member)).map(|(_, s)| *s)
    }

    /// Sets `member`'s score (never NaN: callers check), returning the old one. The member is
    /// copied so the set never pins a request buffer.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let old = self.remove(member);
        let member = Bytes::copy_from_slice(member);
        self.ranks.insert(
            ScoreKey {
                score,
                member: member.clone(),
            },
            (),
        );
        self.members.insert(HashKey::new(member), score);
        old
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let h = member_hash(member);
        let (_, score) = self.members.remove_by(|k| k.probe(h, member))?;
        self.ranks.remove_by(|k| k.probe(score, member));
        Some(score)
    }

    /// 0-based ascending rank of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.ranks.count_before(|k| k.probe(score, member) == Ordering::Less))
    }

    /// Ranks `lo..hi` of the members whose score lies in `r` (empty when `lo >= hi`).
    pub fn score_ranks(&self, r: &ScoreRange) -> (usize, usize) {
        let lo = self.ranks.count_before(|k| {
            if r.min_exclusive {
                k.score <= r.min
            } else {
                k.score < r.min
            }
        });
        let hi = self.ranks.count_before(|k| {
            if r.max_exclusive {
                k.score < r.max
            } else {
                k.score <= r.max
            }
        });
        (lo, hi.max(lo))
    }

    /// Ranks `lo..hi` of the members between `min` and `max` by bytes (meaningful when all
    /// scores are equal, as in Redis).
    pub fn lex_ranks(&self, min: &LexBound, max: &LexBound) -> (usize, usize) {
        let lo = self.ranks.count_before(|k| match min {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Inclusive(m) => k.member < *m,
            LexBound::Exclusive(m) => k.member <= *m,
        });
        let hi = self.ranks.count_before(|k| match max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Inclusive(m) => k.member <= *m,
            LexBound::Exclusive(m) => k.member < *m,
        });
        (lo, hi.max(lo))
    }

    /// Ascending from `rank`.
    pub fn iter_from(&self, rank: usize) -> impl Iterator<Item = (&Bytes, f64)> {
        self.ranks.iter_from(rank).map(|(k, _)| (&k.member, k.score))
    }

    /// Descending from `rank` down to rank 0.
    pub fn iter_rev_from(&self, rank: usize) -> impl Iterator<Item = (&Bytes, f64)> {
        self.ranks.iter_rev_from(rank).map(|(k, _)| (&k.member, k.score))
    }

    pub fn nth(&self, rank: usize) -> Option<(&Bytes, f64)> {
        self.ranks.select(rank).map(|(k, _)| (&k.member, k.score))
    }

    /// Removes ranks `lo..hi`, returning how many went.
    pub fn remove_ranks(&mut self, lo: usize, hi: usize) -> usize {
        let cut = self.ranks.split_off_range(lo, hi);
        let mut n = 0;
        for (k, _) in cut.iter_from(0) {
            let h = member_hash(&k.member);
            self.members.remove_by(|m| m.probe(h, &k.member));
            n += 1;
        }
        n
    }

    /// Removes the lowest (or highest) member.
    pub fn pop(&mut self, max: bool) -> Option<(Bytes, f64)> {
        let rank = if max { self.len().checked_sub(1)? } else { 0 };
        let (k, _) = self.ranks.remove_rank(rank)?;
        let h = member_hash(&k.member);
        self.members.remove_by(|m| m.probe(h, &k.member));
        Some((k.member, k.score))
    }

    /// One ZSCAN step (see `set::scan_tree`).
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<(&Bytes, f64)>) {
        let count = if self.len() <= SCAN_ALL_BELOW {
            usize::MAX
        } else {
            count
        };
        let (next, items) = scan_tree(&self.members, cursor, count);
        (next, items.into_iter().map(|(k, s)| (&k.member, *s)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::order_tree::mix64;
    use super::*;

    /// Seeded random operations against a naive sorted Vec of (score, member).
    #[test]
    fn matches_a_naive_model() {
        let mut z = SortedSet::new();
        let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
        let mut seed = 7u64;
        let mut rnd = |m: u64| {
            seed += 1;
            mix64(seed) % m
        };
        let sort =
            |m: &mut Vec<(f64, Vec<u8>)>| m.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then_with(|| a.1.cmp(&b.1)));
        for _ in 0..10_000 {
            let member = format!("m{}", rnd(300)).into_bytes();
            let score = rnd(40) as f64 / 4.0 - 5.0;
            match rnd(6) {
                0..=2 => {
                    let old = z.insert(&member, score);
                    let pos = model.iter().position(|e| e.1 == member);
                    assert_eq!(old, pos.map(|i| model[i].0));
                    if let Some(i) = pos {
                        model.remove(i);
                    }
                    model.push((score, member.clone()));
                    sort(&mut model);
                }
                3 => {
                    let pos = model.iter().position(|e| e.1 == member);
                    assert_eq!(z.remove(&member), pos.map(|i| model.remove(i).0));
                }
                4 => {
                    let r = ScoreRange {
                        min: score,
                        min_exclusive: rnd(2) == 0,
                        max: score + rnd(8) as f64 / 2.0,
                        max_exclusive: rnd(2) == 0,
                    };
                    let inside = |s: f64| {
                        (if r.min_exclusive { s > r.min } else { s >= r.min })
                            && (if r.max_exclusive { s < r.max } else { s <= r.max })
                    };
                    let (lo, hi) = z.score_ranks(&r);
                    let want: Vec<f64> = model.iter().map(|e| e.0).filter(|s| inside(*s)).collect();
                    let got: Vec<f64> = z.iter_from(lo).take(hi - lo).map(|e| e.1).collect();
                    assert_eq!(got, want);
                    if rnd(4) == 0 {
                        assert_eq!(z.remove_ranks(lo, hi), want.len());
                        model.retain(|e| !inside(e.0));
                    }
                }
                _ => {
                    let pos = model.iter().position(|e| e.1 == member);
                    assert_eq!(z.rank(&member), pos);
                    assert_eq!(z.score(&member), pos.map(|i| model[i].0));
                    if rnd(5) == 0 {
                        let max = rnd(2) == 0;
                        let want = if max {
                            model.pop()
                        } else if model.is_empty() {
                            None
                        } else {
                            Some(model.remove(0))
                        };
                        assert_eq!(z.pop(max), want.map(|(s, m)| (Bytes::from(m), s)));
                    }
                }
            }
            assert_eq!(z.len(), model.len());
        }
        let all: Vec<(f64, Vec<u8>)> = z.iter_from(0).map(|(m, s)| (s, m.to_vec())).collect();
        assert_eq!(all, model);
    }

    #[test]
    fn lex_ranges_and_zero_signs() {
        let mut z = SortedSet::new();
        for m in ["a", "b", "c", "d"] {
            z.insert(m.as_bytes(), 0.0);
        }
        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        assert_eq!(z.lex_ranks(&LexBound::NegInf, &LexBound::PosInf), (0, 4));
        assert_eq!(
            z.lex_ranks(&LexBound::Exclusive(b("a")), &LexBound::Inclusive(b("c"))),
            (1, 3)
        );
        assert_eq!(z.lex_ranks(&LexBound::PosInf, &LexBound::NegInf), (4, 4));
        z.insert(b"e", -0.0);
        assert_eq!(z.rank(b"e"), Some(4));
    }
}
