//! `route`: a pure function from a command's key slots and the node's view to what to do with
//! the command. No I/O, so every case is unit-tested here.

use std::net::SocketAddr;

use crate::cluster::client_port::ClientPort;
use crate::cluster::view::View;
use crate::config::RedirectMode;
use crate::ids::{GroupId, NodeId};
use crate::slots::Slot;

/// What the server does with one command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Serve it from this node's replica of the group.
    Here(GroupId),
    /// `-MOVED slot addr`: the client should ask the leader itself.
    Moved { slot: Slot, addr: SocketAddr },
    /// `-ASK slot addr`: one-off redirect during a slot move (reserved for slot migration).
    Ask { slot: Slot, addr: SocketAddr },
    /// Run it on the leader over gRPC and relay the reply (redirect = "proxy").
    Forward { group: GroupId, leader: NodeId },
    /// `-CROSSSLOT`: the keys live in different slots.
    CrossSlot,
    /// `-CLUSTERDOWN`: the slot's group has no known leader.
    ClusterDown,
}

/// What the command and its connection contribute to routing.
#[derive(Clone, Copy, Debug, Default)]
pub struct RouteCtx {
    pub is_write: bool,
    /// The connection sent READONLY: reads may be served by a follower (possibly stale).
    pub readonly: bool,
}

impl RouteCtx {
    /// A write: only the leader serves it.
    pub fn write() -> RouteCtx {
        RouteCtx {
            is_write: true,
            readonly: false,
        }
    }

    /// A read, from a connection that did (`readonly`) or did not send READONLY.
    pub fn read(readonly: bool) -> RouteCtx {
        RouteCtx {
            is_write: false,
            readonly,
        }
    }

    pub fn new(is_write: bool, readonly: bool) -> RouteCtx {
        if is_write {
            RouteCtx::write()
        } else {
            RouteCtx::read(readonly)
        }
    }
}

/// Routes a command by the slots of its keys (at least one).
pub fn route(view: &View, slots: &[Slot], ctx: RouteCtx) -> Route {
    let Some(&slot) = slots.first() else {
        return Route::ClusterDown;
    };
    if slots.iter().any(|&s| s != slot) {
        return Route::CrossSlot;
    }
    let Some(group) = view.group_of_slot(slot) else {
        return Route::ClusterDown;
    };
    if group.leader == Some(view.me) {
        return Route::Here(group.id);
    }
    if !ctx.is_write && ctx.readonly && group.members.contains(&view.me) {
        return Route::Here(group.id);
    }
    match group.leader {
        Some(leader) => to_leader(view, slot, group.id, leader),
        None => Route::ClusterDown,
    }
}

/// Where a command for `slot` goes when `leader`, another node, leads its group: the one
/// redirect decision, for `route` and for a replica that learns from Raft that it is not the
/// leader (the view may not know yet). A redirect names the kind of port the client came
/// through (`ClientPort::current()`, the one input besides the arguments: a value the server
/// set for the connection's task, as Redis reads its current client's connection).
pub fn to_leader(view: &View, slot: Slot, group: GroupId, leader: NodeId) -> Route {
    let Some(node) = view.nodes.get(&leader) else {
        return Route::ClusterDown;
    };
    match view.redirect {
        RedirectMode::Moved => Route::Moved {
            slot,
            addr: node.client_addr(ClientPort::current()),
        },
        RedirectMode::Proxy => Route::Forward { group, leader },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const THREE: &str = include_str!("../../cluster.toml");

    fn view(me: NodeId, redirect: RedirectMode) -> View {
        let mut config = Config::parse(THREE).unwrap();
        config.redirect = redirect;
        let mut v = View::from_config(&config, me);
        v.set_leader(1, Some(1), 1);
        v.set_leader(2, Some(2), 1);
        v
    }

    const W: RouteCtx = RouteCtx {
        is_write: true,
        readonly: false,
    };
    const R: RouteCtx = RouteCtx {
        is_write: false,
        readonly: false,
    };
    const RO: RouteCtx = RouteCtx {
        is_write: false,
        readonly: true,
    };

    #[test]
    fn leader_serves_its_slots() {
        let v = view(1, RedirectMode::Moved);
        assert_eq!(route(&v, &[0], W), Route::Here(1));
        assert_eq!(route(&v, &[5460, 5460], R), Route::Here(1));
    }

    #[test]
    fn others_are_moved_to_the_leader() {
        let v = view(1, RedirectMode::Moved);
        let addr = "127.0.0.1:7002".parse().unwrap();
        assert_eq!(route(&v, &[5461], W), Route::Moved { slot: 5461, addr });
        assert_eq!(route(&v, &[10922], R), Route::Moved { slot: 10922, addr });
    }

    #[test]
    fn a_tls_client_is_moved_to_the_tls_port() {
        let config = Config::parse(&crate::config::with_tls_ports(THREE)).unwrap();
        let mut v = View::from_config(&config, 1);
        v.set_leader(2, Some(2), 1);
        let plain = "127.0.0.1:7002".parse().unwrap();
        let tls = "127.0.0.1:7102".parse().unwrap();
        assert_eq!(
            route(&v, &[5461], W),
            Route::Moved {
                slot: 5461,
                addr: plain
            }
        );
        let from_tls = ClientPort::Tls.sync_scope(|| route(&v, &[5461], W));
        assert_eq!(from_tls, Route::Moved { slot: 5461, addr: tls });
        let named = ClientPort::Tls.sync_scope(|| to_leader(&v, 7000, 2, 2));
        assert_eq!(named, Route::Moved { slot: 7000, addr: tls });
    }

    #[test]
    fn proxy_mode_forwards() {
        let v = view(1, RedirectMode::Proxy);
        assert_eq!(route(&v, &[6000], W), Route::Forward { group: 2, leader: 2 });
    }

    #[test]
    fn cross_slot_and_leaderless() {
        let v = view(1, RedirectMode::Moved);
        assert_eq!(route(&v, &[1, 2], R), Route::CrossSlot);
        assert_eq!(route(&v, &[16000], W), Route::ClusterDown);
        assert_eq!(route(&v, &[], W), Route::ClusterDown);
    }

    #[test]
    fn readonly_reads_on_followers_only() {
        let v = view(1, RedirectMode::Moved);
        assert_eq!(route(&v, &[6000], RO), Route::Here(2));
        assert_eq!(route(&v, &[16000], RO), Route::Here(3));
        let ro_write = RouteCtx {
            is_write: true,
            readonly: true,
        };
        assert!(matches!(route(&v, &[6000], ro_write), Route::Moved { .. }));
    }
}
