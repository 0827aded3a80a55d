//! A node's picture of the cluster: which group owns each slot, which node leads each group,
//! and where every node listens. `route` and the CLUSTER replies are functions of it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use crate::cluster::client_port::ClientPort;
use crate::config::{Config, RedirectMode};
use crate::ids::{GroupId, NodeId};
use crate::slots::{SLOT_COUNT, Slot};

/// Where a node listens and the 40-hex name Redis clients know it by.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub id: NodeId,
    pub name: String,
    /// The plain RESP port (port 0: none).
    pub resp: SocketAddr,
    /// The RESP-over-TLS port, if the node has one.
    pub resp_tls: Option<SocketAddr>,
    pub rpc: SocketAddr,
    /// When this node last heard from it (itself: always fresh).
    pub last_seen: Option<Instant>,
}

impl NodeInfo {
    /// The address to give a client of `port`'s kind: the TLS port to a TLS client (the plain
    /// one if the node has none), the plain port to a plain client.
    pub fn client_addr(&self, port: ClientPort) -> SocketAddr {
        match (port, self.resp_tls) {
            (ClientPort::Tls, Some(tls)) => tls,
            _ => self.resp,
        }
    }
}

/// A node's word that it leads `group` in `term`: what the heartbeat carries, so every node
/// can redirect for groups it does not host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaderClaim {
    pub group: GroupId,
    pub term: u64,
}

/// One group as this node sees it.
#[derive(Clone, Debug)]
pub struct GroupInfo {
    pub id: GroupId,
    pub members: Vec<NodeId>,
    pub ranges: Vec<(Slot, Slot)>,
    pub leader: Option<NodeId>,
    pub term: u64,
    /// Last applied log index of the local replica (for replication-offset), if local; filled
    /// in when a CLUSTER reply is built.
    pub applied: u64,
}

/// The routing view; cloned cheaply enough for replies, updated by Raft metrics and heartbeats.
#[derive(Clone, Debug)]
pub struct View {
    pub me: NodeId,
    pub redirect: RedirectMode,
    pub slot_group: Vec<GroupId>,
    pub groups: BTreeMap<GroupId, GroupInfo>,
    pub nodes: BTreeMap<NodeId, NodeInfo>,
}

/// A stable 40-hex-character node name derived from the numeric id, so it is the same on every
/// node and across restarts without any exchange.
pub fn node_name(id: NodeId) -> String {
    let mut x = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x736c_6f74_7261_6674; // "slotraft"
    let mut out = String::with_capacity(40);
    while out.len() < 40 {
        // splitmix64
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.push_str(&format!("{z:016x}"));
    }
    out.truncate(40);
    out
}

/// How long without a heartbeat before a peer is reported as failed.
pub const PEER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

impl View {
    pub fn from_config(config: &Config, me: NodeId) -> View {
        let nodes = config
            .nodes
            .values()
            .map(|n| {
                let info = NodeInfo {
                    id: n.id,
                    name: node_name(n.id),
                    resp: n.resp,
                    resp_tls: n.resp_tls,
                    rpc: n.rpc,
                    last_seen: (n.id == me).then(Instant::now),
                };
                (n.id, info)
            })
            .collect();
        let groups = config
            .groups
            .values()
            .map(|g| {
                let info = GroupInfo {
                    id: g.id,
                    members: g.members.clone(),
                    ranges: g.slots.clone(),
                    leader: None,
                    term: 0,
                    applied: 0,
                };
                (g.id, info)
            })
            .collect();
        View {
            me,
            redirect: config.redirect,
            slot_group: config.slot_owners(),
            groups,
            nodes,
        }
    }

    pub fn group_of_slot(&self, slot: Slot) -> Option<&GroupInfo> {
        self.slot_group.get(slot as usize).and_then(|g| self.groups.get(g))
    }

    /// Records who leads a group, keeping the claim of the highest term.
    pub fn set_leader(&mut self, group: GroupId, leader: Option<NodeId>, term: u64) {
        if let Some(g) = self.groups.get_mut(&group)
            && term >= g.term
        {
            g.term = term;
            g.leader = leader;
        }
    }

    pub fn is_alive(&self, node: NodeId) -> bool {
        node == self.me
            || self
                .nodes
                .get(&node)
                .and_then(|n| n.last_seen)
                .is_some_and(|t| t.elapsed() < PEER_TIMEOUT)
    }

    /// Groups whose leader this node currently is.
    pub fn led_by(&self, node: NodeId) -> impl Iterator<Item = &GroupInfo> {
        self.groups.values().filter(move |g| g.leader == Some(node))
    }

    /// True when every slot's group has a known leader.
    pub fn all_slots_served(&self) -> bool {
        self.groups.values().all(|g| g.leader.is_some())
    }

    pub fn slot_count(&self) -> usize {
        SLOT_COUNT as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_are_stable_hex() {
        let a = node_name(1);
        assert_eq!(a.len(), 40);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a, node_name(1));
        assert_ne!(a, node_name(2));
    }
}
