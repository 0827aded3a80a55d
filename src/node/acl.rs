//! The users as this node knows them: compiled from its replica of the metadata group after
//! every entry it applies (`follow`), read by every command's permission check. A change
//! committed by the metadata group holds here once this replica applied it, a replication
//! round trip after the leader.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::cmd::acl::{DEFAULT_USER, Perms, User, stored_users};
use crate::store::Store;

/// Entries ACL LOG keeps (Redis's `acllog-max-len` default).
pub const LOG_MAX: usize = 128;

/// One ACL LOG entry: denials of the same kind by the same client are counted together.
#[derive(Clone, Debug)]
pub struct LogEntry {
    pub count: u64,
    /// `command`, `key`, `channel` or `auth`.
    pub reason: &'static str,
    /// `toplevel` or `multi`.
    pub context: &'static str,
    /// The command, key or channel refused (the user name for `auth`).
    pub object: Bytes,
    pub username: Bytes,
    pub client_info: String,
    pub entry_id: u64,
    pub created_ms: u64,
    pub updated_ms: u64,
    pub updated: Instant,
}

/// The node's users and its ACL LOG.
pub struct Acl {
    /// The default user as cluster.toml makes it, until an ACL change names it.
    configured_default: User,
    /// Bumped at every recompilation: a connection compares it with the version its cached
    /// permissions came from.
    version: AtomicU64,
    users: RwLock<Arc<HashMap<Bytes, Arc<Perms>>>>,
    log: Mutex<VecDeque<LogEntry>>,
    next_log_id: AtomicU64,
}

impl Acl {
    pub fn new(requirepass: Option<&str>) -> Acl {
        let configured_default = User::default_user(requirepass.map(str::as_bytes));
        let acl = Acl {
            configured_default,
            version: AtomicU64::new(1),
            users: RwLock::new(Arc::new(HashMap::new())),
            log: Mutex::new(VecDeque::new()),
            next_log_id: AtomicU64::new(0),
        };
        acl.compile(&Store::new());
        acl
    }

    /// The default user before any change: where a SETUSER of `default` starts from.
    pub fn configured_default(&self) -> &User {
        &self.configured_default
    }

    /// Recompiles every user from the metadata group's store.
    pub fn compile(&self, store: &Store) {
        let mut users: HashMap<Bytes, Arc<Perms>> = stored_users(store)
            .into_iter()
            .map(|u| (u.name.clone(), Arc::new(Perms::compile(u))))
            .collect();
        let default = Bytes::from_static(DEFAULT_USER.as_bytes());
        users
            .entry(default)
            .or_insert_with(|| Arc::new(Perms::compile(self.configured_default.clone())));
        *self.users.write() = Arc::new(users);
        self.version.fetch_add(1, Ordering::Release);
    }

    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// A user's permissions now, with the version they belong to.
    pub fn user(&self, name: &[u8]) -> (Option<Arc<Perms>>, u64) {
        let version = self.version();
        (self.users.read().get(name).cloned(), version)
    }

    /// Every user, by name.
    pub fn users(&self) -> Vec<Arc<Perms>> {
        let mut all: Vec<Arc<Perms>> = self.users.read().values().cloned().collect();
        all.sort_by(|a, b| a.user.name.cmp(&b.user.name));
        all
    }

    /// The user a new connection is, when it needs no AUTH: the default user, if it is on and
    /// needs no password.
    pub fn open_default(&self) -> Option<Arc<Perms>> {
        self.user(DEFAULT_USER.as_bytes())
            .0
            .filter(|p| p.user.enabled && p.user.nopass)
    }

    /// Records a denial in ACL LOG.
    pub fn log_denial(
        &self,
        reason: &'static str,
        context: &'static str,
        object: Bytes,
        username: Bytes,
        client_info: String,
    ) {
        let now_ms = crate::node::now_ms();
        let mut log = self.log.lock();
        // Redis groups an entry with a recent one of the same kind (within 60 s).
        if let Some(e) = log.iter_mut().find(|e| {
            e.reason == reason
                && e.context == context
                && e.object == object
                && e.username == username
                && e.updated.elapsed() < Duration::from_secs(60)
        }) {
            e.count += 1;
            e.updated_ms = now_ms;
            e.updated = Instant::now();
            e.client_info = client_info;
            return;
        }
        log.push_front(LogEntry {
            count: 1,
            reason,
            context,
            object,
            username,
            client_info,
            entry_id: self.next_log_id.fetch_add(1, Ordering::Relaxed),
            created_ms: now_ms,
            updated_ms: now_ms,
            updated: Instant::now(),
        });
        log.truncate(LOG_MAX);
    }

    /// ACL LOG's newest `count` entries.
    pub fn log(&self, count: usize) -> Vec<LogEntry> {
        self.log.lock().iter().take(count).cloned().collect()
    }

    pub fn reset_log(&self) {
        self.log.lock().clear();
    }
}
