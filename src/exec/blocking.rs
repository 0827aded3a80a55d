//! Blocking pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP.
//!
//! Each is its non-blocking twin (LMPOP, LMOVE, ZMPOP …) proposed through the log like any
//! write, so what it pops is decided by the log on every replica. When the twin finds nothing,
//! the client waits on the slot's leader and looks again after each applied batch. Waiters on
//! a key queue in arrival order and only the first of a key that has data tries, so clients
//! are served in Redis's order. Each look routes again: a client whose slot's leader moved
//! away gets MOVED, as on Redis Cluster. Inside MULTI the twin runs once, without blocking.

use std::time::Duration;

use bytes::Bytes;

use crate::cluster::route::{Route, RouteCtx, route};
use crate::cmd;
use crate::errors::CROSSSLOT;
use crate::exec::data;
use crate::node::{Node, now_ms};
use crate::raft::types::GroupId;
use crate::resp::frame::Frame;
use crate::slots::key_slot;

/// How a twin's reply becomes the blocking command's reply.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    /// Same reply (BLMOVE, BRPOPLPUSH, BLMPOP, BZMPOP).
    Same,
    /// LMPOP's `[key, [value]]` as BLPOP's `[key, value]`.
    KeyValue,
    /// ZMPOP's `[key, [[member, score]]]` as BZPOPMIN's `[key, member, score]`.
    KeyMemberScore,
}

impl Shape {
    pub fn convert(self, reply: Frame) -> Frame {
        let Frame::Array(mut outer) = reply else { return reply };
        if self == Shape::Same || outer.len() != 2 {
            return Frame::Array(outer);
        }
        let Some(Frame::Array(mut inner)) = outer.pop() else {
            return Frame::Array(outer);
        };
        let key = outer.pop().unwrap_or(Frame::Null);
        match (self, inner.pop()) {
            (Shape::KeyValue, Some(v)) => Frame::Array(vec![key, v]),
            (Shape::KeyMemberScore, Some(Frame::Array(pair))) => {
                let mut out = vec![key];
                out.extend(pair);
                Frame::Array(out)
            }
            (_, other) => Frame::Array(vec![key, other.unwrap_or(Frame::Null)]),
        }
    }
}

/// A blocking command read into its twin.
pub struct Blocking {
    pub twin: Vec<Bytes>,
    pub shape: Shape,
    /// None: wait forever (timeout 0).
    pub timeout: Option<Duration>,
    /// What a timeout answers: a null array, or a null bulk (BLMOVE, BRPOPLPUSH).
    pub timeout_reply: Frame,
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, Frame> {
    let secs: f64 = std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| Frame::error("ERR timeout is not a float or out of range"))?;
    if secs < 0.0 {
        return Err(Frame::error("ERR timeout is negative"));
    }
    Ok((secs > 0.0).then(|| Duration::from_secs_f64(secs.min(1e9))))
}

/// Reads a blocking command into its twin; `None` for any other command.
pub fn parse(args: &[Bytes]) -> Option<Result<Blocking, Frame>> {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let n = args.len();
    let num = |k: usize| Bytes::from(k.to_string());
    let (twin, shape, timeout_arg, null): (Vec<Bytes>, Shape, &Bytes, Frame) = match name.as_str() {
        "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => {
            let keys = &args[1..n - 1];
            let (cmd, dir, shape) = match name.as_str() {
                "blpop" => ("lmpop", "left", Shape::KeyValue),
                "brpop" => ("lmpop", "right", Shape::KeyValue),
                "bzpopmin" => ("zmpop", "min", Shape::KeyMemberScore),
                _ => ("zmpop", "max", Shape::KeyMemberScore),
            };
            let mut twin = vec![b(cmd), num(keys.len())];
            twin.extend_from_slice(keys);
            twin.push(b(dir));
            (twin, shape, &args[n - 1], Frame::NullArray)
        }
        "blmove" => (
            [&[b("lmove")][..], &args[1..5]].concat(),
            Shape::Same,
            &args[5],
            Frame::Null,
        ),
        "brpoplpush" => (
            vec![b("rpoplpush"), args[1].clone(), args[2].clone()],
            Shape::Same,
            &args[3],
            Frame::Null,
        ),
        "blmpop" | "bzmpop" => {
            let cmd = if name == "blmpop" { "lmpop" } else { "zmpop" };
            (
                [&[b(cmd)][..], &args[2..]].concat(),
                Shape::Same,
                &args[1],
                Frame::NullArray,
            )
        }
        _ => return None,
    };
    Some(parse_timeout(timeout_arg).map(|timeout| Blocking {
        twin,
        shape,
        timeout,
        timeout_reply: null,
    }))
}

/// Runs a blocking command for a client (not inside MULTI).
pub async fn execute(node: &Node, may_forward: bool, blocking: Blocking) -> Frame {
    let Some(spec) = cmd::lookup(&blocking.twin[0]) else {
        return cmd::unknown_command(&blocking.twin);
    };
    let positions = cmd::key_positions(spec, &blocking.twin);
    let keys: Vec<Bytes> = positions.iter().map(|&i| blocking.twin[i].clone()).collect();
    // Only the source keys can wake a pop (LMOVE's destination does not).
    let sources: Vec<Bytes> = match spec.name {
        "lmove" | "rpoplpush" => keys[..1].to_vec(),
        _ => keys.clone(),
    };
    let slots: Vec<_> = keys.iter().map(|k| key_slot(k)).collect();
    let ctx = RouteCtx::write();
    let deadline = blocking.timeout.map(|t| tokio::time::Instant::now() + t);
    let waiter = node.next_client_id();
    let mut joined: Option<GroupId> = None;
    let reply = loop {
        // Armed before the view is read, so that a change of leader after it is not missed.
        let leadership = node.leaders_changed.notified();
        tokio::pin!(leadership);
        leadership.as_mut().enable();
        let decision = route(&node.view.read(), &slots, ctx);
        let group = match decision {
            Route::Here(group) => group,
            Route::CrossSlot => break Frame::error(CROSSSLOT),
            // Not the leader (or proxy mode): the twin answers now, MOVED included.
            _ => {
                break blocking
                    .shape
                    .convert(data::execute_data(node, &slots, &blocking.twin, ctx, may_forward).await);
            }
        };
        let Some(g) = node.groups.get(&group) else {
            break data::execute_data(node, &slots, &blocking.twin, ctx, may_forward).await;
        };
        let notified = g.sm.applied.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let ready = {
            let state = g.sm.state.read();
            let now = now_ms().max(state.clock_ms);
            sources
                .iter()
                .any(|k| state.store.get_live(k, now).is_some() && node.waiters.first(group, k, waiter))
        };
        if ready || joined.is_none() {
            let reply = data::execute_data(node, &slots, &blocking.twin, ctx, may_forward).await;
            if !matches!(reply, Frame::Null | Frame::NullArray) {
                break blocking.shape.convert(reply);
            }
        }
        if joined.is_none() {
            node.waiters.join(group, &sources, waiter);
            joined = Some(group);
        }
        // Look again after the next apply, a change of leader here, or every so often.
        let tick = tokio::time::Instant::now() + Duration::from_millis(250);
        let until = deadline.map_or(tick, |d| d.min(tick));
        tokio::select! {
            _ = notified => {}
            _ = leadership => {}
            _ = tokio::time::sleep_until(until) => {}
        }
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            break blocking.timeout_reply.clone();
        }
    };
    if let Some(group) = joined {
        node.waiters.leave(group, &sources, waiter);
    }
    reply
}

/// The twin of a blocking command as queued in MULTI: it runs once, never blocks, and its
/// reply is shaped like the blocking command's.
pub fn twin_for_multi(args: &[Bytes]) -> Option<(Vec<Bytes>, Shape)> {
    match parse(args)? {
        Ok(b) => Some((b.twin, b.shape)),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect()
    }

    #[test]
    fn twins_and_timeouts() {
        let blk = parse(&a(&["BLPOP", "a", "b", "1.5"])).unwrap().unwrap();
        assert_eq!(blk.twin, a(&["lmpop", "2", "a", "b", "left"]));
        assert_eq!(blk.timeout, Some(Duration::from_millis(1500)));
        let blk = parse(&a(&["bzpopmax", "z", "0"])).unwrap().unwrap();
        assert_eq!(blk.twin, a(&["zmpop", "1", "z", "max"]));
        assert_eq!(blk.timeout, None);
        let blk = parse(&a(&["blmove", "s", "d", "LEFT", "RIGHT", "2"])).unwrap().unwrap();
        assert_eq!(blk.twin, a(&["lmove", "s", "d", "LEFT", "RIGHT"]));
        assert_eq!(blk.timeout_reply, Frame::Null);
        let blk = parse(&a(&["blmpop", "0", "2", "a", "b", "right", "count", "3"]))
            .unwrap()
            .unwrap();
        assert_eq!(blk.twin, a(&["lmpop", "2", "a", "b", "right", "count", "3"]));
        assert!(parse(&a(&["get", "k"])).is_none());
        let err = |args: &[&str]| parse(&a(args)).unwrap().err().unwrap();
        assert_eq!(err(&["blpop", "a", "-1"]), Frame::error("ERR timeout is negative"));
        assert_eq!(
            err(&["blpop", "a", "x"]),
            Frame::error("ERR timeout is not a float or out of range")
        );
    }

    #[test]
    fn replies_take_the_blocking_shape() {
        let bulk = |s: &str| Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()));
        let lmpop = Frame::Array(vec![bulk("k"), Frame::Array(vec![bulk("v")])]);
        assert_eq!(Shape::KeyValue.convert(lmpop), Frame::Array(vec![bulk("k"), bulk("v")]));
        let zmpop = Frame::Array(vec![
            bulk("z"),
            Frame::Array(vec![Frame::Array(vec![bulk("m"), Frame::Double(2.5)])]),
        ]);
        assert_eq!(
            Shape::KeyMemberScore.convert(zmpop),
            Frame::Array(vec![bulk("z"), bulk("m"), Frame::Double(2.5)])
        );
        assert_eq!(Shape::KeyValue.convert(Frame::NullArray), Frame::NullArray);
    }
}
