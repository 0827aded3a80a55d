//! Replicas provably identical: a random mix of every command family through the cluster
//! client, with a node killed and restarted in the middle. Afterwards every replica of every
//! group reports the same digest at the same applied index (DEBUG DIGEST), and so does a node
//! rebuilt from its snapshot and log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::harness::{Cluster, even_groups, wait_until};

/// group → (applied index, digest) as node `id` reports them.
async fn digests(c: &Cluster, id: u64) -> Option<BTreeMap<u64, (u64, String)>> {
    let client = redis::Client::open(c.url(id)).ok()?;
    let mut conn = crate::harness::plain_conn(&client).await.ok()?;
    let lines: Vec<String> = redis::cmd("DEBUG").arg("DIGEST").query_async(&mut conn).await.ok()?;
    lines
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            Some((f[0].parse().ok()?, (f[1].parse().ok()?, f[2].to_string())))
        })
        .collect()
}

/// Waits (up to a deadline) until every node of the cluster runs, hosts every one of the
/// `groups` groups, and, group by group, all replicas report the same applied index; then
/// asserts that, for every group, all replicas report the same digest at that index. Two
/// replicas seen at the same index with different digests fail at once.
pub async fn wait_identical(c: &Cluster, groups: u64) -> BTreeMap<u64, (u64, String)> {
    let nodes = c.running();
    assert_eq!(
        nodes.len(),
        c.resp.len(),
        "every replica must be running to be compared"
    );
    let last = parking_lot::Mutex::new(String::new());
    let agreed = parking_lot::Mutex::new(BTreeMap::new());
    let ok = wait_until(Duration::from_secs(60), || async {
        // group → node → (applied index, digest)
        let mut by_group: BTreeMap<u64, BTreeMap<u64, (u64, String)>> = BTreeMap::new();
        for &id in &nodes {
            let Some(d) = digests(c, id).await else {
                *last.lock() = format!("node {id} did not answer DEBUG DIGEST");
                return false;
            };
            if !d.keys().copied().eq(1..=groups) {
                *last.lock() = format!("node {id} reports groups {:?}, not 1..={groups}", d.keys());
                return false;
            }
            for (group, at) in d {
                by_group.entry(group).or_default().insert(id, at);
            }
        }
        let mut seen = BTreeMap::new();
        for (group, replicas) in &by_group {
            let (first_id, (index, digest)) = replicas.first_key_value().unwrap();
            if replicas.values().any(|(i, _)| i != index) {
                *last.lock() = format!("group {group}: replicas at different applied indexes {replicas:?}");
                return false;
            }
            for (id, (_, d)) in replicas {
                assert_eq!(
                    d, digest,
                    "group {group} at index {index}: node {first_id} and node {id} hold different data"
                );
            }
            seen.insert(*group, (*index, digest.clone()));
        }
        *agreed.lock() = seen;
        true
    })
    .await;
    assert!(
        ok,
        "replicas did not all report every group at one applied index within 60 s; last check: {}",
        last.lock()
    );
    let agreed = agreed.into_inner();
    assert_eq!(agreed.len() as u64, groups, "{agreed:?}");
    agreed
}

/// Waits until no key of any group has a deadline left (INFO keyspace's `expires`, summed over
/// the leaders): from then on active expiry proposes nothing, and the replicated state only
/// changes if a client writes.
async fn wait_no_deadlines(c: &Cluster) {
    let last = parking_lot::Mutex::new(String::new());
    let ok = wait_until(Duration::from_secs(60), || async {
        for id in c.running() {
            let Ok(info) = crate::harness::command(&c.addr(id), &["INFO", "keyspace"]).await else {
                return false;
            };
            let expires = info
                .lines()
                .filter_map(|l| l.strip_prefix("db0:"))
                .flat_map(|l| l.split(','))
                .filter_map(|kv| kv.strip_prefix("expires=")?.parse::<u64>().ok())
                .sum::<u64>();
            if expires > 0 {
                *last.lock() = format!("node {id}: {info}");
                return false;
            }
        }
        true
    })
    .await;
    assert!(ok, "keys with a deadline remain after 60 s: {}", last.lock());
}

/// One random command on one of a few hot keys of a hash tag (so multi-key commands stay in
/// one slot). Every family, both successful and failing forms (wrong types happen).
fn random_command(rng: &mut StdRng) -> redis::Cmd {
    let tag = rng.random_range(0..6);
    let op = rng.random_range(0..24);
    // Each family works on its own few keys (so values grow and random picks matter); one
    // command in ten uses any key, for WRONGTYPE and cross-type RENAME/DEL.
    let family = match op {
        0..=3 | 23 => "s",
        4..=6 => "h",
        7..=9 => "l",
        10..=12 | 20 | 22 => "S",
        13..=16 | 21 => "z",
        _ => "any",
    };
    let key = |rng: &mut StdRng| {
        let f = if family == "any" || rng.random_range(0..10) == 0 {
            ["s", "h", "l", "S", "z"][rng.random_range(0..5)]
        } else {
            family
        };
        format!("{{t{tag}}}{f}{}", rng.random_range(0..3))
    };
    let k = key(rng);
    let m = format!("m{}", rng.random_range(0..8));
    let n = rng.random_range(-5..50i64);
    let mut c;
    match op {
        0 => {
            c = redis::cmd("SET");
            c.arg(&k).arg(n);
        }
        1 => {
            c = redis::cmd("SET");
            c.arg(&k).arg(&m).arg("PX").arg(rng.random_range(50..1500));
        }
        2 => {
            c = redis::cmd("INCRBY");
            c.arg(&k).arg(n);
        }
        3 => {
            c = redis::cmd("APPEND");
            c.arg(&k).arg(&m);
        }
        4 => {
            c = redis::cmd("HSET");
            c.arg(&k).arg(&m).arg(n);
        }
        5 => {
            c = redis::cmd("HINCRBYFLOAT");
            c.arg(&k).arg(&m).arg("0.25");
        }
        6 => {
            c = redis::cmd("HDEL");
            c.arg(&k).arg(&m);
        }
        7 => {
            c = redis::cmd("LPUSH");
            c.arg(&k).arg(&m).arg(n);
        }
        8 => {
            c = redis::cmd("RPOP");
            c.arg(&k);
        }
        9 => {
            c = redis::cmd("LTRIM");
            c.arg(&k).arg(0).arg(rng.random_range(0..6));
        }
        10 => {
            c = redis::cmd("SADD");
            c.arg(&k).arg(&m);
        }
        11 => {
            c = redis::cmd("SPOP");
            c.arg(&k);
        }
        12 => {
            c = redis::cmd("SREM");
            c.arg(&k).arg(&m);
        }
        13 => {
            c = redis::cmd("ZADD");
            c.arg(&k).arg(n).arg(&m);
        }
        14 => {
            c = redis::cmd("ZINCRBY");
            c.arg(&k).arg("1.5").arg(&m);
        }
        15 => {
            c = redis::cmd("ZPOPMIN");
            c.arg(&k);
        }
        16 => {
            c = redis::cmd("ZREMRANGEBYRANK");
            c.arg(&k).arg(0).arg(0);
        }
        17 => {
            c = redis::cmd("DEL");
            c.arg(&k);
        }
        18 => {
            c = redis::cmd("PEXPIRE");
            c.arg(&k).arg(rng.random_range(50..2000));
        }
        19 => {
            c = redis::cmd("RENAME");
            c.arg(&k).arg(key(rng));
        }
        20 => {
            c = redis::cmd("SUNIONSTORE");
            c.arg(&k).arg(key(rng)).arg(key(rng));
        }
        21 => {
            c = redis::cmd("ZUNIONSTORE");
            c.arg(&k).arg(2).arg(key(rng)).arg(key(rng));
        }
        22 => {
            c = redis::cmd("SRANDMEMBER");
            c.arg(&k).arg(-3);
        }
        _ => {
            c = redis::cmd("SETRANGE");
            c.arg(&k).arg(rng.random_range(0..20)).arg(&m);
        }
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_mix_leaves_every_replica_identical() {
    const GROUPS: u64 = 3;
    let mut c = Cluster::configure(3, &even_groups(GROUPS, &[1, 2, 3]), "snapshot_every = 200");
    c.start_all();
    c.wait_ready().await;
    let conn = c.cluster_client().await;
    let done = Arc::new(AtomicUsize::new(0));
    const CLIENTS: u64 = 8;
    const OPS: usize = 500;
    let mut tasks = Vec::new();
    for w in 0..CLIENTS {
        let (mut conn, done) = (conn.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(0x5107_7af7 + w);
            for _ in 0..OPS {
                let cmd = random_command(&mut rng);
                // Errors are expected (wrong types, a crashed node): only the replicas'
                // agreement afterwards is under test.
                let _: redis::RedisResult<redis::Value> = cmd.query_async(&mut conn).await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let total = CLIENTS as usize * OPS;
    assert!(
        wait_until(Duration::from_secs(120), || async {
            done.load(Ordering::Relaxed) >= total / 3
        })
        .await
    );
    c.kill(2);
    assert!(
        wait_until(Duration::from_secs(120), || async {
            done.load(Ordering::Relaxed) >= total / 2
        })
        .await
    );
    c.start(2);
    for t in tasks {
        t.await.unwrap();
    }
    // Let every deadline run out and its deletion be applied, with each group led by its
    // preferred leader (so INFO keyspace on the leaders covers every group once): from then on
    // nothing but a client write may change a group's digest.
    c.wait_ready().await;
    assert!(
        c.wait_balanced(1, Duration::from_secs(60)).await,
        "each node should lead one group again"
    );
    wait_no_deadlines(&c).await;
    let before = wait_identical(&c, GROUPS).await;
    println!("after {total} random commands: {before:?}");
    // DEBUG RAFT-STATS shows, per group, how Raft batched that work.
    let stats = crate::harness::command(&c.addr(1), &["DEBUG", "RAFT-STATS"])
        .await
        .unwrap();
    for group in before.keys() {
        assert!(
            stats.contains(&format!("group {group}:\n")),
            "no group {group} in {stats}"
        );
    }
    assert!(
        stats.contains("append_batch") && stats.contains("ClientWrite"),
        "{stats}"
    );

    // A node rebuilt from its snapshot and the log after it reports the same state.
    c.kill(3);
    c.start(3);
    c.wait_ready().await;
    let after = wait_identical(&c, GROUPS).await;
    // Every group, whether or not its leader changed (a new leader's first entry moves the
    // applied index but not the data): the same data as before the restart.
    for (group, (index, digest)) in &before {
        let (i, d) = &after[group];
        assert!(i >= index, "group {group} went back from {index} to {i}");
        assert_eq!(
            d, digest,
            "group {group}: state changed across a restart (applied index {index} -> {i})"
        );
    }
    let info = crate::harness::command(&c.addr(3), &["INFO", "raft"]).await.unwrap();
    assert!(
        info.lines()
            .filter(|l| l.starts_with("group"))
            .all(|l| !l.contains("snapshot=0,")),
        "node 3 should have recovered from snapshots: {info}"
    );
}
