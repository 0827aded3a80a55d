//! One client connection: read, parse every buffered command, execute in order, write the
//! replies back in one write per batch (so pipelining costs one syscall per round trip).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::node::Node;
use crate::node::pubsub::{self, Space, Subscriber};
use crate::resp::encode::{Protocol, encode};
use crate::resp::frame::Frame;
use crate::resp::parse::{Limits, parse_command};
use crate::server::dispatch;

/// Per-connection state that commands can change.
pub struct ConnState {
    pub id: u64,
    pub addr: SocketAddr,
    pub name: Option<Bytes>,
    pub lib_name: Option<Bytes>,
    pub lib_ver: Option<Bytes>,
    pub readonly: bool,
    pub asking: bool,
    pub protocol: Protocol,
    pub quit: bool,
    pub created: std::time::Instant,
    /// False for commands forwarded from another node: they must not be forwarded again.
    pub may_forward: bool,
    /// Inside MULTI: the commands queued so far.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command was refused while queueing: EXEC will answer EXECABORT.
    pub multi_dirty: bool,
    /// WATCHed keys, each with the modification clock it was watched at.
    pub watched: Vec<(Bytes, u64)>,
    /// Where Pub/Sub messages for this connection are queued (none for forwarded commands).
    pub push: Option<Subscriber>,
    /// Current subscriptions.
    pub subscriptions: BTreeSet<(Space, Bytes)>,
    /// Further reply frames of the last command, after the one it returned (SUBSCRIBE a b).
    pub pending: Vec<Frame>,
}

impl ConnState {
    pub fn new(id: u64, addr: SocketAddr) -> ConnState {
        ConnState {
            id,
            addr,
            name: None,
            lib_name: None,
            lib_ver: None,
            readonly: false,
            asking: false,
            protocol: Protocol::Resp2,
            quit: false,
            created: std::time::Instant::now(),
            may_forward: true,
            multi: None,
            multi_dirty: false,
            watched: Vec::new(),
            push: None,
            subscriptions: BTreeSet::new(),
            pending: Vec::new(),
        }
    }
}

/// Flush when this much reply data is waiting, even mid-batch.
const FLUSH_AT: usize = 64 * 1024;

pub async fn run(node: Arc<Node>, mut socket: TcpStream, addr: SocketAddr) {
    node.stats.connected_clients.fetch_add(1, Ordering::Relaxed);
    let mut state = ConnState::new(node.next_client_id(), addr);
    let l = &node.config.limits;
    let limits = Limits {
        max_bulk_len: l.proto_max_bulk_len,
        max_multibulk_len: l.max_multibulk_len,
        max_inline_len: l.max_inline_len,
        max_query_buffer: l.client_query_buffer_limit,
    };
    let (push, mut inbox) = pubsub::queue(state.id, l.pubsub_output_buffer_limit);
    state.push = Some(push);
    let mut shutdown = node.shutdown_signal();
    let mut rbuf = BytesMut::with_capacity(16 * 1024);
    let mut wbuf = BytesMut::with_capacity(16 * 1024);
    'conn: loop {
        loop {
            match parse_command(&mut rbuf, &limits) {
                Ok(Some(args)) => {
                    if args.is_empty() {
                        continue;
                    }
                    node.stats.total_commands.fetch_add(1, Ordering::Relaxed);
                    let reply = dispatch::execute(&node, &mut state, args).await;
                    encode(&reply, state.protocol, &mut wbuf);
                    for more in state.pending.drain(..) {
                        encode(&more, state.protocol, &mut wbuf);
                    }
                    if state.quit {
                        let _ = socket.write_all(&wbuf).await;
                        break 'conn;
                    }
                    if wbuf.len() >= FLUSH_AT {
                        if socket.write_all(&wbuf).await.is_err() {
                            break 'conn;
                        }
                        wbuf.clear();
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(%addr, "protocol error: {e}");
                    encode(&Frame::Error(format!("ERR {e}")), state.protocol, &mut wbuf);
                    let _ = socket.write_all(&wbuf).await;
                    break 'conn;
                }
            }
        }
        if !wbuf.is_empty() {
            if socket.write_all(&wbuf).await.is_err() {
                break;
            }
            wbuf.clear();
        }
        if rbuf.capacity() - rbuf.len() < 4096 {
            rbuf.reserve(16 * 1024);
        }
        let n = tokio::select! {
            n = socket.read_buf(&mut rbuf) => n,
            Some(message) = inbox.rx.recv() => {
                // Messages queued for a subscriber, written in one batch.
                let mut next = Some(message);
                while let Some(m) = next {
                    if inbox.killed() {
                        tracing::info!(%addr, "pubsub subscriber over its output buffer limit; closing");
                        break 'conn;
                    }
                    inbox.written(&m);
                    encode(&m, state.protocol, &mut wbuf);
                    next = if wbuf.len() < FLUSH_AT { inbox.rx.try_recv().ok() } else { None };
                }
                continue;
            }
            _ = shutdown.changed() => break,
        };
        match n {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    for (space, name) in &state.subscriptions {
        node.pubsub.unsubscribe(*space, name, state.id);
    }
    node.stats.connected_clients.fetch_sub(1, Ordering::Relaxed);
}
