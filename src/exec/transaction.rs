//! MULTI / EXEC / DISCARD / WATCH / UNWATCH on a connection. Commands queue on the
//! connection; EXEC sends the data commands as one `slotraft.exec` log entry to the slot's
//! group (so they apply atomically, at one index, on every replica) and answers the commands
//! the node serves itself (PING, ECHO …) in their places. WATCH reads the group's
//! modification clock on the leader; the entry's apply compares it (see `cmd::txn`).

use bytes::Bytes;

use crate::cluster::route::{Route, RouteCtx, route};
use crate::cluster::view::View;
use crate::cmd::txn::{EXEC_ENTRY, Transaction, WATCH_CLOCK, Watch};
use crate::cmd::{self, Kind, Prepared, TwinReply};
use crate::errors::{CROSSSLOT, EXECABORT};
use crate::exec::data;
use crate::exec::node_commands;
use crate::exec::session::ConnState;
use crate::node::Node;
use crate::resp::encode::Protocol;
use crate::resp::frame::Frame;
use crate::slots::{Slot, key_slot};

/// A command refused while queueing makes EXEC fail with EXECABORT, as in Redis.
pub fn refuse(conn: &mut ConnState, reply: Frame) -> Frame {
    if conn.multi.is_some() {
        conn.multi_dirty = true;
    }
    reply
}

/// Queues a command inside MULTI. Like Redis Cluster, a data command whose keys are in
/// several slots, or whose slot is led elsewhere, is refused now and dooms the transaction.
pub fn queue(node: &Node, conn: &mut ConnState, p: Prepared, args: Vec<Bytes>) -> Frame {
    if let Err(e) = admit(&node.view.read(), &p, conn.may_forward) {
        return refuse(conn, e);
    }
    if let Some(queued) = conn.multi.as_mut() {
        queued.push((p, args));
    }
    Frame::Simple("QUEUED".into())
}

/// Whether a command may join a transaction, as Redis Cluster decides at queue time: a data
/// command whose keys span slots, or whose slot is led elsewhere (`-MOVED`, for a client's
/// own connection), is refused. Its leader, or a group without one, is EXEC's to find.
pub fn admit(view: &View, p: &Prepared, may_forward: bool) -> Result<(), Frame> {
    // A blocking pop runs as its twin at EXEC: its keys are a data command's. The node's own
    // commands with keys (shard channels) must name one slot; which node serves it is theirs.
    if p.kind() == Kind::Node && p.spec.twin.is_none() {
        if p.slots.iter().any(|&s| s != p.slots[0]) {
            return Err(Frame::error(CROSSSLOT));
        }
        return Ok(());
    }
    match route(view, &p.slots, RouteCtx::write()) {
        Route::CrossSlot => Err(Frame::error(CROSSSLOT)),
        Route::Moved { slot, addr } if may_forward => Err(Frame::Error(crate::errors::moved(slot, addr))),
        _ => Ok(()),
    }
}

/// EXEC refused before it runs (its arity, a subscribed connection): as Redis does, the
/// transaction is discarded and the refusal is told as EXECABORT, with or without MULTI.
pub fn abort_exec(conn: &mut ConnState, refusal: Frame) -> Frame {
    conn.multi = None;
    conn.multi_dirty = false;
    conn.watched.clear();
    match refusal {
        Frame::Error(e) => {
            let why = e.strip_prefix("ERR ").unwrap_or(&e);
            Frame::Error(format!("EXECABORT Transaction discarded because of: {why}"))
        }
        other => other,
    }
}

/// MULTI, EXEC, DISCARD, WATCH and UNWATCH.
pub async fn execute(node: &Node, conn: &mut ConnState, p: &Prepared, args: &[Bytes]) -> Frame {
    match p.spec.name {
        "multi" if conn.multi.is_some() => Frame::error("ERR MULTI calls can not be nested"),
        "multi" => {
            conn.multi = Some(Vec::new());
            conn.multi_dirty = false;
            Frame::ok()
        }
        "discard" => match conn.multi.take() {
            None => Frame::error("ERR DISCARD without MULTI"),
            Some(_) => {
                conn.multi_dirty = false;
                conn.watched.clear();
                Frame::ok()
            }
        },
        "unwatch" => {
            conn.watched.clear();
            Frame::ok()
        }
        "watch" if conn.multi.is_some() => Frame::error("ERR WATCH inside MULTI is not allowed"),
        "watch" => watch(node, conn, p, args).await,
        "exec" => exec(node, conn).await,
        other => Frame::Error(format!("ERR command '{other}' is not a transaction command")),
    }
}

/// Reads the modification clock on the keys' leader and remembers it for each key.
async fn watch(node: &Node, conn: &mut ConnState, p: &Prepared, args: &[Bytes]) -> Frame {
    let mut internal = Vec::with_capacity(args.len());
    internal.push(Bytes::from_static(WATCH_CLOCK.as_bytes()));
    internal.extend_from_slice(&args[1..]);
    // The entry names the watched keys, in the same places: it goes where WATCH's keys are.
    let entry = match Prepared::entry(WATCH_CLOCK, p.slots.clone()) {
        Ok(e) => e,
        Err(e) => return e,
    };
    let ctx = RouteCtx::read(false);
    match data::execute_data(node, &entry, &internal, ctx, conn.may_forward).await {
        Frame::Array(items) if items.len() == args.len() => {
            let Frame::Integer(seen) = items[0] else {
                return Frame::error("ERR unexpected WATCH reply");
            };
            let seen = u64::try_from(seen).unwrap_or(0);
            let watches = args[1..].iter().zip(&items[1..]).map(|(k, expired)| Watch {
                key: k.clone(),
                seen,
                was_expired: *expired == Frame::Integer(1),
            });
            conn.watched.extend(watches);
            Frame::ok()
        }
        other => other,
    }
}

/// EXEC's refusal of a transaction that flushes and also reads or writes keys.
pub const FLUSH_IN_TRANSACTION: &str = "ERR FLUSHALL and FLUSHDB cannot run in a transaction that also reads or writes keys; nothing was run (send the flush outside MULTI)";

/// Runs the queued transaction. The MULTI state and the watches end here, whatever happens.
async fn exec(node: &Node, conn: &mut ConnState) -> Frame {
    let Some(queued) = conn.multi.take() else {
        return Frame::error("ERR EXEC without MULTI");
    };
    let watches = std::mem::take(&mut conn.watched);
    if std::mem::take(&mut conn.multi_dirty) {
        return Frame::error(EXECABORT);
    }
    // The transaction's slots are those of every queued command (a shard channel's too), as
    // Redis Cluster checks EXEC, whether or not the command then runs in the entry.
    let queued_slots: Vec<Slot> = queued.iter().flat_map(|(p, _)| p.slots.iter().copied()).collect();
    // Blocking pops run once as their non-blocking twins, as in Redis (same keys, same slots);
    // one whose timeout or keys do not read answers its error in its place.
    let mut shapes: Vec<Option<TwinReply>> = vec![None; queued.len()];
    let mut is_data = vec![false; queued.len()];
    let mut replies: Vec<Option<Frame>> = vec![None; queued.len()];
    let queued: Vec<(Prepared, Vec<Bytes>)> = queued
        .into_iter()
        .enumerate()
        .map(|(i, (p, args))| match cmd::blocking::read(p.spec, &args) {
            Some(Ok(b)) => {
                shapes[i] = Some(b.reply);
                match cmd::lookup(&b.twin[0]).and_then(|twin| cmd::keyless(twin, &b.twin)) {
                    Some(reply) => replies[i] = Some(reply),
                    None => is_data[i] = true,
                }
                (p, b.twin)
            }
            Some(Err(e)) => {
                replies[i] = Some(e);
                (p, args)
            }
            None => {
                is_data[i] = p.kind() != Kind::Node;
                (p, args)
            }
        })
        .collect();
    let (data, local): (Vec<_>, Vec<_>) = queued.into_iter().enumerate().partition(|(i, _)| is_data[*i]);
    // A flush is the node's command, run beside the transaction's entry, not in it: with keys
    // read or written in the same transaction it would run at the wrong point (and wipe writes
    // queued after it), so the transaction is refused whole rather than run out of order.
    if !data.is_empty()
        && local
            .iter()
            .any(|(_, (p, _))| matches!(p.spec.name, "flushall" | "flushdb"))
    {
        return Frame::error(FLUSH_IN_TRANSACTION);
    }
    if data.is_empty() && watches.is_empty() && queued_slots.iter().any(|&s| s != queued_slots[0]) {
        return Frame::error(CROSSSLOT);
    }
    if !data.is_empty() || !watches.is_empty() {
        let slots: Vec<Slot> = watches.iter().map(|w| key_slot(&w.key)).chain(queued_slots).collect();
        let tx = Transaction {
            watches,
            commands: data.iter().map(|(_, (_, a))| a.clone()).collect(),
        };
        let entry = tx.encode();
        let prepared = match Prepared::entry(EXEC_ENTRY, slots) {
            Ok(p) => p,
            Err(_) => return Frame::error("ERR transactions are not available"),
        };
        let ctx = RouteCtx::write();
        match data::execute_data(node, &prepared, &entry, ctx, conn.may_forward).await {
            Frame::Array(items) if items.len() == data.len() => {
                for ((i, (p, args)), item) in data.iter().zip(items) {
                    // The reply shapes RESP3 changes, as outside a transaction.
                    let item = if conn.protocol == Protocol::Resp3 && shapes[*i].is_none() {
                        p.reshape_for_resp3(args, item)
                    } else {
                        item
                    };
                    replies[*i] = Some(item);
                }
            }
            // Aborted by WATCH (null), or refused before it was proposed (MOVED, CROSSSLOT,
            // CLUSTERDOWN) or of unknown outcome: the reply stands for the whole EXEC.
            other => return other,
        }
    }
    // Further frames a command left (SUBSCRIBE a b: one confirmation per channel).
    let mut extra: Vec<Vec<Frame>> = vec![Vec::new(); replies.len()];
    for (i, (p, args)) in local {
        if replies[i].is_some() {
            continue;
        }
        let reply = if p.spec.name == "unwatch" {
            Frame::ok()
        } else if p.spec.name == "ssubscribe" {
            // Redis refuses SSUBSCRIBE to a client that expects one reply per command, as one
            // in EXEC does (SUBSCRIBE and PSUBSCRIBE are let through there, for compatibility).
            Frame::error("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
        } else {
            node_commands::execute(node, conn, &p, &args).await
        };
        replies[i] = Some(reply);
        extra[i] = std::mem::take(&mut conn.pending);
    }
    let count = replies.len();
    let mut frames = replies
        .into_iter()
        .zip(shapes)
        .zip(extra)
        .flat_map(|((r, shape), more)| {
            let r = r.unwrap_or(Frame::Null);
            std::iter::once(shape.map_or(r.clone(), |s| s.convert(r))).chain(more)
        });
    // As Redis writes it: the array's length counts the commands, and each command's frames
    // follow in turn, so a command of several frames shifts the later ones past the array's
    // end. The frames past it are written after the array, as Redis's bytes have them.
    let reply = Frame::Array(frames.by_ref().take(count).collect());
    conn.pending.extend(frames);
    reply
}

#[cfg(test)]
mod admit_tests {
    use super::*;
    use crate::config::Config;

    fn view_of_node(me: u64) -> View {
        let config = Config::parse(include_str!("../../cluster.toml")).unwrap();
        let mut v = View::from_config(&config, me);
        for g in [1, 2, 3] {
            v.set_leader(g, Some(g), 1);
        }
        v
    }

    fn prepared(req: &[&str]) -> Prepared {
        let args: Vec<Bytes> = req.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
        crate::cmd::prepare(&args).unwrap()
    }

    #[test]
    fn queueing_refuses_what_exec_could_not_run_here() {
        // foo is in slot 12182 (group 3, led by node 3); {foo}x shares it; bar is slot 5061.
        let on_3 = view_of_node(3);
        assert_eq!(admit(&on_3, &prepared(&["SET", "foo", "1"]), true), Ok(()));
        assert_eq!(
            admit(&on_3, &prepared(&["MSET", "foo", "1", "{foo}x", "2"]), true),
            Ok(())
        );
        assert_eq!(
            admit(&on_3, &prepared(&["MSET", "foo", "1", "bar", "2"]), true),
            Err(Frame::error(CROSSSLOT))
        );
        // Commands without keys queue anywhere.
        assert_eq!(admit(&on_3, &prepared(&["PING"]), true), Ok(()));
        assert_eq!(admit(&on_3, &prepared(&["ZUNION", "0", "foo"]), true), Ok(()));
        // A blocking pop's keys are checked as a data command's (it runs as its twin).
        for req in [
            &["BLPOP", "foo", "bar", "0.05"][..],
            &["BLMOVE", "foo", "bar", "LEFT", "LEFT", "0"],
            &["BLMPOP", "0", "2", "foo", "bar", "LEFT"],
            &["BRPOPLPUSH", "foo", "bar", "0"],
            &["BZPOPMAX", "foo", "bar", "x"],
            &["BZMPOP", "0", "2", "foo", "bar", "MIN"],
        ] {
            assert_eq!(
                admit(&on_3, &prepared(req), true),
                Err(Frame::error(CROSSSLOT)),
                "{req:?}"
            );
        }
        assert_eq!(admit(&on_3, &prepared(&["BLPOP", "foo", "{foo}x", "0"]), true), Ok(()));
        let on_1 = view_of_node(1);
        let Err(Frame::Error(moved)) = admit(&on_1, &prepared(&["SET", "foo", "1"]), true) else {
            panic!("a slot led elsewhere is redirected at queue time")
        };
        assert_eq!(moved, "MOVED 12182 127.0.0.1:7003");
        // A forwarded command is not redirected again: EXEC's proxy finds the leader.
        assert_eq!(admit(&on_1, &prepared(&["SET", "foo", "1"]), false), Ok(()));
    }
}
