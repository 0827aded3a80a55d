//! Every node killed at once and started again: all acknowledged data comes back, also after
//! snapshots were taken and the log before them purged.

use std::time::Duration;

use futures::{FutureExt, StreamExt};
use redis::AsyncCommands;

use crate::harness::{Cluster, command, even_groups, keys_for_all_slots, wait_until};

fn raft_field(info: &str, group: u64, field: &str) -> u64 {
    info.lines()
        .find(|l| l.starts_with(&format!("group{group}:")))
        .and_then(|l| l.split([':', ',']).find_map(|kv| kv.strip_prefix(&format!("{field}="))))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_restart_recovers_snapshots_and_logs() {
    // snapshot_every counts writes: concurrent writes share log entries (group commit), and
    // these 8,192 writes make only a few hundred entries.
    let mut c = Cluster::configure(3, &even_groups(3, &[1, 2, 3]), "snapshot_every = 300");
    c.start_all();
    c.wait_ready().await;
    let conn = c.cluster_client().await;
    let keys: Vec<String> = keys_for_all_slots("r").into_iter().step_by(4).collect();
    futures::stream::iter(keys.iter().enumerate())
        .for_each_concurrent(32, |(i, k)| {
            let mut conn = conn.clone();
            async move {
                let _: () = conn.set(k, i).await.unwrap();
                let _: () = conn.expire(k, 3600).await.unwrap();
            }
        })
        .await;

    // Every replica of every group took a snapshot and purged the log before it.
    for id in c.running() {
        let addr = c.addr(id);
        let done = wait_until(Duration::from_secs(30), || async {
            let Ok(info) = command(&addr, &["INFO", "raft"]).await else {
                return false;
            };
            (1..=3).all(|g| raft_field(&info, g, "snapshot") > 0 && raft_field(&info, g, "purged") > 0)
        })
        .await;
        assert!(
            done,
            "node {id}: no snapshot + purge: {:?}",
            command(&addr, &["INFO", "raft"]).await
        );
    }

    c.kill_all();
    c.start_all();
    c.wait_ready().await;
    let conn = c.cluster_client().await;
    futures::stream::iter(keys.iter().enumerate())
        .for_each_concurrent(32, |(i, k)| {
            let mut conn = conn.clone();
            async move {
                let v: Option<usize> = conn.get(k).await.unwrap();
                assert_eq!(v, Some(i), "key {k} lost in the restart");
                let ttl: i64 = conn.ttl(k).await.unwrap();
                assert!(ttl > 3000 && ttl <= 3600, "key {k} lost its deadline: ttl {ttl}");
            }
        })
        .await;
    // And the cluster takes writes again.
    let mut conn = conn.clone();
    let _: () = conn.set("after-restart", "yes").await.unwrap();
    let v: String = conn.get("after-restart").await.unwrap();
    assert_eq!(v, "yes");
}

/// A follower whose data directory was wiped while it was down is rebuilt by its leader:
/// from a snapshot when the log it needs was purged, from the log otherwise.
async fn wiped_follower_is_rebuilt(settings: &str, writes: usize, from_snapshot: bool) {
    let mut c = Cluster::configure(3, &even_groups(1, &[1, 2, 3]), settings);
    c.start_all();
    c.wait_ready().await;
    let leader = c.settled_leader_of_slot(0).await.unwrap();
    let follower = c.running().into_iter().find(|&id| id != leader).unwrap();
    let conn = c.cluster_client().await;
    // The follower has acknowledged entries (the leader knows it holds them) before it dies.
    let _: () = conn.clone().set("before", 1).await.unwrap();
    let leader_commit = raft_field(&command(&c.addr(leader), &["INFO", "raft"]).await.unwrap(), 1, "commit");
    let addr = c.addr(follower);
    let applied = |addr: String| async move {
        command(&addr, &["INFO", "raft"])
            .await
            .map_or(0, |info| raft_field(&info, 1, "applied"))
    };
    assert!(
        wait_until(Duration::from_secs(10), || applied(addr.clone())
            .map(|a| a >= leader_commit))
        .await
    );
    c.kill(follower);
    std::fs::remove_dir_all(c.data_dir(follower)).unwrap();
    futures::stream::iter(0..writes)
        .for_each_concurrent(32, |i| {
            let mut conn = conn.clone();
            async move {
                let _: () = conn.set(format!("lag{i}"), i).await.unwrap();
            }
        })
        .await;
    let written = raft_field(&command(&c.addr(leader), &["INFO", "raft"]).await.unwrap(), 1, "commit");
    c.start(follower);
    // The follower, rebuilt from nothing, serves READONLY reads of everything once caught up.
    let caught_up = wait_until(Duration::from_secs(30), || async {
        let Ok(info) = command(&addr, &["INFO", "raft"]).await else {
            return false;
        };
        raft_field(&info, 1, "applied") >= written
    })
    .await;
    let info = command(&addr, &["INFO", "raft"]).await;
    assert!(
        caught_up,
        "follower: {info:?}\nleader: {:?}\n{}",
        command(&c.addr(leader), &["INFO", "raft"]).await,
        crate::harness::tail(&c.log(follower), 30)
    );
    let info = info.unwrap();
    let snapshot = raft_field(&info, 1, "snapshot");
    assert_eq!(snapshot > 0, from_snapshot, "rebuilt from a snapshot: {snapshot}");
    // Caught up: it votes again.
    assert!(info.contains(",rebuilding=0,"), "{info}");
    assert!(c.log(leader).contains("replicating the group to it from the beginning"));
    let client = redis::Client::open(c.url(follower)).unwrap();
    let mut plain = crate::harness::plain_conn(&client).await.unwrap();
    let _: () = redis::cmd("READONLY").query_async(&mut plain).await.unwrap();
    let v: Option<i64> = plain.get("before").await.unwrap();
    assert_eq!(v, Some(1));
    for i in (0..writes).step_by(97) {
        let v: Option<i64> = plain.get(format!("lag{i}")).await.unwrap();
        assert_eq!(v, Some(i as i64));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wiped_follower_catches_up_from_a_snapshot() {
    wiped_follower_is_rebuilt("snapshot_every = 100", 1000, true).await;
}

/// Nothing purged: the leader's log has every entry, and it must replicate them all to a log
/// that went back to empty (openraft refuses that unless told; the rebuilt node asks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wiped_follower_catches_up_from_the_log() {
    wiped_follower_is_rebuilt("", 300, false).await;
}

/// A node that lost its data must not vote until it has been rebuilt: it may have been part of
/// the majority that acknowledged writes a lagging candidate lacks. Here the lagging node is the
/// only other one up when the wiped node returns, and its leadership would erase those writes
/// (the node holding them, paused meanwhile, would take the lagging leader's log on resuming).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wiped_node_elects_no_lagging_leader() {
    wiped_node_votes_for_no_lagging_node(false).await;
}

/// As above, but no other node answers while the wiped node starts: it cannot tell a new
/// cluster from lost data then, and must not take itself for a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wiped_node_that_reaches_no_peer_elects_no_lagging_leader() {
    wiped_node_votes_for_no_lagging_node(true).await;
}

async fn wiped_node_votes_for_no_lagging_node(alone_at_start: bool) {
    let mut c = Cluster::configure(3, &even_groups(1, &[1, 2, 3]), "");
    c.start_all();
    c.wait_ready().await;
    let wiped = c.settled_leader_of_slot(0).await.unwrap();
    let others: Vec<u64> = c.running().into_iter().filter(|&id| id != wiped).collect();
    let (holder, lagging) = (others[0], others[1]);
    let mut leader = crate::harness::plain_conn(&redis::Client::open(c.url(wiped)).unwrap())
        .await
        .unwrap();
    // Acknowledged by the leader and `holder` only.
    c.signal(lagging, "STOP");
    for i in 0..100 {
        let _: () = leader.set(format!("acked{i}"), i).await.unwrap();
    }
    c.kill(wiped);
    std::fs::remove_dir_all(c.data_dir(wiped)).unwrap();
    c.signal(holder, "STOP");
    let wiped_addr = c.addr(wiped);
    if alone_at_start {
        c.start(wiped);
        let serving = wait_until(Duration::from_secs(20), || async {
            command(&wiped_addr, &["INFO", "raft"]).await.is_ok()
        })
        .await;
        assert!(serving, "{}", crate::harness::tail(&c.log(wiped), 30));
        c.signal(lagging, "CONT");
    } else {
        c.signal(lagging, "CONT");
        c.start(wiped);
    }
    // The lagging node campaigns; with the wiped node's vote it would win.
    let lagging_addr = c.addr(lagging);
    let lagging_won = wait_until(Duration::from_secs(8), || async {
        command(&lagging_addr, &["INFO", "raft"])
            .await
            .is_ok_and(|info| info.contains("state=Leader"))
    })
    .await;
    // Meanwhile the wiped node says, every few seconds, what it is waiting for.
    let said = wait_until(Duration::from_secs(10), || async {
        c.log(wiped).contains("still waiting")
    })
    .await;
    c.signal(holder, "CONT");
    assert!(!lagging_won, "a node missing acknowledged writes was elected");
    assert!(said, "{}", crate::harness::tail(&c.log(wiped), 30));
    // Once the holder is back it leads, and the wiped node is rebuilt from it.
    let rebuilt = wait_until(Duration::from_secs(30), || async {
        command(&wiped_addr, &["INFO", "raft"])
            .await
            .is_ok_and(|info| raft_field(&info, 1, "keys") >= 100 && info.contains(",rebuilding=0,"))
    })
    .await;
    assert!(
        rebuilt,
        "{:?}\n{}",
        command(&wiped_addr, &["INFO", "raft"]).await,
        crate::harness::tail(&c.log(wiped), 30)
    );
    // It waited for a leader, which then agreed to rebuild it.
    assert!(
        c.log(wiped)
            .contains("now replicates this group to this node from the beginning")
    );
    let mut conn = c.cluster_client().await;
    for i in 0..100 {
        let v: Option<i64> = conn.get(format!("acked{i}")).await.unwrap();
        assert_eq!(v, Some(i), "acknowledged write acked{i} lost");
    }
}

/// Two nodes of three lose their data while the third, the only one left holding the group's
/// log, is down. Started again, the two answer each other that they hold nothing: counted
/// together they are a majority, but that is no proof of a new cluster. They must not make
/// the group new (they would serve it empty, a second history beside the one the third comes
/// back with); they wait for every member, and learn from the third that the group has a log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_wiped_nodes_do_not_take_themselves_for_a_new_cluster() {
    let mut c = Cluster::configure(3, &even_groups(1, &[1, 2, 3]), "");
    c.start_all();
    c.wait_ready().await;
    let mut conn = c.cluster_client().await;
    for i in 0..100 {
        let _: () = conn.set(format!("acked{i}"), i).await.unwrap();
    }
    for id in [1, 2, 3] {
        let addr = c.addr(id);
        let applied = wait_until(Duration::from_secs(10), || async {
            command(&addr, &["INFO", "raft"])
                .await
                .is_ok_and(|info| raft_field(&info, 1, "keys") >= 100)
        })
        .await;
        assert!(applied, "node {id} did not apply the writes");
    }
    let (holder, wiped) = (3, [1, 2]);
    let held = raft_field(
        &command(&c.addr(holder), &["INFO", "raft"]).await.unwrap(),
        1,
        "last_log",
    );
    assert!(held > 100);
    c.kill_all();
    // What each wiped node logs from its restart on (the log files go on across restarts).
    let logged_before: Vec<usize> = wiped.iter().map(|&id| c.log(id).len()).collect();
    let since_restart = |c: &Cluster, i: usize| c.log(wiped[i])[logged_before[i]..].to_string();
    for id in wiped {
        std::fs::remove_dir_all(c.data_dir(id)).unwrap();
        c.start(id);
    }
    // Both say, every few seconds, that not every member answered...
    for (i, id) in wiped.into_iter().enumerate() {
        let said = wait_until(Duration::from_secs(20), || async {
            since_restart(&c, i).contains("still waiting: empty data directory")
        })
        .await;
        assert!(said, "node {id}:\n{}", crate::harness::tail(&c.log(id), 30));
    }
    // ...and neither has taken the group for a new one and elected a leader for it.
    for (i, id) in wiped.into_iter().enumerate() {
        let info = command(&c.addr(id), &["INFO", "raft"]).await.unwrap();
        assert!(
            !info.contains("state=Leader") && info.contains(",rebuilding=1,"),
            "node {id}: {info}\n{}",
            crate::harness::tail(&c.log(id), 30)
        );
        let log = since_restart(&c, i);
        assert!(
            !log.contains("none has had a leader: the group is new") && !log.contains("none of which held its log"),
            "node {id}: {log}"
        );
    }
    // The holder returns with its log, and the two learn from it that the group has had one:
    // they wait for its leader to rebuild them. (They grant no votes until rebuilt, so the
    // group stays without one, its log kept.)
    c.start(holder);
    for (i, id) in wiped.into_iter().enumerate() {
        let learnt = wait_until(Duration::from_secs(20), || async {
            let log = since_restart(&c, i);
            log.contains("a peer holds this group's log") || log.contains("its leader now replicates this group")
        })
        .await;
        assert!(learnt, "node {id}:\n{}", crate::harness::tail(&c.log(id), 30));
    }
    let info = command(&c.addr(holder), &["INFO", "raft"]).await.unwrap();
    assert!(raft_field(&info, 1, "last_log") >= held, "{info}");
}
