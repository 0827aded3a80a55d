//! The history file: one JSON object per line, one line per operation, written by the
//! workload and read by the checker.
//!
//! ```text
//! {"process":3,"call":1764043200123456,"ret":1764043200125001,"outcome":"ok","op":{"f":"write","key":"chaos:r:4","value":812}}
//! {"process":7,"call":…,"ret":…,"outcome":"info","op":{"f":"txn","mops":[{"f":"append","key":"{chaos:l:2}a","elem":90}]},"error":"no reply within 4000 ms"}
//! ```
//! Times are microseconds since the Unix epoch (so they line up with the nemesis log).

use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Outcome;
use super::list_append::{Mop, Txn};
use super::register::{self, Event};

/// The error of a compare-and-set whose EXEC was aborted: a failure that is an answer.
pub const ABORTED: &str = "EXEC aborted: a watched key changed";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "lowercase")]
pub enum Op {
    /// GET of a register.
    Read { key: String, value: Option<u64> },
    /// SET of a register.
    Write { key: String, value: u64 },
    /// Compare-and-set of a register (WATCH, GET, MULTI, SET, EXEC).
    Cas {
        key: String,
        expect: Option<u64>,
        new: u64,
        swapped: bool,
    },
    /// A list-append transaction (MULTI, RPUSH / LRANGE of keys of one slot, EXEC).
    Txn { mops: Vec<Mop> },
}

impl Op {
    /// The name the report groups operations by.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Read { .. } => "read",
            Op::Write { .. } => "write",
            Op::Cas { .. } => "cas",
            Op::Txn { .. } => "txn",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// A worker's logical process: a new one after each operation of unknown outcome, since
    /// that operation may still be in flight.
    pub process: u64,
    /// Invocation and completion, µs since the Unix epoch.
    pub call: u64,
    pub ret: u64,
    pub outcome: Outcome,
    pub op: Op,
    /// Why the operation failed or its outcome is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn write(path: &Path, records: &[Record]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for r in records {
        serde_json::to_writer(&mut out, r)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

pub fn read(path: &Path) -> Result<Vec<Record>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let r = serde_json::from_str(&line).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
        out.push(r);
    }
    Ok(out)
}

/// The register operations, as the register checker takes them, with their indices in
/// `records`.
pub fn registers(records: &[Record]) -> (Vec<Event>, Vec<usize>) {
    let mut events = Vec::new();
    let mut index = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let (key, op) = match &r.op {
            Op::Read { key, value } => (key, register::Op::Read(*value)),
            Op::Write { key, value } => (key, register::Op::Write(*value)),
            Op::Cas {
                key,
                expect,
                new,
                swapped,
            } => (
                key,
                register::Op::Cas {
                    expect: *expect,
                    new: *new,
                    swapped: *swapped,
                },
            ),
            Op::Txn { .. } => continue,
        };
        events.push(Event {
            process: r.process,
            key: key.clone(),
            call: r.call,
            ret: r.ret,
            op,
            outcome: r.outcome,
        });
        index.push(i);
    }
    (events, index)
}

/// The list-append transactions, as that checker takes them, with their indices in `records`.
pub fn txns(records: &[Record]) -> (Vec<Txn>, Vec<usize>) {
    let mut txns = Vec::new();
    let mut index = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if let Op::Txn { mops } = &r.op {
            txns.push(Txn {
                process: r.process,
                call: r.call,
                ret: r.ret,
                mops: mops.clone(),
                outcome: r.outcome,
            });
            index.push(i);
        }
    }
    (txns, index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_a_file() {
        let records = vec![
            Record {
                process: 1,
                call: 10,
                ret: 20,
                outcome: Outcome::Ok,
                op: Op::Read {
                    key: "k".into(),
                    value: None,
                },
                error: None,
            },
            Record {
                process: 2,
                call: 11,
                ret: 30,
                outcome: Outcome::Info,
                op: Op::Txn {
                    mops: vec![
                        Mop::Append {
                            key: "{t}a".into(),
                            elem: 5,
                        },
                        Mop::Read {
                            key: "{t}b".into(),
                            value: None,
                        },
                    ],
                },
                error: Some("no reply".into()),
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        write(&path, &records).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with(
                r#"{"process":1,"call":10,"ret":20,"outcome":"ok","op":{"f":"read","key":"k","value":null}}"#
            ),
            "{text}"
        );
        assert_eq!(read(&path).unwrap(), records);
        std::fs::write(&path, "{\"process\":1}\n").unwrap();
        assert!(read(&path).unwrap_err().contains("h.jsonl:1:"));
    }
}
