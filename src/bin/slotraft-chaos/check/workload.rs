//! The workload: concurrent workers, each with its own cluster client, running register
//! operations (GET, SET, compare-and-set) and list-append transactions on a few hot keys,
//! recording every operation with its invocation and completion times and its outcome.
//!
//! Outcomes are classified as the server's replies allow (docs/architecture.md, "The path of
//! one write", and the README's "Using it"): `-MOVED`, `-TRYAGAIN` and `-CLUSTERDOWN` mean the
//! command was refused before it was proposed, so the operation is retried (and is `fail` if its time runs out);
//! `-UNKNOWN`, a timeout or a lost connection after EXEC or SET was sent make it `info`; an
//! error reply the workload does not know is `info` as well, never `fail`. A compare-and-set
//! or transaction that fails before its EXEC was sent was certainly not applied.
//!
//! Keys rotate: a register key takes `ops_per_key` operations, a list-append key group
//! `ops_per_key` transactions, then a fresh one replaces it, which keeps each key's
//! linearizability search small (as Jepsen's independent keys do). Once the last operation on
//! a replaced key has completed, the history gets a `done` line for it, so that the checker
//! can check it there and forget it.
//!
//! Operations go to the history as they complete (to a writer thread), not kept until the end:
//! a long run holds nothing of its history in memory.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::Outcome;
use super::client::{Client, Conn, Failure, arg, number, numbers};
use super::history::{ABORTED, Line, Op, Record};
use super::list_append::Mop;
use slotraft::resp::frame::Frame;
use slotraft::slots::{Slot, key_slot};

#[derive(Clone, Debug)]
pub struct Options {
    /// RESP addresses to learn the slot map from.
    pub seeds: Vec<String>,
    pub duration: Duration,
    pub workers: usize,
    /// Past this, a request's outcome is unknown.
    pub timeout: Duration,
    /// How long one operation may retry refusals before it is recorded as failed.
    pub op_budget: Duration,
    /// Register keys (and list-append key groups) in use at once.
    pub keys: usize,
    /// Operations on one register key (transactions on one key group) before it is replaced.
    pub ops_per_key: u32,
    pub seed: u64,
}

/// Microseconds since the Unix epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// An operation before it runs.
#[derive(Clone, Debug)]
enum Plan {
    Read(String),
    Write(String, u64),
    Cas(String, Option<u64>, u64),
    Txn(Vec<Mop>),
}

impl Plan {
    fn slot(&self) -> Slot {
        match self {
            Plan::Read(k) | Plan::Write(k, _) | Plan::Cas(k, _, _) => key_slot(k.as_bytes()),
            Plan::Txn(mops) => match &mops[0] {
                Mop::Append { key, .. } | Mop::Read { key, .. } => key_slot(key.as_bytes()),
            },
        }
    }

    /// The operation as recorded when it did not complete with a result.
    fn unresolved(&self) -> Op {
        match self {
            Plan::Read(key) => Op::Read {
                key: key.clone(),
                value: None,
            },
            Plan::Write(key, value) => Op::Write {
                key: key.clone(),
                value: *value,
            },
            Plan::Cas(key, expect, new) => Op::Cas {
                key: key.clone(),
                expect: *expect,
                new: *new,
                swapped: false,
            },
            Plan::Txn(mops) => Op::Txn { mops: mops.clone() },
        }
    }
}

struct RegisterKey {
    id: u64,
    name: String,
    ops: u32,
    /// The last value known to be there, for the next compare-and-set to expect.
    last: Option<u64>,
}

struct KeyGroup {
    id: u64,
    tag: String,
    txns: u32,
}

/// The list keys of a key group's transactions.
const GROUP_KEYS: [&str; 3] = ["a", "b", "c"];

/// What the workers choose from: the live keys, replaced as they are used up.
struct Keys {
    registers: Vec<RegisterKey>,
    groups: Vec<KeyGroup>,
    next_id: u64,
    ops_per_key: u32,
    /// Operations under way per register key or key group (by id).
    in_flight: HashMap<u64, u32>,
    /// Keys replaced while operations on them were under way, by id: done when those end.
    replaced: HashMap<u64, Vec<String>>,
}

impl Keys {
    fn new(count: usize, ops_per_key: u32) -> Keys {
        let mut k = Keys {
            registers: Vec::new(),
            groups: Vec::new(),
            next_id: 0,
            ops_per_key,
            in_flight: HashMap::new(),
            replaced: HashMap::new(),
        };
        for _ in 0..count.max(1) {
            let r = k.fresh_register();
            k.registers.push(r);
            let g = k.fresh_group();
            k.groups.push(g);
        }
        k
    }

    fn fresh_register(&mut self) -> RegisterKey {
        self.next_id += 1;
        RegisterKey {
            id: self.next_id,
            name: format!("chaos:r:{}", self.next_id),
            ops: 0,
            last: None,
        }
    }

    fn fresh_group(&mut self) -> KeyGroup {
        self.next_id += 1;
        KeyGroup {
            id: self.next_id,
            tag: format!("{{chaos:l:{}}}", self.next_id),
            txns: 0,
        }
    }

    /// The next operation, with the id of its key (or key group) to hand to `finish` when it
    /// has ended, and the keys that replacing a used-up one finished (to be marked done).
    fn plan(&mut self, rng: &mut StdRng, values: &AtomicU64) -> (Plan, u64, Vec<String>) {
        let mut done = Vec::new();
        let (plan, id) = if rng.random_bool(0.5) {
            let i = rng.random_range(0..self.registers.len());
            if self.registers[i].ops >= self.ops_per_key {
                let fresh = self.fresh_register();
                let old = std::mem::replace(&mut self.registers[i], fresh);
                done = self.replace(old.id, vec![old.name]);
            }
            let r = &mut self.registers[i];
            r.ops += 1;
            let key = r.name.clone();
            let plan = match rng.random_range(0..4) {
                0 | 1 => Plan::Read(key),
                2 => Plan::Write(key, values.fetch_add(1, Ordering::Relaxed)),
                _ => Plan::Cas(key, r.last, values.fetch_add(1, Ordering::Relaxed)),
            };
            (plan, r.id)
        } else {
            let i = rng.random_range(0..self.groups.len());
            if self.groups[i].txns >= self.ops_per_key {
                let fresh = self.fresh_group();
                let old = std::mem::replace(&mut self.groups[i], fresh);
                done = self.replace(old.id, GROUP_KEYS.iter().map(|k| format!("{}{k}", old.tag)).collect());
            }
            let g = &mut self.groups[i];
            g.txns += 1;
            let mops = (0..rng.random_range(1..=4))
                .map(|_| {
                    let key = format!("{}{}", g.tag, GROUP_KEYS[rng.random_range(0..3)]);
                    if rng.random_bool(0.5) {
                        Mop::Append {
                            key,
                            elem: values.fetch_add(1, Ordering::Relaxed),
                        }
                    } else {
                        Mop::Read { key, value: None }
                    }
                })
                .collect();
            (Plan::Txn(mops), g.id)
        };
        *self.in_flight.entry(id).or_default() += 1;
        (plan, id, done)
    }

    /// Notes that the keys `id` names were replaced: they are done now if nothing on them is
    /// under way (returned), or when the last operation ends (`finish`).
    fn replace(&mut self, id: u64, keys: Vec<String>) -> Vec<String> {
        if self.in_flight.contains_key(&id) {
            self.replaced.insert(id, keys);
            Vec::new()
        } else {
            keys
        }
    }

    /// Notes that an operation on `id` ended (and is in the history); returns the keys done
    /// with it.
    fn finish(&mut self, id: u64) -> Vec<String> {
        if let Some(n) = self.in_flight.get_mut(&id) {
            *n -= 1;
            if *n == 0 {
                self.in_flight.remove(&id);
                return self.replaced.remove(&id).unwrap_or_default();
            }
        }
        Vec::new()
    }

    /// Remembers a register value seen or written, for later compare-and-sets.
    fn learn(&mut self, op: &Op, outcome: Outcome) {
        let (key, value) = match (op, outcome) {
            (Op::Read { key, value }, Outcome::Ok) => (key, *value),
            (Op::Write { key, value }, Outcome::Ok) => (key, Some(*value)),
            (
                Op::Cas {
                    key,
                    new,
                    swapped: true,
                    ..
                },
                Outcome::Ok,
            ) => (key, Some(*new)),
            _ => return,
        };
        if let Some(r) = self.registers.iter_mut().find(|r| &r.name == key) {
            r.last = value;
        }
    }
}

/// Counts for the progress line.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    fail: AtomicU64,
    info: AtomicU64,
}

/// Runs the workload for `opts.duration`, sending each operation to `history` as it completes,
/// and a done line after the last operation on a key that was replaced.
pub async fn run(opts: Options, history: mpsc::Sender<Line>) {
    let keys = Arc::new(Mutex::new(Keys::new(opts.keys, opts.ops_per_key)));
    let values = Arc::new(AtomicU64::new(1));
    let tally = Arc::new(Tally::default());
    let start = Instant::now();
    let progress = {
        let tally = tally.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            tick.tick().await;
            loop {
                tick.tick().await;
                eprintln!(
                    "workload: {:>4} s  ok {}  fail {}  info {}",
                    start.elapsed().as_secs(),
                    tally.ok.load(Ordering::Relaxed),
                    tally.fail.load(Ordering::Relaxed),
                    tally.info.load(Ordering::Relaxed)
                );
            }
        })
    };
    let mut handles = Vec::new();
    for w in 0..opts.workers.max(1) {
        let (opts, keys, values, tally) = (opts.clone(), keys.clone(), values.clone(), tally.clone());
        let history = history.clone();
        handles.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(opts.seed.wrapping_add(w as u64));
            let mut client = Client::new(opts.seeds.clone(), opts.timeout);
            client.refresh().await;
            let mut process = w as u64;
            // A send fails only when the writer has stopped on an error, which the caller
            // reports.
            let send = |line| {
                let _ = history.send(line);
            };
            while start.elapsed() < opts.duration {
                let (plan, id, done) = keys.lock().plan(&mut rng, &values);
                if !done.is_empty() {
                    send(Line::Done(done));
                }
                let call = now_us();
                let (outcome, op, error) = perform(&mut client, &plan, opts.op_budget).await;
                let ret = now_us();
                match outcome {
                    Outcome::Ok => &tally.ok,
                    Outcome::Fail => &tally.fail,
                    Outcome::Info => &tally.info,
                }
                .fetch_add(1, Ordering::Relaxed);
                keys.lock().learn(&op, outcome);
                // The record goes out before its key can be marked done: the writer takes
                // lines in the order they are sent.
                send(Line::Record(Record {
                    process,
                    call,
                    ret,
                    outcome,
                    op,
                    error,
                }));
                let done = keys.lock().finish(id);
                if !done.is_empty() {
                    send(Line::Done(done));
                }
                if outcome == Outcome::Info {
                    process += opts.workers as u64;
                }
            }
        }));
    }
    drop(history);
    for h in handles {
        let _ = h.await;
    }
    progress.abort();
}

/// How one try of an operation ended.
enum Attempt {
    /// Recorded as is.
    Done(Outcome, Op, Option<String>),
    /// Certainly not applied; the slot is served elsewhere (the MOVED error).
    Moved(String),
    /// Certainly not applied; try again shortly.
    Again(String),
}

/// Runs one operation, retrying refusals until `budget` is spent.
async fn perform(client: &mut Client, plan: &Plan, budget: Duration) -> (Outcome, Op, Option<String>) {
    client.settle().await;
    let slot = plan.slot();
    let deadline = Instant::now() + budget;
    let mut last = String::from("no node serves the slot");
    while Instant::now() < deadline {
        let Some(addr) = client.addr_of(slot).map(str::to_string) else {
            if !client.refresh().await {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            continue;
        };
        let conn = match client.take(&addr).await {
            Ok(c) => c,
            Err(Failure::NotSent(e) | Failure::Unknown(e)) => {
                last = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
                client.refresh().await;
                continue;
            }
        };
        let (attempt, conn) = match plan {
            Plan::Read(key) => read(conn, key, client.timeout).await,
            Plan::Write(key, value) => write(conn, key, *value, client.timeout).await,
            Plan::Cas(key, expect, new) => cas(conn, key, *expect, *new, client.timeout).await,
            Plan::Txn(mops) => txn(conn, mops, client.timeout).await,
        };
        if let Some(conn) = conn {
            client.put(&addr, conn);
        }
        match attempt {
            Attempt::Done(outcome, op, error) => {
                if outcome == Outcome::Info {
                    client.suspect(&addr);
                }
                return (outcome, op, error);
            }
            Attempt::Moved(e) => {
                client.moved(&e);
                last = e;
            }
            Attempt::Again(e) => {
                last = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
                client.refresh().await;
            }
        }
    }
    (Outcome::Fail, plan.unresolved(), Some(format!("gave up: {last}")))
}

/// A refusal that proves the command was not applied, as an attempt to repeat.
fn refusal(e: &str) -> Option<Attempt> {
    if e.starts_with("MOVED ") {
        Some(Attempt::Moved(e.to_string()))
    } else if e.starts_with("TRYAGAIN") || e.starts_with("CLUSTERDOWN") || e.starts_with("ASK ") {
        Some(Attempt::Again(e.to_string()))
    } else {
        None
    }
}

/// What a request that had not yet changed anything ended in, when it did not succeed: the
/// operation was not applied, whatever the reason.
fn not_applied(result: Result<Frame, Failure>, plan: Op) -> Attempt {
    match result {
        Ok(Frame::Error(e)) => refusal(&e).unwrap_or(Attempt::Done(Outcome::Fail, plan, Some(e))),
        Ok(other) => Attempt::Done(Outcome::Fail, plan, Some(format!("unexpected reply {other:?}"))),
        Err(Failure::NotSent(e) | Failure::Unknown(e)) => Attempt::Again(e),
    }
}

/// What the request that may apply the operation (SET, EXEC) ended in, when it was not the
/// expected success: only a refusal proves it was not applied.
fn maybe_applied(result: Result<Frame, Failure>, plan: Op) -> Attempt {
    match result {
        Ok(Frame::Error(e)) if e.starts_with("EXECABORT") => Attempt::Done(Outcome::Fail, plan, Some(e)),
        Ok(Frame::Error(e)) => refusal(&e).unwrap_or(Attempt::Done(Outcome::Info, plan, Some(e))),
        Ok(Frame::Null | Frame::NullArray) => Attempt::Done(Outcome::Fail, plan, Some(ABORTED.into())),
        Ok(other) => Attempt::Done(Outcome::Info, plan, Some(format!("unexpected reply {other:?}"))),
        Err(Failure::NotSent(e)) => Attempt::Again(e),
        Err(Failure::Unknown(e)) => Attempt::Done(Outcome::Info, plan, Some(e)),
    }
}

type Tried = (Attempt, Option<Conn>);

async fn read(mut conn: Conn, key: &str, timeout: Duration) -> Tried {
    let unresolved = || Op::Read {
        key: key.to_string(),
        value: None,
    };
    match conn.call(&[b"GET", key.as_bytes()], timeout).await {
        Ok(Frame::Null) => (
            Attempt::Done(
                Outcome::Ok,
                Op::Read {
                    key: key.to_string(),
                    value: None,
                },
                None,
            ),
            Some(conn),
        ),
        Ok(f @ Frame::Bulk(_)) if number(&f).is_some() => (
            Attempt::Done(
                Outcome::Ok,
                Op::Read {
                    key: key.to_string(),
                    value: number(&f),
                },
                None,
            ),
            Some(conn),
        ),
        // A read changes nothing: whatever went wrong, it is a failed read.
        Ok(Frame::Error(e)) => (
            refusal(&e).unwrap_or(Attempt::Done(Outcome::Fail, unresolved(), Some(e))),
            Some(conn),
        ),
        Ok(other) => (
            Attempt::Done(Outcome::Fail, unresolved(), Some(format!("unexpected reply {other:?}"))),
            None,
        ),
        Err(Failure::NotSent(e)) => (Attempt::Again(e), None),
        Err(Failure::Unknown(e)) => (Attempt::Done(Outcome::Info, unresolved(), Some(e)), None),
    }
}

async fn write(mut conn: Conn, key: &str, value: u64, timeout: Duration) -> Tried {
    let op = Op::Write {
        key: key.to_string(),
        value,
    };
    match conn.call(&[b"SET", key.as_bytes(), &arg(value)], timeout).await {
        Ok(Frame::Simple(s)) if s == "OK" => (Attempt::Done(Outcome::Ok, op, None), Some(conn)),
        Ok(Frame::Error(e)) => (maybe_applied(Ok(Frame::Error(e)), op), Some(conn)),
        other => (maybe_applied(other, op), None),
    }
}

/// WATCH, GET, and if the value is the expected one MULTI, SET, EXEC. Anything that goes
/// wrong before EXEC is sent leaves the key as it was; the connection is then dropped, which
/// discards the WATCH and any MULTI.
async fn cas(mut conn: Conn, key: &str, expect: Option<u64>, new: u64, timeout: Duration) -> Tried {
    let op = |swapped| Op::Cas {
        key: key.to_string(),
        expect,
        new,
        swapped,
    };
    let k = key.as_bytes();
    match conn.call(&[b"WATCH", k], timeout).await {
        Ok(Frame::Simple(s)) if s == "OK" => {}
        other => return (not_applied(other, op(false)), None),
    }
    let current = match conn.call(&[b"GET", k], timeout).await {
        Ok(Frame::Null) => None,
        Ok(f @ Frame::Bulk(_)) if number(&f).is_some() => number(&f),
        other => return (not_applied(other, op(false)), None),
    };
    if current != expect {
        // Not swapped, and that is a result: the value differed while it was watched.
        return match conn.call(&[b"UNWATCH"], timeout).await {
            Ok(Frame::Simple(_)) => (Attempt::Done(Outcome::Ok, op(false), None), Some(conn)),
            _ => (Attempt::Done(Outcome::Ok, op(false), None), None),
        };
    }
    for args in [&[&b"MULTI"[..]][..], &[b"SET", k, &arg(new)]] {
        match conn.call(args, timeout).await {
            Ok(Frame::Simple(s)) if s == "OK" || s == "QUEUED" => {}
            other => return (not_applied(other, op(false)), None),
        }
    }
    match conn.call(&[b"EXEC"], timeout).await {
        Ok(Frame::Array(replies)) if matches!(replies.as_slice(), [Frame::Simple(s)] if s == "OK") => {
            (Attempt::Done(Outcome::Ok, op(true), None), Some(conn))
        }
        other => (maybe_applied(other, op(true)), None),
    }
}

/// MULTI, an RPUSH or LRANGE per micro-operation, EXEC.
async fn txn(mut conn: Conn, mops: &[Mop], timeout: Duration) -> Tried {
    let unresolved = || Op::Txn { mops: mops.to_vec() };
    match conn.call(&[b"MULTI"], timeout).await {
        Ok(Frame::Simple(s)) if s == "OK" => {}
        other => return (not_applied(other, unresolved()), None),
    }
    for m in mops {
        let reply = match m {
            Mop::Append { key, elem } => conn.call(&[b"RPUSH", key.as_bytes(), &arg(*elem)], timeout).await,
            Mop::Read { key, .. } => conn.call(&[b"LRANGE", key.as_bytes(), b"0", b"-1"], timeout).await,
        };
        match reply {
            Ok(Frame::Simple(s)) if s == "QUEUED" => {}
            other => return (not_applied(other, unresolved()), None),
        }
    }
    let replies = match conn.call(&[b"EXEC"], timeout).await {
        Ok(Frame::Array(replies)) if replies.len() == mops.len() => replies,
        other => return (maybe_applied(other, unresolved()), None),
    };
    let mut done = Vec::with_capacity(mops.len());
    for (m, r) in mops.iter().zip(&replies) {
        match (m, r) {
            (Mop::Append { .. }, Frame::Integer(_)) => done.push(m.clone()),
            (Mop::Read { key, .. }, r) if numbers(r).is_some() => done.push(Mop::Read {
                key: key.clone(),
                value: numbers(r),
            }),
            _ => {
                let e = format!("unexpected reply {r:?} in EXEC");
                return (Attempt::Done(Outcome::Info, unresolved(), Some(e)), Some(conn));
            }
        }
    }
    (Attempt::Done(Outcome::Ok, Op::Txn { mops: done }, None), Some(conn))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(a: Attempt) -> String {
        match a {
            Attempt::Done(o, _, e) => format!("{o:?}: {}", e.unwrap_or_default()),
            Attempt::Moved(e) => format!("moved: {e}"),
            Attempt::Again(e) => format!("again: {e}"),
        }
    }

    fn write_op() -> Op {
        Op::Write {
            key: "k".into(),
            value: 1,
        }
    }

    #[test]
    fn only_refusals_make_a_possibly_applied_write_fail_or_retry() {
        let err = |e: &str| Ok(Frame::Error(e.into()));
        let cases: [(Result<Frame, Failure>, &str); 9] = [
            (err("MOVED 5 10.0.0.1:7001"), "moved: MOVED 5"),
            (err("TRYAGAIN The slot's leader is changing"), "again: TRYAGAIN"),
            (err("CLUSTERDOWN The cluster is down"), "again: CLUSTERDOWN"),
            (err("EXECABORT Transaction discarded"), "Fail: EXECABORT"),
            (Ok(Frame::NullArray), "Fail: EXEC aborted"),
            // The write may have been applied: never "fail".
            (
                err("UNKNOWN The write may or may not have been applied"),
                "Info: UNKNOWN",
            ),
            (err("ERR something new"), "Info: ERR something new"),
            (
                Err(Failure::Unknown("no reply within 4000 ms".into())),
                "Info: no reply",
            ),
            (Err(Failure::NotSent("connect: refused".into())), "again: connect"),
        ];
        for (reply, want) in cases {
            let got = kind(maybe_applied(reply.clone(), write_op()));
            assert!(got.starts_with(want), "{reply:?}: {got}");
        }
    }

    #[test]
    fn a_replaced_key_is_done_after_its_last_operation_ends() {
        use std::collections::HashSet;
        let mut keys = Keys::new(2, 5);
        let mut rng = StdRng::seed_from_u64(7);
        let values = AtomicU64::new(1);
        // Operations under way (key names, id), ended in random order, a few at a time.
        let mut under_way: Vec<(Vec<String>, u64)> = Vec::new();
        let mut ended: HashSet<String> = HashSet::new();
        let mut done: HashSet<String> = HashSet::new();
        let mut check_done = |names: Vec<String>, under_way: &[(Vec<String>, u64)]| {
            for n in names {
                assert!(
                    under_way.iter().all(|(keys, _)| !keys.contains(&n)),
                    "{n} done while in use"
                );
                assert!(done.insert(n.clone()), "{n} done twice");
            }
        };
        for step in 0..2000 {
            let (plan, id, d) = keys.plan(&mut rng, &values);
            check_done(d, &under_way);
            let names = match plan {
                Plan::Read(k) | Plan::Write(k, _) | Plan::Cas(k, _, _) => vec![k],
                Plan::Txn(mops) => mops
                    .into_iter()
                    .map(|m| match m {
                        Mop::Append { key, .. } | Mop::Read { key, .. } => key,
                    })
                    .collect(),
            };
            under_way.push((names, id));
            while under_way.len() > 6 || (step % 7 == 0 && !under_way.is_empty()) {
                let (names, id) = under_way.swap_remove(rng.random_range(0..under_way.len()));
                ended.extend(names);
                let d = keys.finish(id);
                check_done(d, &under_way);
            }
        }
        // Most keys used were replaced and marked done; none of those is in use any more.
        assert!(done.len() > 100, "{}", done.len());
        let live: HashSet<&String> = keys
            .registers
            .iter()
            .map(|r| &r.name)
            .chain(under_way.iter().flat_map(|(k, _)| k))
            .collect();
        assert!(done.iter().all(|d| !live.contains(d)));
        assert!(ended.iter().filter(|k| !done.contains(*k)).count() < 30);
    }

    #[test]
    fn anything_before_exec_is_not_applied() {
        let got = kind(not_applied(
            Err(Failure::Unknown("connection closed".into())),
            write_op(),
        ));
        assert!(got.starts_with("again:"), "{got}");
        let got = kind(not_applied(Ok(Frame::Error("ERR wrong".into())), write_op()));
        assert!(got.starts_with("Fail: ERR wrong"), "{got}");
    }
}
