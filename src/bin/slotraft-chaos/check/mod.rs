//! Checkers for histories recorded by a workload under faults (issue: fault injection).
//!
//! A history is a list of operations, each with the time it was invoked and the time it
//! completed, and an outcome: `Ok` (it happened, with this result), `Fail` (it certainly did
//! not happen) or `Info` (unknown: a timeout, a lost connection, an UNKNOWN reply). An `Info`
//! operation may have taken effect at any time after its invocation, or never.
//!
//! - `register`: per-key linearizability of read / write / compare-and-set registers, by the
//!   Wing–Gong search with Lowe's memoisation (as Porcupine does), keys checked apart and in
//!   parallel, with a time bound that answers `Unknown` rather than a verdict.
//! - `list_append`: Elle's list-append workload: lost acknowledged appends, duplicated
//!   elements, reads that are not prefixes of one another, and stale reads.
//!
//! `report` reads the history once, in blocks parsed on several threads, and checks each key
//! when the history says it is no longer used (`history`'s `done` lines), on the same threads:
//! time is linear in the history and memory follows the keys in use at once.

pub mod client;
pub mod history;
pub mod list_append;
pub mod register;
pub mod report;
pub mod workload;

/// What became of an operation, as the client saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Completed; its result is known.
    Ok,
    /// Certainly not applied.
    Fail,
    /// May or may not have been applied.
    Info,
}

/// The keys of one checker that are still in use, each with what was recorded of it so far.
/// A key is checked when it is finished; a finished key that shows up again is an error in
/// the history (its check would have missed operations).
pub struct LiveKeys<T> {
    live: HashMap<String, T>,
    finished: HashSet<String>,
    /// Keys ever seen.
    pub seen: usize,
}

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

impl<T> Default for LiveKeys<T> {
    fn default() -> Self {
        LiveKeys {
            live: HashMap::default(),
            finished: HashSet::default(),
            seen: 0,
        }
    }
}

impl<T: Default> LiveKeys<T> {
    /// What is recorded of `key`, new if it was not seen before.
    pub fn get(&mut self, key: &str) -> Result<&mut T, String> {
        if !self.live.contains_key(key) {
            if self.finished.contains(key) {
                return Err(format!("key {key} is used after the line that says it is done"));
            }
            self.seen += 1;
            self.live.insert(key.to_string(), T::default());
        }
        self.live.get_mut(key).ok_or_else(|| format!("key {key} vanished"))
    }

    /// Takes `key`'s record out for checking; it may not be used again.
    pub fn finish(&mut self, key: &str) -> Option<T> {
        if !self.finished.contains(key) {
            self.finished.insert(key.to_string());
        }
        self.live.remove(key)
    }

    /// Takes out every key still in use (the end of the history).
    pub fn drain(&mut self) -> Vec<(String, T)> {
        let mut all: Vec<(String, T)> = self.live.drain().collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

/// The verdict on one key (or one whole history).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    /// Not linearizable; the operations (indices into the history) that could not be placed,
    /// with what each explains.
    Invalid(Vec<String>),
    /// The search ran out of its time bound: no verdict.
    Unknown,
}
