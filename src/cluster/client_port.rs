//! Which kind of RESP port the client being served came through. Replies that name a node's
//! address (MOVED and ASK, CLUSTER SLOTS and NODES) name the same kind of port, so a TLS
//! client follows redirects to TLS ports: Redis does the same with `tls-cluster yes`, reading
//! its current client's connection. The server sets it around the task serving a TLS
//! connection; a plain connection sets nothing and reads as `Plain`.

use std::future::Future;

/// The kind of port a client connected to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientPort {
    #[default]
    Plain,
    Tls,
}

tokio::task_local! {
    static CLIENT_PORT: ClientPort;
}

impl ClientPort {
    /// The port of the client this task serves (`Plain` outside a TLS connection's task).
    pub fn current() -> ClientPort {
        CLIENT_PORT.try_with(|p| *p).unwrap_or_default()
    }

    /// Runs `f` (a connection's task) as serving a client of this kind of port.
    pub async fn scope<F: Future>(self, f: F) -> F::Output {
        CLIENT_PORT.scope(self, f).await
    }

    /// Runs `f` as serving a client of this kind of port, synchronously (tests).
    pub fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        CLIENT_PORT.sync_scope(self, f)
    }
}
