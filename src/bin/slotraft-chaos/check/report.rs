//! The report on a history: operations by type and outcome, the most frequent errors,
//! availability in each fault phase, then the checkers' verdicts with the operations each
//! anomaly involves, and how long checking took.
//!
//! The history is read once. Blocks of it are parsed on the checking threads; this thread
//! takes their lines in order, counts them, and gathers each key's operations until a `done`
//! line (or the end) hands the key to the checking threads. Memory then holds the keys in use
//! and a few blocks, whatever the length of the run.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::history::{self, Block, Blocks, Line, Op, Record, parse_block};
use super::list_append::{self, Anomaly, KeyLog, Lists, Txn};
use super::register::{self, Event, Registers};
use super::{Outcome, Verdict};

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

/// Bytes of history parsed as one piece of work.
const BLOCK: usize = 2 << 20;
/// Anomalies of one kind kept for the report; past it they are only counted.
const KEEP: usize = 1000;

/// Work for the checking threads.
enum Job {
    Parse(u64, Block),
    Register(String, Vec<Event>),
    List(String, KeyLog),
}

/// What the checking threads hand back.
enum Done {
    Parsed(u64, Result<Vec<(u64, Line)>, String>),
    Register(String, Verdict, Duration),
    List(Vec<Anomaly>, Duration),
    /// A bug in a checker.
    Panicked,
}

fn run(job: Job, budget: Duration) -> Done {
    match job {
        Job::Parse(seq, block) => Done::Parsed(seq, parse_block(&block)),
        Job::Register(key, events) => {
            let started = Instant::now();
            let verdict = register::check_key(&events, budget);
            Done::Register(key, verdict, started.elapsed())
        }
        Job::List(key, log) => {
            let started = Instant::now();
            let found = log.check(&key);
            Done::List(found, started.elapsed())
        }
    }
}

/// The counts of the report's first part, taken line by line.
#[derive(Default)]
struct Tally {
    operations: usize,
    first: Option<u64>,
    last: u64,
    processes: HashSet<u64>,
    counts: BTreeMap<&'static str, [usize; 3]>,
    errors: HashMap<String, usize>,
    /// Per fault phase (before the first, then after each): answered, invoked.
    phases: Vec<(usize, usize)>,
    register_ops: usize,
    txns: usize,
}

impl Tally {
    fn add(&mut self, r: &Record, phases: &[Phase]) {
        self.operations += 1;
        self.first = Some(self.first.map_or(r.call, |f| f.min(r.call)));
        self.last = self.last.max(r.ret);
        self.processes.insert(r.process);
        let o = outcome_index(r.outcome);
        self.counts.entry(r.op.kind()).or_default()[o] += 1;
        self.counts.entry("all").or_default()[o] += 1;
        if let Some(e) = &r.error {
            *self.errors.entry(error_class(e)).or_default() += 1;
        }
        let phase = phases.partition_point(|p| p.start_us <= r.call);
        let (ok, all) = &mut self.phases[phase];
        *all += 1;
        *ok += usize::from(answered(r));
    }
}

/// Anomalies found by the list-append checker: all counted, the first `KEEP` of each kind kept.
#[derive(Default)]
struct Found {
    by_kind: BTreeMap<&'static str, usize>,
    kept: Vec<Anomaly>,
}

impl Found {
    fn extend(&mut self, found: Vec<Anomaly>) {
        for a in found {
            let n = self.by_kind.entry(a.kind).or_default();
            *n += 1;
            if *n <= KEEP {
                self.kept.push(a);
            }
        }
    }

    fn count(&self) -> usize {
        self.by_kind.values().sum()
    }
}

/// The register checker's verdicts.
#[derive(Default)]
struct Verdicts {
    valid: usize,
    invalid: usize,
    unknown: usize,
    /// Why each key is not linearizable (the first `KEEP` keys).
    details: BTreeMap<String, Vec<String>>,
    searching: Duration,
}

/// The lines taken in order: counts, and each key's operations until it is done.
struct Ingest<'a> {
    phases: &'a [Phase],
    tally: Tally,
    registers: Registers,
    lists: Lists,
    found: Found,
}

impl Ingest<'_> {
    /// Takes one line; the keys it finishes are returned to be checked.
    fn add(&mut self, txn: u64, line: Line, jobs: &mut Vec<Job>) -> Result<(), String> {
        let r = match line {
            Line::Record(r) => r,
            Line::Done(keys) => {
                for key in keys {
                    if let Some(events) = self.registers.finish(&key) {
                        jobs.push(Job::Register(key.clone(), events));
                    }
                    if let Some(log) = self.lists.finish(&key) {
                        jobs.push(Job::List(key, log));
                    }
                }
                return Ok(());
            }
        };
        self.tally.add(&r, self.phases);
        let (key, op) = match r.op {
            Op::Read { key, value } => (key, register::Op::Read(value)),
            Op::Write { key, value } => (key, register::Op::Write(value)),
            Op::Cas {
                key,
                expect,
                new,
                swapped,
            } => (key, register::Op::Cas { expect, new, swapped }),
            Op::Txn { mops } => {
                self.tally.txns += 1;
                let t = Txn {
                    process: r.process,
                    call: r.call,
                    ret: r.ret,
                    mops,
                    outcome: r.outcome,
                };
                self.found.extend(list_append::add(&mut self.lists, t, txn)?);
                return Ok(());
            }
        };
        self.tally.register_ops += 1;
        self.registers.get(&key)?.push(Event {
            process: r.process,
            call: r.call,
            ret: r.ret,
            op,
            outcome: r.outcome,
        });
        Ok(())
    }

    /// Every key still in use, to be checked: the history has ended.
    fn drain(&mut self, jobs: &mut Vec<Job>) {
        for (key, events) in self.registers.drain() {
            jobs.push(Job::Register(key, events));
        }
        for (key, log) in self.lists.drain() {
            jobs.push(Job::List(key, log));
        }
    }
}

/// Checks the history read from `input` and describes what was found. `line_at` gives the
/// history's line at a byte offset, to show the operations an anomaly involves. `phases` are
/// the nemesis log's events. Blocks of the history are parsed, and keys checked, on `threads`
/// threads; this one reads the history and takes its lines in order.
pub fn check(
    input: &mut dyn Read,
    line_at: &mut dyn FnMut(u64) -> Option<String>,
    phases: &[Phase],
    budget: Duration,
    threads: usize,
) -> Result<Report, String> {
    check_in_blocks(input, line_at, phases, budget, threads, BLOCK)
}

fn check_in_blocks(
    input: &mut dyn Read,
    line_at: &mut dyn FnMut(u64) -> Option<String>,
    phases: &[Phase],
    budget: Duration,
    threads: usize,
    block: usize,
) -> Result<Report, String> {
    let started = Instant::now();
    let mut phases = phases.to_vec();
    phases.sort_by_key(|p| p.start_us);
    let threads = threads.max(1);
    let mut ingest = Ingest {
        phases: &phases,
        tally: Tally {
            phases: vec![(0, 0); phases.len() + 1],
            ..Tally::default()
        },
        registers: Registers::default(),
        lists: Lists::default(),
        found: Found::default(),
    };
    let mut verdicts = Verdicts::default();
    let mut list_time = Duration::ZERO;
    let mut bytes = 0u64;

    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let job_rx = Mutex::new(job_rx);
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    // Set on an error: the threads then skip what is left.
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (job_rx, done_tx, stop) = (&job_rx, done_tx.clone(), &stop);
            s.spawn(move || {
                loop {
                    let job = job_rx.lock().recv();
                    let Ok(job) = job else { break };
                    if stop.load(Ordering::Relaxed) {
                        continue;
                    }
                    // A panic is answered, or the work handed out would never all come back.
                    let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(job, budget)))
                        .unwrap_or(Done::Panicked);
                    if done_tx.send(done).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let result = (|| -> Result<(), String> {
            let mut blocks = Blocks::new(input, block);
            let mut jobs = Vec::new();
            // Blocks handed out and not yet taken in order (which bounds the parsed lines held),
            // and keys being checked.
            let (mut parsing, mut checking) = (0usize, 0usize);
            let (mut next_block, mut next_in_order) = (0u64, 0u64);
            let mut parsed: BTreeMap<u64, Vec<(u64, Line)>> = BTreeMap::new();
            let (mut eof, mut drained) = (false, false);
            let send = |job: Job| job_tx.send(job).map_err(|_| "the checking threads stopped".to_string());
            loop {
                while !eof && parsing < 4 * threads {
                    match blocks.next_block().map_err(|e| e.to_string())? {
                        Some(b) => {
                            bytes += b.bytes.len() as u64;
                            send(Job::Parse(next_block, b))?;
                            next_block += 1;
                            parsing += 1;
                        }
                        None => eof = true,
                    }
                }
                if eof && parsing == 0 && !drained {
                    drained = true;
                    ingest.drain(&mut jobs);
                }
                for job in jobs.drain(..) {
                    checking += 1;
                    send(job)?;
                }
                if eof && parsing == 0 && checking == 0 {
                    return Ok(());
                }
                match done_rx.recv().map_err(|_| "the checking threads stopped".to_string())? {
                    Done::Parsed(seq, lines) => {
                        parsed.insert(seq, lines.map_err(|e| format!("line {e}"))?);
                        while let Some(lines) = parsed.remove(&next_in_order) {
                            for (offset, line) in lines {
                                ingest.add(offset, line, &mut jobs)?;
                            }
                            next_in_order += 1;
                            parsing -= 1;
                        }
                    }
                    Done::Register(key, verdict, took) => {
                        checking -= 1;
                        verdicts.searching += took;
                        match verdict {
                            Verdict::Valid => verdicts.valid += 1,
                            Verdict::Unknown => verdicts.unknown += 1,
                            Verdict::Invalid(lines) => {
                                verdicts.invalid += 1;
                                if verdicts.details.len() < KEEP {
                                    verdicts.details.insert(key, lines);
                                }
                            }
                        }
                    }
                    Done::List(found, took) => {
                        checking -= 1;
                        list_time += took;
                        ingest.found.extend(found);
                    }
                    Done::Panicked => return Err("a checking thread panicked".to_string()),
                }
            }
        })();
        if result.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        drop(job_tx);
        result
    })?;

    let tally = &ingest.tally;
    let mut t = String::new();
    let first = tally.first.unwrap_or(0);
    let last = tally.last.max(first);
    let _ = writeln!(
        t,
        "history: {} operations by {} processes over {:.1} s",
        tally.operations,
        tally.processes.len(),
        (last - first) as f64 / 1e6
    );

    // Operations by type and outcome.
    let _ = writeln!(t, "\n{:<10}{:>10}{:>10}{:>10}", "operation", "ok", "fail", "info");
    for kind in ["read", "write", "cas", "txn", "all"] {
        if let Some(c) = tally.counts.get(kind) {
            let _ = writeln!(t, "{kind:<10}{:>10}{:>10}{:>10}", c[0], c[1], c[2]);
        }
    }

    if !tally.errors.is_empty() {
        let mut errors: Vec<(&String, &usize)> = tally.errors.iter().collect();
        errors.sort_by_key(|e| (std::cmp::Reverse(*e.1), e.0));
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
    for (i, ((start, label), &(ok, all))) in bounds.iter().zip(&tally.phases).enumerate() {
        let end = bounds.get(i + 1).map_or(u64::MAX, |b| b.0);
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

    // Registers.
    let v = &verdicts;
    let _ = writeln!(
        t,
        "\nregisters: {} operations on {} keys: {} linearizable, {} not, {} unknown (search bound {} s; {:.1} s of search)",
        tally.register_ops,
        ingest.registers.seen,
        v.valid,
        v.invalid,
        v.unknown,
        budget.as_secs(),
        v.searching.as_secs_f64()
    );
    for (key, lines) in &v.details {
        let _ = writeln!(t, "  key {key}: not linearizable");
        for l in lines.iter().take(25) {
            let _ = writeln!(t, "    {l}");
        }
        if lines.len() > 25 {
            let _ = writeln!(t, "    … and {} more concurrent operations", lines.len() - 25);
        }
    }
    if v.invalid > v.details.len() {
        let _ = writeln!(t, "  … and {} more keys not linearizable", v.invalid - v.details.len());
    }

    // List-append.
    let found = &mut ingest.found;
    found
        .kept
        .sort_by(|a, b| (a.kind, &a.key, &a.txns).cmp(&(b.kind, &b.key, &b.txns)));
    let count = found.count();
    let _ = writeln!(
        t,
        "list-append: {} transactions on {} keys: {}",
        tally.txns,
        ingest.lists.seen,
        if count == 0 {
            "no anomalies".to_string()
        } else {
            let kinds: Vec<String> = found.by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
            format!("{count} anomalies ({})", kinds.join(", "))
        }
    );
    for a in found.kept.iter().take(20) {
        let _ = writeln!(t, "  {} on {}: {}", a.kind, a.key, a.detail);
        for &at in &a.txns {
            let line = line_at(at).unwrap_or_else(|| format!("(the line at byte {at} cannot be read)"));
            let _ = writeln!(t, "    {line}");
        }
    }
    if count > 20 {
        let _ = writeln!(t, "  … and {} more", count - 20);
    }

    let anomalies = v.invalid + count;
    let _ = writeln!(
        t,
        "\nresult: {}",
        match (anomalies, v.unknown) {
            (0, 0) => "VALID: no anomalies".to_string(),
            (0, u) => format!("VALID as far as checked ({u} register keys undecided within the search bound)"),
            (n, _) => format!("INVALID: {n} anomalies"),
        }
    );
    let secs = started.elapsed().as_secs_f64();
    let _ = writeln!(
        t,
        "checked in {secs:.1} s on {threads} threads: {:.0} MB of history ({:.0} MB/s), {:.1} s of list-append checks, peak memory {}",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / secs.max(1e-3),
        list_time.as_secs_f64(),
        peak_memory().unwrap_or_else(|| "unknown".into())
    );
    Ok(Report { text: t, anomalies })
}

/// This process's peak resident memory (Linux's VmHWM), e.g. "123 MB".
fn peak_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(format!("{} MB", kb / 1024))
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

    /// The report on lines held in memory, read as a file would be, in blocks of `block` bytes.
    fn report_in_blocks(lines: &[Line], phases: &[Phase], threads: usize, block: usize) -> Result<Report, String> {
        let mut bytes = Vec::new();
        for l in lines {
            l.write_to(&mut bytes).unwrap();
        }
        let mut input = &bytes[..];
        let mut line_at = |at: u64| history::line_at(&mut std::io::Cursor::new(&bytes), at).ok();
        check_in_blocks(&mut input, &mut line_at, phases, Duration::from_secs(5), threads, block)
    }

    fn report(h: &[Record], phases: &[Phase]) -> Report {
        let lines: Vec<Line> = h.iter().cloned().map(Line::Record).collect();
        report_in_blocks(&lines, phases, 2, BLOCK).unwrap()
    }

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
        let r = report(&h, &phases);
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
        let r = report(&h, &phases);
        assert_eq!(r.anomalies, 2, "{}", r.text);
        assert!(r.text.contains("key r: not linearizable"), "{}", r.text);
        assert!(r.text.contains("lost-append on {t}a"), "{}", r.text);
        assert!(r.text.contains("INVALID: 2 anomalies"), "{}", r.text);
        // The operations involved are shown as their lines of the history.
        assert!(
            r.text.contains("    {\"process\":4,\"call\":3000200,\"ret\":3000300,\"outcome\":\"ok\",\"op\":{\"f\":\"txn\",\"mops\":[{\"f\":\"read\",\"key\":\"{t}a\",\"value\":[]}]}}\n"),
            "{}",
            r.text
        );
        assert!(r.text.contains("checked in "), "{}", r.text);
    }

    /// A history of `keys` register keys and as many list keys, used one after another the
    /// way the workload does (each retired with a done line), every operation sound.
    fn long_history(keys: u64, ops: u64) -> Vec<Line> {
        let mut lines = Vec::new();
        let mut t = 1_000_000;
        let mut elem = 0;
        for k in 0..keys {
            let (reg, list) = (format!("r{k}"), format!("{{l{k}}}a"));
            let mut value = None;
            let mut seen = Vec::new();
            for i in 0..ops {
                let op = match i % 4 {
                    0 => {
                        value = Some(i);
                        Op::Write {
                            key: reg.clone(),
                            value: i,
                        }
                    }
                    1 => Op::Read {
                        key: reg.clone(),
                        value,
                    },
                    2 => {
                        elem += 1;
                        seen.push(elem);
                        Op::Txn {
                            mops: vec![Mop::Append {
                                key: list.clone(),
                                elem,
                            }],
                        }
                    }
                    _ => Op::Txn {
                        mops: vec![Mop::Read {
                            key: list.clone(),
                            value: Some(seen.clone()),
                        }],
                    },
                };
                lines.push(Line::Record(rec(i % 3, t, t + 5, Outcome::Ok, op)));
                t += 10;
            }
            lines.push(Line::Done(vec![reg, list]));
        }
        lines
    }

    fn without_timing(text: &str) -> String {
        text.lines()
            .filter(|l| !l.starts_with("checked in ") && !l.starts_with("registers: "))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn blocks_threads_and_done_lines_do_not_change_the_verdicts() {
        let phases = parse_nemesis_log("1005 kill 1\n1012 restart 1\n").unwrap();
        let mut lines = long_history(40, 50);
        let whole = report_in_blocks(&lines, &phases, 1, BLOCK).unwrap();
        assert_eq!(whole.anomalies, 0, "{}", whole.text);
        assert!(
            whole
                .text
                .contains("registers: 1040 operations on 40 keys: 40 linearizable"),
            "{}",
            whole.text
        );
        assert!(
            whole
                .text
                .contains("list-append: 960 transactions on 40 keys: no anomalies"),
            "{}",
            whole.text
        );
        for (threads, block) in [(2, 100), (3, 1000), (2, 1 << 20)] {
            let r = report_in_blocks(&lines, &phases, threads, block).unwrap();
            assert_eq!(
                without_timing(&r.text),
                without_timing(&whole.text),
                "{threads} threads, {block} bytes"
            );
        }
        // Without done lines every key is checked at the end, with the same verdicts.
        let undone: Vec<Line> = lines.iter().filter(|l| matches!(l, Line::Record(_))).cloned().collect();
        let r = report_in_blocks(&undone, &phases, 2, 300).unwrap();
        assert_eq!(without_timing(&r.text), without_timing(&whole.text));

        // A stale register read and a lost append, in keys finished long before the end.
        let Line::Record(r) = &mut lines[5] else { panic!() };
        r.op = Op::Read {
            key: "r0".into(),
            value: Some(0),
        };
        let Line::Record(r) = &mut lines[51 + 7] else { panic!() };
        let Op::Txn { mops } = &mut r.op else { panic!() };
        mops[0] = Mop::Read {
            key: "{l1}a".into(),
            value: Some(vec![13]),
        };
        for (threads, block) in [(1, BLOCK), (2, 100)] {
            let r = report_in_blocks(&lines, &phases, threads, block).unwrap();
            assert_eq!(r.anomalies, 2, "{}", r.text);
            assert!(r.text.contains("key r0: not linearizable"), "{}", r.text);
            assert!(r.text.contains("1 anomalies (1 lost-append)"), "{}", r.text);
            assert!(r.text.contains("lost-append on {l1}a: element 14"), "{}", r.text);
        }

        // An operation on a key after its done line is an error in the history.
        lines.push(lines[0].clone());
        let e = report_in_blocks(&lines, &phases, 2, 100).err().unwrap();
        assert!(e.contains("key r0 is used after"), "{e}");
        // So is a line that is not an operation.
        let mut bytes = b"{\"done\":[]}\n{\"process\":1}\n".to_vec();
        let e = check_in_blocks(&mut &bytes[..], &mut |_| None, &[], Duration::from_secs(1), 2, 5)
            .err()
            .unwrap();
        assert!(e.starts_with("line 2: "), "{e}");
        bytes.clear();
        let r = check_in_blocks(&mut &bytes[..], &mut |_| None, &[], Duration::from_secs(1), 2, 5).unwrap();
        assert!(r.text.contains("history: 0 operations"), "{}", r.text);
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
