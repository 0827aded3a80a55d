//! Clients blocked in BLPOP and friends on this node, queued per (group, key) in arrival
//! order, so that the first to block is the first served (Redis's order).

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::raft::types::GroupId;

/// Clients waiting on each (group, key), in arrival order.
#[derive(Default)]
pub struct Waiters {
    queues: Mutex<HashMap<(GroupId, Bytes), VecDeque<u64>>>,
}

impl Waiters {
    pub fn join(&self, group: GroupId, keys: &[Bytes], waiter: u64) {
        let mut q = self.queues.lock();
        for k in keys {
            let queue = q.entry((group, k.clone())).or_default();
            if !queue.contains(&waiter) {
                queue.push_back(waiter);
            }
        }
    }

    pub fn leave(&self, group: GroupId, keys: &[Bytes], waiter: u64) {
        let mut q = self.queues.lock();
        for k in keys {
            if let Some(queue) = q.get_mut(&(group, k.clone())) {
                queue.retain(|&w| w != waiter);
                if queue.is_empty() {
                    q.remove(&(group, k.clone()));
                }
            }
        }
    }

    /// Whether `waiter` is first in line (or alone) for `key`.
    pub fn first(&self, group: GroupId, key: &Bytes, waiter: u64) -> bool {
        self.queues
            .lock()
            .get(&(group, key.clone()))
            .and_then(|q| q.front())
            .is_none_or(|&w| w == waiter)
    }

    /// Clients blocked on this node (INFO blocked_clients).
    pub fn count(&self) -> usize {
        let q = self.queues.lock();
        let mut ids: Vec<u64> = q.values().flatten().copied().collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_to_block_is_served_first_and_leaving_passes_the_turn() {
        let w = Waiters::default();
        let (a, b) = (Bytes::from_static(b"a"), Bytes::from_static(b"b"));
        // Nobody waiting: anyone may take an element.
        assert!(w.first(1, &a, 9));
        w.join(1, std::slice::from_ref(&a), 1);
        w.join(1, &[a.clone(), b.clone()], 2);
        assert!(w.first(1, &a, 1) && !w.first(1, &a, 2));
        // Client 2 is alone on b, and the same key of another group is another queue.
        assert!(w.first(1, &b, 2) && w.first(2, &a, 2));
        assert_eq!(w.count(), 2);
        // Joining again keeps a client's place.
        w.join(1, std::slice::from_ref(&a), 1);
        assert!(w.first(1, &a, 1));
        w.leave(1, std::slice::from_ref(&a), 1);
        assert!(w.first(1, &a, 2));
        w.leave(1, &[a, b], 2);
        assert_eq!(w.count(), 0);
    }
}
