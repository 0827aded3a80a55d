//! The node's background work: following each group's Raft metrics into the view, telling
//! peers which groups this node leads, spreading leadership evenly, expiring keys, snapshots,
//! the free-disk watermark, and noticing when the node cannot go on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use openraft::async_runtime::watch::WatchReceiver;
use openraft::vote::RaftLeaderId;

use crate::cluster::view::LeaderClaim;
use crate::cmd;
use crate::node::{Node, now_ms};
use crate::raft::types::{GroupId, Request};

pub(super) fn spawn_all(node: &Arc<Node>) {
    for &group in node.groups.keys() {
        tokio::spawn(follow_metrics(node.clone(), group));
        tokio::spawn(expire_keys(node.clone(), group));
        tokio::spawn(snapshot_by_writes(node.clone(), group));
        tokio::spawn(watch_core(node.clone(), group));
    }
    tokio::spawn(watch_log_engine(node.clone()));
    tokio::spawn(watch_free_disk(node.clone()));
    tokio::spawn(heartbeat(node.clone()));
    tokio::spawn(balance_leaders(node.clone()));
    tokio::spawn(follow_users(node.clone()));
    if node.config.acl_file.is_some() {
        tokio::spawn(load_acl_file(node.clone()));
    }
    if node.groups.values().any(|g| g.awaiting_revert() || g.unconfirmed()) {
        tokio::spawn(ask_to_rejoin(node.clone()));
    }
}

/// Asks again, twice a second, for each group whose replica here lost its data and that no
/// leader has agreed yet to replicate from the beginning (`super::rejoin`): one that had no
/// leader when this node started gets one once its other replicas elect it. Asks too, ten times
/// a second, for each group whose replica started on an empty data directory while some of its
/// members were unreachable (`unconfirmed`), until all answer, to tell a new group from lost
/// data. Says every `PROGRESS_EVERY` which groups still wait, and for what.
async fn ask_to_rejoin(node: Arc<Node>) {
    const PROGRESS_EVERY: Duration = Duration::from_secs(5);
    let mut shutdown = node.shutdown_signal();
    let mut delay = Duration::ZERO;
    let mut progress_at = Instant::now() + PROGRESS_EVERY;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return,
        }
        // The nodes of a new cluster start moments apart: asking often while unconfirmed
        // lets the first one hear the others before they elect leaders without it (it would
        // then be replicated from the beginning, as a node that lost its data is).
        delay = if node.groups.values().any(|g| g.unconfirmed()) {
            Duration::from_millis(100)
        } else {
            Duration::from_millis(500)
        };
        let waiting: Vec<GroupId> = node
            .groups
            .values()
            .filter(|g| g.awaiting_revert() || g.unconfirmed())
            .map(|g| g.id)
            .collect();
        if waiting.is_empty() {
            return;
        }
        let answers = super::rejoin(&node.peers, node.id, &waiting).await;
        if Instant::now() >= progress_at {
            progress_at = Instant::now() + PROGRESS_EVERY;
            log_rejoin_progress(&node, &answers);
        }
        for (group, answer) in answers {
            let Some(g) = node.groups.get(&group) else { continue };
            match answer {
                super::Rejoin::Allowed(last_log) => {
                    tracing::warn!(
                        group,
                        "its leader now replicates this group to this node from the beginning"
                    );
                    g.revert_allowed(last_log);
                }
                // Elected while unconfirmed: a majority of the members voted for an empty log,
                // so none of them held anything; the history the peers show is this leader's.
                super::Rejoin::Awaiting(_)
                    if g.unconfirmed() && g.raft.metrics().borrow_watched().current_leader == Some(node.id) =>
                {
                    tracing::info!(
                        group,
                        "elected by a majority of this group's members, none of which held its log: the group is new"
                    );
                    g.confirm_fresh();
                }
                super::Rejoin::Awaiting(last_log) if g.unconfirmed() => {
                    tracing::warn!(
                        group,
                        "a peer holds this group's log (this node lost its data, or started after the others had elected a leader): waiting for the group's leader to replicate it from the beginning"
                    );
                    g.await_revert(last_log);
                }
                fresh if g.unconfirmed() && fresh.fresh_by_all(node.config.group_size(group)) => {
                    tracing::info!(
                        group,
                        "every member of this group answered, none has had a leader: the group is new, voting"
                    );
                    g.confirm_fresh();
                }
                _ => {}
            }
        }
    }
}

/// What the groups still waiting to (re)join wait for: one line for those started on an empty
/// data directory that too few members answered (with how many of the others answered each),
/// one for those waiting for their leader to rebuild them (with the index their log reached).
fn log_rejoin_progress(node: &Node, answers: &std::collections::BTreeMap<GroupId, super::Rejoin>) {
    let mut unconfirmed = std::collections::BTreeMap::new();
    let mut awaiting = std::collections::BTreeMap::new();
    for (&group, answer) in answers {
        let Some(g) = node.groups.get(&group) else { continue };
        match *answer {
            super::Rejoin::Fresh { answered } if g.unconfirmed() => {
                let others = node.config.group_size(group).saturating_sub(1);
                unconfirmed.insert(group, format!("{answered} of {others}"));
            }
            super::Rejoin::Awaiting(last_log) => {
                awaiting.insert(group, last_log);
            }
            _ => {}
        }
    }
    if !unconfirmed.is_empty() {
        tracing::warn!(
            answered = ?unconfirmed,
            "still waiting: empty data directory and not every other member of these groups answers; no votes granted, no replication taken until they all do"
        );
    }
    if !awaiting.is_empty() {
        tracing::warn!(
            last_log = ?awaiting,
            "still waiting for these groups' leaders to replicate them to this node from the beginning; no votes granted meanwhile"
        );
    }
}

/// Asks openraft for a snapshot of a group once enough client writes were applied since the
/// last one (`state_machine::snapshot_threshold`: `snapshot_every`, or the last snapshot's
/// keys if more). openraft's own policy (off) counts log entries, and an entry of batched
/// writes (group commit) may carry hundreds: counted by entries alone, the log, its cache and
/// a restart's replay grew that many times longer between snapshots.
///
/// Asked for because of the log's bytes (`snapshot_log_bytes`), the snapshot is followed by a
/// purge of the whole log it covers: openraft keeps `max_in_snapshot_log_to_keep` entries
/// behind a snapshot (for followers a little behind), which by bytes is unbounded when the
/// entries are large values.
async fn snapshot_by_writes(node: Arc<Node>, group: GroupId) {
    let Some(g) = node.groups.get(&group) else { return };
    let mut shutdown = node.shutdown_signal();
    loop {
        tokio::select! {
            _ = g.sm.snapshot_due.notified() => {}
            _ = shutdown.changed() => return,
        }
        let by_bytes = g.sm.take_due_by_bytes();
        let applied = g.applied_index();
        if g.raft.trigger().snapshot().await.is_err() {
            return;
        }
        if !by_bytes {
            continue;
        }
        let wait = g.raft.wait(Some(Duration::from_secs(60)));
        let built = wait.metrics(
            |m| m.snapshot.is_some_and(|s| s.index >= applied),
            "the snapshot asked for by bytes",
        );
        let snapshot = tokio::select! {
            m = built => m.ok().and_then(|m| m.snapshot),
            _ = shutdown.changed() => return,
        };
        if let Some(s) = snapshot
            && g.raft.trigger().purge_log(s.index).await.is_err()
        {
            return;
        }
    }
}

/// Fails the node once a group's Raft core stops while the node is not shutting down: a storage
/// error (a failed log write, a snapshot that could not be written) stops it for good, and so
/// does a panic. Follows the server metrics, which change with the vote and leader only; the
/// core holds their sender, so their channel closes when the core's task ends, however it ends.
async fn watch_core(node: Arc<Node>, group: GroupId) {
    let Some(g) = node.groups.get(&group) else { return };
    let mut server = g.raft.server_metrics();
    let mut shutdown = node.shutdown_signal();
    loop {
        tokio::select! {
            changed = server.changed() => if changed.is_err() { break },
            _ = shutdown.changed() => return,
        }
    }
    if *shutdown.borrow() {
        return;
    }
    let why = match &g.raft.metrics().borrow_watched().running_state {
        Err(openraft::error::Fatal::Stopped) | Ok(()) => "it ended without an error (a panic?)".to_string(),
        Err(e) => e.to_string(),
    };
    node.fail(format!("group {group}: its Raft core stopped: {why}"));
}

/// Fails the node once the log engine is poisoned (a failed write or fsync): no group can make
/// anything durable any more, and none is retried.
async fn watch_log_engine(node: Arc<Node>) {
    let mut shutdown = node.shutdown_signal();
    tokio::select! {
        _ = node.engine.poisoned() => {}
        _ = shutdown.changed() => return,
    }
    node.fail("the log engine failed to write or fsync, so no write can be made durable".into());
}

/// Measures the data directory's free space four times a second (a `statvfs`, microseconds):
/// below `min_free_disk` writes that may grow the data are refused, and accepted again as soon
/// as a check finds the space back.
async fn watch_free_disk(node: Arc<Node>) {
    if node.disk.min_free() == 0 {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut shutdown = node.shutdown_signal();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        node.disk.check();
    }
}

/// Mirrors a local group's leader and term into the view. Follows openraft's server metrics,
/// which change with the vote and leader only (the full metrics change on every quorum
/// acknowledgement, thousands of times a second under writes).
async fn follow_metrics(node: Arc<Node>, group: GroupId) {
    let Some(g) = node.groups.get(&group) else { return };
    let mut metrics = g.raft.server_metrics();
    let mut shutdown = node.shutdown_signal();
    loop {
        {
            let m = metrics.borrow_watched();
            let term = m.vote.leader_id().term();
            node.view.write().set_leader(group, m.current_leader, term);
            node.leaders_changed.notify_waiters();
        }
        tokio::select! {
            changed = metrics.changed() => if changed.is_err() { return },
            _ = shutdown.changed() => return,
        }
    }
}

/// The groups this node leads, with their terms, as told to peers.
pub fn leader_claims(node: &Node) -> Vec<LeaderClaim> {
    node.groups
        .values()
        .filter_map(|g| {
            let m = g.raft.metrics();
            let m = m.borrow_watched();
            (m.current_leader == Some(node.id)).then(|| LeaderClaim {
                group: g.id,
                term: m.current_term,
            })
        })
        .collect()
}

/// Applies a peer's claims to the view and marks it alive. Only for groups this node does not
/// host: for its own groups, its Raft metrics (`follow_metrics`) are the source, and a claim
/// sent before a leadership change but read after it would overwrite them with no later
/// change of those metrics to set the view right again.
pub fn learn_claims(node: &Node, from: u64, claims: &[LeaderClaim]) {
    let mut view = node.view.write();
    if let Some(n) = view.nodes.get_mut(&from) {
        n.last_seen = Some(Instant::now());
    }
    for c in claims {
        if !node.groups.contains_key(&c.group) {
            view.set_leader(c.group, Some(from), c.term);
        }
    }
}

/// Every few heartbeat intervals, tells each peer which groups this node leads and learns
/// theirs, so that every node can redirect for groups it does not host.
async fn heartbeat(node: Arc<Node>) {
    let period = Duration::from_millis((node.config.heartbeat_ms * 2).max(100));
    let mut tick = tokio::time::interval(period);
    let mut shutdown = node.shutdown_signal();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let claims = leader_claims(&node);
        for peer in node.peers.ids().collect::<Vec<_>>() {
            let node = node.clone();
            let claims = claims.clone();
            tokio::spawn(async move {
                if let Ok((from, leads)) = node.peers.heartbeat(peer, node.id, &claims, period * 3).await {
                    learn_claims(&node, from, &leads);
                }
            });
        }
        node.view
            .write()
            .nodes
            .entry(node.id)
            .and_modify(|n| n.last_seen = Some(Instant::now()));
    }
}

/// Recompiles the users (`acl`) after each entry the metadata group applies here.
async fn follow_users(node: Arc<Node>) {
    let meta = node.meta();
    let mut shutdown = node.shutdown_signal();
    let mut compiled_at = None;
    loop {
        let applied = meta.next_apply();
        tokio::pin!(applied);
        applied.as_mut().enable();
        let index = meta.applied_index();
        if compiled_at != Some(index) {
            meta.read_applied(|store, _| node.acl.compile(store));
            compiled_at = Some(index);
        }
        tokio::select! {
            _ = applied => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// A cluster that has never had a user change takes its users from cluster.toml's `acl_file`,
/// as Redis reads its `aclfile` at start: the first node to lead the metadata group while it
/// holds no users proposes the file's. Afterwards the metadata group is the truth, and the file
/// is read again only by ACL LOAD.
async fn load_acl_file(node: Arc<Node>) {
    let Some(path) = node.config.acl_file.clone() else {
        return;
    };
    let meta = node.meta();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut shutdown = node.shutdown_signal();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if meta.read_applied(|store, _| cmd::acl::has_users(store)) {
            return;
        }
        if !meta.holds_read_lease() {
            continue;
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                tracing::warn!(path = %path.display(), "ACL file not read: {e}");
                return;
            }
        };
        let users = match cmd::acl::parse_acl_file(&text, node.acl.configured_default()) {
            Ok(u) => u,
            Err((line, m)) => {
                tracing::warn!("ACL file not loaded: {}:{line}: {m}", path.display());
                return;
            }
        };
        let n = users.len();
        if let super::proposer::Proposed::Applied(_) = meta.propose(vec![cmd::acl::load_entry(&users)]).await {
            tracing::info!(path = %path.display(), users = n, "users loaded from the ACL file");
            return;
        }
    }
}

/// Hands leadership of each group to its preferred leader when that node is alive and caught
/// up, so every node serves its share of writes, also after a failed node returns.
async fn balance_leaders(node: Arc<Node>) {
    // Often enough that a starting cluster settles within a second or two; each group is tried
    // at most every few seconds.
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut shutdown = node.shutdown_signal();
    let mut last_try: std::collections::BTreeMap<GroupId, Instant> = Default::default();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        for g in node.groups.values() {
            if g.preferred_leader == node.id {
                continue;
            }
            if last_try
                .get(&g.id)
                .is_some_and(|t| t.elapsed() < Duration::from_secs(5))
            {
                continue;
            }
            let caught_up = {
                let m = g.raft.metrics();
                let m = m.borrow_watched();
                if m.current_leader != Some(node.id) {
                    continue;
                }
                // The target ignores the request unless it holds the leader's last entry, and
                // the leader stops taking writes once it asks, until an election: ask only
                // when nothing is missing.
                m.replication
                    .as_ref()
                    .and_then(|r| r.get(&g.preferred_leader).cloned().flatten())
                    .map(|matched| matched.index)
                    == m.last_log_index
            };
            if caught_up && node.view.read().is_alive(g.preferred_leader) {
                tracing::info!(
                    group = g.id,
                    to = g.preferred_leader,
                    "transferring leadership to preferred leader"
                );
                last_try.insert(g.id, Instant::now());
                g.transfer_leadership(g.preferred_leader).await;
            }
        }
    }
}

/// Active expiry: the leader samples keys past their deadline and proposes their deletion; the
/// apply deletes a key only if it is still expired at that entry's time.
async fn expire_keys(node: Arc<Node>, group: GroupId) {
    const BATCH: usize = 500;
    let Some(g) = node.groups.get(&group) else { return };
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut shutdown = node.shutdown_signal();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if !g.raft.is_leader() {
            continue;
        }
        for _ in 0..20 {
            let now = now_ms();
            let keys = g.sm.state.read().store.expired_sample(now, BATCH);
            if keys.is_empty() {
                break;
            }
            let full = keys.len() == BATCH;
            let mut args = Vec::with_capacity(keys.len() + 1);
            args.push(Bytes::from_static(cmd::EXPIRED_DELETE.as_bytes()));
            args.extend(keys);
            if g.raft.client_write(Request::new(now, &args)).await.is_err() || !full {
                break;
            }
        }
    }
}
