//! The data model through a real three-node cluster: each command family through the cluster
//! client, and transactions (MULTI/EXEC/WATCH) on the slot's leader.

use redis::AsyncCommands;
use redis::Value;

use std::time::Duration;

use crate::harness::{Cluster, command, keys_for_all_slots, leader_counter, raw_exchange};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_family_through_the_cluster_client() {
    let c = Cluster::three("").await;
    let mut conn = c.cluster_client().await;

    // Strings
    let _: () = conn.set("s:a", "hello").await.unwrap();
    let old: String = conn.getset("s:a", "world").await.unwrap();
    assert_eq!(old, "hello");
    let r: String = conn.getrange("s:a", 1, 3).await.unwrap();
    assert_eq!(r, "orl");
    let f: f64 = conn.incr("s:f", 1.5f64).await.unwrap();
    assert_eq!(f, 1.5);
    let set: bool = conn.set_nx("s:a", "x").await.unwrap();
    assert!(!set);
    let _: () = conn.setbit("s:b", 7, true).await.unwrap();
    let bits: usize = conn.bitcount("s:b").await.unwrap();
    assert_eq!(bits, 1);
    let v: Option<String> = conn.get_del("s:a").await.unwrap();
    assert_eq!(v.as_deref(), Some("world"));

    // Keys
    let _: () = conn.set("{k}1", "v").await.unwrap();
    let _: () = conn.rename("{k}1", "{k}2").await.unwrap();
    let n: usize = conn.exists("{k}1").await.unwrap();
    assert_eq!(n, 0);
    let _: () = conn.expire("{k}2", 100).await.unwrap();
    let t: String = conn.key_type("{k}2").await.unwrap();
    assert_eq!(t, "string");
    let ttl: i64 = conn.ttl("{k}2").await.unwrap();
    assert!((99..=100).contains(&ttl), "{ttl}");
    let copied: bool = redis::cmd("COPY")
        .arg("{k}2")
        .arg("{k}3")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(copied);

    // Hashes
    let _: () = conn.hset_multiple("h", &[("a", "1"), ("b", "2")]).await.unwrap();
    let n: i64 = conn.hincr("h", "a", 10).await.unwrap();
    assert_eq!(n, 11);
    let mut keys: Vec<String> = conn.hkeys("h").await.unwrap();
    keys.sort();
    assert_eq!(keys, ["a", "b"]);
    let len: usize = redis::cmd("HSTRLEN")
        .arg("h")
        .arg("a")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(len, 2);

    // Lists
    let _: () = conn.rpush("l", &["a", "b", "c", "d"]).await.unwrap();
    let _: () = conn.ltrim("l", 1, -1).await.unwrap();
    let x: String = conn.lindex("l", 0).await.unwrap();
    assert_eq!(x, "b");
    let moved: String = redis::cmd("LMOVE")
        .arg("l")
        .arg("l")
        .arg("LEFT")
        .arg("RIGHT")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(moved, "b");
    let all: Vec<String> = conn.lrange("l", 0, -1).await.unwrap();
    assert_eq!(all, ["c", "d", "b"]);

    // Sets
    let _: () = conn.sadd("{s}1", &["a", "b", "c"]).await.unwrap();
    let _: () = conn.sadd("{s}2", &["b", "c", "d"]).await.unwrap();
    let mut inter: Vec<String> = conn.sinter(&["{s}1", "{s}2"]).await.unwrap();
    inter.sort();
    assert_eq!(inter, ["b", "c"]);
    let stored: usize = conn.sunionstore("{s}3", &["{s}1", "{s}2"]).await.unwrap();
    assert_eq!(stored, 4);
    let popped: String = conn.spop("{s}3").await.unwrap();
    let left: usize = conn.scard("{s}3").await.unwrap();
    assert_eq!(left, 3);
    let is: bool = conn.sismember("{s}3", &popped).await.unwrap();
    assert!(!is);

    // Sorted sets
    let _: () = conn
        .zadd_multiple("z", &[(1.0, "a"), (2.0, "b"), (3.0, "c")])
        .await
        .unwrap();
    let s: f64 = conn.zincr("z", "a", 2.5).await.unwrap();
    assert_eq!(s, 3.5);
    let range: Vec<(String, f64)> = conn.zrange_withscores("z", 0, -1).await.unwrap();
    assert_eq!(range, [("b".into(), 2.0), ("c".into(), 3.0), ("a".into(), 3.5)]);
    let rank: Option<usize> = conn.zrank("z", "a").await.unwrap();
    assert_eq!(rank, Some(2));
    let n: usize = conn.zcount("z", "(2", "+inf").await.unwrap();
    assert_eq!(n, 2);
    let popped: Vec<(String, f64)> = conn.zpopmin("z", 1).await.unwrap();
    assert_eq!(popped, [("b".into(), 2.0)]);

    // A multi-key command across slots is refused, as in Redis Cluster.
    let e = conn.sinter::<_, Vec<String>>(&["a", "b"]).await.unwrap_err();
    assert_eq!(e.code(), Some("CROSSSLOT"), "{e}");
}

/// Writes from many connections to one group are proposed together (group commit), and each
/// client still gets its own replies, in order: every client adds its own step to its own
/// counter, one command at a time or a pipeline at a time, and checks each running total.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_proposed_together_and_each_client_gets_its_replies() {
    let c = Cluster::three("").await;
    let addr = c.addr(c.leader_of_key("{gc}").await);
    let (proposals, writes) = (
        leader_counter(&addr, "proposals").await,
        leader_counter(&addr, "proposed_writes").await,
    );
    const CLIENTS: i64 = 40;
    const ROUNDS: i64 = 40;
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let mut conn = leader_conn(&c, "{gc}").await;
        tasks.push(tokio::spawn(async move {
            let key = format!("{{gc}}counter{client}");
            let step = client + 1;
            let (mut total, mut sent, mut requests) = (0, 0, 0);
            for round in 0..ROUNDS {
                requests += 1;
                if client % 4 == 0 && round % 2 == 0 {
                    // Three commands in one pipeline: proposed together, replies in order.
                    let mut pipe = redis::pipe();
                    pipe.incr(&key, step).incr(&key, step).incr(&key, step);
                    let got: Vec<i64> = pipe.query_async(&mut conn).await.unwrap();
                    assert_eq!(
                        got,
                        [total + step, total + 2 * step, total + 3 * step],
                        "client {client}"
                    );
                    total += 3 * step;
                    sent += 3;
                } else {
                    let got: i64 = conn.incr(&key, step).await.unwrap();
                    total += step;
                    sent += 1;
                    assert_eq!(got, total, "client {client}, round {round}");
                }
            }
            (key, total, sent, requests)
        }));
    }
    let mut conn = leader_conn(&c, "{gc}").await;
    let (mut sent, mut requests) = (0, 0);
    for task in tasks {
        let (key, total, n, r) = task.await.unwrap();
        requests += r;
        let stored: i64 = conn.get(&key).await.unwrap();
        assert_eq!(stored, total, "{key}");
        sent += n;
    }
    let proposals = leader_counter(&addr, "proposals").await - proposals;
    let writes = leader_counter(&addr, "proposed_writes").await - writes;
    println!("{proposals} proposals for {requests} requests ({writes} writes)");
    assert!(writes >= sent as u64, "{writes} writes proposed, {sent} sent");
    assert!(
        proposals < requests as u64,
        "{CLIENTS} clients writing at once should share proposals: {proposals} proposals for {requests} requests"
    );
}

/// A plain connection to the node leading `key`'s slot, as a cluster client uses for MULTI.
async fn leader_conn(c: &Cluster, key: &str) -> redis::aio::MultiplexedConnection {
    let leader = c.leader_of_key(key).await;
    crate::harness::plain_conn(&redis::Client::open(c.url(leader)).unwrap())
        .await
        .unwrap()
}

async fn q(conn: &mut redis::aio::MultiplexedConnection, args: &[&str]) -> redis::RedisResult<Value> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(conn).await
}

fn status(s: &str) -> Value {
    match s {
        "OK" => Value::Okay,
        _ => Value::SimpleString(s.into()),
    }
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_apply_atomically_and_honour_watch() {
    let c = Cluster::three("").await;
    let mut a = leader_conn(&c, "{t}x").await;
    let mut b = leader_conn(&c, "{t}x").await;

    // MULTI ... EXEC: queued, then every reply in order, node commands in their place, an
    // error in one command not stopping the others. Exact bytes, as Redis sends them.
    let leader = c.leader_of_slot(1, slotraft::slots::key_slot(b"{t}x")).await.unwrap();
    let (reply, _) = raw_exchange(
        &c.addr(leader),
        b"MULTI\r\nSET {t}x 1\r\nINCR {t}x\r\nPING\r\nLPUSH {t}x v\r\nGET {t}x\r\nEXEC\r\n",
        Duration::from_millis(500),
    )
    .await;
    let want = "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n\
                *5\r\n+OK\r\n:2\r\n+PONG\r\n\
                -WRONGTYPE Operation against a key holding the wrong kind of value\r\n$1\r\n2\r\n";
    assert_eq!(String::from_utf8_lossy(&reply), want);

    // WATCH: a change by another client between WATCH and EXEC aborts (null reply).
    assert_eq!(q(&mut a, &["WATCH", "{t}x"]).await.unwrap(), status("OK"));
    assert_eq!(q(&mut b, &["SET", "{t}x", "5"]).await.unwrap(), status("OK"));
    q(&mut a, &["MULTI"]).await.unwrap();
    q(&mut a, &["SET", "{t}x", "9"]).await.unwrap();
    assert_eq!(q(&mut a, &["EXEC"]).await.unwrap(), Value::Nil);
    assert_eq!(q(&mut b, &["GET", "{t}x"]).await.unwrap(), bulk("5"));
    // ... and the watch ended with that EXEC; an untouched watched key lets EXEC run.
    q(&mut a, &["WATCH", "{t}x", "{t}missing"]).await.unwrap();
    q(&mut a, &["MULTI"]).await.unwrap();
    q(&mut a, &["INCR", "{t}x"]).await.unwrap();
    assert_eq!(q(&mut a, &["EXEC"]).await.unwrap(), Value::Array(vec![Value::Int(6)]));

    // Errors while queueing doom the transaction; nothing of it runs.
    q(&mut a, &["MULTI"]).await.unwrap();
    q(&mut a, &["SET", "{t}y", "1"]).await.unwrap();
    assert!(q(&mut a, &["SET", "{t}y"]).await.is_err());
    let e = q(&mut a, &["EXEC"]).await.unwrap_err();
    assert_eq!(e.code(), Some("EXECABORT"), "{e}");
    assert_eq!(q(&mut a, &["EXISTS", "{t}y"]).await.unwrap(), Value::Int(0));

    // Keys of two slots in one transaction: CROSSSLOT at EXEC (both slots led here).
    let slot = slotraft::slots::key_slot(b"{t}x");
    let keys = keys_for_all_slots("cross");
    let neighbour = if slot == 0 { slot + 1 } else { slot - 1 };
    let (k1, k2) = (&keys[slot as usize], &keys[neighbour as usize]);
    q(&mut a, &["MULTI"]).await.unwrap();
    q(&mut a, &["SET", k1, "1"]).await.unwrap();
    q(&mut a, &["SET", k2, "1"]).await.unwrap();
    let e = q(&mut a, &["EXEC"]).await.unwrap_err();
    assert_eq!(e.code(), Some("CROSSSLOT"), "{e}");

    // The protocol errors Redis gives.
    for (cmd, want) in [
        (&["EXEC"][..], "EXEC without MULTI"),
        (&["DISCARD"], "DISCARD without MULTI"),
    ] {
        let e = q(&mut a, cmd).await.unwrap_err();
        assert!(e.to_string().contains(want), "{e}");
    }
    q(&mut a, &["MULTI"]).await.unwrap();
    let e = q(&mut a, &["MULTI"]).await.unwrap_err();
    assert!(e.to_string().contains("MULTI calls can not be nested"), "{e}");
    let e = q(&mut a, &["WATCH", "{t}x"]).await.unwrap_err();
    assert!(e.to_string().contains("WATCH inside MULTI is not allowed"), "{e}");
    assert_eq!(q(&mut a, &["DISCARD"]).await.unwrap(), status("OK"));

    // A transaction sent to a node that does not lead the slot is redirected while queueing.
    let leader = c.leader_of_slot(1, slot).await.unwrap();
    let other = c.running().into_iter().find(|&id| id != leader).unwrap();
    let mut o = crate::harness::plain_conn(&redis::Client::open(c.url(other)).unwrap())
        .await
        .unwrap();
    q(&mut o, &["MULTI"]).await.unwrap();
    let e = q(&mut o, &["SET", "{t}x", "1"]).await.unwrap_err();
    assert_eq!(e.code(), Some("MOVED"), "{e}");
    assert_eq!(q(&mut o, &["EXEC"]).await.unwrap_err().code(), Some("EXECABORT"));
    assert_eq!(command(&c.addr(leader), &["GET", "{t}x"]).await.unwrap(), "6");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_commands_cover_the_groups_each_node_leads() {
    let c = Cluster::three("").await;
    let mut conn = c.cluster_client().await;
    let keys: Vec<String> = keys_for_all_slots("ks").into_iter().step_by(41).collect();
    for k in &keys {
        let _: () = conn.set(k, 1).await.unwrap();
    }
    let _: () = conn.sadd("ks:set", "m").await.unwrap();
    // Like Redis Cluster masters: each node answers for its own slots; together, every key once.
    let mut from_keys = Vec::new();
    let mut from_scan = Vec::new();
    for id in c.running() {
        let mut node = crate::harness::plain_conn(&redis::Client::open(c.url(id)).unwrap())
            .await
            .unwrap();
        let k: Vec<String> = redis::cmd("KEYS").arg("*").query_async(&mut node).await.unwrap();
        from_keys.extend(k);
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("COUNT")
                .arg(7)
                .query_async(&mut node)
                .await
                .unwrap();
            from_scan.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        let (_, sets): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(0)
            .arg("COUNT")
            .arg(100_000)
            .arg("TYPE")
            .arg("set")
            .query_async(&mut node)
            .await
            .unwrap();
        assert!(sets.iter().all(|k| k == "ks:set"), "{sets:?}");
        let random: Option<String> = redis::cmd("RANDOMKEY").query_async(&mut node).await.unwrap();
        assert!(random.is_some(), "node {id} leads a group with keys");
    }
    let mut want: Vec<String> = keys.clone();
    want.push("ks:set".into());
    want.sort();
    from_keys.sort();
    from_scan.sort();
    assert_eq!(from_keys, want);
    assert_eq!(from_scan, want);

    // FLUSHALL on every node empties the cluster, on every replica.
    for id in c.running() {
        assert_eq!(command(&c.addr(id), &["FLUSHALL"]).await.unwrap(), "OK");
    }
    let empty = crate::harness::wait_until(std::time::Duration::from_secs(10), || async {
        let mut all = true;
        for id in c.running() {
            let info = command(&c.addr(id), &["INFO", "raft"]).await.unwrap_or_default();
            all &= info
                .lines()
                .filter(|l| l.starts_with("group"))
                .all(|l| l.ends_with("keys=0"));
        }
        all
    })
    .await;
    assert!(empty, "FLUSHALL left keys on some replica");
    let e = command(&c.addr(1), &["FLUSHALL", "NOW"]).await.unwrap_err();
    assert!(e.contains("syntax error"), "{e}");
}

/// Active expiry, with no client touching the keys: 100,000 keys with a 1 s TTL leave every
/// replica (not only the leaders) within seconds of expiring.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_keys_leave_every_replica() {
    const KEYS: usize = 100_000;
    const PER_TX: usize = 100;
    let c = Cluster::three("").await;
    let mut leaders = std::collections::BTreeMap::new();
    for id in c.running() {
        let conn = crate::harness::plain_conn(&redis::Client::open(c.url(id)).unwrap())
            .await
            .unwrap();
        leaders.insert(id, conn);
    }
    let started = std::time::Instant::now();
    let mut writes = Vec::new();
    for t in 0..KEYS / PER_TX {
        let tag = format!("{{e{t}}}");
        let slot = slotraft::slots::key_slot(tag.as_bytes());
        let leader = c.leader_of_slot(1, slot).await.unwrap();
        let mut conn = leaders[&leader].clone();
        writes.push(tokio::spawn(async move {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for i in 0..PER_TX {
                pipe.cmd("SET")
                    .arg(format!("{tag}{i}"))
                    .arg(i)
                    .arg("PX")
                    .arg(1000)
                    .ignore();
            }
            let _: () = pipe.query_async(&mut conn).await.unwrap();
        }));
        if writes.len() >= 32 {
            for w in writes.drain(..) {
                w.await.unwrap();
            }
        }
    }
    for w in writes {
        w.await.unwrap();
    }
    let written = started.elapsed();
    let keys_left = |info: &str| -> u64 {
        info.lines()
            .filter(|l| l.starts_with("group"))
            .filter_map(|l| l.rsplit("keys=").next()?.parse::<u64>().ok())
            .sum()
    };
    let gone = crate::harness::wait_until(std::time::Duration::from_secs(60), || async {
        let mut left = 0;
        for id in c.running() {
            left += keys_left(&command(&c.addr(id), &["INFO", "raft"]).await.unwrap_or_default());
        }
        left == 0
    })
    .await;
    assert!(gone, "expired keys are still on some replica after a minute");
    println!(
        "{KEYS} keys with a 1 s TTL written in {} ms; gone from every replica {} ms after the last write",
        written.as_millis(),
        (started.elapsed() - written).as_millis()
    );
}

/// Reads from `s` until `want` has arrived (true) or `within` passes (false).
async fn read_until(s: &mut tokio::net::TcpStream, want: &[u8], within: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let end = tokio::time::Instant::now() + within;
    while !got.windows(want.len()).any(|w| w == want) {
        match tokio::time::timeout_at(end, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return false,
        }
    }
    true
}

/// PUBSUB NUMSUB of one channel on node `id`.
async fn numsub(c: &Cluster, id: u64, channel: &str) -> i64 {
    let mut conn = crate::harness::plain_conn(&redis::Client::open(c.url(id)).unwrap())
        .await
        .unwrap();
    let reply: Vec<(String, i64)> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(reply[0].0, channel);
    reply[0].1
}

async fn subscriber(addr: &str, command: &str, confirm: &[u8]) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("{command}\r\n").as_bytes()).await.unwrap();
    assert!(
        read_until(&mut s, confirm, Duration::from_secs(5)).await,
        "{command} on {addr}"
    );
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_reaches_every_node_and_cuts_off_slow_subscribers() {
    let c = Cluster::three("[cluster.limits]\npubsub_output_buffer_limit = 65536").await;
    // A subscriber on every node; PUBLISH on node 2 reaches all of them.
    let mut subs = Vec::new();
    for id in c.running() {
        subs.push(
            subscriber(
                &c.addr(id),
                "SUBSCRIBE news",
                b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n",
            )
            .await,
        );
    }
    let mut pattern = subscriber(&c.addr(3), "PSUBSCRIBE n*", b":1\r\n").await;
    assert_eq!(command(&c.addr(2), &["PUBLISH", "news", "hello"]).await.unwrap(), "1");
    for s in &mut subs {
        assert!(
            read_until(
                s,
                b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n",
                Duration::from_secs(5)
            )
            .await
        );
    }
    let pmessage = b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n";
    assert!(read_until(&mut pattern, pmessage, Duration::from_secs(5)).await);
    assert_eq!(numsub(&c, 1, "news").await, 1);

    // Shard channels: subscribed on a follower of the slot's group, published on the leader.
    let slot = slotraft::slots::key_slot(b"{sh}c");
    let leader = c.leader_of_slot(1, slot).await.unwrap();
    let follower = c.running().into_iter().find(|&id| id != leader).unwrap();
    let mut shard = subscriber(&c.addr(follower), "SSUBSCRIBE {sh}c", b":1\r\n").await;
    // As on Redis Cluster, any node of the shard takes SPUBLISH: here locally...
    assert_eq!(
        command(&c.addr(follower), &["SPUBLISH", "{sh}c", "a"]).await.unwrap(),
        "1"
    );
    assert!(
        read_until(
            &mut shard,
            b"$8\r\nsmessage\r\n$5\r\n{sh}c\r\n$1\r\na\r\n",
            Duration::from_secs(5)
        )
        .await
    );
    // ... and from the leader, which has no subscriber of its own, by fan-out to the members.
    assert_eq!(
        command(&c.addr(leader), &["SPUBLISH", "{sh}c", "hi"]).await.unwrap(),
        "0"
    );
    assert!(
        read_until(
            &mut shard,
            b"$8\r\nsmessage\r\n$5\r\n{sh}c\r\n$2\r\nhi\r\n",
            Duration::from_secs(5)
        )
        .await
    );

    // A subscriber that never reads is disconnected at the output-buffer limit; the node and
    // its other clients carry on.
    let slow = subscriber(&c.addr(1), "SUBSCRIBE flood", b":1\r\n").await;
    let mut publisher = crate::harness::plain_conn(&redis::Client::open(c.url(1)).unwrap())
        .await
        .unwrap();
    let payload = "x".repeat(8192);
    for _ in 0..40 {
        let mut pipe = redis::pipe();
        for _ in 0..100 {
            pipe.cmd("PUBLISH").arg("flood").arg(&payload).ignore();
        }
        let _: () = pipe.query_async(&mut publisher).await.unwrap();
    }
    // Drain what the kernel buffered; the server must have closed the connection (EOF).
    let mut slow = slow;
    let closed = {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 1 << 16];
        let end = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            match tokio::time::timeout_at(end, slow.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break true,
                Ok(Ok(_)) => {}
                Err(_) => break false,
            }
        }
    };
    assert!(closed, "a subscriber over its output buffer limit must be disconnected");
    assert_eq!(numsub(&c, 1, "flood").await, 0);
    assert_eq!(command(&c.addr(1), &["PING"]).await.unwrap(), "PONG");
}

fn blocked_clients(info: &str) -> usize {
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_pops_are_served_in_arrival_order() {
    let c = Cluster::three("").await;
    let slot = slotraft::slots::key_slot(b"{b}q");
    let leader = c.leader_of_slot(1, slot).await.unwrap();
    // Three clients block on the same list, one after the other.
    let mut waiting = Vec::new();
    for n in 1..=3 {
        let mut conn = leader_conn(&c, "{b}q").await;
        waiting.push(tokio::spawn(async move {
            let v: (String, String) = redis::cmd("BLPOP")
                .arg("{b}q")
                .arg(10)
                .query_async(&mut conn)
                .await
                .unwrap();
            v.1
        }));
        let addr = c.addr(leader);
        let blocked = crate::harness::wait_until(Duration::from_secs(5), || async {
            blocked_clients(&command(&addr, &["INFO", "clients"]).await.unwrap_or_default()) == n
        })
        .await;
        assert!(blocked, "client {n} should be blocked");
    }
    let mut pusher = leader_conn(&c, "{b}q").await;
    assert_eq!(
        q(&mut pusher, &["RPUSH", "{b}q", "1", "2", "3"]).await.unwrap(),
        Value::Int(3)
    );
    let mut got = Vec::new();
    for w in waiting {
        got.push(w.await.unwrap());
    }
    assert_eq!(got, ["1", "2", "3"], "served in the order they blocked");

    // A timeout answers null after the time; the other blocking forms and their reply shapes.
    let t = std::time::Instant::now();
    assert_eq!(q(&mut pusher, &["BRPOP", "{b}none", "0.3"]).await.unwrap(), Value::Nil);
    assert!(t.elapsed() >= Duration::from_millis(300));
    // BLMOVE must block on the empty source, and only the push may wake it. Push once the node
    // the popper is connected to shows it blocked: CLIENT LIST shows its BLMOVE (a blocking
    // command is shown while it waits) and INFO counts one blocked client (the popper,
    // registered as a waiter once it found the source empty).
    let popper_node = c.leader_of_key("{b}src").await;
    let popper_addr = c.addr(popper_node);
    let mut popper = crate::harness::plain_conn(&redis::Client::open(c.url(popper_node)).unwrap())
        .await
        .unwrap();
    let Value::Int(popper_id) = q(&mut popper, &["CLIENT", "ID"]).await.unwrap() else {
        panic!("CLIENT ID answers an integer")
    };
    let popper_id = popper_id.to_string();
    let info = command(&popper_addr, &["INFO", "clients"]).await.unwrap();
    assert_eq!(blocked_clients(&info), 0, "nobody blocked yet: {info}");
    let blmove =
        tokio::spawn(async move { q(&mut popper, &["BLMOVE", "{b}src", "{b}dst", "LEFT", "RIGHT", "10"]).await });
    let list_popper = ["CLIENT", "LIST", "ID", popper_id.as_str()];
    let seen = std::sync::Mutex::new(String::new());
    let blocked = crate::harness::wait_until(Duration::from_secs(5), || async {
        let line = command(&popper_addr, &list_popper).await.unwrap_or_default();
        let waiting = blocked_clients(&command(&popper_addr, &["INFO", "clients"]).await.unwrap_or_default());
        *seen.lock().unwrap() = format!("CLIENT LIST: {line:?}, blocked_clients: {waiting}");
        line.starts_with(&format!("id={popper_id} ")) && line.contains(" cmd=blmove ") && waiting == 1
    })
    .await;
    assert!(
        blocked,
        "BLMOVE on an empty list should block; last seen: {}",
        seen.lock().unwrap()
    );
    assert!(!blmove.is_finished(), "a blocked BLMOVE has not answered yet");
    q(&mut pusher, &["RPUSH", "{b}src", "moved"]).await.unwrap();
    assert_eq!(blmove.await.unwrap().unwrap(), bulk("moved"));
    let info = command(&popper_addr, &["INFO", "clients"]).await.unwrap();
    assert_eq!(blocked_clients(&info), 0, "the push served the blocked client: {info}");
    assert_eq!(
        q(&mut pusher, &["LRANGE", "{b}dst", "0", "-1"]).await.unwrap(),
        Value::Array(vec![bulk("moved")])
    );
    q(&mut pusher, &["ZADD", "{b}z", "2", "two", "1", "one"]).await.unwrap();
    assert_eq!(
        q(&mut pusher, &["BZPOPMAX", "{b}z", "1"]).await.unwrap(),
        Value::Array(vec![bulk("{b}z"), bulk("two"), bulk("2")])
    );
    // Inside MULTI a blocking pop does not block: it answers at once.
    let (reply, _) = raw_exchange(
        &c.addr(leader),
        b"MULTI\r\nBLPOP {b}empty 0\r\nEXEC\r\n",
        Duration::from_millis(500),
    )
    .await;
    assert_eq!(String::from_utf8_lossy(&reply), "+OK\r\n+QUEUED\r\n*1\r\n*-1\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp3_replies_are_typed() {
    let c = Cluster::one().await;
    let addr = c.addr(1);
    let (reply, _) = raw_exchange(
        &addr,
        b"HELLO 3\r\nHSET h f v\r\nHGETALL h\r\nSADD s x\r\nSMEMBERS s\r\nZADD z 1.5 m\r\nZSCORE z m\r\n\
          ZRANGE z 0 -1 WITHSCORES\r\nGET nokey\r\nMULTI\r\nZRANGE z 0 -1 WITHSCORES\r\nEXEC\r\n\
          SUBSCRIBE c\r\nPUBLISH c hi\r\n",
        Duration::from_millis(500),
    )
    .await;
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with('%'), "HELLO 3 answers a map: {text:?}");
    let after_hello = &text[text.find(":1\r\n").expect("HSET reply")..];
    let want = ":1\r\n%1\r\n$1\r\nf\r\n$1\r\nv\r\n:1\r\n~1\r\n$1\r\nx\r\n:1\r\n,1.5\r\n\
                *1\r\n*2\r\n$1\r\nm\r\n,1.5\r\n_\r\n+OK\r\n+QUEUED\r\n*1\r\n*1\r\n*2\r\n$1\r\nm\r\n,1.5\r\n>3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n:1\r\n\
                >3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n";
    assert_eq!(after_hello, want);
}

/// A client blocked in BLPOP gives up its place in the key's queue when it goes: hung up (the
/// node watches the socket of a blocked client), or killed with CLIENT KILL. Before, a hung-up
/// client's BLPOP ... 0 popped the next pushed element into the dead socket, and a killed one
/// stayed first in line so that the next BLPOP was never served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_client_that_leaves_gives_up_its_place() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let c = Cluster::three("").await;
    let key = "{gone}list";
    let leader = c.leader_of_key(key).await;
    let addr = c.addr(leader);
    let blocked_now = |n: usize| {
        let addr = addr.clone();
        async move {
            crate::harness::wait_until(Duration::from_secs(5), || async {
                blocked_clients(&command(&addr, &["INFO", "clients"]).await.unwrap_or_default()) == n
            })
            .await
        }
    };
    let blpop = format!("*3\r\n$5\r\nBLPOP\r\n${}\r\n{key}\r\n$1\r\n0\r\n", key.len());

    // Hung up while blocked: gone from the queue, and the next element stays in the list.
    let mut raw = tokio::net::TcpStream::connect(&addr).await.unwrap();
    raw.write_all(blpop.as_bytes()).await.unwrap();
    assert!(blocked_now(1).await, "BLPOP on an empty list blocks");
    drop(raw);
    assert!(blocked_now(0).await, "a client that hung up is no longer blocked");
    let mut pusher = leader_conn(&c, key).await;
    assert_eq!(q(&mut pusher, &["RPUSH", key, "kept"]).await.unwrap(), Value::Int(1));
    assert_eq!(
        q(&mut pusher, &["LLEN", key]).await.unwrap(),
        Value::Int(1),
        "nothing popped for the dead client"
    );
    assert_eq!(q(&mut pusher, &["DEL", key]).await.unwrap(), Value::Int(1));

    // Killed while blocked: the next client to block is served.
    let mut first = tokio::net::TcpStream::connect(&addr).await.unwrap();
    first.write_all(b"*2\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n").await.unwrap();
    let mut buf = [0u8; 64];
    let n = first.read(&mut buf).await.unwrap();
    let id = String::from_utf8_lossy(&buf[..n])
        .trim()
        .trim_start_matches(':')
        .to_string();
    first.write_all(blpop.as_bytes()).await.unwrap();
    assert!(blocked_now(1).await, "the first client blocks");
    assert_eq!(command(&addr, &["CLIENT", "KILL", "ID", &id]).await, Ok("1".into()));
    assert!(blocked_now(0).await, "a killed client is no longer blocked");
    let mut second = leader_conn(&c, key).await;
    let popped = tokio::spawn(async move { q(&mut second, &["BLPOP", key, "10"]).await });
    assert!(blocked_now(1).await, "the second client blocks");
    assert_eq!(q(&mut pusher, &["RPUSH", key, "served"]).await.unwrap(), Value::Int(1));
    let got = tokio::time::timeout(Duration::from_secs(5), popped).await;
    assert_eq!(
        got.expect("the second client is served at once").unwrap().unwrap(),
        Value::Array(vec![bulk(key), bulk("served")])
    );
    drop(first);
}
