//! INFO [section ...]: Redis's sections, each from its own function, and slotraft's Raft
//! section. Each section ends with a blank line, as in Redis, except the last.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use openraft::async_runtime::watch::WatchReceiver;

use super::REDIS_VERSION;
use crate::cmd::parse::Cursor;
use crate::node::Node;
use crate::resp::frame::Frame;

/// A section's name and the function that writes it, in Redis's order.
type Section = (&'static str, fn(&Node, &mut String));

const SECTIONS: &[Section] = &[
    ("server", server),
    ("clients", clients),
    ("persistence", persistence),
    ("stats", stats),
    ("replication", replication),
    ("cluster", cluster),
    ("raft", raft),
    ("keyspace", keyspace),
];

pub(super) fn execute(node: &Node, args: &[Bytes]) -> Frame {
    let wanted: Vec<String> = Cursor::new(args)
        .rest()
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let all = wanted.is_empty() || wanted.iter().any(|w| w == "all" || w == "everything" || w == "default");
    let mut out = String::new();
    for (name, write) in SECTIONS {
        if all || wanted.iter().any(|w| w == name) {
            write(node, &mut out);
        }
    }
    while out.ends_with("\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    Frame::Verbatim("txt".into(), Bytes::from(out))
}

/// Who this node is: Redis's version it speaks, its own, its process and port.
fn server(node: &Node, out: &mut String) {
    let me = node.config.nodes.get(&node.id);
    let _ = write!(
        out,
        "# Server\r\nredis_version:{REDIS_VERSION}\r\nslotraft_version:{}\r\nredis_mode:cluster\r\nos:{} {}\r\narch_bits:64\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nnode_id:{}\r\n\r\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH,
        std::process::id(),
        crate::cluster::view::node_name(node.id),
        me.map_or(0, |n| n.resp.port()),
        node.uptime().as_secs(),
        node.uptime().as_secs() / 86400,
        node.id,
    );
}

/// Connections and blocked clients.
fn clients(node: &Node, out: &mut String) {
    let _ = write!(
        out,
        "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:{}\r\n\r\n",
        node.stats.connected_clients.load(Ordering::Relaxed),
        node.config.limits.maxclients,
        node.waiters.count()
    );
}

/// The data directory's free space against `min_free_disk`, and whether writes that may add
/// data are refused for it (`-MISCONF`).
fn persistence(node: &Node, out: &mut String) {
    let disk = node.disk();
    let _ = write!(
        out,
        "# Persistence\r\ndisk_free_bytes:{}\r\nmin_free_disk:{}\r\ndisk_writes_refused:{}\r\n\r\n",
        disk.free().map_or_else(|| "unknown".to_string(), |f| f.to_string()),
        disk.min_free(),
        u8::from(disk.is_low()),
    );
}

/// Counters since start (or CONFIG RESETSTAT).
fn stats(node: &Node, out: &mut String) {
    let _ = write!(
        out,
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\nrejected_connections:{}\r\n\r\n",
        node.stats.total_connections.load(Ordering::Relaxed),
        node.stats.total_commands.load(Ordering::Relaxed),
        node.stats.rejected_connections.load(Ordering::Relaxed),
    );
}

/// Redis's role (master while it leads a group) and how many groups it leads and hosts.
fn replication(node: &Node, out: &mut String) {
    let view = node.view.read();
    let leads = view.led_by(node.id).count();
    let role = if leads > 0 { "master" } else { "slave" };
    // Settled: this node sees every group led by its preferred leader, so its slot map
    // (CLUSTER SLOTS) will not change again unless a node fails. Scripts and tests wait for
    // it on every node before handing the cluster to clients.
    let preferred = node.config.preferred_leaders();
    let settled = view
        .groups
        .values()
        .all(|gi| gi.leader.is_some() && gi.leader == preferred.get(&gi.id).copied());
    let _ = write!(
        out,
        "# Replication\r\nrole:{role}\r\nconnected_slaves:0\r\nraft_groups_led:{leads}\r\nraft_groups_hosted:{}\r\nraft_leadership_settled:{}\r\n\r\n",
        node.groups().count(),
        u8::from(settled),
    );
}

/// Cluster mode is always on.
fn cluster(_: &Node, out: &mut String) {
    out.push_str("# Cluster\r\ncluster_enabled:1\r\n\r\n");
}

/// Each hosted group's Raft state, then the log engine's counters.
fn raft(node: &Node, out: &mut String) {
    out.push_str("# Raft\r\n");
    for g in node.groups() {
        let (lease_reads, core_reads) = g.read_counts();
        let (proposals, proposed_writes) = g.proposals();
        let m = g.raft().metrics();
        let m = m.borrow_watched();
        let _ = write!(
            out,
            "group{}:state={:?},term={},leader={},last_log={},commit={},applied={},snapshot={},purged={},lease_reads={},core_reads={},proposals={},proposed_writes={},rebuilding={},keys={}\r\n",
            g.id,
            m.state,
            m.current_term,
            m.current_leader.map_or("none".to_string(), |l| l.to_string()),
            m.last_log_index.unwrap_or(0),
            m.local_committed.map_or(0, |l| l.index),
            m.last_applied.map_or(0, |l| l.index),
            m.snapshot.map_or(0, |l| l.index),
            m.purged.map_or(0, |l| l.index),
            lease_reads,
            core_reads,
            proposals,
            proposed_writes,
            u8::from(g.rebuilding()),
            g.keys(),
        );
    }
    let e = &node.log_engine().stats;
    let _ = write!(
        out,
        "log_engine:requests={},batches={},syncs={},entries={},disk_reads={},queue_us={},write_us={},sync_us={}\r\n",
        e.requests.load(Ordering::Relaxed),
        e.batches.load(Ordering::Relaxed),
        e.syncs.load(Ordering::Relaxed),
        e.entries.load(Ordering::Relaxed),
        e.disk_reads.load(Ordering::Relaxed),
        e.queue_us.load(Ordering::Relaxed),
        e.write_us.load(Ordering::Relaxed),
        e.sync_us.load(Ordering::Relaxed),
    );
    out.push_str("\r\n");
}

/// Keys of the groups this node leads, as a Redis Cluster master counts its own slots.
fn keyspace(node: &Node, out: &mut String) {
    let (mut keys, mut expires) = (0usize, 0usize);
    let view = node.view.read();
    for g in node.groups() {
        if view.groups.get(&g.id).is_some_and(|gi| gi.leader == Some(node.id)) {
            g.read_applied(|store, _| {
                keys += store.len();
                expires += store.keys_with_deadline();
            });
        }
    }
    out.push_str("# Keyspace\r\n");
    if keys > 0 {
        let _ = write!(out, "db0:keys={keys},expires={expires},avg_ttl=0\r\n");
    }
    out.push_str("\r\n");
}
