//! Changes to what is cluster-wide (the ACL users) go through the metadata group: proposed
//! here when this node leads it, else the entry goes to its leader, which proposes it.
//! Acknowledged once the metadata group committed and its leader applied it.

use std::time::Duration;

use bytes::Bytes;

use crate::errors::{CLUSTERDOWN, TRYAGAIN, UNKNOWN_OUTCOME};
use crate::ids::META_GROUP;
use crate::node::Node;
use crate::node::proposer::Proposed;
use crate::resp::frame::Frame;

/// How long an applied change waits for the metadata group's followers to hold it before it is
/// acknowledged (a follower down or behind catches up later).
const SPREAD_WAIT: Duration = Duration::from_millis(500);

/// How long a change waits for the metadata group to have a leader.
const LEADER_WAIT: Duration = Duration::from_secs(5);

/// Proposes `entry` (a `slotraft.acl` entry, nothing secret in clear) to the metadata group,
/// or sends it to the group's leader, which proposes it (`dispatch::execute_prepared`), when
/// this node does not lead it. `may_forward` is false for an entry another node forwarded: it
/// is never sent on again.
pub async fn change(node: &Node, entry: Vec<Bytes>, may_forward: bool) -> Frame {
    let deadline = tokio::time::Instant::now() + LEADER_WAIT;
    loop {
        let leader = match node.meta().propose(vec![entry.clone()]).await {
            Proposed::Applied(mut replies) => {
                let meta = node.meta();
                meta.spread_commit(meta.applied_index(), SPREAD_WAIT).await;
                return replies.pop().unwrap_or_else(|| Frame::error(UNKNOWN_OUTCOME));
            }
            Proposed::Unknown => return Frame::error(UNKNOWN_OUTCOME),
            Proposed::NotLeader(f) => f.leader_id,
        };
        if !may_forward {
            return Frame::error(TRYAGAIN);
        }
        if let Some(leader) = leader.filter(|&l| l != node.id) {
            match node
                .peers
                .forward(leader, META_GROUP, &entry, Duration::from_secs(10))
                .await
            {
                Ok(Frame::Error(e)) if e.starts_with("TRYAGAIN") => {}
                Ok(reply) => return reply,
                Err(e) if e.never_sent() => {}
                Err(e) => {
                    tracing::debug!(leader, "forwarded metadata change failed: {e}");
                    return Frame::error(UNKNOWN_OUTCOME);
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Frame::error(CLUSTERDOWN);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asks the metadata group's leader to run `command` (a check that must see every committed
/// change, such as AUTH for a user this replica has not applied yet); `None` when this node
/// leads it, or no leader answers.
pub async fn ask_leader(node: &Node, command: &[Bytes]) -> Option<Frame> {
    let meta = node.meta();
    if meta.is_leader() {
        return None;
    }
    let leader = meta.leader().filter(|&l| l != node.id)?;
    node.peers
        .forward(leader, META_GROUP, command, Duration::from_secs(5))
        .await
        .ok()
}
