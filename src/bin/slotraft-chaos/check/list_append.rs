//! Elle's list-append workload: transactions of appends (RPUSH) and reads (LRANGE) on lists
//! whose elements are unique per key. From the reads alone this finds
//! - duplicated elements in a read;
//! - reads of one key that are not prefixes of one another (an order another read
//!   contradicts);
//! - lost acknowledged appends: missing from a read that began after the append completed;
//! - elements no one appended, or that only a failed transaction appended;
//! - a transaction that does not see its own appends.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::Outcome;

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "f", rename_all = "lowercase")]
pub enum Mop {
    Append {
        key: String,
        elem: u64,
    },
    /// The list read, or None when the transaction's outcome is not `Ok`.
    Read {
        key: String,
        value: Option<Vec<u64>>,
    },
}

/// One transaction (MULTI … EXEC) of a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Txn {
    pub process: u64,
    pub call: u64,
    pub ret: u64,
    pub mops: Vec<Mop>,
    pub outcome: Outcome,
}

/// One anomaly, with the indices of the transactions involved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anomaly {
    pub kind: &'static str,
    pub key: String,
    pub txns: Vec<usize>,
    pub detail: String,
}

pub fn check(history: &[Txn]) -> Vec<Anomaly> {
    let mut out = Vec::new();
    // Who appended each (key, element), and how it ended.
    let mut appended: HashMap<(&str, u64), (usize, Outcome)> = HashMap::new();
    // Every Ok read per key: (txn index, value).
    let mut reads: BTreeMap<&str, Vec<(usize, &Vec<u64>)>> = BTreeMap::new();
    for (i, t) in history.iter().enumerate() {
        let mut own: HashMap<&str, Vec<u64>> = HashMap::new();
        for m in &t.mops {
            match m {
                Mop::Append { key, elem } => {
                    appended.insert((key.as_str(), *elem), (i, t.outcome));
                    own.entry(key.as_str()).or_default().push(*elem);
                }
                Mop::Read { key, value: Some(v) } if t.outcome == Outcome::Ok => {
                    reads.entry(key.as_str()).or_default().push((i, v));
                    let mine = own.get(key.as_str()).map_or(&[][..], |v| v.as_slice());
                    if !v.ends_with(mine) {
                        out.push(Anomaly {
                            kind: "internal",
                            key: key.clone(),
                            txns: vec![i],
                            detail: format!("read {v:?} does not end with its own appends {mine:?}"),
                        });
                    }
                }
                Mop::Read { .. } => {}
            }
        }
    }
    for (key, rs) in &reads {
        for &(i, v) in rs {
            let mut seen = HashSet::new();
            for e in v {
                if !seen.insert(e) {
                    out.push(Anomaly {
                        kind: "duplicate",
                        key: key.to_string(),
                        txns: vec![i],
                        detail: format!("element {e} twice in {v:?}"),
                    });
                }
                match appended.get(&(*key, *e)) {
                    None => out.push(Anomaly {
                        kind: "garbage",
                        key: key.to_string(),
                        txns: vec![i],
                        detail: format!("element {e} was never appended"),
                    }),
                    Some(&(w, Outcome::Fail)) => out.push(Anomaly {
                        kind: "failed-append-visible",
                        key: key.to_string(),
                        txns: vec![w, i],
                        detail: format!("element {e} of a failed transaction was read"),
                    }),
                    Some(_) => {}
                }
            }
        }
        // Every read must be a prefix of the longest one.
        if let Some(&(li, longest)) = rs.iter().max_by_key(|(i, v)| (v.len(), std::cmp::Reverse(*i))) {
            for &(i, v) in rs {
                if !longest.starts_with(v) {
                    let at = v.iter().zip(longest).position(|(a, b)| a != b).unwrap_or(0);
                    out.push(Anomaly {
                        kind: "incompatible-order",
                        key: key.to_string(),
                        txns: vec![i, li],
                        detail: format!(
                            "reads differ at position {at}: {:?} vs {:?}",
                            &v[at..v.len().min(at + 5)],
                            &longest[at..longest.len().min(at + 5)]
                        ),
                    });
                }
            }
        }
        // An acknowledged append is in every read that began after it completed.
        for (&(k, e), &(w, outcome)) in &appended {
            if k != *key || outcome != Outcome::Ok {
                continue;
            }
            for &(i, v) in rs {
                if history[i].call > history[w].ret && !v.contains(&e) {
                    out.push(Anomaly {
                        kind: "lost-append",
                        key: key.to_string(),
                        txns: vec![w, i],
                        detail: format!(
                            "element {e}, acknowledged, is missing from a later read of {} elements",
                            v.len()
                        ),
                    });
                    break;
                }
            }
        }
    }
    out.sort_by(|a, b| (a.kind, &a.key, &a.txns).cmp(&(b.kind, &b.key, &b.txns)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(key: &str, elem: u64) -> Mop {
        Mop::Append { key: key.into(), elem }
    }

    fn read(key: &str, v: &[u64]) -> Mop {
        Mop::Read {
            key: key.into(),
            value: Some(v.to_vec()),
        }
    }

    fn txn(call: u64, ret: u64, mops: Vec<Mop>, outcome: Outcome) -> Txn {
        Txn {
            process: call % 3,
            call,
            ret,
            mops,
            outcome,
        }
    }

    fn kinds(h: &[Txn]) -> Vec<&'static str> {
        check(h).into_iter().map(|a| a.kind).collect()
    }

    #[test]
    fn valid_histories_with_concurrency_and_unknowns_pass() {
        let h = [
            txn(0, 5, vec![append("x", 1)], Outcome::Ok),
            txn(1, 6, vec![append("x", 2)], Outcome::Info),
            txn(2, 3, vec![append("x", 3)], Outcome::Fail),
            txn(7, 8, vec![read("x", &[1])], Outcome::Ok),
            txn(9, 10, vec![append("x", 4), read("x", &[1, 2, 4])], Outcome::Ok),
            txn(11, 12, vec![read("x", &[1, 2, 4])], Outcome::Ok),
        ];
        assert_eq!(kinds(&h), Vec::<&str>::new());
    }

    #[test]
    fn each_anomaly_is_caught() {
        let lost = [
            txn(0, 1, vec![append("x", 1)], Outcome::Ok),
            txn(2, 3, vec![read("x", &[])], Outcome::Ok),
        ];
        assert_eq!(kinds(&lost), ["lost-append"]);
        let duplicated = [
            txn(0, 1, vec![append("x", 1)], Outcome::Ok),
            txn(2, 3, vec![read("x", &[1, 1])], Outcome::Ok),
        ];
        assert_eq!(kinds(&duplicated), ["duplicate"]);
        let reordered = [
            txn(0, 1, vec![append("x", 1)], Outcome::Ok),
            txn(0, 1, vec![append("x", 2)], Outcome::Ok),
            txn(2, 3, vec![read("x", &[1, 2])], Outcome::Ok),
            txn(4, 5, vec![read("x", &[2, 1])], Outcome::Ok),
        ];
        assert_eq!(kinds(&reordered), ["incompatible-order"]);
        let failed_visible = [
            txn(0, 1, vec![append("x", 1)], Outcome::Fail),
            txn(2, 3, vec![read("x", &[1])], Outcome::Ok),
        ];
        assert_eq!(kinds(&failed_visible), ["failed-append-visible"]);
        let internal = [txn(0, 1, vec![append("x", 1), read("x", &[])], Outcome::Ok)];
        assert_eq!(kinds(&internal), ["internal"]);
    }
}
