//! CLUSTER SLOTS / SHARDS / NODES / INFO in Redis 7's formats, as pure functions of the view:
//! each group's leader is the master of its slots, its other members are replicas.

use std::collections::BTreeSet;

use crate::cluster::client_port::ClientPort;
use crate::cluster::view::{GroupInfo, View};
use crate::ids::NodeId;
use crate::resp::frame::Frame;

fn bulk(s: impl Into<String>) -> Frame {
    Frame::Bulk(s.into().into_bytes().into())
}

/// The master to report for a group: its leader, or its first member while none is known
/// (the client then gets CLUSTERDOWN or MOVED when it asks).
fn master_of(g: &GroupInfo) -> NodeId {
    g.leader.unwrap_or(g.members[0])
}

fn replicas_of(g: &GroupInfo) -> impl Iterator<Item = NodeId> + '_ {
    let master = master_of(g);
    g.members.iter().copied().filter(move |&m| m != master)
}

fn node_entry(view: &View, id: NodeId, port: ClientPort) -> Option<Frame> {
    let n = view.nodes.get(&id)?;
    let addr = n.client_addr(port);
    Some(Frame::Array(vec![
        bulk(addr.ip().to_string()),
        Frame::Integer(i64::from(addr.port())),
        bulk(n.name.clone()),
        Frame::Map(vec![]),
    ]))
}

/// CLUSTER SLOTS: one entry per contiguous range, master first; each node's port of the kind
/// the asking client came through (`ClientPort`), as Redis with `tls-cluster yes`.
pub fn cluster_slots(view: &View) -> Frame {
    let port = ClientPort::current();
    let mut ranges: Vec<(u16, u16, &GroupInfo)> = view
        .groups
        .values()
        .flat_map(|g| g.ranges.iter().map(move |&(lo, hi)| (lo, hi, g)))
        .collect();
    ranges.sort_by_key(|r| r.0);
    // Every node here is a master of some slots and a replica of others, which Redis Cluster
    // never is. Clients that give a node the role it has in the first entry naming it
    // (redis-py) would take most masters for replicas, and then send FLUSHDB, DBSIZE or a
    // cluster-wide SCAN to one node only. So each master's first slot comes first, in an
    // entry of its own without replicas: every master is first seen as a master. Clients
    // map slots, not entries, so the split is invisible to routing.
    let mut leading = Vec::new();
    let mut seen = BTreeSet::new();
    for (lo, _, g) in &mut ranges {
        if seen.insert(master_of(g)) {
            leading.push((*lo, *lo, *g, false));
            *lo += 1; // a one-slot range is now empty and left out below
        }
    }
    let entries = leading
        .into_iter()
        .chain(
            ranges
                .into_iter()
                .filter(|r| r.0 <= r.1)
                .map(|(lo, hi, g)| (lo, hi, g, true)),
        )
        .map(|(lo, hi, g, with_replicas)| {
            let mut e = vec![Frame::Integer(i64::from(lo)), Frame::Integer(i64::from(hi))];
            e.extend(node_entry(view, master_of(g), port));
            if with_replicas {
                e.extend(replicas_of(g).filter_map(|r| node_entry(view, r, port)));
            }
            Frame::Array(e)
        })
        .collect();
    Frame::Array(entries)
}

/// CLUSTER SHARDS: one shard per group; each node with `port` (plain) and `tls-port` for the
/// ports it has, whoever asks, as Redis does.
pub fn cluster_shards(view: &View) -> Frame {
    let shards = view
        .groups
        .values()
        .map(|g| {
            let slots = g
                .ranges
                .iter()
                .flat_map(|&(lo, hi)| [Frame::Integer(i64::from(lo)), Frame::Integer(i64::from(hi))])
                .collect();
            let master = master_of(g);
            let order = std::iter::once(master).chain(replicas_of(g));
            let nodes = order
                .filter_map(|id| {
                    let n = view.nodes.get(&id)?;
                    let health = if view.is_alive(id) { "online" } else { "failed" };
                    let mut fields = vec![(bulk("id"), bulk(n.name.clone()))];
                    if n.resp.port() != 0 {
                        fields.push((bulk("port"), Frame::Integer(i64::from(n.resp.port()))));
                    }
                    if let Some(tls) = n.resp_tls {
                        fields.push((bulk("tls-port"), Frame::Integer(i64::from(tls.port()))));
                    }
                    fields.extend([
                        (bulk("ip"), bulk(n.resp.ip().to_string())),
                        (bulk("endpoint"), bulk(n.resp.ip().to_string())),
                        (bulk("role"), bulk(if id == master { "master" } else { "replica" })),
                        (bulk("replication-offset"), Frame::Integer(g.applied as i64)),
                        (bulk("health"), bulk(health)),
                    ]);
                    Some(Frame::Map(fields))
                })
                .collect();
            Frame::Map(vec![
                (bulk("slots"), Frame::Array(slots)),
                (bulk("nodes"), Frame::Array(nodes)),
            ])
        })
        .collect();
    Frame::Array(shards)
}

/// CLUSTER NODES: a node is a master of the slots of the groups it leads; a node that leads
/// nothing is shown as a replica of the leader of its first group. Ports of the kind the
/// asking client came through (`ClientPort`), as Redis with `tls-cluster yes`.
pub fn cluster_nodes(view: &View) -> Frame {
    let port = ClientPort::current();
    let mut out = String::new();
    for n in view.nodes.values() {
        let led: Vec<&GroupInfo> = view.led_by(n.id).collect();
        let mut flags = Vec::new();
        if n.id == view.me {
            flags.push("myself");
        }
        let master_name = if led.is_empty() {
            view.groups
                .values()
                .find(|g| g.members.contains(&n.id) && g.leader.is_some_and(|l| l != n.id))
                .and_then(|g| g.leader)
                .and_then(|l| view.nodes.get(&l))
                .map(|m| m.name.clone())
        } else {
            None
        };
        flags.push(if master_name.is_some() { "slave" } else { "master" });
        if !view.is_alive(n.id) {
            flags.push("fail");
        }
        let epoch = led.iter().map(|g| g.term).max().unwrap_or(0);
        let link = if view.is_alive(n.id) {
            "connected"
        } else {
            "disconnected"
        };
        let addr = n.client_addr(port);
        out.push_str(&format!(
            "{} {}:{}@{} {} {} 0 0 {} {}",
            n.name,
            addr.ip(),
            addr.port(),
            n.rpc.port(),
            flags.join(","),
            master_name.as_deref().unwrap_or("-"),
            epoch,
            link
        ));
        let mut ranges: Vec<(u16, u16)> = led.iter().flat_map(|g| g.ranges.iter().copied()).collect();
        ranges.sort();
        for (lo, hi) in ranges {
            if lo == hi {
                out.push_str(&format!(" {lo}"));
            } else {
                out.push_str(&format!(" {lo}-{hi}"));
            }
        }
        out.push('\n');
    }
    Frame::Verbatim("txt".into(), out.into_bytes().into())
}

/// CLUSTER INFO.
pub fn cluster_info(view: &View) -> Frame {
    let served: usize = view
        .groups
        .values()
        .filter(|g| g.leader.is_some())
        .flat_map(|g| g.ranges.iter().map(|&(lo, hi)| usize::from(hi - lo) + 1))
        .sum();
    let epoch = view.groups.values().map(|g| g.term).max().unwrap_or(0);
    let my_epoch = view.led_by(view.me).map(|g| g.term).max().unwrap_or(0);
    let masters = view
        .groups
        .values()
        .filter_map(|g| g.leader)
        .collect::<std::collections::BTreeSet<_>>();
    let state = if view.all_slots_served() { "ok" } else { "fail" };
    let text = format!(
        "cluster_enabled:1\r\ncluster_state:{state}\r\ncluster_slots_assigned:{}\r\ncluster_slots_ok:{served}\r\n\
         cluster_slots_pfail:0\r\ncluster_slots_fail:{}\r\ncluster_known_nodes:{}\r\ncluster_size:{}\r\n\
         cluster_current_epoch:{epoch}\r\ncluster_my_epoch:{my_epoch}\r\ncluster_stats_messages_sent:0\r\n\
         cluster_stats_messages_received:0\r\ntotal_cluster_links_buffer_limit_exceeded:0\r\n",
        view.slot_count(),
        view.slot_count() - served,
        view.nodes.len(),
        masters.len(),
    );
    Frame::Verbatim("txt".into(), text.into_bytes().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn view() -> View {
        let config = Config::parse(include_str!("../../cluster.toml")).unwrap();
        let mut v = View::from_config(&config, 1);
        v.set_leader(1, Some(1), 3);
        v.set_leader(2, Some(2), 2);
        v.set_leader(3, Some(2), 2);
        v
    }

    fn range(e: &Frame) -> (i64, i64, i64, usize) {
        let Frame::Array(e) = e else { panic!() };
        let (Frame::Integer(lo), Frame::Integer(hi), Frame::Array(master)) = (&e[0], &e[1], &e[2]) else {
            panic!()
        };
        let Frame::Integer(port) = master[1] else { panic!() };
        (*lo, *hi, port, e.len() - 3)
    }

    #[test]
    fn slots_name_each_master_first_as_a_master() {
        let Frame::Array(entries) = cluster_slots(&view()) else {
            panic!()
        };
        let got: Vec<_> = entries.iter().map(range).collect();
        // Leaders: group 1 on node 1, groups 2 and 3 on node 2; node 3 leads nothing.
        assert_eq!(
            got,
            vec![
                (0, 0, 7001, 0),
                (5461, 5461, 7002, 0),
                (1, 5460, 7001, 2),
                (5462, 10922, 7002, 2),
                (10923, 16383, 7002, 2),
            ]
        );
    }

    #[test]
    fn nodes_lines() {
        let Frame::Verbatim(_, text) = cluster_nodes(&view()) else {
            panic!()
        };
        let text = String::from_utf8(text.to_vec()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].contains("myself,master") && lines[0].ends_with(" 0-5460"),
            "{}",
            lines[0]
        );
        assert!(lines[1].ends_with(" 5461-10922 10923-16383"), "{}", lines[1]);
        assert!(lines[2].contains(" slave"), "{}", lines[2]);
        assert!(lines[0].contains("127.0.0.1:7001@17001"));
    }

    fn tls_view() -> View {
        let config = Config::parse(&crate::config::with_tls_ports(include_str!("../../cluster.toml"))).unwrap();
        let mut v = View::from_config(&config, 1);
        v.set_leader(1, Some(1), 3);
        v.set_leader(2, Some(2), 2);
        v.set_leader(3, Some(2), 2);
        v
    }

    #[test]
    fn slots_and_nodes_name_the_asking_clients_kind_of_port() {
        let v = tls_view();
        let ports = |f: Frame| {
            let Frame::Array(entries) = f else { panic!() };
            entries.iter().map(|e| range(e).2).collect::<Vec<_>>()
        };
        assert_eq!(ports(cluster_slots(&v)), [7001, 7002, 7001, 7002, 7002]);
        let tls = ClientPort::Tls.sync_scope(|| cluster_slots(&v));
        assert_eq!(ports(tls), [7101, 7102, 7101, 7102, 7102]);
        let Frame::Verbatim(_, plain) = cluster_nodes(&v) else {
            panic!()
        };
        assert!(String::from_utf8_lossy(&plain).contains(" 127.0.0.1:7002@17002 "));
        let Frame::Verbatim(_, tls) = ClientPort::Tls.sync_scope(|| cluster_nodes(&v)) else {
            panic!()
        };
        let tls = String::from_utf8_lossy(&tls).to_string();
        assert!(
            tls.contains(" 127.0.0.1:7102@17002 ") && !tls.contains(":7002@"),
            "{tls}"
        );
    }

    #[test]
    fn shards_show_both_ports() {
        let Frame::Array(shards) = cluster_shards(&tls_view()) else {
            panic!()
        };
        let Frame::Map(shard) = &shards[0] else { panic!() };
        let Frame::Array(nodes) = &shard[1].1 else { panic!() };
        let Frame::Map(fields) = &nodes[0] else { panic!() };
        let field = |name: &str| fields.iter().find(|(k, _)| *k == bulk(name)).map(|(_, v)| v.clone());
        assert_eq!(field("port"), Some(Frame::Integer(7001)));
        assert_eq!(field("tls-port"), Some(Frame::Integer(7101)));
        let Frame::Array(plain) = cluster_shards(&view()) else {
            panic!()
        };
        let Frame::Map(shard) = &plain[0] else { panic!() };
        let Frame::Array(nodes) = &shard[1].1 else { panic!() };
        let Frame::Map(fields) = &nodes[0] else { panic!() };
        assert!(!fields.iter().any(|(k, _)| *k == bulk("tls-port")));
    }

    #[test]
    fn info_reports_ok_when_all_led() {
        let Frame::Verbatim(_, text) = cluster_info(&view()) else {
            panic!()
        };
        let text = String::from_utf8(text.to_vec()).unwrap();
        assert!(text.contains("cluster_state:ok\r\n"));
        assert!(text.contains("cluster_slots_ok:16384\r\n"));
        assert!(text.contains("cluster_size:2\r\n"));
    }
}
