//! A three-node cluster serving the cluster client in every slot, and the config checks.

use std::process::Command;
use std::time::Duration;

use futures::StreamExt;
use redis::AsyncCommands;

use crate::harness::{BIN, Cluster, GroupSpec, command, keys_for_all_slots, raw_exchange};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_client_writes_and_reads_every_slot() {
    let c = Cluster::three("").await;
    let conn = c.cluster_client().await;
    let keys = keys_for_all_slots("k");
    futures::stream::iter(keys.iter().enumerate())
        .for_each_concurrent(64, |(i, k)| {
            let mut conn = conn.clone();
            async move {
                let _: () = conn.set(k, format!("v{i}")).await.unwrap();
            }
        })
        .await;
    futures::stream::iter(keys.iter().enumerate())
        .for_each_concurrent(64, |(i, k)| {
            let mut conn = conn.clone();
            async move {
                let v: String = conn.get(k).await.unwrap();
                assert_eq!(v, format!("v{i}"), "key {k}");
            }
        })
        .await;
    // Each node counts the groups it leads; together they hold every key once.
    let mut total = 0;
    for id in c.running() {
        total += command(&c.addr(id), &["DBSIZE"])
            .await
            .unwrap()
            .parse::<usize>()
            .unwrap();
    }
    assert_eq!(total, keys.len());
    // A few of the other commands through the cluster client.
    let mut conn = conn.clone();
    let n: i64 = conn.incr("counter", 5).await.unwrap();
    assert_eq!(n, 5);
    let _: () = conn.rpush("list", &["a", "b", "c"]).await.unwrap();
    let l: Vec<String> = conn.lrange("list", 0, -1).await.unwrap();
    assert_eq!(l, ["a", "b", "c"]);
    let _: () = conn.hset("h", "f", "v").await.unwrap();
    let h: String = conn.hget("h", "f").await.unwrap();
    assert_eq!(h, "v");
}

/// Five nodes, ten groups of three replicas placed round the ring: every node hosts six
/// groups, leads two, and the cluster client reaches every slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_ten_groups() {
    let groups: Vec<GroupSpec> = (0..10u64)
        .map(|g| GroupSpec {
            members: (0..3).map(|k| (g + k) % 5 + 1).collect(),
            slots: vec![format!("{}-{}", g * 1638, if g == 9 { 16383 } else { g * 1638 + 1637 })],
        })
        .collect();
    let mut c = Cluster::configure(5, &groups, "");
    c.start_all();
    c.wait_ready().await;
    assert!(
        c.wait_balanced(2, Duration::from_secs(60)).await,
        "each node should lead two groups"
    );
    let conn = c.cluster_client().await;
    let keys: Vec<String> = keys_for_all_slots("five").into_iter().step_by(3).collect();
    futures::stream::iter(keys.iter().enumerate())
        .for_each_concurrent(64, |(i, k)| {
            let mut conn = conn.clone();
            async move {
                let _: () = conn.set(k, i).await.unwrap();
                let v: usize = conn.get(k).await.unwrap();
                assert_eq!(v, i, "key {k}");
            }
        })
        .await;
    // CLUSTER SLOTS: ten ranges, each with its leader and two replicas, after one single-slot
    // entry per leader (five) that names only the leader.
    let client = redis::Client::open(c.url(5)).unwrap();
    let mut plain = crate::harness::plain_conn(&client).await.unwrap();
    let slots: Vec<Vec<redis::Value>> = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query_async(&mut plain)
        .await
        .unwrap();
    assert_eq!(slots.len(), 15, "{slots:?}");
    assert!(slots[..5].iter().all(|r| r.len() == 2 + 1), "{slots:?}");
    assert!(slots[5..].iter().all(|r| r.len() == 2 + 3), "{slots:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_and_cluster_replies_follow_redis() {
    let c = Cluster::three("").await;
    // Every node answers MOVED to the same leader for a slot it does not lead.
    let leader = c.leader_of_slot(1, 12182).await.unwrap();
    let other = c.running().into_iter().find(|&id| id != leader).unwrap();
    let err = command(&c.addr(other), &["GET", "foo"]).await.unwrap_err();
    assert!(
        err.to_uppercase().contains("MOVED") && err.contains(&format!("12182 {}", c.addr(leader))),
        "{err}"
    );
    let err = command(&c.addr(leader), &["MSET", "a", "1", "b", "2"])
        .await
        .unwrap_err();
    assert!(err.contains("CROSSSLOT"), "{err}");
    assert_eq!(
        command(&c.addr(1), &["CLUSTER", "KEYSLOT", "{user1000}.following"])
            .await
            .unwrap(),
        "3443"
    );
    let id = command(&c.addr(2), &["CLUSTER", "MYID"]).await.unwrap();
    assert_eq!(id.len(), 40);
    let info = command(&c.addr(1), &["INFO"]).await.unwrap();
    for field in [
        "redis_version:",
        "cluster_enabled:1",
        "# Raft",
        "group1:state=",
        "# Keyspace",
    ] {
        assert!(info.contains(field), "INFO lacks {field}: {info}");
    }
    let cfg = command(&c.addr(1), &["CONFIG", "GET", "save"]).await.unwrap();
    assert!(cfg.contains("save"), "{cfg}");
    assert!(
        command(&c.addr(1), &["NOSUCH", "x"])
            .await
            .unwrap_err()
            .contains("unknown command")
    );
    assert!(
        command(&c.addr(1), &["GET"])
            .await
            .unwrap_err()
            .contains("wrong number of arguments")
    );
}

#[test]
fn bad_configs_are_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let cases = [
        (
            "[cluster]\n[[node]]\nid = 1\nresp = \"127.0.0.1:1\"\nrpc = \"127.0.0.1:2\"\n[[group]]\nid = 1\nmembers = [1]\nslots = [\"0-100\"]\n",
            "not owned",
        ),
        (
            "[cluster]\n[[node]]\nid = 1\nresp = \"127.0.0.1:1\"\nrpc = \"127.0.0.1:2\"\n[[group]]\nid = 1\nmembers = [1, 7]\nslots = [\"0-16383\"]\n",
            "unknown node 7",
        ),
        ("[cluster]\nfsync = 3\n", "fsync"),
    ];
    for (text, want) in cases {
        std::fs::write(&path, text).unwrap();
        let out = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&path)
            .args(["--node", "1"])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "expected {want:?} in {err:?}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err:?}");
    }
    let out = Command::new(BIN)
        .args(["serve", "--config", "/nonexistent.toml", "--node", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    for flags in [
        &["serve", "--config", "x.toml"][..],
        &["serve", "--bogus"],
        &["serve", "--config", "x", "--node", "abc"],
    ] {
        let out = Command::new(BIN).args(flags).output().unwrap();
        assert!(!out.status.success(), "{flags:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{flags:?}: one line: {err:?}");
    }
}

/// Splits a byte stream of replies into frames.
fn frames(mut bytes: &[u8]) -> Vec<slotraft::resp::frame::Frame> {
    let mut buf = bytes::BytesMut::from(std::mem::take(&mut bytes));
    let mut out = Vec::new();
    while let Ok(Some(f)) = slotraft::resp::parse::parse_frame(&mut buf) {
        out.push(f);
    }
    assert!(buf.is_empty(), "trailing bytes: {buf:?}");
    out
}

fn req(args: &[&str]) -> String {
    let mut s = format!("*{}\r\n", args.len());
    for a in args {
        s.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s
}

// A connection's pipelined writes are proposed together but must take effect, and be answered,
// in the order they were sent; reads after writes see them; a malformed request after a batch
// still gets the batch's replies first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_commands_take_effect_and_reply_in_order() {
    use slotraft::resp::frame::Frame;
    let c = Cluster::three("").await;
    let addr = c.addr(c.leader_of_key("{p}").await);
    let mut pipeline = String::new();
    for i in 0..200 {
        pipeline.push_str(&req(&["RPUSH", "{p}list", &i.to_string()]));
    }
    pipeline.push_str(&req(&["LRANGE", "{p}list", "0", "-1"]));
    pipeline.push_str(&req(&["SET", "{p}s", "a"]));
    for _ in 0..50 {
        pipeline.push_str(&req(&["APPEND", "{p}s", "b"]));
    }
    pipeline.push_str(&req(&["GET", "{p}s"]));
    for _ in 0..100 {
        pipeline.push_str(&req(&["INCR", "{p}n"]));
        pipeline.push_str(&req(&["GET", "{p}n"]));
    }
    let (out, _) = raw_exchange(&addr, pipeline.as_bytes(), Duration::from_secs(3)).await;
    let replies = frames(&out);
    assert_eq!(replies.len(), 200 + 1 + 1 + 50 + 1 + 200);
    for (i, r) in replies[..200].iter().enumerate() {
        assert_eq!(r, &Frame::Integer(i as i64 + 1));
    }
    let expected: Vec<Frame> = (0..200).map(|i| Frame::Bulk(i.to_string().into())).collect();
    assert_eq!(replies[200], Frame::Array(expected));
    assert_eq!(replies[201], Frame::Simple("OK".into()));
    for (i, r) in replies[202..252].iter().enumerate() {
        assert_eq!(r, &Frame::Integer(i as i64 + 2));
    }
    assert_eq!(replies[252], Frame::Bulk(format!("a{}", "b".repeat(50)).into()));
    for (i, pair) in replies[253..].chunks(2).enumerate() {
        assert_eq!(pair[0], Frame::Integer(i as i64 + 1));
        assert_eq!(pair[1], Frame::Bulk((i + 1).to_string().into()));
    }

    let mut broken = String::new();
    for i in 0..20 {
        broken.push_str(&req(&["SET", &format!("{{p}}k{i}"), "v"]));
    }
    broken.push_str("*1\r\n$x\r\n");
    let (out, closed) = raw_exchange(&addr, broken.as_bytes(), Duration::from_secs(3)).await;
    let replies = frames(&out);
    assert!(closed, "the connection is closed after a protocol error");
    assert_eq!(replies.len(), 21, "{replies:?}");
    assert!(replies[..20].iter().all(|r| r == &Frame::Simple("OK".into())));
    assert!(
        matches!(&replies[20], Frame::Error(e) if e.starts_with("ERR Protocol error")),
        "{:?}",
        replies[20]
    );
    assert_eq!(command(&addr, &["GET", "{p}k19"]).await.unwrap(), "v");
}
