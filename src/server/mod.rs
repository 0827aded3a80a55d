//! The RESP front door of a node: accepting clients on the plain port and on the TLS port, one
//! task per connection that reads and parses requests and writes replies; each command goes to
//! the executor (`exec`). A connection's code is generic over its stream, so the plain port's
//! path is compiled for a bare `TcpStream`, as without TLS.

pub mod connection;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::cluster::client_port::ClientPort;
use crate::node::Node;

/// How long a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The node's RESP listeners: plain, TLS, or both.
pub struct Listeners {
    pub plain: Option<TcpListener>,
    pub tls: Option<(TcpListener, TlsAcceptor)>,
}

/// Accepts clients on every listener until shutdown; at most `maxclients` at once, counted
/// over both ports.
pub async fn serve(node: Arc<Node>, listeners: Listeners) {
    let permits = Arc::new(Semaphore::new(node.config.limits.maxclients));
    let plain = listeners
        .plain
        .map(|l| tokio::spawn(accept_loop(node.clone(), l, None, permits.clone())));
    let tls = listeners
        .tls
        .map(|(l, acceptor)| tokio::spawn(accept_loop(node.clone(), l, Some(acceptor), permits.clone())));
    for task in [plain, tls].into_iter().flatten() {
        let _ = task.await;
    }
}

/// Accepts clients of one listener until shutdown, with backoff on accept errors.
async fn accept_loop(node: Arc<Node>, listener: TcpListener, tls: Option<TlsAcceptor>, permits: Arc<Semaphore>) {
    let mut shutdown = node.shutdown_signal();
    let mut backoff = Duration::from_millis(5);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (mut socket, addr) = match accepted {
            Ok(a) => {
                backoff = Duration::from_millis(5);
                a
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        node.stats
            .total_connections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            node.stats
                .rejected_connections
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // A TLS client would read the plain text as a broken handshake: it is just closed.
            if tls.is_none() {
                tokio::spawn(async move {
                    let _ = socket.write_all(b"-ERR max number of clients reached\r\n").await;
                });
            }
            continue;
        };
        let _ = socket.set_nodelay(true);
        // Redis's `tcp-keepalive 300`: a peer gone without a word (a crashed host, a cut
        // network) is noticed, and its blocked commands and subscriptions let go.
        let keepalive = socket2::TcpKeepalive::new().with_time(Duration::from_secs(300));
        let _ = socket2::SockRef::from(&socket).set_tcp_keepalive(&keepalive);
        let laddr = socket.local_addr().ok();
        let node = node.clone();
        match &tls {
            None => {
                tokio::spawn(async move {
                    connection::run(node, socket, addr, laddr).await;
                    drop(permit);
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    serve_tls(node, acceptor, socket, addr, laddr).await;
                    drop(permit);
                });
            }
        }
    }
}

/// Completes a client's TLS handshake, then serves it as any client, its replies naming TLS
/// ports (`ClientPort::Tls`).
async fn serve_tls(
    node: Arc<Node>,
    acceptor: TlsAcceptor,
    socket: TcpStream,
    addr: SocketAddr,
    laddr: Option<SocketAddr>,
) {
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::debug!(%addr, "TLS handshake failed: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!(%addr, "TLS handshake timed out");
            return;
        }
    };
    ClientPort::Tls.scope(connection::run(node, stream, addr, laddr)).await;
}
