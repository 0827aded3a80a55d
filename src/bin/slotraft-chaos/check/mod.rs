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
