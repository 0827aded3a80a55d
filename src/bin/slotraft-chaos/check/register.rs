//! Linearizability of registers (one value per key, absent at first).
//!
//! For each key, the search of Wing & Gong with Lowe's memoisation: walk the history's
//! call/return events in time order; at a call, try to linearize that operation now (the
//! model accepts its result from the current state), remember (set of linearized
//! operations, state) so that no configuration is explored twice, and start again from the
//! first remaining event; at a return whose operation is not yet linearized, undo the last
//! choice. The history is linearizable if every event can be removed.
//!
//! `Info` operations return at infinity: a write of unknown outcome may take effect at any
//! point after its call, or (placed after everything else) never. Reads of unknown outcome
//! and `Fail` operations constrain nothing and are left out.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::{LiveKeys, Outcome, Verdict};

/// A register's value; `None` is a missing key.
pub type Value = Option<u64>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// GET: the value read.
    Read(Value),
    /// SET.
    Write(u64),
    /// Compare-and-set: from `expect` to `new`; `swapped` is whether it did.
    Cas { expect: Value, new: u64, swapped: bool },
}

/// One operation on a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub process: u64,
    /// Invocation and completion times (any monotonic unit; completion ignored for `Info`).
    pub call: u64,
    pub ret: u64,
    pub op: Op,
    pub outcome: Outcome,
}

/// The model: from `state`, does `op` (with its recorded result) happen, and to what state?
/// An operation of unknown outcome has no recorded result: a compare-and-set then swaps if
/// it can.
fn step(state: Value, op: &Op, outcome: Outcome) -> Option<Value> {
    if outcome == Outcome::Info
        && let Op::Cas { expect, new, .. } = op
    {
        return Some(if *expect == state { Some(*new) } else { state });
    }
    match op {
        Op::Read(v) => (*v == state).then_some(state),
        Op::Write(v) => Some(Some(*v)),
        Op::Cas {
            expect,
            new,
            swapped: true,
        } => (*expect == state).then_some(Some(*new)),
        Op::Cas {
            expect, swapped: false, ..
        } => (*expect != state).then_some(state),
    }
}

/// The register keys in use, with their operations so far.
pub type Registers = LiveKeys<Vec<Event>>;

/// A node of the event list: the call or the return of operation `op`.
#[derive(Clone, Copy)]
struct Node {
    op: usize,
    is_call: bool,
    prev: usize,
    next: usize,
}

/// Index of the list's head sentinel.
const HEAD: usize = 0;

/// Linearizability of one key's operations.
pub fn check_key(events: &[Event], budget: Duration) -> Verdict {
    // Operations that constrain the search; Info ones return at "infinity".
    let ops: Vec<(&Event, u64)> = events
        .iter()
        .filter(|e| match e.outcome {
            Outcome::Ok => true,
            Outcome::Fail => false,
            Outcome::Info => !matches!(e.op, Op::Read(_)),
        })
        .map(|e| {
            (
                e,
                if e.outcome == Outcome::Info {
                    u64::MAX
                } else {
                    e.ret.max(e.call)
                },
            )
        })
        .collect();
    if ops.is_empty() {
        return Verdict::Valid;
    }
    // Events by time; at equal times calls come first (operations that touch are concurrent).
    let mut order: Vec<(u64, bool, usize)> = Vec::with_capacity(ops.len() * 2);
    for (i, (e, ret)) in ops.iter().enumerate() {
        order.push((e.call, true, i));
        order.push((*ret, false, i));
    }
    order.sort_by_key(|&(t, is_call, i)| (t, !is_call, i));
    // Doubly linked list with a head sentinel at 0; node k+1 is order[k].
    let n = order.len();
    let mut list: Vec<Node> = Vec::with_capacity(n + 1);
    list.push(Node {
        op: usize::MAX,
        is_call: false,
        prev: HEAD,
        next: if n > 0 { 1 } else { HEAD },
    });
    let mut call_node = vec![0; ops.len()];
    let mut ret_node = vec![0; ops.len()];
    for (k, &(_, is_call, i)) in order.iter().enumerate() {
        let idx = k + 1;
        list.push(Node {
            op: i,
            is_call,
            prev: k,
            next: if idx == n { HEAD } else { idx + 1 },
        });
        if is_call {
            call_node[i] = idx;
        } else {
            ret_node[i] = idx;
        }
    }
    let words = ops.len().div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut cache: HashSet<(Vec<u64>, Value)> = HashSet::new();
    let mut stack: Vec<(usize, Value)> = Vec::new();
    let mut state: Value = None;
    let mut entry = list[HEAD].next;
    // The deepest point reached, for the report: how many were placed, and the operation
    // whose return could not be passed there.
    let (mut best_depth, mut stuck_at) = (0usize, None);
    let started = Instant::now();
    let mut steps = 0u64;

    let unlink = |list: &mut Vec<Node>, x: usize| {
        let (p, nx) = (list[x].prev, list[x].next);
        list[p].next = nx;
        list[nx].prev = p;
    };
    let relink = |list: &mut Vec<Node>, x: usize| {
        let (p, nx) = (list[x].prev, list[x].next);
        list[p].next = x;
        list[nx].prev = x;
    };

    while list[HEAD].next != HEAD {
        steps += 1;
        if steps.is_multiple_of(4096) && started.elapsed() > budget {
            return Verdict::Unknown;
        }
        if entry == HEAD {
            // Cannot happen (the last remaining event is always a return); stop rather than
            // read the sentinel as an event.
            break;
        }
        let node = list[entry];
        if node.is_call {
            let op = node.op;
            if let Some(next_state) = step(state, &ops[op].0.op, ops[op].0.outcome) {
                linearized[op / 64] |= 1 << (op % 64);
                if cache.insert((linearized.clone(), next_state)) {
                    stack.push((op, state));
                    state = next_state;
                    unlink(&mut list, call_node[op]);
                    unlink(&mut list, ret_node[op]);
                    if stack.len() > best_depth {
                        best_depth = stack.len();
                        stuck_at = None;
                    }
                    entry = list[HEAD].next;
                    continue;
                }
                linearized[op / 64] &= !(1 << (op % 64));
            }
            entry = node.next;
        } else {
            // A return of an operation not yet placed: undo the latest choice.
            if stack.len() == best_depth && stuck_at.is_none() {
                stuck_at = Some(node.op);
            }
            let Some((op, before)) = stack.pop() else {
                return Verdict::Invalid(explain(&ops, stuck_at));
            };
            state = before;
            linearized[op / 64] &= !(1 << (op % 64));
            relink(&mut list, ret_node[op]);
            relink(&mut list, call_node[op]);
            entry = list[call_node[op]].next;
        }
    }
    Verdict::Valid
}

/// Says which operation could not be placed and which were concurrent with it.
fn explain(ops: &[(&Event, u64)], stuck: Option<usize>) -> Vec<String> {
    let Some(s) = stuck else {
        return vec!["no linearization exists".into()];
    };
    let (e, ret) = ops[s];
    let mut lines = vec![format!(
        "cannot place {:?} by process {} (called {}, returned {}): no order of the operations before it explains its result",
        e.op, e.process, e.call, e.ret
    )];
    for (other, oret) in ops {
        if !std::ptr::eq(*other, e) && other.call <= ret && e.call <= *oret {
            lines.push(format!(
                "  concurrent: {:?} by process {} ({:?}, called {}, returned {})",
                other.op, other.process, other.outcome, other.call, other.ret
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(process: u64, call: u64, ret: u64, op: Op, outcome: Outcome) -> Event {
        Event {
            process,
            call,
            ret,
            op,
            outcome,
        }
    }

    fn verdict(h: &[Event]) -> Verdict {
        check_key(h, Duration::from_secs(10))
    }

    use Outcome::{Fail, Info, Ok};

    #[test]
    fn sequential_and_concurrent_histories_are_accepted() {
        let h = [
            ev(1, 0, 1, Op::Read(None), Ok),
            ev(1, 2, 3, Op::Write(1), Ok),
            ev(2, 4, 5, Op::Read(Some(1)), Ok),
            ev(
                1,
                6,
                7,
                Op::Cas {
                    expect: Some(1),
                    new: 2,
                    swapped: true,
                },
                Ok,
            ),
            ev(
                2,
                8,
                9,
                Op::Cas {
                    expect: Some(1),
                    new: 3,
                    swapped: false,
                },
                Ok,
            ),
        ];
        assert_eq!(verdict(&h), Verdict::Valid);
        // Two concurrent writes, reads see them in either order consistent with time.
        let h = [
            ev(1, 0, 10, Op::Write(1), Ok),
            ev(2, 0, 10, Op::Write(2), Ok),
            ev(3, 1, 2, Op::Read(Some(2)), Ok),
            ev(3, 3, 4, Op::Read(Some(1)), Ok),
            ev(3, 11, 12, Op::Read(Some(1)), Ok),
        ];
        assert_eq!(verdict(&h), Verdict::Valid);
    }

    #[test]
    fn unknown_and_failed_operations_are_allowed_either_way() {
        // A write of unknown outcome may show up later, or never.
        let seen = [
            ev(1, 0, 1, Op::Write(1), Ok),
            ev(2, 2, 3, Op::Write(2), Info),
            ev(3, 10, 11, Op::Read(Some(2)), Ok),
        ];
        assert_eq!(verdict(&seen), Verdict::Valid);
        let unseen = [
            ev(1, 0, 1, Op::Write(1), Ok),
            ev(2, 2, 3, Op::Write(2), Info),
            ev(3, 10, 11, Op::Read(Some(1)), Ok),
        ];
        assert_eq!(verdict(&unseen), Verdict::Valid);
        // A compare-and-set of unknown outcome swaps if it can, or never happened.
        let cas = |expect, new| Op::Cas {
            expect,
            new,
            swapped: false,
        };
        for later in [Some(1), Some(5)] {
            let h = [
                ev(1, 0, 1, Op::Write(1), Ok),
                ev(2, 2, 3, cas(Some(1), 5), Info),
                ev(3, 10, 11, Op::Read(later), Ok),
            ];
            assert_eq!(verdict(&h), Verdict::Valid, "later read {later:?}");
        }
        // ...but not from a value the register never had.
        let h = [
            ev(1, 0, 1, Op::Write(1), Ok),
            ev(2, 2, 3, cas(Some(7), 5), Info),
            ev(3, 10, 11, Op::Read(Some(5)), Ok),
        ];
        assert!(matches!(verdict(&h), Verdict::Invalid(_)));
        // A failed write never happened: reading its value is an anomaly.
        let failed = [
            ev(1, 0, 1, Op::Write(1), Ok),
            ev(2, 2, 3, Op::Write(2), Fail),
            ev(3, 10, 11, Op::Read(Some(2)), Ok),
        ];
        assert!(matches!(verdict(&failed), Verdict::Invalid(_)));
    }

    #[test]
    fn a_stale_read_is_caught() {
        let h = [
            ev(1, 0, 1, Op::Write(1), Ok),
            ev(1, 2, 3, Op::Write(2), Ok),
            ev(2, 4, 5, Op::Read(Some(1)), Ok),
        ];
        let Verdict::Invalid(why) = verdict(&h) else { panic!() };
        assert!(why[0].contains("Read(Some(1))"), "{why:?}");
    }

    #[test]
    fn a_lost_write_is_caught() {
        // Acknowledged, then a later read (after everything completed) misses it.
        let h = [
            ev(1, 0, 1, Op::Write(1), Ok),
            ev(2, 0, 2, Op::Write(2), Ok),
            ev(3, 3, 4, Op::Read(Some(2)), Ok),
            ev(3, 5, 6, Op::Read(None), Ok),
        ];
        assert!(matches!(verdict(&h), Verdict::Invalid(_)));
        // A CAS that reports success against a value that was already overwritten.
        let h = [
            ev(1, 0, 1, Op::Write(1), Ok),
            ev(1, 2, 3, Op::Write(2), Ok),
            ev(
                2,
                4,
                5,
                Op::Cas {
                    expect: Some(1),
                    new: 3,
                    swapped: true,
                },
                Ok,
            ),
        ];
        assert!(matches!(verdict(&h), Verdict::Invalid(_)));
    }

    #[test]
    fn thousands_of_concurrent_operations_are_checked_quickly() {
        // Five processes, each op overlapping the others; values are unique so the search
        // has to order writes by what reads saw.
        let mut h = Vec::new();
        let mut last = None;
        let mut t = 0;
        for i in 0..2000u64 {
            let p = i % 5;
            if i % 3 == 0 {
                h.push(ev(p, t, t + 7, Op::Write(i), Ok));
                last = Some(i);
            } else {
                // Reads complete after the latest write took effect.
                h.push(ev(p, t + 8, t + 9, Op::Read(last), Ok));
            }
            t += 3;
        }
        let started = Instant::now();
        assert_eq!(verdict(&h), Verdict::Valid);
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
