//! The RESP front door of a node: accepting clients, one task per connection that reads and
//! parses requests and writes replies; each command goes to the executor (`exec`).

pub mod connection;

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::node::Node;

/// Accepts clients until shutdown; at most `maxclients` at once, with backoff on accept errors.
pub async fn serve(node: Arc<Node>, listener: TcpListener) {
    let permits = Arc::new(Semaphore::new(node.config.limits.maxclients));
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
            tokio::spawn(async move {
                let _ = socket.write_all(b"-ERR max number of clients reached\r\n").await;
            });
            continue;
        };
        let _ = socket.set_nodelay(true);
        // Redis's `tcp-keepalive 300`: a peer gone without a word (a crashed host, a cut
        // network) is noticed, and its blocked commands and subscriptions let go.
        let keepalive = socket2::TcpKeepalive::new().with_time(Duration::from_secs(300));
        let _ = socket2::SockRef::from(&socket).set_tcp_keepalive(&keepalive);
        let node = node.clone();
        tokio::spawn(async move {
            connection::run(node, socket, addr).await;
            drop(permit);
        });
    }
}
