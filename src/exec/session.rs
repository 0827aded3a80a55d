//! One client's session as commands see it: protocol, name, MULTI queue, watches,
//! subscriptions, READONLY/ASKING. The socket side (`server::connection`) owns one per
//! connection; a command forwarded from another node runs in a throwaway one.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::cmd::acl::{DEFAULT_USER, Perms};
use crate::cmd::txn::Watch;
use crate::cmd::{CommandSpec, Prepared};
use crate::node::clients::ClientHandle;
use crate::node::pubsub::{Space, Subscriber};
use crate::resp::encode::Protocol;
use crate::resp::frame::Frame;

/// Per-connection state that commands can change.
pub struct ConnState {
    pub id: u64,
    pub addr: SocketAddr,
    /// This node's address the client connected to.
    pub laddr: SocketAddr,
    /// This connection in the node's client registry (none for forwarded commands).
    pub client: Option<Arc<ClientHandle>>,
    /// The last command run, with its subcommand for containers (CLIENT LIST's `cmd=`).
    pub last_cmd: Option<(&'static CommandSpec, Option<Bytes>)>,
    /// CLIENT REPLY OFF: no replies until CLIENT REPLY ON.
    pub replies_off: bool,
    /// CLIENT REPLY SKIP: replies still to drop (the SKIP's own and the next command's).
    pub replies_to_skip: u8,
    pub name: Option<Bytes>,
    pub lib_name: Option<Bytes>,
    pub lib_ver: Option<Bytes>,
    pub readonly: bool,
    pub asking: bool,
    pub protocol: Protocol,
    pub quit: bool,
    pub created: Instant,
    /// False for commands forwarded from another node: they must not be forwarded again.
    pub may_forward: bool,
    /// Inside MULTI: the commands queued so far, each as the table read it.
    pub multi: Option<Vec<(Prepared, Vec<Bytes>)>>,
    /// A command was refused while queueing: EXEC will answer EXECABORT.
    pub multi_dirty: bool,
    /// WATCHed keys, each with the modification clock it was watched at.
    pub watched: Vec<Watch>,
    /// Where Pub/Sub messages for this connection are queued (none for forwarded commands).
    pub push: Option<Subscriber>,
    /// Current subscriptions.
    pub subscriptions: BTreeSet<(Space, Bytes)>,
    /// Further reply frames of the last command, after the one it returned (SUBSCRIBE a b).
    pub pending: Vec<Frame>,
    /// The user this connection authenticated as (AUTH, HELLO AUTH); `None`: it runs as the
    /// default user while that one needs no password, and may run nothing else otherwise.
    pub auth_user: Option<Bytes>,
    /// The permissions it runs with now (`None`: it must authenticate first), as compiled at
    /// `acl_version` (`node::acl`); 0: not looked at yet.
    pub user: Option<Arc<Perms>>,
    pub acl_version: u64,
}

impl ConnState {
    pub fn new(id: u64, addr: SocketAddr) -> ConnState {
        ConnState {
            id,
            addr,
            laddr: SocketAddr::from(([0, 0, 0, 0], 0)),
            client: None,
            last_cmd: None,
            replies_off: false,
            replies_to_skip: 0,
            name: None,
            lib_name: None,
            lib_ver: None,
            readonly: false,
            asking: false,
            protocol: Protocol::Resp2,
            quit: false,
            created: Instant::now(),
            may_forward: true,
            multi: None,
            multi_dirty: false,
            watched: Vec::new(),
            push: None,
            subscriptions: BTreeSet::new(),
            pending: Vec::new(),
            auth_user: None,
            user: None,
            acl_version: 0,
        }
    }

    /// RESET: back to a new connection's state, keeping its identity and its queue.
    pub fn reset(&mut self) {
        let mut fresh = ConnState::new(self.id, self.addr);
        fresh.laddr = self.laddr;
        fresh.client = self.client.take();
        fresh.push = self.push.take();
        fresh.may_forward = self.may_forward;
        *self = fresh;
    }

    /// Copies what CLIENT LIST shows into the registry.
    pub fn publish(&self) {
        let Some(client) = &self.client else { return };
        let mut i = client.info.lock();
        i.name.clone_from(&self.name);
        i.lib_name.clone_from(&self.lib_name);
        i.lib_ver.clone_from(&self.lib_ver);
        i.user.clone_from(&self.auth_user);
        i.resp = if self.protocol == Protocol::Resp3 { 3 } else { 2 };
        i.readonly = self.readonly;
        i.multi = self.multi.as_ref().map_or(-1, |q| q.len() as i64);
        (i.sub, i.psub, i.ssub) = (0, 0, 0);
        for (space, _) in &self.subscriptions {
            match space {
                Space::Channel => i.sub += 1,
                Space::Pattern => i.psub += 1,
                Space::Shard => i.ssub += 1,
            }
        }
        i.cmd = self.last_cmd.as_ref().map(|(spec, sub)| (spec.name, sub.clone()));
    }

    /// Remembers the command for CLIENT LIST (`cmd=`, with the key of a container command).
    pub fn note_command(&mut self, spec: &'static CommandSpec, args: &[Bytes]) {
        self.last_cmd = Some((
            spec,
            if spec.is_container() {
                args.get(1).cloned()
            } else {
                None
            },
        ));
    }

    /// The name of the user the connection runs as (ACL WHOAMI, ACL LOG).
    pub fn user_name(&self) -> Bytes {
        self.user
            .as_ref()
            .map(|p| p.user.name.clone())
            .or_else(|| self.auth_user.clone())
            .unwrap_or_else(|| Bytes::from_static(DEFAULT_USER.as_bytes()))
    }

    /// Whether the reply to the command just run is sent (CLIENT REPLY).
    pub fn take_reply_turn(&mut self) -> bool {
        if self.replies_to_skip > 0 {
            self.replies_to_skip -= 1;
            return false;
        }
        !self.replies_off
    }
}
