//! The report on a history: operations by type and outcome, the most frequent errors,
//! availability in each fault phase, then the checkers' verdicts with the operations each
//! anomaly involves.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use super::history::{self, Record};
use super::{Outcome, Verdict, list_append, register};

/// One line of the nemesis log: `<unix ms> <what happened>`, e.g. `1764043200123 kill 2`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phase {
    pub start_us: u64,
    pub label: String,
}

pub fn parse_nemesis_log(text: &str) -> Result<Vec<Phase>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (ms, label) = line.split_once(' ').unwrap_or((line, ""));
        let ms: u64 = ms
            .parse()
            .map_err(|_| format!("line {}: expected '<unix ms> <event>', got {line:?}", n + 1))?;
        out.push(Phase {
            start_us: ms * 1000,
            label: label.trim().to_string(),
        });
    }
    Ok(out)
}

pub struct Report {
    pub text: String,
    /// Anomalies found (0 when the history is valid).
    pub anomalies: usize,
}

/// Checks `records` and describes what was found. `phases` are the nemesis log's events.
pub fn report(records: &[Record], phases: &[Phase], budget: Duration, threads: usize) -> Report {
    let mut t = String::new();
    let first = records.iter().map(|r| r.call).min().unwrap_or(0);
    let last = records.iter().map(|r| r.ret).max().unwrap_or(first);
    let processes: std::collections::HashSet<u64> = records.iter().map(|r| r.process).collect();
    let _ = writeln!(
        t,
        "history: {} operations by {} processes over {:.1} s",
        records.len(),
        processes.len(),
        (last - first) as f64 / 1e6
    );

    // Operations by type and outcome.
    let mut counts: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    for r in records {
        counts.entry(r.op.kind()).or_default()[outcome_index(r.outcome)] += 1;
        counts.entry("all").or_default()[outcome_index(r.outcome)] += 1;
    }
    let _ = writeln!(t, "\n{:<10}{:>10}{:>10}{:>10}", "operation", "ok", "fail", "info");
    for kind in ["read", "write", "cas", "txn", "all"] {
        if let Some(c) = counts.get(kind) {
            let _ = writeln!(t, "{kind:<10}{:>10}{:>10}{:>10}", c[0], c[1], c[2]);
        }
    }

    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    for r in records {
        if let Some(e) = &r.error {
            *errors.entry(error_class(e)).or_default() += 1;
        }
    }
    if !errors.is_empty() {
        let mut errors: Vec<(String, usize)> = errors.into_iter().collect();
        errors.sort_by_key(|e| std::cmp::Reverse(e.1));
        let _ = writeln!(t, "\nerrors (fail and info), most frequent first:");
        for (e, n) in errors.iter().take(8) {
            let _ = writeln!(t, "{n:>10}  {e}");
        }
    }

    // Availability: of the operations invoked in each phase, how many the cluster answered: ok,
    // or a failure that is an answer (an EXEC aborted by WATCH), not a refusal or a timeout.
    let mut bounds: Vec<(u64, &str)> = vec![(first, "healthy (start)")];
    bounds.extend(phases.iter().map(|p| (p.start_us, p.label.as_str())));
    let _ = writeln!(
        t,
        "\navailability by fault phase (operations invoked in it that the cluster answered):"
    );
    for (i, (start, label)) in bounds.iter().enumerate() {
        let end = bounds.get(i + 1).map_or(u64::MAX, |b| b.0);
        let (mut ok, mut all) = (0usize, 0usize);
        for r in records.iter().filter(|r| r.call >= *start && r.call < end) {
            all += 1;
            ok += usize::from(answered(r));
        }
        let offset = start.saturating_sub(first) as f64 / 1e6;
        let share = if all == 0 {
            "    -".to_string()
        } else {
            format!("{:5.1}%", 100.0 * ok as f64 / all as f64)
        };
        let secs = (end.min(last).saturating_sub(*start)) as f64 / 1e6;
        let rate = if secs > 0.0 { all as f64 / secs } else { 0.0 };
        let _ = writeln!(
            t,
            "  {offset:>7.1} s  {label:<32} {share} of {all:<7} {rate:>8.0} ops/s"
        );
    }

    let mut anomalies = 0;
    // Registers.
    let started = Instant::now();
    let (events, index) = history::registers(records);
    let verdicts = register::check(&events, budget, threads);
    let (mut valid, mut invalid, mut unknown) = (0, 0, 0);
    let mut details = String::new();
    for (key, v) in &verdicts {
        match v {
            Verdict::Valid => valid += 1,
            Verdict::Unknown => unknown += 1,
            Verdict::Invalid(lines) => {
                invalid += 1;
                let _ = writeln!(details, "  key {key}: not linearizable");
                for l in lines.iter().take(25) {
                    let _ = writeln!(details, "    {l}");
                }
                if lines.len() > 25 {
                    let _ = writeln!(details, "    … and {} more concurrent operations", lines.len() - 25);
                }
            }
        }
    }
    anomalies += invalid;
    let _ = writeln!(
        t,
        "\nregisters: {} operations on {} keys: {valid} linearizable, {invalid} not, {unknown} unknown (search bound {} s; checked in {:.1} s)",
        index.len(),
        verdicts.len(),
        budget.as_secs(),
        started.elapsed().as_secs_f64()
    );
    t.push_str(&details);

    // List-append.
    let (txns, index) = history::txns(records);
    let found = list_append::check(&txns);
    let keys: std::collections::HashSet<&str> = txns
        .iter()
        .flat_map(|t| t.mops.iter())
        .map(|m| match m {
            list_append::Mop::Append { key, .. } | list_append::Mop::Read { key, .. } => key.as_str(),
        })
        .collect();
    let _ = writeln!(
        t,
        "list-append: {} transactions on {} keys: {}",
        txns.len(),
        keys.len(),
        if found.is_empty() {
            "no anomalies".to_string()
        } else {
            format!("{} anomalies", found.len())
        }
    );
    for a in found.iter().take(20) {
        let _ = writeln!(t, "  {} on {}: {}", a.kind, a.key, a.detail);
        for &i in &a.txns {
            let r = &records[index[i]];
            let _ = writeln!(
                t,
                "    {}",
                serde_json::to_string(r).unwrap_or_else(|e| format!("(unprintable: {e})"))
            );
        }
    }
    if found.len() > 20 {
        let _ = writeln!(t, "  … and {} more", found.len() - 20);
    }
    anomalies += found.len();

    let _ = writeln!(
        t,
        "\nresult: {}",
        match (anomalies, unknown) {
            (0, 0) => "VALID: no anomalies".to_string(),
            (0, u) => format!("VALID as far as checked ({u} register keys undecided within the search bound)"),
            (n, _) => format!("INVALID: {n} anomalies"),
        }
    );
    Report { text: t, anomalies }
}

/// Ok, or failed by the data (a compare-and-set whose watched key changed) rather than by
/// the cluster being unable to serve.
fn answered(r: &Record) -> bool {
    match r.outcome {
        Outcome::Ok => true,
        Outcome::Fail => r.error.as_deref() == Some(history::ABORTED),
        Outcome::Info => false,
    }
}

fn outcome_index(o: Outcome) -> usize {
    match o {
        Outcome::Ok => 0,
        Outcome::Fail => 1,
        Outcome::Info => 2,
    }
}

/// An error without its particulars (slot numbers, addresses, durations), to count by kind.
fn error_class(e: &str) -> String {
    let e = e
        .strip_prefix("gave up: ")
        .map_or(e.to_string(), |rest| format!("gave up: {}", error_class(rest)));
    let words: Vec<&str> = e
        .split_whitespace()
        .map(|w| {
            if w.chars().any(|c| c.is_ascii_digit()) {
                "…"
            } else {
                w
            }
        })
        .collect();
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::history::Op;
    use crate::check::list_append::Mop;

    fn rec(process: u64, call: u64, ret: u64, outcome: Outcome, op: Op) -> Record {
        Record {
            process,
            call,
            ret,
            outcome,
            op,
            error: None,
        }
    }

    #[test]
    fn nemesis_log_lines_become_phases() {
        let p = parse_nemesis_log("# comment\n1000 kill 2\n\n2500 heal\n").unwrap();
        assert_eq!(
            p,
            vec![
                Phase {
                    start_us: 1_000_000,
                    label: "kill 2".into()
                },
                Phase {
                    start_us: 2_500_000,
                    label: "heal".into()
                }
            ]
        );
        assert!(parse_nemesis_log("soon kill 2").unwrap_err().contains("line 1"));
    }

    #[test]
    fn report_counts_phases_and_finds_anomalies() {
        let write = |v| Op::Write {
            key: "r".into(),
            value: v,
        };
        let read = |v| Op::Read {
            key: "r".into(),
            value: v,
        };
        let mut h = vec![
            rec(1, 1_000_000, 1_000_100, Outcome::Ok, write(1)),
            rec(1, 1_000_200, 1_000_300, Outcome::Ok, read(Some(1))),
            rec(2, 2_000_000, 2_100_000, Outcome::Info, write(2)),
            rec(
                3,
                2_000_000,
                2_000_500,
                Outcome::Ok,
                Op::Txn {
                    mops: vec![Mop::Append {
                        key: "{t}a".into(),
                        elem: 7,
                    }],
                },
            ),
        ];
        let phases = parse_nemesis_log("1500 partition 1 | 2 3\n").unwrap();
        let r = report(&h, &phases, Duration::from_secs(5), 2);
        assert_eq!(r.anomalies, 0, "{}", r.text);
        assert!(r.text.contains("partition 1 | 2 3"), "{}", r.text);
        assert!(r.text.contains(" 50.0% of 2"), "{}", r.text);
        assert!(r.text.contains("VALID: no anomalies"), "{}", r.text);

        // A stale read after the write completed, and an acknowledged append lost.
        h.push(rec(4, 3_000_000, 3_000_100, Outcome::Ok, read(None)));
        h.push(rec(
            4,
            3_000_200,
            3_000_300,
            Outcome::Ok,
            Op::Txn {
                mops: vec![Mop::Read {
                    key: "{t}a".into(),
                    value: Some(vec![]),
                }],
            },
        ));
        let r = report(&h, &phases, Duration::from_secs(5), 2);
        assert_eq!(r.anomalies, 2, "{}", r.text);
        assert!(r.text.contains("key r: not linearizable"), "{}", r.text);
        assert!(r.text.contains("lost-append on {t}a"), "{}", r.text);
        assert!(r.text.contains("INVALID: 2 anomalies"), "{}", r.text);
    }

    #[test]
    fn errors_are_counted_by_kind() {
        assert_eq!(error_class("MOVED 12 10.77.0.2:7001"), "MOVED … …");
        assert_eq!(
            error_class("gave up: no reply within 4000 ms"),
            "gave up: no reply within … ms"
        );
    }
}
