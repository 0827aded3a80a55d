//! Killing a group's leader with SIGKILL while clients write: another node takes over, clients
//! carry on, no acknowledged write is lost, and leadership balance returns with the node.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redis::AsyncCommands;

use crate::harness::{Cluster, command, keys_for_all_slots, leader_counter, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_crash_loses_no_acknowledged_write() {
    let mut c = Cluster::three("").await;
    let conn = c.cluster_client().await;

    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<(String, u64, Instant)>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..4u64 {
        let (mut conn, stop, acked) = (conn.clone(), stop.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0u64;
            let mut errors = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("w{w}:{i}");
                match conn.set::<_, _, ()>(&key, i).await {
                    Ok(()) => acked.lock().push((key, i, Instant::now())),
                    Err(_) => errors += 1,
                }
                i += 1;
            }
            errors
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Kill the leader of the group owning slot 0.
    let victim = c.leader_of_slot(1, 0).await.expect("slot 0 has a leader");
    let killed_at = Instant::now();
    c.kill(victim);
    let survivor = c.running()[0];
    let probe = c.cluster_client().await;
    let probe_key = keys_for_all_slots("probe").swap_remove(0);
    let recovered = wait_until(Duration::from_secs(20), || {
        let (mut probe, key) = (probe.clone(), probe_key.clone());
        async move { probe.set::<_, _, ()>(key, 1).await.is_ok() }
    })
    .await;
    assert!(recovered, "writes to the killed leader's slots did not resume");
    let failover = killed_at.elapsed();
    let new_leader = c.leader_of_slot(survivor, 0).await;
    assert!(
        new_leader.is_some_and(|l| l != victim),
        "CLUSTER NODES should show a new leader"
    );
    println!(
        "failover: {} ms until a write to the group succeeded again",
        failover.as_millis()
    );

    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().clone();
    let after_kill = acked.iter().filter(|(_, _, t)| *t > killed_at).count();
    assert!(after_kill > 0, "no write was acknowledged after the kill");

    // Every acknowledged write is readable with its value.
    let mut conn = conn.clone();
    for (key, value, _) in &acked {
        let got: Option<u64> = conn.get(key).await.unwrap();
        assert_eq!(got, Some(*value), "acknowledged write {key}={value} lost");
    }
    println!(
        "{} writes acknowledged, {after_kill} after the kill, all present",
        acked.len()
    );

    // With a peer down and no traffic, the others idle: they retry it at openraft's backoff,
    // not in a busy loop (which took a core each and logged ~20,000 lines a second).
    let survivors = c.running();
    let before: Vec<Duration> = survivors.iter().map(|&n| c.cpu_time(n)).collect();
    let window = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    for (&n, before) in survivors.iter().zip(before) {
        let used = c.cpu_time(n) - before;
        assert!(
            used < window.elapsed() / 4,
            "node {n} used {used:?} of CPU in {:?} with a peer down and no traffic",
            window.elapsed()
        );
    }

    // The node comes back, catches up, and gets its share of leadership back.
    c.start(victim);
    assert!(
        c.wait_balanced(1, Duration::from_secs(40)).await,
        "leadership balance was not restored"
    );
    let (key, value, _) = acked.last().unwrap();
    let got: Option<u64> = conn.get(key).await.unwrap();
    assert_eq!(got, Some(*value));
}

/// A leader answers linearizable reads on its lease, without a round through its Raft core,
/// only while a quorum keeps acknowledging it: with its followers paused, once openraft's
/// leader lease (`election_timeout_max`, 750 ms here) has run out — when another leader could
/// have been elected — it no longer answers from its own state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_cut_off_from_its_quorum_stops_serving_reads() {
    let c = Cluster::three("").await;
    let leader = c.leader_of_slot(1, 0).await.expect("slot 0 has a leader");
    let addr = c.addr(leader);
    let key = keys_for_all_slots("lease").swap_remove(0);
    assert_eq!(command(&addr, &["SET", &key, "v1"]).await.as_deref(), Ok("OK"));
    // Once leadership has settled and the balancer's last transfer request has lapsed, reads
    // go by the lease.
    let by_lease = wait_until(Duration::from_secs(10), || {
        let (addr, key) = (addr.clone(), key.clone());
        async move {
            let before = leader_counter(&addr, "lease_reads").await;
            for _ in 0..10 {
                assert_eq!(command(&addr, &["GET", &key]).await.as_deref(), Ok("v1"));
            }
            leader_counter(&addr, "lease_reads").await >= before + 10
        }
    })
    .await;
    assert!(by_lease, "reads on a settled leader should go by its lease");

    let followers: Vec<u64> = c.running().into_iter().filter(|&n| n != leader).collect();
    let paused_at = Instant::now();
    for &n in &followers {
        c.signal(n, "STOP");
    }
    // Waiting out the lease is the point of the test: after it, reads must be refused.
    tokio::time::sleep(Duration::from_millis(1000).saturating_sub(paused_at.elapsed())).await;
    let read = command(&addr, &["GET", &key]).await;
    for &n in &followers {
        c.signal(n, "CONT");
    }
    assert!(
        read.as_ref().is_err_and(|e| e.starts_with("CLUSTERDOWN")),
        "a leader without a quorum for longer than its lease answered a read: {read:?}"
    );

    let conn = c.cluster_client().await;
    let back = wait_until(Duration::from_secs(20), || {
        let (mut conn, key) = (conn.clone(), key.clone());
        async move {
            conn.get::<_, Option<String>>(key)
                .await
                .is_ok_and(|v| v.as_deref() == Some("v1"))
        }
    })
    .await;
    assert!(back, "reads did not resume once the followers did");
}
