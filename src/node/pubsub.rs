//! Who is subscribed to what on this node. Messages do not go through the Raft log: a
//! PUBLISH is delivered to this node's subscribers and fanned out to every peer over the
//! node-to-node channel (SPUBLISH to the members of the channel's group), as Redis Cluster's
//! bus does. Each subscriber's queue is bounded in bytes: one that cannot keep up is
//! disconnected at the limit, never allowed to grow the node's memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::RwLock;
use tokio::sync::mpsc;

use crate::resp::frame::Frame;
use crate::store::scan::glob_match;

/// The three subscription spaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Space {
    Channel,
    Pattern,
    Shard,
}

/// The sending side of one connection's push queue.
#[derive(Clone)]
pub struct Subscriber {
    pub client: u64,
    tx: mpsc::UnboundedSender<Frame>,
    queued: Arc<AtomicUsize>,
    killed: Arc<AtomicBool>,
    limit: usize,
}

/// The receiving side, owned by the connection's task.
pub struct Inbox {
    pub rx: mpsc::UnboundedReceiver<Frame>,
    queued: Arc<AtomicUsize>,
    killed: Arc<AtomicBool>,
}

/// A push queue for client `client`, closed for good once `limit` bytes wait unwritten.
pub fn queue(client: u64, limit: usize) -> (Subscriber, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let sub = Subscriber {
        client,
        tx,
        queued: queued.clone(),
        killed: killed.clone(),
        limit,
    };
    (sub, Inbox { rx, queued, killed })
}

/// Roughly what a queued message costs in the output buffer.
pub fn cost(frame: &Frame) -> usize {
    match frame {
        Frame::Push(items) => items.iter().map(cost).sum::<usize>() + 8,
        Frame::Bulk(b) => b.len() + 16,
        _ => 16,
    }
}

impl Subscriber {
    /// Queues a message; false if the subscriber is gone or just went over its limit (then
    /// its connection is woken to close).
    pub fn deliver(&self, frame: Frame) -> bool {
        if self.killed.load(Ordering::Relaxed) {
            return false;
        }
        let cost = cost(&frame);
        if self.queued.fetch_add(cost, Ordering::Relaxed) + cost > self.limit {
            self.killed.store(true, Ordering::Relaxed);
            let _ = self.tx.send(Frame::Null);
            return false;
        }
        self.tx.send(frame).is_ok()
    }
}

impl Inbox {
    /// Called as the connection writes a queued message out.
    pub fn written(&self, frame: &Frame) {
        let c = cost(frame);
        let _ = self
            .queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| Some(q.saturating_sub(c)));
    }

    /// The subscriber went over its output-buffer limit: the connection must close.
    pub fn killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }
}

#[derive(Default)]
struct Registry {
    spaces: BTreeMap<Space, HashMap<Bytes, HashMap<u64, Subscriber>>>,
}

/// The node's subscriptions.
pub struct PubSub {
    inner: RwLock<Registry>,
    /// Bytes of messages on their way to other nodes (`FAN_OUT_BYTES` in all).
    fan_out: Arc<tokio::sync::Semaphore>,
}

/// Most bytes of published messages in flight to other nodes at once: a PUBLISH beyond it
/// waits for earlier ones to be delivered (or to time out), so a flood of messages to a slow
/// or paused peer holds the publisher back instead of the node's memory growing.
pub const FAN_OUT_BYTES: usize = 64 << 20;

impl Default for PubSub {
    fn default() -> Self {
        PubSub {
            inner: RwLock::default(),
            fan_out: Arc::new(tokio::sync::Semaphore::new(FAN_OUT_BYTES)),
        }
    }
}

fn message(kind: &'static [u8], parts: &[&Bytes]) -> Frame {
    let mut items = vec![Frame::Bulk(Bytes::from_static(kind))];
    items.extend(parts.iter().map(|p| Frame::Bulk((*p).clone())));
    Frame::Push(items)
}

impl PubSub {
    /// A place for `bytes` of message to go to one peer, waited for while `FAN_OUT_BYTES` are
    /// in flight (a message larger than that takes all of it).
    pub async fn fan_out_place(&self, bytes: usize) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let units = u32::try_from(bytes.clamp(1, FAN_OUT_BYTES)).unwrap_or(u32::MAX);
        self.fan_out.clone().acquire_many_owned(units).await.ok()
    }

    pub fn subscribe(&self, space: Space, name: Bytes, sub: &Subscriber) {
        let mut r = self.inner.write();
        r.spaces
            .entry(space)
            .or_default()
            .entry(name)
            .or_default()
            .insert(sub.client, sub.clone());
    }

    pub fn unsubscribe(&self, space: Space, name: &[u8], client: u64) {
        let mut r = self.inner.write();
        let Some(names) = r.spaces.get_mut(&space) else { return };
        if let Some(subs) = names.get_mut(name) {
            subs.remove(&client);
            if subs.is_empty() {
                names.remove(name);
            }
        }
    }

    /// Delivers a PUBLISH to this node's channel and pattern subscribers; how many got it.
    pub fn publish(&self, channel: &Bytes, payload: &Bytes) -> usize {
        let r = self.inner.read();
        let mut n = 0;
        if let Some(subs) = r.spaces.get(&Space::Channel).and_then(|s| s.get(channel)) {
            for sub in subs.values() {
                n += usize::from(sub.deliver(message(b"message", &[channel, payload])));
            }
        }
        if let Some(patterns) = r.spaces.get(&Space::Pattern) {
            for (pattern, subs) in patterns {
                if !glob_match(pattern, channel) {
                    continue;
                }
                for sub in subs.values() {
                    n += usize::from(sub.deliver(message(b"pmessage", &[pattern, channel, payload])));
                }
            }
        }
        n
    }

    /// Delivers an SPUBLISH to this node's shard-channel subscribers.
    pub fn spublish(&self, channel: &Bytes, payload: &Bytes) -> usize {
        let r = self.inner.read();
        let Some(subs) = r.spaces.get(&Space::Shard).and_then(|s| s.get(channel)) else {
            return 0;
        };
        subs.values()
            .map(|sub| usize::from(sub.deliver(message(b"smessage", &[channel, payload]))))
            .sum()
    }

    /// PUBSUB CHANNELS / SHARDCHANNELS: names with at least one subscriber here.
    pub fn names(&self, space: Space, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let r = self.inner.read();
        let mut out: Vec<Bytes> = r
            .spaces
            .get(&space)
            .map(|s| {
                s.keys()
                    .filter(|n| pattern.is_none_or(|p| glob_match(p, n)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// PUBSUB NUMSUB / SHARDNUMSUB: subscribers of one name here.
    pub fn count(&self, space: Space, name: &[u8]) -> usize {
        self.inner
            .read()
            .spaces
            .get(&space)
            .and_then(|s| s.get(name))
            .map_or(0, HashMap::len)
    }

    /// PUBSUB NUMPAT: pattern subscriptions here (each client-pattern pair once).
    pub fn pattern_count(&self) -> usize {
        self.inner
            .read()
            .spaces
            .get(&Space::Pattern)
            .map_or(0, |s| s.values().map(HashMap::len).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    /// Messages on their way to peers hold places worth their bytes: past the budget a publisher
    /// waits until one is delivered; a message over the whole budget takes all of it.
    #[test]
    fn fan_out_waits_for_room_beyond_its_budget() {
        use futures::FutureExt;
        let ps = PubSub::default();
        let half = ps.fan_out_place(FAN_OUT_BYTES / 2).now_or_never().flatten().unwrap();
        let rest = ps.fan_out_place(FAN_OUT_BYTES / 2).now_or_never().flatten().unwrap();
        assert!(ps.fan_out_place(1).now_or_never().is_none(), "no room: it waits");
        drop(half);
        drop(ps.fan_out_place(10).now_or_never().flatten().unwrap());
        drop(rest);
        assert!(
            ps.fan_out_place(usize::MAX).now_or_never().flatten().is_some(),
            "one huge message takes all"
        );
    }

    #[test]
    fn publish_reaches_channels_and_patterns() {
        let ps = PubSub::default();
        let (a, mut a_in) = queue(1, 1 << 20);
        let (p, mut p_in) = queue(2, 1 << 20);
        ps.subscribe(Space::Channel, b("news"), &a);
        ps.subscribe(Space::Pattern, b("n*"), &p);
        assert_eq!(ps.publish(&b("news"), &b("hi")), 2);
        assert_eq!(ps.publish(&b("other"), &b("x")), 0);
        assert_eq!(
            a_in.rx.try_recv().unwrap(),
            Frame::Push(vec![
                Frame::Bulk(b("message")),
                Frame::Bulk(b("news")),
                Frame::Bulk(b("hi"))
            ])
        );
        assert_eq!(
            p_in.rx.try_recv().unwrap(),
            Frame::Push(vec![
                Frame::Bulk(b("pmessage")),
                Frame::Bulk(b("n*")),
                Frame::Bulk(b("news")),
                Frame::Bulk(b("hi"))
            ])
        );
        assert_eq!(ps.names(Space::Channel, None), vec![b("news")]);
        assert_eq!(ps.count(Space::Channel, b"news"), 1);
        assert_eq!(ps.pattern_count(), 1);
        ps.unsubscribe(Space::Channel, b"news", 1);
        assert_eq!(ps.publish(&b("news"), &b("hi")), 1);
        assert!(ps.names(Space::Channel, None).is_empty());
    }

    #[test]
    fn a_subscriber_over_its_limit_is_cut_off() {
        let ps = PubSub::default();
        let (s, inbox) = queue(1, 1000);
        ps.subscribe(Space::Shard, b("c"), &s);
        let big = Bytes::from(vec![b'x'; 400]);
        assert_eq!(ps.spublish(&b("c"), &big), 1);
        assert_eq!(ps.spublish(&b("c"), &big), 1);
        assert_eq!(ps.spublish(&b("c"), &big), 0, "third message exceeds 1000 bytes");
        assert!(inbox.killed());
        // Once cut off, always cut off, even after the queue drains.
        inbox.written(&Frame::Bulk(Bytes::from(vec![0u8; 10_000])));
        assert_eq!(ps.spublish(&b("c"), &b("small")), 0);
    }
}
