//! DEBUG: slotraft's own subcommands, for tests and for looking inside a node. A plain command
//! in Redis's table (not a container), so it reads its subcommand itself.

use bytes::Bytes;

use super::{bulk, upper};
use crate::cmd::parse::Cursor;
use crate::node::Node;
use crate::resp::frame::Frame;

const HELP: &[&str] = &[
    "DEBUG <subcommand> [<arg> ...]. Subcommands are:",
    "DIGEST",
    "    Per group hosted here: its id, applied log index and a digest of its data.",
    "RAFT-STATS",
    "    Per group hosted here: openraft's batch-size histograms and counters since start.",
];

pub(super) async fn execute(node: &Node, args: &[Bytes]) -> Frame {
    let mut c = Cursor::new(args);
    let Ok(sub) = c.next_bytes() else {
        return Frame::error("ERR DEBUG needs a subcommand");
    };
    match (upper(sub).as_str(), c.finish().is_ok()) {
        ("DIGEST", true) => digest(node),
        ("RAFT-STATS", true) => raft_stats(node).await,
        ("HELP", _) => Frame::Array(HELP.iter().map(|l| Frame::Simple((*l).into())).collect()),
        _ => Frame::Error(format!(
            "ERR unknown subcommand '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(sub)
        )),
    }
}

/// DEBUG DIGEST: for each group hosted here, `<group> <applied index> <digest>`, read under
/// one lock so the digest is exactly that of the state at that index. Replicas of a group at
/// the same index must report the same digest.
fn digest(node: &Node) -> Frame {
    Frame::Array(
        node.groups()
            .map(|g| g.read_applied(|store, applied| bulk(format!("{} {applied} {}", g.id, store.digest()))))
            .collect(),
    )
}

/// DEBUG RAFT-STATS: how openraft batched each group's work (client writes per batch, entries per
/// append, per replication message, per apply), to see where batching falls short under load.
async fn raft_stats(node: &Node) -> Frame {
    let mut out = String::new();
    for g in node.groups() {
        match g.raft().runtime_stats().await {
            Ok(stats) => out.push_str(&format!("group {}:\n{}\n", g.id, stats.display().multiline())),
            Err(e) => out.push_str(&format!("group {}: {e}\n", g.id)),
        }
    }
    Frame::Verbatim("txt".into(), out.into())
}
