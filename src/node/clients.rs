//! The node's registry of client connections, for CLIENT LIST / INFO / KILL: each connection
//! registers a handle, publishes what CLIENT LIST shows after every command, and watches its
//! handle's kill signal.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// What CLIENT LIST shows of a connection, as of its last command.
#[derive(Clone, Default)]
pub struct ClientInfo {
    pub name: Option<Bytes>,
    pub lib_name: Option<Bytes>,
    pub lib_ver: Option<Bytes>,
    pub resp: u8,
    pub readonly: bool,
    /// Commands queued in MULTI, or -1 outside MULTI.
    pub multi: i64,
    pub sub: usize,
    pub psub: usize,
    pub ssub: usize,
    /// The last command, with its subcommand for containers; shown as Redis names it
    /// (`client|list`) only when CLIENT LIST asks, so publishing it costs no formatting.
    pub cmd: Option<(&'static str, Option<Bytes>)>,
    /// The user it authenticated as; `None`: the default user.
    pub user: Option<Bytes>,
}

pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub created: Instant,
    pub info: Mutex<ClientInfo>,
    /// When the connection last finished a command, in nanoseconds after `created` (CLIENT
    /// LIST's `idle`; a new connection is idle since it connected, as in Redis).
    last_active: AtomicU64,
    killed: AtomicBool,
    kill: Notify,
}

impl ClientHandle {
    /// Asks the connection to close. It closes after the reply it is writing, if any.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Resolves once `kill` has been called (at once if it already was).
    pub async fn killed(&self) {
        if !self.is_killed() {
            self.kill.notified().await;
        }
    }

    /// Notes that the connection was active at `now` (it waits for its next command).
    pub fn touch(&self, now: Instant) {
        let since = now.saturating_duration_since(self.created).as_nanos();
        self.last_active.store(since as u64, Ordering::Relaxed);
    }

    /// How long since the connection was last active (`touch`), or since it connected.
    pub fn idle(&self) -> std::time::Duration {
        let nanos = self.last_active.load(Ordering::Relaxed);
        (self.created + std::time::Duration::from_nanos(nanos)).elapsed()
    }

    /// Whether a subscriber (Redis's client type `pubsub`).
    pub fn is_pubsub(&self) -> bool {
        let i = self.info.lock();
        i.sub + i.psub + i.ssub > 0
    }

    /// One line of CLIENT LIST / CLIENT INFO, in Redis 7.2's field order.
    pub fn line(&self) -> String {
        let i = self.info.lock().clone();
        let s = |b: &Option<Bytes>| {
            b.as_ref()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        let idle = self.idle().as_secs();
        let now = Instant::now();
        let mut flags = String::new();
        if i.sub + i.psub + i.ssub > 0 {
            flags.push('P');
        }
        if i.readonly {
            flags.push('r');
        }
        if i.multi >= 0 {
            flags.push('x');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={idle} flags={flags} db=0 sub={} psub={} ssub={} multi={} \
             qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} \
             user={} redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            s(&i.name),
            now.saturating_duration_since(self.created).as_secs(),
            i.sub,
            i.psub,
            i.ssub,
            i.multi,
            match &i.cmd {
                None => "NULL".to_string(),
                Some((name, None)) => (*name).to_string(),
                Some((name, Some(sub))) => format!("{name}|{}", String::from_utf8_lossy(sub).to_ascii_lowercase()),
            },
            i.user
                .as_ref()
                .map_or_else(|| "default".into(), |u| String::from_utf8_lossy(u).into_owned()),
            i.resp,
            s(&i.lib_name),
            s(&i.lib_ver),
        )
    }
}

/// Every client connected to this node.
#[derive(Default)]
pub struct Clients {
    map: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
}

/// Keeps a connection registered; removes it when dropped.
pub struct Registration<'a> {
    clients: &'a Clients,
    pub handle: Arc<ClientHandle>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.clients.map.lock().remove(&self.handle.id);
    }
}

impl Clients {
    pub fn register(&self, id: u64, addr: SocketAddr, laddr: SocketAddr) -> Registration<'_> {
        let handle = Arc::new(ClientHandle {
            id,
            addr,
            laddr,
            created: Instant::now(),
            info: Mutex::new(ClientInfo {
                resp: 2,
                multi: -1,
                ..ClientInfo::default()
            }),
            last_active: AtomicU64::new(0),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
        });
        self.map.lock().insert(id, handle.clone());
        Registration { clients: self, handle }
    }

    /// All clients, by id.
    pub fn list(&self) -> Vec<Arc<ClientHandle>> {
        self.map.lock().values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn registration_lasts_as_long_as_its_guard_and_kill_is_not_lost() {
        let clients = Clients::default();
        let a: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let l: SocketAddr = "127.0.0.1:7001".parse().unwrap();
        let r1 = clients.register(1, a, l);
        {
            let _r2 = clients.register(2, a, l);
            assert_eq!(clients.list().len(), 2);
        }
        assert_eq!(clients.list().iter().map(|c| c.id).collect::<Vec<_>>(), vec![1]);
        // A kill before anyone waits is still seen by the next wait.
        r1.handle.kill();
        r1.handle.killed().await;
        assert!(r1.handle.is_killed());
        let line = r1.handle.line();
        assert!(
            line.starts_with("id=1 addr=127.0.0.1:5000 laddr=127.0.0.1:7001 fd=0 name= age=0 idle=0 flags=N db=0"),
            "{line}"
        );
        assert!(
            line.ends_with("cmd=NULL user=default redir=-1 resp=2 lib-name= lib-ver="),
            "{line}"
        );
    }
}
