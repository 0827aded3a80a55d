//! One client connection: read, parse every buffered command, execute in order, write the
//! replies back in one write per batch (so pipelining costs one syscall per round trip).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use crate::cmd::{Flag, Prepared};
use crate::exec::session::ConnState;
use crate::exec::{data, dispatch};
use crate::node::Node;
use crate::node::clients::ClientHandle;
use crate::node::pubsub;
use crate::resp::encode::encode;
use crate::resp::frame::Frame;
use crate::resp::parse::{Limits, Parser, ProtocolError};

/// Flush when this much reply data is waiting, even mid-batch.
const FLUSH_AT: usize = 64 * 1024;

/// Most pipelined commands run together.
const MAX_BATCH: usize = 128;

/// What a client connects through: a `TcpStream`, or a TLS stream over one. Generic rather
/// than boxed, so the plain port's code is the same as without TLS.
pub trait ClientStream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> ClientStream for S {}

/// Writes all of `bytes` and flushes (a no-op on a `TcpStream`; a TLS stream may hold records).
async fn write_out<S: ClientStream>(socket: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    socket.write_all(bytes).await?;
    socket.flush().await
}

/// Replies to a malformed request as Redis does (the error, then the connection is closed).
async fn protocol_error<S: ClientStream>(
    socket: &mut S,
    wbuf: &mut BytesMut,
    state: &ConnState,
    addr: SocketAddr,
    e: crate::resp::parse::ProtocolError,
) {
    tracing::debug!(%addr, "protocol error: {e}");
    encode(&Frame::Error(format!("ERR {e}")), state.protocol, wbuf);
    let _ = write_out(socket, wbuf).await;
}

/// Serves one client until it leaves or is closed; `laddr` is the address it connected to.
pub async fn run<S: ClientStream>(node: Arc<Node>, mut socket: S, addr: SocketAddr, laddr: Option<SocketAddr>) {
    if let Some(denied) = crate::exec::node_commands::protected_mode_refusal(&node, addr) {
        let mut wbuf = BytesMut::new();
        encode(&denied, crate::resp::encode::Protocol::Resp2, &mut wbuf);
        let _ = write_out(&mut socket, &wbuf).await;
        return;
    }
    node.stats.connected_clients.fetch_add(1, Ordering::Relaxed);
    let mut state = ConnState::new(node.next_client_id(), addr);
    state.laddr = laddr.unwrap_or(state.laddr);
    let registration = node.clients.register(state.id, addr, state.laddr);
    let handle = registration.handle.clone();
    state.client = Some(handle.clone());
    let mut limits = node.config.limits.clone();
    let (push, mut inbox) = pubsub::queue(state.id, limits.pubsub_output_buffer_limit);
    state.push = Some(push);
    // What ends a connection from outside, made once and kept: waiting for each request
    // registers nothing anew (GET's path polls them only while the socket has nothing).
    let killed = handle.killed();
    tokio::pin!(killed);
    let closing = closing(&node, node.shutdown_signal(), &handle);
    tokio::pin!(closing);
    let mut rbuf = BytesMut::with_capacity(16 * 1024);
    let mut parser = Parser::default();
    let mut wbuf = BytesMut::with_capacity(16 * 1024);
    'conn: loop {
        // CONFIG SET applies to connected clients too.
        limits.proto_max_bulk_len = node.tunables.proto_max_bulk_len.load(Ordering::Relaxed);
        limits.client_query_buffer_limit = node.tunables.client_query_buffer_limit.load(Ordering::Relaxed);
        // A command parsed (and read against the table) while gathering a batch that does not
        // belong to it: runs next.
        let mut parsed: Option<(Vec<Bytes>, Result<Prepared, Frame>)> = None;
        loop {
            let (args, prepared) = match parsed.take() {
                Some(next) => next,
                None => match parser.parse(&mut rbuf, &limits) {
                    Ok(Some(args)) if args.is_empty() => continue,
                    Ok(Some(args)) => {
                        let prepared = dispatch::prepare(&node, &mut state, &args);
                        (args, prepared)
                    }
                    Ok(None) => break,
                    Err(e) => {
                        protocol_error(&mut socket, &mut wbuf, &state, addr, e).await;
                        break 'conn;
                    }
                },
            };
            if looks_like_http(&args) {
                // A web page can make a browser send this to a local port: close without a
                // word, as Redis does.
                warn_http(addr);
                break 'conn;
            }
            let writes = prepared.as_ref().ok().and_then(|p| data::pipelinable(&node, &state, p));
            if let (Some(writes), Ok(p)) = (writes, &prepared) {
                // Pipelined plain reads (or plain writes) run together, replies in order.
                let mut batch = vec![(p.clone(), args)];
                let broken = gather(
                    &node,
                    &mut state,
                    (&mut parser, &mut rbuf),
                    &limits,
                    writes,
                    &mut batch,
                    &mut parsed,
                );
                node.stats
                    .total_commands
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                state.asking = false;
                if let Some((p, args)) = batch.last() {
                    state.note_command(p.spec, args);
                }
                let (readonly, protocol) = (state.readonly, state.protocol);
                let run = async {
                    match batch.as_slice() {
                        [(p, args)] => {
                            vec![data::execute_plain(&node, p, args, readonly, true, protocol).await]
                        }
                        _ if writes => data::execute_write_batch(&node, &batch, protocol).await,
                        _ => data::execute_read_batch(&node, &batch, readonly, protocol).await,
                    }
                };
                let replies = tokio::select! {
                    biased;
                    replies = run => replies,
                    _ = &mut killed => break 'conn,
                };
                state.publish();
                for reply in &replies {
                    encode_reply(&mut state, reply, &mut wbuf);
                    if over_hard_limit(&node, &wbuf, addr) {
                        break 'conn;
                    }
                }
                if let Some(e) = broken {
                    protocol_error(&mut socket, &mut wbuf, &state, addr, e).await;
                    break 'conn;
                }
            } else {
                node.stats.total_commands.fetch_add(1, Ordering::Relaxed);
                // A command that may block also watches its socket: a client that hangs up while
                // it waits is gone before an element is popped for it (and lost).
                let may_block = state.multi.is_none() && prepared.as_ref().is_ok_and(|p| p.spec.has(Flag::Blocking));
                let reply = {
                    let run = dispatch::execute_prepared(&node, &mut state, prepared, args);
                    tokio::pin!(run);
                    // CLIENT KILL also ends a command in progress (a blocked BLPOP).
                    loop {
                        let room = may_block && rbuf.len() < limits.client_query_buffer_limit;
                        tokio::select! {
                            biased;
                            reply = &mut run => break reply,
                            _ = &mut killed => break 'conn,
                            read = socket.read_buf(&mut rbuf), if room => match read {
                                // What it sends meanwhile waits in the buffer for its turn.
                                Ok(n) if n > 0 => {}
                                _ => break 'conn,
                            },
                        }
                    }
                };
                state.publish();
                encode_reply(&mut state, &reply, &mut wbuf);
                if state.quit {
                    let _ = write_out(&mut socket, &wbuf).await;
                    break 'conn;
                }
                if over_hard_limit(&node, &wbuf, addr) {
                    break 'conn;
                }
            }
            if wbuf.len() >= FLUSH_AT {
                if !send(&node, &mut socket, &wbuf, addr).await {
                    break 'conn;
                }
                wbuf.clear();
            }
        }
        if !wbuf.is_empty() {
            if !send(&node, &mut socket, &wbuf, addr).await {
                break;
            }
            wbuf.clear();
        }
        if rbuf.capacity() - rbuf.len() < 4096 {
            rbuf.reserve(16 * 1024);
        }
        // Killed while running a command that completed at once (its select polled the kill
        // only had it waited).
        if handle.is_killed() {
            break;
        }
        handle.touch(Instant::now());
        // In random order (tokio's default), so that neither a client that never stops sending
        // nor a subscriber's flood of messages starves the other branches.
        let n = tokio::select! {
            n = socket.read_buf(&mut rbuf) => n,
            Some(message) = inbox.rx.recv() => {
                if !encode_messages(&mut inbox, message, &state, &mut wbuf) {
                    tracing::info!(%addr, "pubsub subscriber over its output buffer limit; closing");
                    break 'conn;
                }
                continue;
            }
            _ = &mut killed => break,
            why = &mut closing => {
                tracing::debug!(%addr, "closing client: {why}");
                break;
            }
        };
        match n {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    for (space, name) in &state.subscriptions {
        node.pubsub.unsubscribe(*space, name, state.id);
    }
    drop(registration);
    node.stats.connected_clients.fetch_sub(1, Ordering::Relaxed);
}

/// Resolves, with the reason, when the node shuts down or the client has waited for a request
/// for CONFIG `timeout` seconds.
/// An HTTP request line or header (`POST /`, `Host:`): RESP's inline form reads it as a command.
fn looks_like_http(args: &[Bytes]) -> bool {
    args.first()
        .is_some_and(|a| a.eq_ignore_ascii_case(b"post") || a.eq_ignore_ascii_case(b"host:"))
}

/// Logs an HTTP request on the RESP port, at most once a minute (Redis's "Possible SECURITY
/// ATTACK detected").
fn warn_http(addr: SocketAddr) {
    static LAST: std::sync::Mutex<Option<Instant>> = std::sync::Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
        *last = Some(Instant::now());
        tracing::warn!(%addr, "possible security attack: a POST or Host: line on the RESP port (a web page driving a browser to this node?); connection closed");
    }
}

/// Parses more of the buffered requests into `batch` while they are plain commands of the same
/// kind (`writes`) as the batch's first, up to `MAX_BATCH`; the first that is not waits in
/// `parsed`. Returns the protocol error that ended the input, if one did.
fn gather(
    node: &Node,
    state: &mut ConnState,
    (parser, rbuf): (&mut Parser, &mut BytesMut),
    limits: &Limits,
    writes: bool,
    batch: &mut Vec<(Prepared, Vec<Bytes>)>,
    parsed: &mut Option<(Vec<Bytes>, Result<Prepared, Frame>)>,
) -> Option<ProtocolError> {
    while batch.len() < MAX_BATCH {
        match parser.parse(rbuf, limits) {
            Ok(Some(a)) if a.is_empty() => {}
            Ok(Some(a)) => {
                let next = dispatch::prepare(node, state, &a);
                match next.as_ref().ok().map(|p| (p, data::pipelinable(node, state, p))) {
                    Some((p, Some(w))) if w == writes => batch.push((p.clone(), a)),
                    _ => {
                        *parsed = Some((a, next));
                        return None;
                    }
                }
            }
            Ok(None) => return None,
            Err(e) => return Some(e),
        }
    }
    None
}

/// Whether the replies waiting for a normal client went over `client-output-buffer-limit
/// normal`'s hard limit: it is closed then, as Redis closes it (logged).
fn over_hard_limit(node: &Node, wbuf: &BytesMut, addr: SocketAddr) -> bool {
    let (hard, _, _) = node.tunables.normal_output_limits();
    let over = hard > 0 && wbuf.len() as u64 > hard;
    if over {
        tracing::info!(%addr, pending = wbuf.len(), hard, "client over its output buffer limit (client-output-buffer-limit normal); closing");
    }
    over
}

/// Writes `wbuf` out; false when the client must go: the write failed, or more than the soft
/// limit's bytes stayed unsent for its seconds (a client that does not read its replies).
async fn send<S: ClientStream>(node: &Node, socket: &mut S, wbuf: &[u8], addr: SocketAddr) -> bool {
    let (_, soft, seconds) = node.tunables.normal_output_limits();
    if soft == 0 || seconds == 0 || wbuf.len() as u64 <= soft {
        return write_out(socket, wbuf).await.is_ok();
    }
    match tokio::time::timeout(Duration::from_secs(seconds), write_out(socket, wbuf)).await {
        Ok(written) => written.is_ok(),
        Err(_) => {
            tracing::info!(%addr, pending = wbuf.len(), soft, seconds, "client over its soft output buffer limit for too long; closing");
            false
        }
    }
}

/// Encodes a command's reply, and the further frames it left (SUBSCRIBE a b), unless CLIENT
/// REPLY says to drop them.
fn encode_reply(state: &mut ConnState, reply: &Frame, wbuf: &mut BytesMut) {
    if state.take_reply_turn() {
        encode(reply, state.protocol, wbuf);
        for more in state.pending.drain(..) {
            encode(&more, state.protocol, wbuf);
        }
    } else {
        state.pending.clear();
    }
}

/// Encodes `first` and the messages queued behind it for a subscriber, up to `FLUSH_AT` bytes;
/// false when the subscriber went over its output buffer limit and must be closed.
fn encode_messages(inbox: &mut pubsub::Inbox, first: Frame, state: &ConnState, wbuf: &mut BytesMut) -> bool {
    let mut next = Some(first);
    while let Some(m) = next {
        if inbox.killed() {
            return false;
        }
        inbox.written(&m);
        encode(&m, state.protocol, wbuf);
        next = if wbuf.len() < FLUSH_AT {
            inbox.rx.try_recv().ok()
        } else {
            None
        };
    }
    true
}

async fn closing(node: &Node, mut shutdown: watch::Receiver<bool>, client: &ClientHandle) -> &'static str {
    tokio::select! {
        _ = shutdown.changed() => "shutting down",
        _ = idle_timeout(node, client) => "idle",
    }
}

/// Resolves when the client has waited for a request for CONFIG `timeout` seconds; never for
/// a subscriber, as in Redis. Only the wait for a request polls this, so a command running (a
/// blocked BLPOP) is not idle either. A CONFIG SET reaches clients already idle.
async fn idle_timeout(node: &Node, client: &ClientHandle) {
    loop {
        let changed = node.tunables.timeout_changed.notified();
        let secs = node.tunables.timeout.load(Ordering::Relaxed);
        if secs == 0 {
            // No timer while there is no timeout: wait for a CONFIG SET.
            changed.await;
            continue;
        }
        let limit = Duration::from_secs(secs);
        let idle = client.idle();
        let wait = if client.is_pubsub() {
            // Look again later: it may unsubscribe.
            limit
        } else if idle >= limit {
            return;
        } else {
            limit - idle
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = changed => {}
        }
    }
}
