//! Transactions as log entries: EXEC turns a connection's queued commands and its WATCHed keys
//! into one internal command, `slotraft.exec`, proposed like any write, so the whole
//! transaction is applied atomically at one log index on every replica. The WATCH check runs
//! at apply, against the store's modification clock, so every replica decides it alike.
//!
//! Entry layout (all bulk strings):
//! `slotraft.exec <nwatch> (<key> <seen>)* <ncmds> (<argc> <arg>*)*`, where `<seen>` ends in
//! `x` when the key was already expired at WATCH time.
//!
//! Group commit uses the same idea without the WATCHes: several clients' writes to one group,
//! proposed together, become one `slotraft.batch (<argc> <arg>*)+` entry.

use bytes::Bytes;

use super::parse::{Reply, parse_i64};
use crate::resp::frame::Frame;
use crate::store::Store;

/// The internal command one EXEC becomes. Hidden from clients.
pub const EXEC_ENTRY: &str = "slotraft.exec";

/// The internal command several clients' writes, proposed together, become. Hidden too.
pub const BATCH_ENTRY: &str = "slotraft.batch";

/// The internal read WATCH runs on the slot's leader: `slotraft.watch key [key ...]` answers
/// the group's modification clock, then for each key 1 if it is present but already expired
/// (0 otherwise); the connection keeps them until EXEC.
pub const WATCH_CLOCK: &str = "slotraft.watch";

/// One WATCHed key.
#[derive(Clone, Debug, PartialEq)]
pub struct Watch {
    pub key: Bytes,
    /// The group's modification clock when it was watched.
    pub seen: u64,
    /// Present but past its deadline when watched: its expiry later is no change.
    pub was_expired: bool,
}

/// A transaction as EXEC proposes it.
#[derive(Debug, PartialEq)]
pub struct Transaction {
    pub watches: Vec<Watch>,
    /// The queued commands, in order, each a full argument vector.
    pub commands: Vec<Vec<Bytes>>,
}

fn num(n: usize) -> Bytes {
    Bytes::from(n.to_string())
}

impl Transaction {
    /// The arguments of the `slotraft.exec` entry.
    pub fn encode(&self) -> Vec<Bytes> {
        let mut out = vec![Bytes::from_static(EXEC_ENTRY.as_bytes()), num(self.watches.len())];
        for w in &self.watches {
            out.push(w.key.clone());
            let flag = if w.was_expired { "x" } else { "" };
            out.push(Bytes::from(format!("{}{flag}", w.seen)));
        }
        out.push(num(self.commands.len()));
        for cmd in &self.commands {
            out.push(num(cmd.len()));
            out.extend(cmd.iter().cloned());
        }
        out
    }

    /// Reads an entry back; anything malformed is an error reply, never a panic.
    pub fn decode(args: &[Bytes]) -> Reply<Transaction> {
        let bad = || Frame::error("ERR malformed transaction entry");
        let mut i = 1;
        let count = |i: &mut usize| -> Reply<usize> {
            let n = args.get(*i).and_then(|a| parse_i64(a)).ok_or_else(bad)?;
            *i += 1;
            usize::try_from(n).map_err(|_| bad())
        };
        let nwatch = count(&mut i)?;
        let mut watches = Vec::with_capacity(nwatch.min(args.len()));
        for _ in 0..nwatch {
            let key = args.get(i).ok_or_else(bad)?.clone();
            let text = args
                .get(i + 1)
                .and_then(|a| std::str::from_utf8(a).ok())
                .ok_or_else(bad)?;
            let (digits, was_expired) = match text.strip_suffix('x') {
                Some(d) => (d, true),
                None => (text, false),
            };
            let seen = digits.parse::<u64>().map_err(|_| bad())?;
            watches.push(Watch { key, seen, was_expired });
            i += 2;
        }
        let ncmds = count(&mut i)?;
        let mut commands = Vec::with_capacity(ncmds.min(args.len()));
        for _ in 0..ncmds {
            let range = next_command(args, &mut i).ok_or_else(bad)?;
            commands.push(args[range].to_vec());
        }
        if i != args.len() {
            return Err(bad());
        }
        Ok(Transaction { watches, commands })
    }

    /// Every key the transaction touches, watched keys included: they must share one slot.
    pub fn keys(&self) -> Vec<Bytes> {
        let mut keys: Vec<Bytes> = self.watches.iter().map(|w| w.key.clone()).collect();
        for cmd in &self.commands {
            if let Some(spec) = cmd.first().and_then(|n| super::lookup(n)) {
                keys.extend(super::key_positions(spec, cmd).into_iter().map(|i| cmd[i].clone()));
            }
        }
        keys
    }
}

/// The command at `args[*i]` (its argument count, then its arguments): their range in `args`,
/// `*i` moved past them. `None` if malformed.
fn next_command(args: &[Bytes], i: &mut usize) -> Option<std::ops::Range<usize>> {
    let argc = usize::try_from(parse_i64(args.get(*i)?)?).ok()?;
    let start = *i + 1;
    let end = start.checked_add(argc).filter(|&e| e <= args.len() && argc > 0)?;
    *i = end;
    Some(start..end)
}

/// The arguments of a `slotraft.batch` entry holding `commands` (at least one), in order.
pub fn encode_batch(commands: Vec<Vec<Bytes>>) -> Vec<Bytes> {
    let len = commands.iter().map(|c| c.len() + 1).sum::<usize>() + 1;
    let mut out = Vec::with_capacity(len);
    out.push(Bytes::from_static(BATCH_ENTRY.as_bytes()));
    for cmd in commands {
        out.push(num(cmd.len()));
        out.extend(cmd);
    }
    out
}

/// Whether `args` are a `slotraft.batch` entry's.
pub fn is_batch(args: &[Bytes]) -> bool {
    args.first()
        .is_some_and(|n| n.eq_ignore_ascii_case(BATCH_ENTRY.as_bytes()))
}

/// Where each command of a `slotraft.batch` entry lies in its arguments; an error reply, never
/// a panic, if the entry is malformed.
pub fn decode_batch(args: &[Bytes]) -> Reply<Vec<std::ops::Range<usize>>> {
    let mut ranges = Vec::new();
    let mut i = 1;
    while i < args.len() {
        ranges.push(next_command(args, &mut i).ok_or_else(|| Frame::error("ERR malformed batch entry"))?);
    }
    if ranges.is_empty() {
        return Err(Frame::error("ERR malformed batch entry"));
    }
    Ok(ranges)
}

/// Applies a batch entry: each command in order at the entry's time, as if each were its own
/// entry; the reply is the array of their replies.
pub fn apply_batch(store: &mut Store, args: &[Bytes], time_ms: u64, answer: super::Answer) -> Frame {
    match decode_batch(args) {
        Ok(ranges) => {
            // Most write commands name a key first: its table bucket and value are brought
            // into the cache for all of them before any is applied (`Store::warm`). For a
            // command whose first argument is not a key this is a lookup that finds nothing.
            let keys: Vec<&[u8]> = ranges
                .iter()
                .filter_map(|r| args[r.clone()].get(1).map(|k| &k[..]))
                .collect();
            std::hint::black_box(store.warm(&keys));
            Frame::Array(
                ranges
                    .into_iter()
                    .map(|r| super::apply_entry(store, &args[r], time_ms, answer))
                    .collect(),
            )
        }
        Err(e) => e,
    }
}

/// Positions of the keys in a `slotraft.exec` or `slotraft.batch` entry's own arguments.
pub fn key_positions(args: &[Bytes]) -> Vec<usize> {
    if is_batch(args) {
        let ranges = decode_batch(args).unwrap_or_default();
        return ranges
            .into_iter()
            .filter_map(|r| Some((r.start, super::lookup_internal(&args[r.start])?, &args[r])))
            .flat_map(|(start, spec, cmd)| super::key_positions(spec, cmd).into_iter().map(move |k| start + k))
            .collect();
    }
    let Ok(tx) = Transaction::decode(args) else {
        return Vec::new();
    };
    let mut out: Vec<usize> = (0..tx.watches.len()).map(|w| 2 + 2 * w).collect();
    let mut i = 2 + 2 * tx.watches.len() + 1;
    for cmd in &tx.commands {
        let start = i + 1;
        if let Some(spec) = cmd.first().and_then(|n| super::lookup(n)) {
            out.extend(super::key_positions(spec, cmd).into_iter().map(|k| start + k));
        }
        i = start + cmd.len();
    }
    out
}

/// Applies a transaction entry: a null reply if a watched key changed since it was watched
/// (nothing runs), otherwise every command in order, each reply in the array (an error in
/// one command does not stop the others, as in Redis).
pub fn apply(store: &mut Store, args: &[Bytes], time_ms: u64, answer: super::Answer) -> Frame {
    let tx = match Transaction::decode(args) {
        Ok(tx) => tx,
        Err(e) => return e,
    };
    if tx
        .watches
        .iter()
        .any(|w| store.changed_since(&w.key, w.seen, w.was_expired, time_ms))
    {
        return Frame::NullArray;
    }
    let replies = tx
        .commands
        .iter()
        .map(|cmd| match cmd.first().and_then(|n| super::lookup(n)) {
            Some(_) => super::apply_entry(store, cmd, time_ms, answer),
            None => super::unknown_command(cmd),
        })
        .collect();
    Frame::Array(replies)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn a(v: &[&str]) -> Vec<Bytes> {
        args(v)
    }

    /// A transaction applied where its client waits for the reply.
    fn apply(store: &mut Store, args: &[Bytes], time_ms: u64) -> Frame {
        super::apply(store, args, time_ms, super::super::Answer::Wanted)
    }

    /// A follower, or a node replaying its log, applies a transaction's writes alike but runs
    /// none of its reads: their places in the reply (which nobody waits for) are nulls.
    #[test]
    fn reads_in_a_transaction_run_only_where_the_reply_is_wanted() {
        use super::super::Answer;
        let entry = Transaction {
            watches: vec![],
            commands: vec![
                a(&["hset", "{p}h", "f", "v"]),
                a(&["hrandfield", "{p}h", "-100000000000000"]),
                a(&["hlen", "{p}h"]),
                a(&["incr", "{p}n"]),
            ],
        }
        .encode();
        let (mut leader, mut follower) = (Store::new(), Store::new());
        let answered = super::apply(&mut leader, &entry, 5, Answer::Wanted);
        let unanswered = super::apply(&mut follower, &entry, 5, Answer::Unwanted);
        assert_eq!(
            answered,
            Frame::Array(vec![
                Frame::Integer(1),
                Frame::error("ERR value is out of range"),
                Frame::Integer(1),
                Frame::Integer(1),
            ])
        );
        assert_eq!(
            unanswered,
            Frame::Array(vec![Frame::Integer(1), Frame::Null, Frame::Null, Frame::Integer(1)])
        );
        assert_eq!(leader.digest(), follower.digest(), "the same writes applied");
    }

    #[test]
    fn entry_round_trips_and_rejects_garbage() {
        let tx = Transaction {
            watches: vec![
                Watch {
                    key: Bytes::from_static(b"{u}w"),
                    seen: 41,
                    was_expired: false,
                },
                Watch {
                    key: Bytes::from_static(b"{u}x"),
                    seen: 42,
                    was_expired: true,
                },
            ],
            commands: vec![a(&["set", "{u}a", "1"]), a(&["incr", "{u}b"]), a(&["ping"])],
        };
        let entry = tx.encode();
        assert_eq!(Transaction::decode(&entry).unwrap(), tx);
        assert_eq!(entry[5], Bytes::from_static(b"42x"), "an expired watch is marked");
        assert_eq!(tx.keys(), a(&["{u}w", "{u}x", "{u}a", "{u}b"]));
        let positions: Vec<Bytes> = key_positions(&entry).into_iter().map(|i| entry[i].clone()).collect();
        assert_eq!(positions, a(&["{u}w", "{u}x", "{u}a", "{u}b"]));
        for cut in 1..entry.len() {
            assert!(Transaction::decode(&entry[..cut]).is_err(), "cut {cut}");
        }
        assert!(Transaction::decode(&a(&[EXEC_ENTRY, "0", "1", "0"])).is_err());
        assert!(Transaction::decode(&a(&[EXEC_ENTRY, "-1", "0"])).is_err());
        assert!(Transaction::decode(&a(&[EXEC_ENTRY, "0", "1", "99", "get"])).is_err());
        assert!(Transaction::decode(&a(&[EXEC_ENTRY, "1", "k", "x", "0"])).is_err());
        assert!(Transaction::decode(&a(&[EXEC_ENTRY, "1", "k", "5y", "0"])).is_err());
    }

    #[test]
    fn a_batch_round_trips_applies_in_order_and_rejects_garbage() {
        let commands = vec![
            a(&["set", "a", "1"]),
            a(&["incr", "a"]),
            a(&["lpush", "a", "x"]),
            a(&["del", "b", "c"]),
        ];
        let entry = encode_batch(commands.clone());
        assert_eq!(entry[0], Bytes::from_static(BATCH_ENTRY.as_bytes()));
        let ranges = decode_batch(&entry).unwrap();
        let decoded: Vec<Vec<Bytes>> = ranges.into_iter().map(|r| entry[r].to_vec()).collect();
        assert_eq!(decoded, commands);
        assert_eq!(super::super::testing::validate_args(&entry), Ok(()));
        let positions: Vec<Bytes> = key_positions(&entry).into_iter().map(|i| entry[i].clone()).collect();
        assert_eq!(positions, a(&["a", "a", "a", "b", "c"]));

        let mut store = Store::default();
        let reply = super::super::apply_write(&mut store, &entry, 100);
        let wrongtype = Frame::error("WRONGTYPE Operation against a key holding the wrong kind of value");
        assert_eq!(
            reply,
            Frame::Array(vec![Frame::ok(), Frame::Integer(2), wrongtype, Frame::Integer(0)]),
            "each command applied in order, an error in one does not stop the next"
        );

        for cut in [1, 2, 4, entry.len() - 1] {
            assert!(decode_batch(&entry[..cut]).is_err(), "cut {cut}");
        }
        assert!(decode_batch(&a(&[BATCH_ENTRY, "0"])).is_err());
        assert!(decode_batch(&a(&[BATCH_ENTRY, "-1", "get"])).is_err());
        assert!(decode_batch(&a(&[BATCH_ENTRY, "x", "get"])).is_err());
        assert!(super::super::testing::validate_args(&a(&[BATCH_ENTRY, "3", "set", "k"])).is_err());
        assert!(matches!(
            super::super::apply_write(&mut store, &a(&[BATCH_ENTRY, "2", "get"]), 100),
            Frame::Error(_)
        ));
    }

    #[test]
    fn exec_applies_in_order_and_watch_aborts() {
        let mut store = Store::new();
        let tx = |watches: Vec<(Bytes, u64)>, cmds: &[&[&str]]| {
            Transaction {
                watches: watches
                    .into_iter()
                    .map(|(key, seen)| Watch {
                        key,
                        seen,
                        was_expired: false,
                    })
                    .collect(),
                commands: cmds.iter().map(|c| a(c)).collect(),
            }
            .encode()
        };
        let reply = apply(
            &mut store,
            &tx(vec![], &[&["set", "k", "1"], &["incr", "k"], &["lpush", "k", "x"]]),
            0,
        );
        assert_eq!(reply, Frame::Array(vec![ok(), int(2), err(WRONGTYPE)]));

        // Watched, untouched: runs. Watched, then changed: aborts with a null reply.
        let seen = store.watch_seen();
        let k = Bytes::from_static(b"k");
        assert_eq!(
            apply(&mut store, &tx(vec![(k.clone(), seen)], &[&["get", "k"]]), 0),
            Frame::Array(vec![bulk("2")])
        );
        super::super::apply_write(&mut store, &a(&["set", "k", "3"]), 0);
        assert_eq!(
            apply(&mut store, &tx(vec![(k.clone(), seen)], &[&["set", "k", "9"]]), 0),
            Frame::NullArray
        );
        assert_eq!(super::super::execute_read(&store, &a(&["get", "k"]), 0), bulk("3"));

        // A watched key that is deleted, or expires, counts as changed; a missing key that
        // stays missing does not.
        let seen = store.watch_seen();
        super::super::apply_write(&mut store, &a(&["del", "k"]), 0);
        assert_eq!(
            apply(&mut store, &tx(vec![(k.clone(), seen)], &[&["ping"]]), 0),
            Frame::NullArray
        );
        let seen = store.watch_seen();
        let missing = Bytes::from_static(b"nokey");
        assert_eq!(
            apply(&mut store, &tx(vec![(missing, seen)], &[&["set", "n", "1"]]), 0),
            Frame::Array(vec![ok()])
        );
        // Another key of the same slot deleted meanwhile: the missing key did not change.
        let seen = store.watch_seen();
        super::super::apply_write(&mut store, &a(&["set", "{s}other", "1"]), 0);
        super::super::apply_write(&mut store, &a(&["del", "{s}other"]), 0);
        let watched = Bytes::from_static(b"{s}watched");
        assert_eq!(
            apply(
                &mut store,
                &tx(vec![(watched.clone(), seen)], &[&["get", "{s}watched"]]),
                0
            ),
            Frame::Array(vec![Frame::Null])
        );
        // Created and deleted again since the WATCH: changed.
        super::super::apply_write(&mut store, &a(&["set", "{s}watched", "1"]), 0);
        super::super::apply_write(&mut store, &a(&["del", "{s}watched"]), 0);
        assert_eq!(
            apply(&mut store, &tx(vec![(watched, seen)], &[&["ping"]]), 0),
            Frame::NullArray
        );
        super::super::apply_write(&mut store, &a(&["set", "t", "v", "px", "10"]), 100);
        let seen = store.watch_seen();
        let t = Bytes::from_static(b"t");
        assert_eq!(
            apply(&mut store, &tx(vec![(t, seen)], &[&["get", "t"]]), 200),
            Frame::NullArray
        );
    }

    #[test]
    fn a_key_already_expired_at_watch_may_expire_away() {
        let mut store = Store::new();
        let read = |store: &Store, args: &[&str], now| super::super::execute_read(store, &a(args), now);
        super::super::apply_write(&mut store, &a(&["set", "t", "v", "px", "10"]), 100);
        // WATCH at 200: the clock, and "already expired" for t.
        let Frame::Array(watch) = read(&store, &[WATCH_CLOCK, "t", "u"], 200) else {
            panic!()
        };
        let Frame::Integer(seen) = watch[0] else { panic!() };
        assert_eq!(&watch[1..], &[Frame::Integer(1), Frame::Integer(0)]);
        let exec = |was_expired| {
            Transaction {
                watches: vec![Watch {
                    key: Bytes::from_static(b"t"),
                    seen: seen as u64,
                    was_expired,
                }],
                commands: vec![a(&["get", "t"])],
            }
            .encode()
        };
        // Still there, still expired: no change. Deleted by expiry: no change either.
        let mut copy = store.clone();
        assert_eq!(apply(&mut copy, &exec(true), 300), Frame::Array(vec![Frame::Null]));
        super::super::apply_write(&mut store, &a(&[super::super::EXPIRED_DELETE, "t"]), 300);
        assert_eq!(apply(&mut store, &exec(true), 300), Frame::Array(vec![Frame::Null]));
        // Set again since: a change.
        super::super::apply_write(&mut store, &a(&["set", "t", "w"]), 400);
        super::super::apply_write(&mut store, &a(&["del", "t"]), 400);
        assert_eq!(apply(&mut store, &exec(true), 400), Frame::NullArray);
    }
}
