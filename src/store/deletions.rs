//! What WATCH needs to know about keys that are gone: per slot, the latest deletions (by a
//! fixed hash of the key), so that a watched key that is missing at EXEC counts as changed
//! only if it was itself deleted since the WATCH. Deletions of other keys of the slot do
//! not abort the transaction, unless more than `RECENT` of them pushed its record out:
//! then the slot's oldest-forgotten clock answers, which errs towards aborting, never the
//! other way. A hash collision errs the same way.

use std::collections::VecDeque;

use super::set::member_hash;

/// Deletions remembered per slot (16 bytes each).
pub const RECENT: usize = 16;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotDeletions {
    /// (key hash, modification clock of its deletion), oldest first.
    pub(super) recent: VecDeque<(u64, u64)>,
    /// The clock of the newest deletion no longer in `recent`, or of a FLUSH of the slot.
    pub(super) forgotten: u64,
}

impl SlotDeletions {
    pub fn record(&mut self, key: &[u8], clock: u64) {
        self.recent.push_back((member_hash(key), clock));
        if self.recent.len() > RECENT
            && let Some((_, at)) = self.recent.pop_front()
        {
            self.forgotten = at;
        }
    }

    /// Every key of the slot went at `clock` (FLUSHDB).
    pub fn record_all(&mut self, clock: u64) {
        self.recent.clear();
        self.forgotten = clock;
    }

    /// Whether `key` may have been deleted after the clock read `seen`.
    pub fn deleted_since(&self, key: &[u8], seen: u64) -> bool {
        let h = member_hash(key);
        match self.recent.iter().rev().find(|(kh, _)| *kh == h) {
            Some(&(_, at)) => at > seen,
            None => self.forgotten > seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_key_itself_or_a_forgotten_deletion_counts() {
        let mut d = SlotDeletions::default();
        d.record(b"other", 5);
        assert!(!d.deleted_since(b"watched", 4), "another key's deletion");
        d.record(b"watched", 6);
        assert!(d.deleted_since(b"watched", 5));
        assert!(!d.deleted_since(b"watched", 6));
        // Deleted at 6, then again at 30 after being set: the latest counts.
        d.record(b"watched", 30);
        assert!(d.deleted_since(b"watched", 10));
        // Enough other deletions push its record out: the forgotten clock answers.
        for i in 0..RECENT as u64 {
            d.record(format!("k{i}").as_bytes(), 40 + i);
        }
        assert!(d.deleted_since(b"watched", 29), "forgotten at 30 > 29");
        assert!(!d.deleted_since(b"watched", 30));
        d.record_all(100);
        assert!(d.deleted_since(b"k1", 99));
        assert!(!d.deleted_since(b"k1", 100));
    }
}
