//! The in-memory keyspace of one Raft group (docs/architecture.md, layer 1). Keys are grouped per
//! slot so slot-level questions (COUNTKEYSINSLOT, GETKEYSINSLOT, moving a slot) never scan
//! the whole group, and deadlines live in an ordered index so active expiry is cheap.
//!
//! Nothing here reads a clock: every time is passed in, so `apply` stays deterministic.

mod deletions;
mod digest;
mod key;
mod order_tree;
pub mod scan;
mod set;
mod snapshot;
mod zset;

pub use key::Key;
pub use order_tree::mix64;
pub use set::MemberSet;
pub use snapshot::WRITE_CHUNK;
pub use zset::{LexBound, ScoreRange, SortedSet};

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;

use crate::slots::{Slot, key_slot};

/// A value of one key; commands match on the variant they need and answer WRONGTYPE for the
/// others.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    String(Str),
    /// The aggregates are boxed: a variant wider than a string's would widen every entry of
    /// every table, strings (most keys of a cache) included.
    Hash(Box<HashMap<Bytes, Bytes>>),
    List(Box<VecDeque<Bytes>>),
    Set(MemberSet),
    ZSet(Box<SortedSet>),
}

impl Value {
    /// The name TYPE replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// An aggregate with no elements left: Redis deletes such keys.
    pub fn is_empty_aggregate(&self) -> bool {
        match self {
            Value::String(_) => false,
            Value::Hash(h) => h.is_empty(),
            Value::List(l) => l.is_empty(),
            Value::Set(m) => m.is_empty(),
            Value::ZSet(z) => z.is_empty(),
        }
    }
}

/// A string value. Cloning one (a snapshot's copy of a slot) allocates nothing: a `Bytes`
/// built from a `Vec` allocates a 32-byte header the first time it is cloned, and kept it, so
/// every value read once or copied by a snapshot cost 32 bytes more. Most strings are written
/// whole (`Fixed`, one allocation); a string grown by APPEND or SETRANGE keeps spare capacity
/// (`Growable`), so growing it piece by piece stays linear, as Redis's sds does.
#[derive(Clone)]
pub enum Str {
    Fixed(Arc<[u8]>),
    Growable(Arc<Vec<u8>>),
}

impl Str {
    /// A copy of `b`: the store never pins a larger request buffer.
    pub fn copy_from(b: &[u8]) -> Str {
        Str::Fixed(Arc::from(b))
    }

    /// The value as a reply's `Bytes`, sharing the store's allocation.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Str::Fixed(b) => Bytes::from_owner(b.clone()),
            Str::Growable(v) => Bytes::from_owner(GrowableBytes(v.clone())),
        }
    }

    /// Appends `tail` in place, with spare capacity for the next append; copies once when a
    /// snapshot still shares the value.
    pub fn append(&mut self, tail: &[u8]) {
        let new_len = self.len() + tail.len();
        // As sds: double while small, then at most 1 MB of spare capacity.
        let spare = new_len.min(1 << 20);
        if let Str::Growable(v) = self {
            let v = Arc::make_mut(v);
            if v.capacity() < new_len {
                v.reserve_exact(new_len + spare - v.len());
            }
            v.extend_from_slice(tail);
            return;
        }
        let mut v = Vec::with_capacity(new_len + spare);
        v.extend_from_slice(self);
        v.extend_from_slice(tail);
        *self = Str::Growable(Arc::new(v));
    }
}

impl Str {
    /// The bytes, at least `len` long (zero-filled past the old end), to change in place:
    /// SETBIT and SETRANGE write into them instead of copying the string per write. A fixed
    /// string is copied once into a growable one; a growable one only when a snapshot still
    /// shares it.
    pub fn edit(&mut self, len: usize) -> &mut [u8] {
        if let Str::Fixed(b) = self {
            let mut v = Vec::with_capacity(b.len().max(len));
            v.extend_from_slice(b);
            *self = Str::Growable(Arc::new(v));
        }
        let v = match self {
            Str::Growable(v) => Arc::make_mut(v),
            Str::Fixed(_) => unreachable!("made growable above"),
        };
        if v.len() < len {
            v.resize(len, 0);
        }
        v
    }
}

/// A growable string's buffer as a `Bytes` owner.
struct GrowableBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for GrowableBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::Deref for Str {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Str::Fixed(b) => b,
            Str::Growable(v) => v,
        }
    }
}

impl From<&[u8]> for Str {
    fn from(b: &[u8]) -> Str {
        Str::copy_from(b)
    }
}

impl From<Bytes> for Str {
    fn from(b: Bytes) -> Str {
        Str::copy_from(&b)
    }
}

impl From<Vec<u8>> for Str {
    fn from(v: Vec<u8>) -> Str {
        Str::Fixed(Arc::from(v))
    }
}

impl PartialEq for Str {
    fn eq(&self, other: &Str) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for Str {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", Bytes::copy_from_slice(self))
    }
}

/// One key's value and its absolute deadline (ms since the epoch). The deadline is only
/// changed through `Store` so the expiry index stays in step.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub value: Value,
    /// The deadline, 0 for none (a deadline of 0 is kept as 1: both are long past). Eight
    /// bytes instead of an `Option`'s sixteen: an entry is in every bucket of a slot's table.
    deadline: u64,
    /// The store's modification clock when this key last changed (WATCH compares it).
    version: u64,
}

impl Entry {
    pub fn deadline(&self) -> Option<u64> {
        (self.deadline != 0).then_some(self.deadline)
    }

    /// Whether the key is logically gone at `now_ms`. One predicate for reads, writes and
    /// active expiry, so they can never disagree about a key.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.deadline().is_some_and(|d| d <= now_ms)
    }
}

/// A deadline as entries keep it: 0 (the epoch, long past) becomes 1, since 0 means none.
fn normal(deadline: Option<u64>) -> Option<u64> {
    deadline.map(|d| d.max(1))
}

/// The keys of one slot. Shared, so that cloning the store (for a snapshot) copies no keys:
/// a slot written while a snapshot still holds it is copied then, alone (copy-on-write, as a
/// forked Redis child shares pages).
///
/// Hashed with foldhash (seeded per process, as std's SipHash is): SipHash of the key and of
/// the slot number was a noticeable share of applying a SET (docs/performance.md).
type SlotKeys = Arc<SlotTable>;

type SlotTable = HashMap<Key, Entry, Hasher>;

type Hasher = foldhash::fast::RandomState;

/// The keyspace of one group.
#[derive(Clone, Debug, Default)]
pub struct Store {
    slots: HashMap<Slot, SlotKeys, Hasher>,
    /// (deadline, key) for every key with a deadline: active expiry reads its head.
    deadlines: BTreeSet<(u64, Key)>,
    len: usize,
    /// Modification clock: ticks on every change to a key, so WATCH can tell whether a key
    /// changed. It is part of the replicated state (and of snapshots): every replica decides
    /// an EXEC's WATCH check alike.
    clock: u64,
    /// Per slot, its recent deletions: a watched key that is absent at EXEC counts as
    /// changed if it was deleted since the WATCH.
    deleted: HashMap<Slot, deletions::SlotDeletions>,
}

impl Store {
    pub fn new() -> Store {
        Store::default()
    }

    /// Keys present, including expired ones not yet deleted (as Redis's DBSIZE counts).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// COUNTKEYSINSLOT without scanning other slots.
    pub fn count_keys_in_slot(&self, slot: Slot) -> usize {
        self.slots.get(&slot).map_or(0, |m| m.len())
    }

    /// GETKEYSINSLOT: up to `count` keys of one slot, in no particular order.
    pub fn keys_in_slot(&self, slot: Slot, count: usize) -> Vec<Bytes> {
        self.slots
            .get(&slot)
            .map(|m| m.keys().take(count).map(Key::to_bytes).collect())
            .unwrap_or_default()
    }

    /// Keys whose deadline is `<= now_ms`, at most `max`, earliest first; work is bounded
    /// by `max` so the leader's expiry task never stalls the group.
    pub fn expired_sample(&self, now_ms: u64, max: usize) -> Vec<Bytes> {
        self.deadlines
            .iter()
            .take_while(|(d, _)| *d <= now_ms)
            .take(max)
            .map(|(_, k)| k.to_bytes())
            .collect()
    }

    /// INFO keyspace `expires=`.
    pub fn keys_with_deadline(&self) -> usize {
        self.deadlines.len()
    }

    /// The entry of `key`, expired or not.
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.slots.get(&key_slot(key))?.get(key)
    }

    /// The entry of `key` unless it is past its deadline at `now_ms` (lazy expiry for reads,
    /// which must not mutate).
    pub fn get_live(&self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        self.get(key).filter(|e| !e.is_expired(now_ms))
    }

    /// Mutable access to a value (counted as a change for WATCH); the deadline stays as it is.
    pub fn value_mut(&mut self, key: &[u8]) -> Option<&mut Value> {
        let map = self.slots.get_mut(&key_slot(key)).filter(|m| m.contains_key(key))?;
        let entry = Arc::make_mut(map).get_mut(key)?;
        self.clock += 1;
        entry.version = self.clock;
        Some(&mut entry.value)
    }

    /// Sets `key` to `value` with `deadline`, replacing any previous entry. The key is copied
    /// so the store never pins a larger request buffer (a `Str` is a copy already).
    pub fn insert(&mut self, key: &[u8], value: Value, deadline: Option<u64>) {
        let deadline = normal(deadline);
        let map = Arc::make_mut(self.slots.entry(key_slot(key)).or_default());
        self.clock += 1;
        let version = self.clock;
        let new = Entry {
            value,
            deadline: deadline.unwrap_or(0),
            version,
        };
        // A replace updates the entry where it is: one lookup, and the stored key (shared with
        // the deadline index) stays.
        if let Some(entry) = map.get_mut(key) {
            let old_deadline = std::mem::replace(entry, new).deadline();
            if old_deadline != deadline
                && let Some((stored, _)) = map.get_key_value(key)
            {
                if let Some(d) = old_deadline {
                    self.deadlines.remove(&(d, stored.clone()));
                }
                if let Some(d) = deadline {
                    self.deadlines.insert((d, stored.clone()));
                }
            }
            return;
        }
        let key = Key::new(key);
        if let Some(d) = deadline {
            self.deadlines.insert((d, key.clone()));
        }
        self.len += 1;
        map.insert(key, new);
    }

    /// Reads what writes to `keys` will touch (each slot's table, the key's bucket, the start
    /// and end of its string value) so that they find it in the CPU cache; returns a sum of what
    /// it read, for the caller to `black_box`. Nothing changes.
    ///
    /// A write to a large keyspace waits on about three cache misses, one after another (the
    /// table's control bytes, the bucket, the old value): a third of applying pipelined SETs.
    /// Here each step is taken for every key before the next step, in loops short enough for
    /// the CPU to have the misses of several keys in flight at once. Both ends of a value: a
    /// 100-byte value spans two or three cache lines, and a SET overwriting it in place stalls
    /// on the lines not read.
    pub fn warm(&self, keys: &[&[u8]]) -> u64 {
        const AHEAD: usize = 32;
        let mut sum = 0u64;
        for keys in keys.chunks(AHEAD) {
            let mut tables: [Option<&SlotTable>; AHEAD] = [None; AHEAD];
            for (t, key) in tables.iter_mut().zip(keys) {
                *t = self.slots.get(&key_slot(key)).map(|m| &**m);
                sum += t.map_or(0, |m| m.len() as u64);
            }
            let mut entries: [Option<&Entry>; AHEAD] = [None; AHEAD];
            for ((e, t), key) in entries.iter_mut().zip(&tables).zip(keys) {
                *e = t.and_then(|m| m.get(*key));
            }
            for e in entries.iter().flatten() {
                if let Value::String(s) = &e.value {
                    sum += u64::from(s.first().copied().unwrap_or(0)) + u64::from(s.last().copied().unwrap_or(0));
                }
            }
        }
        sum
    }

    /// Sets `key` to the string `value` with `deadline`, as `insert` does; but a string of the
    /// same length and deadline that nothing else holds (no snapshot, no reply in flight) is
    /// overwritten where it is. A SET of a key that already holds a value of its size (a cache
    /// refreshing its entries) then allocates nothing and frees nothing: freeing the old value
    /// cost a cache miss on a cold allocation per SET.
    pub fn set_string(&mut self, key: &[u8], value: &[u8], deadline: Option<u64>) {
        let deadline = normal(deadline);
        if let Some(map) = self.slots.get_mut(&key_slot(key))
            && let Some(entry) = Arc::make_mut(map).get_mut(key)
            && entry.deadline() == deadline
            && let Value::String(Str::Fixed(old)) = &mut entry.value
            && old.len() == value.len()
            && let Some(bytes) = Arc::get_mut(old)
        {
            bytes.copy_from_slice(value);
            self.clock += 1;
            entry.version = self.clock;
            return;
        }
        self.insert(key, Value::String(Str::copy_from(value)), deadline);
    }

    /// Deletes `key`, returning its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.remove_as(key, false)
    }

    /// Deletes `key`, noting whether it went because it had expired (WATCH tells the two apart).
    fn remove_as(&mut self, key: &[u8], expired: bool) -> Option<Entry> {
        let slot = key_slot(key);
        let map = self.slots.get_mut(&slot)?;
        if !map.contains_key(key) {
            return None;
        }
        let map = Arc::make_mut(map);
        let (k, entry) = map.remove_entry(key)?;
        if map.is_empty() {
            self.slots.remove(&slot);
        }
        self.len -= 1;
        if let Some(d) = entry.deadline() {
            self.deadlines.remove(&(d, k));
        }
        self.clock += 1;
        self.deleted.entry(slot).or_default().record(key, self.clock, expired);
        Some(entry)
    }

    /// Changes the deadline of an existing key; false when the key is missing.
    pub fn set_deadline(&mut self, key: &[u8], deadline: Option<u64>) -> bool {
        let deadline = normal(deadline);
        let Some(map) = self.slots.get_mut(&key_slot(key)) else {
            return false;
        };
        if !map.contains_key(key) {
            return false;
        }
        let map = Arc::make_mut(map);
        let Some(k) = map.get_key_value(key).map(|(k, _)| k.clone()) else {
            return false;
        };
        let Some(entry) = map.get_mut(key) else {
            return false;
        };
        let old = entry.deadline();
        entry.deadline = deadline.unwrap_or(0);
        self.clock += 1;
        entry.version = self.clock;
        if old != deadline {
            if let Some(old) = old {
                self.deadlines.remove(&(old, k.clone()));
            }
            if let Some(new) = deadline {
                self.deadlines.insert((new, k));
            }
        }
        true
    }

    /// Deletes `key` if it is past its deadline at `now_ms` (lazy expiry inside apply,
    /// where time comes from the log entry). True when it deleted.
    pub fn expire_if_needed(&mut self, key: &[u8], now_ms: u64) -> bool {
        if self.get(key).is_some_and(|e| e.is_expired(now_ms)) {
            self.remove_as(key, true);
            true
        } else {
            false
        }
    }

    /// Deletes `key` if its hash or list has become empty.
    pub fn remove_if_empty(&mut self, key: &[u8]) {
        if self.get(key).is_some_and(|e| e.value.is_empty_aggregate()) {
            self.remove(key);
        }
    }

    /// What a WATCH records: the modification clock now. Read on the leader after a
    /// linearizable barrier, and compared at the EXEC entry's apply by `changed_since`.
    pub fn watch_seen(&self) -> u64 {
        self.clock
    }

    /// Whether `key` is present but past its deadline at `now_ms` (WATCH notes it: such a key
    /// being deleted by expiry later is no change, as in Redis).
    pub fn is_expired_at(&self, key: &[u8], now_ms: u64) -> bool {
        self.get(key).is_some_and(|e| e.is_expired(now_ms))
    }

    /// Whether `key` may have changed since the clock read `seen`, at `now_ms`. `was_expired`:
    /// the key was already expired when watched. As Redis 7: a newer version aborts; so does a
    /// deadline passed since the WATCH, or a deletion since, except the expiry of a key that
    /// was already expired. Never false for a key that did change.
    pub fn changed_since(&self, key: &[u8], seen: u64, was_expired: bool, now_ms: u64) -> bool {
        match self.get(key) {
            Some(e) => e.version > seen || (e.is_expired(now_ms) && !was_expired),
            None => self
                .deleted
                .get(&key_slot(key))
                .is_some_and(|d| d.deleted_since(key, seen, was_expired)),
        }
    }

    /// Every entry, for snapshots.
    fn entries(&self) -> impl Iterator<Item = (&Key, &Entry)> {
        self.slots.values().flat_map(|m| m.iter())
    }

    /// Inserts an entry read from a snapshot; false if the key was already there.
    fn insert_new(&mut self, key: Key, entry: Entry) -> bool {
        let map = Arc::make_mut(self.slots.entry(key_slot(&key)).or_default());
        if map.contains_key(&key) {
            return false;
        }
        if let Some(d) = entry.deadline() {
            self.deadlines.insert((d, key.clone()));
        }
        map.insert(key, entry);
        self.len += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::String(Str::copy_from(v.as_bytes()))
    }

    #[test]
    fn an_entry_stays_small() {
        // Every bucket of every slot's table holds a key (16 bytes) and an entry: at a million
        // keys each byte here is a megabyte per node.
        assert!(size_of::<Entry>() <= 40, "Entry is {} bytes", size_of::<Entry>());
    }

    #[test]
    fn a_string_is_overwritten_in_place_only_when_nothing_else_holds_it() {
        let mut store = Store::new();
        store.set_string(b"k", b"aaaa", None);
        let before = store.get(b"k").map(|e| e.version);
        let addr = |store: &Store| match &store.get(b"k").unwrap().value {
            Value::String(s) => s.as_ptr(),
            _ => unreachable!(),
        };
        let first = addr(&store);
        // Same length, nothing else holds it: the same allocation, a new version.
        store.set_string(b"k", b"bbbb", None);
        assert_eq!(addr(&store), first);
        assert!(store.get(b"k").map(|e| e.version) > before);
        // A reply in flight and a snapshot keep what they saw.
        let reply = match &store.get(b"k").unwrap().value {
            Value::String(s) => s.to_bytes(),
            _ => unreachable!(),
        };
        store.set_string(b"k", b"cccc", None);
        assert_eq!(&reply[..], b"bbbb");
        let snapshot = store.clone();
        store.set_string(b"k", b"dddd", None);
        assert!(matches!(&snapshot.get(b"k").unwrap().value, Value::String(s) if &s[..] == b"cccc"));
        assert!(matches!(&store.get(b"k").unwrap().value, Value::String(s) if &s[..] == b"dddd"));
        // Another length or another deadline: replaced as by `insert`, deadline index included.
        store.set_string(b"k", b"ee", Some(5_000));
        assert_eq!(store.get(b"k").and_then(Entry::deadline), Some(5_000));
        store.set_string(b"k", b"ff", None);
        assert_eq!(store.get(b"k").and_then(Entry::deadline), None);
        assert!(store.deadlines.is_empty());
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn appends_grow_in_place_and_clones_share() {
        let mut a = Str::copy_from(b"ab");
        let shared = a.clone();
        a.append(b"cd");
        assert_eq!(&*a, b"abcd");
        assert_eq!(&*shared, b"ab");
        let Str::Growable(v) = &a else {
            panic!("an appended string keeps spare capacity")
        };
        let (ptr, cap) = (v.as_ptr(), v.capacity());
        a.append(b"e");
        let Str::Growable(v) = &a else { panic!("still growable") };
        assert_eq!((v.as_ptr(), v.capacity()), (ptr, cap), "grew in place");
        assert_eq!(a.to_bytes(), Bytes::from_static(b"abcde"));
        assert_eq!(a, Str::copy_from(b"abcde"));
    }

    #[test]
    fn slots_counts_and_deadline_index_stay_in_step() {
        let mut st = Store::new();
        assert!(st.is_empty());
        st.insert(b"{a}1", s("x"), Some(10));
        st.insert(b"{a}2", s("y"), None);
        st.insert(b"b", s("z"), Some(5));
        let slot_a = key_slot(b"a");
        assert_eq!(st.len(), 3);
        assert_eq!(st.count_keys_in_slot(slot_a), 2);
        assert_eq!(st.keys_in_slot(slot_a, 1).len(), 1);
        assert_eq!(st.keys_in_slot(slot_a, 10).len(), 2);
        assert_eq!(st.keys_with_deadline(), 2);
        assert_eq!(st.expired_sample(4, 10), Vec::<Bytes>::new());
        assert_eq!(st.expired_sample(10, 10), vec![Bytes::from("b"), Bytes::from("{a}1")]);
        assert_eq!(st.expired_sample(10, 1), vec![Bytes::from("b")]);

        // Replacing an entry moves its deadline; set_deadline too.
        st.insert(b"{a}1", s("x2"), Some(20));
        assert_eq!(st.len(), 3);
        assert_eq!(st.expired_sample(15, 10), vec![Bytes::from("b")]);
        assert!(st.set_deadline(b"b", None));
        assert!(st.set_deadline(b"{a}2", Some(1)));
        assert!(!st.set_deadline(b"nokey", Some(1)));
        assert_eq!(st.expired_sample(15, 10), vec![Bytes::from("{a}2")]);
        assert_eq!(st.keys_with_deadline(), 2);

        assert!(st.get_live(b"{a}2", 0).is_some());
        assert!(st.get_live(b"{a}2", 1).is_none());
        assert!(st.expire_if_needed(b"{a}2", 1));
        assert!(!st.expire_if_needed(b"{a}1", 19));
        assert_eq!(st.len(), 2);
        assert_eq!(st.count_keys_in_slot(slot_a), 1);

        assert!(st.remove(b"{a}1").is_some());
        assert!(st.remove(b"{a}1").is_none());
        assert_eq!(st.count_keys_in_slot(slot_a), 0);
        assert_eq!(st.keys_with_deadline(), 0);
        assert_eq!(st.len(), 1);
    }

    #[test]
    fn empty_aggregates_are_removed() {
        let mut st = Store::new();
        st.insert(b"l", Value::List(Box::default()), Some(3));
        st.insert(b"s", s(""), None);
        st.remove_if_empty(b"l");
        st.remove_if_empty(b"s");
        assert_eq!(st.len(), 1);
        assert_eq!(st.keys_with_deadline(), 0);
        assert_eq!(st.get(b"s").map(|e| e.value.type_name()), Some("string"));
    }
}
