//! What WATCH needs to know about keys that are gone: per slot, the latest deletions (by a
//! fixed hash of the key, and whether the key had expired), so that a watched key that is
//! missing at EXEC counts as changed only if it was itself deleted since the WATCH.
//! Deletions of other keys of the slot do not abort the transaction, unless more than
//! `RECENT` of them pushed its record out: then the slot's newest forgotten clock answers,
//! which errs towards aborting, never the other way. A hash collision errs the same way.

use std::collections::VecDeque;

use super::set::member_hash;

/// Deletions remembered per slot.
pub const RECENT: usize = 16;

/// One deletion: the key's hash, the modification clock it happened at, and whether the key
/// went because it had expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deletion {
    pub hash: u64,
    pub clock: u64,
    pub expired: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotDeletions {
    /// Oldest first.
    pub(super) recent: VecDeque<Deletion>,
    /// The clock of the newest deletion no longer in `recent`, or of a FLUSH of the slot.
    pub(super) forgotten: u64,
}

impl SlotDeletions {
    pub fn record(&mut self, key: &[u8], clock: u64, expired: bool) {
        self.recent.push_back(Deletion {
            hash: member_hash(key),
            clock,
            expired,
        });
        if self.recent.len() > RECENT
            && let Some(old) = self.recent.pop_front()
        {
            self.forgotten = old.clock;
        }
    }

    /// Every key of the slot went at `clock` (FLUSHDB).
    pub fn record_all(&mut self, clock: u64) {
        self.recent.clear();
        self.forgotten = clock;
    }

    /// Whether `key`, missing now, may have changed after the clock read `seen`. With
    /// `was_expired` (it was present but expired then) its expiry is no change; being set
    /// again and deleted again is (two deletions, or one that was not an expiry).
    pub fn deleted_since(&self, key: &[u8], seen: u64, was_expired: bool) -> bool {
        let h = member_hash(key);
        let mine: Vec<&Deletion> = self.recent.iter().filter(|d| d.hash == h).collect();
        let since: Vec<&Deletion> = mine.iter().copied().filter(|d| d.clock > seen).collect();
        if !was_expired {
            // Any record of the key means every later deletion of it is recorded too
            // (records leave oldest first).
            return if mine.is_empty() {
                self.forgotten > seen
            } else {
                !since.is_empty()
            };
        }
        // Every deletion after `seen` is recorded if nothing after `seen` was forgotten, or
        // if an older deletion of this key still is.
        let complete = self.forgotten <= seen || mine.iter().any(|d| d.clock <= seen);
        !complete || since.len() > 1 || since.iter().any(|d| !d.expired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_key_itself_or_a_forgotten_deletion_counts() {
        let mut d = SlotDeletions::default();
        d.record(b"other", 5, false);
        assert!(!d.deleted_since(b"watched", 4, false), "another key's deletion");
        d.record(b"watched", 6, false);
        assert!(d.deleted_since(b"watched", 5, false));
        assert!(!d.deleted_since(b"watched", 6, false));
        // Deleted at 6, then again at 30 after being set: the latest counts.
        d.record(b"watched", 30, false);
        assert!(d.deleted_since(b"watched", 10, false));
        // Enough other deletions push its record out: the forgotten clock answers.
        for i in 0..RECENT as u64 {
            d.record(format!("k{i}").as_bytes(), 40 + i, false);
        }
        assert!(d.deleted_since(b"watched", 29, false), "forgotten at 30 > 29");
        assert!(!d.deleted_since(b"watched", 30, false));
        d.record_all(100);
        assert!(d.deleted_since(b"k1", 99, false));
        assert!(!d.deleted_since(b"k1", 100, false));
    }

    #[test]
    fn the_expiry_of_a_key_already_expired_is_no_change() {
        let mut d = SlotDeletions::default();
        d.record(b"old", 3, false);
        // Watched at 5 while expired; expired away at 7: no change.
        d.record(b"k", 7, true);
        assert!(!d.deleted_since(b"k", 5, true));
        // Not expired when watched: its expiry is a change.
        assert!(d.deleted_since(b"k", 5, false));
        // Set again and expired again: a change.
        d.record(b"k", 9, true);
        assert!(d.deleted_since(b"k", 5, true));
        // Deleted by DEL: a change.
        let mut e = SlotDeletions::default();
        e.record(b"k", 7, false);
        assert!(e.deleted_since(b"k", 5, true));
        // Its record pushed out: not known, so a change.
        let mut f = SlotDeletions::default();
        f.record(b"k", 7, true);
        for i in 0..RECENT as u64 {
            f.record(format!("x{i}").as_bytes(), 8 + i, false);
        }
        assert!(f.deleted_since(b"k", 5, true));
    }
}
