//! Inputs that once stopped a group for good: each is answered as Redis answers it (or
//! refused with an error), every node stays up, also when it replays its log, the group stays
//! writable and its replicas hold the same data.

use std::time::Duration;

use redis::Value;

use crate::harness::{Cluster, plain_conn, raw_exchange};
use crate::replicas::wait_identical;

/// A connection to the leader of `key`'s slot.
async fn leader_conn(c: &Cluster, key: &str) -> redis::aio::MultiplexedConnection {
    let leader = c.leader_of_key(key).await;
    plain_conn(&redis::Client::open(c.url(leader)).unwrap()).await.unwrap()
}

async fn query(conn: &mut redis::aio::MultiplexedConnection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    match cmd.query_async::<Value>(conn).await {
        Ok(v) => v,
        Err(e) => Value::ServerError(redis::ServerError::try_from(e).expect("a server error, not a failed connection")),
    }
}

fn is_error(v: &Value, text: &str) -> bool {
    matches!(v, Value::ServerError(e) if format!("{} {}", e.code(), e.details().unwrap_or_default()).contains(text))
}

/// Every node still running, and a write to every group then read back.
async fn all_up_and_writable(c: &mut Cluster) {
    assert_eq!(c.exited(), Vec::new(), "no node may exit");
    let mut cluster = c.cluster_client().await;
    for key in ["{a}probe", "{b}probe", "{c}probe"] {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg("v")
            .query_async(&mut cluster)
            .await
            .unwrap();
        let got: String = redis::cmd("GET").arg(key).query_async(&mut cluster).await.unwrap();
        assert_eq!(got, "v");
    }
}

/// HRANDFIELD, SRANDMEMBER and ZRANDMEMBER with counts at and near i64's bounds, alone and in
/// MULTI (where two of three nodes once aborted, and again at every restart while replaying).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_picks_with_huge_counts_are_refused_and_stop_nothing() {
    let mut c = Cluster::three("").await;
    let mut conn = leader_conn(&c, "{p}h").await;
    query(&mut conn, &["HSET", "{p}h", "f", "v"]).await;
    query(&mut conn, &["SADD", "{p}s", "m"]).await;
    query(&mut conn, &["ZADD", "{p}z", "1", "m"]).await;

    let full = "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
    for (args, error) in [
        (
            vec!["HRANDFIELD", "{p}h", "-9223372036854775807"],
            "ERR value is out of range",
        ),
        (vec!["HRANDFIELD", "{p}h", "-9223372036854775808"], full),
        (
            vec!["HRANDFIELD", "{p}h", "-9223372036854775807", "WITHVALUES"],
            "ERR value is out of range",
        ),
        (
            vec!["HRANDFIELD", "{p}h", "-100000000000000"],
            "ERR value is out of range",
        ),
        (
            vec!["SRANDMEMBER", "{p}s", "-100000000000000"],
            "ERR value is out of range",
        ),
        (vec!["SRANDMEMBER", "{p}s", "-9223372036854775808"], full),
        (
            vec!["ZRANDMEMBER", "{p}z", "-100000000000000"],
            "ERR value is out of range",
        ),
        (
            vec!["ZRANDMEMBER", "{p}z", "-9223372036854775807", "WITHSCORES"],
            "ERR value is out of range",
        ),
    ] {
        let v = query(&mut conn, &args).await;
        assert!(is_error(&v, error), "{args:?}: {v:?}");
    }
    // A missing key answers its empty array first, as in Redis.
    assert_eq!(
        query(&mut conn, &["HRANDFIELD", "{p}none", "-100000000000000"]).await,
        Value::Array(vec![])
    );
    // A modest negative count repeats picks.
    match query(&mut conn, &["HRANDFIELD", "{p}h", "-5"]).await {
        Value::Array(v) => assert_eq!(v.len(), 5),
        other => panic!("HRANDFIELD -5: {other:?}"),
    }

    let leader = c.leader_of_key("{p}h").await;
    let multi = "MULTI\r\nHSET {p}h g w\r\nHRANDFIELD {p}h -100000000000000\r\n\
                 SRANDMEMBER {p}s -100000000000000\r\nZRANDMEMBER {p}z -9223372036854775807 WITHSCORES\r\n\
                 HLEN {p}h\r\nEXEC\r\n";
    let (reply, closed) = raw_exchange(&c.addr(leader), multi.as_bytes(), Duration::from_secs(2)).await;
    let out_of_range = "-ERR value is out of range\r\n";
    let expected = format!(
        "+OK\r\n{}*5\r\n:1\r\n{out_of_range}{out_of_range}{out_of_range}:2\r\n",
        "+QUEUED\r\n".repeat(5)
    );
    assert_eq!(
        String::from_utf8_lossy(&reply),
        expected,
        "a read in MULTI sees the write before it"
    );
    assert!(!closed);
    all_up_and_writable(&mut c).await;
    wait_identical(&c, 3).await;

    // Every node replays the transaction from its log at restart.
    c.kill_all();
    c.start_all();
    c.wait_ready().await;
    all_up_and_writable(&mut c).await;
    let mut conn = leader_conn(&c, "{p}h").await;
    assert_eq!(query(&mut conn, &["HLEN", "{p}h"]).await, Value::Int(2));
}

/// splitmix64's finalizer, as the sorted set's tree once drew its priorities from a counter.
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One ZADD whose scores rank the members as predictable priorities would: against a tree
/// with such priorities, a chain 100,000 deep (seconds per ZADD, then a stack overflow on
/// every replica). With secret random priorities it is an ordinary ZADD. Then SETBIT at the
/// end of a 64 MB string, and single-bit writes after it: each changes the string in place
/// instead of copying 64 MB on every replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chosen_members_and_big_strings_cost_what_ordinary_ones_do() {
    let mut c = Cluster::three("").await;
    let mut conn = leader_conn(&c, "{q}z").await;

    let n = 100_000usize;
    let prios: Vec<u64> = (1..=n as u64).map(mix64).collect();
    let mut by_prio: Vec<usize> = (0..n).collect();
    by_prio.sort_by_key(|&i| prios[i]);
    let mut rank = vec![0usize; n];
    for (r, &i) in by_prio.iter().enumerate() {
        rank[i] = r;
    }
    let mut zadd = redis::cmd("ZADD");
    zadd.arg("{q}z");
    for (i, r) in rank.iter().enumerate() {
        zadd.arg(*r).arg(format!("m{i}"));
    }
    let added: i64 = zadd.query_async(&mut conn).await.unwrap();
    assert_eq!(added, n as i64);
    assert_eq!(
        query(&mut conn, &["ZRANK", "{q}z", "m0"]).await,
        Value::Int(rank[0] as i64)
    );
    assert_eq!(query(&mut conn, &["ZCARD", "{q}z"]).await, Value::Int(n as i64));

    let cpu_before: Duration = c.running().iter().map(|&id| c.cpu_time(id)).sum();
    assert_eq!(
        query(&mut conn, &["SETBIT", "{q}bits", "536870911", "1"]).await,
        Value::Int(0)
    );
    let mut pipe = redis::pipe();
    for i in 0..300 {
        pipe.cmd("SETBIT").arg("{q}bits").arg(i * 8).arg(1);
    }
    let olds: Vec<i64> = pipe.query_async(&mut conn).await.unwrap();
    assert_eq!(olds, vec![0; 300]);
    assert_eq!(query(&mut conn, &["STRLEN", "{q}bits"]).await, Value::Int(64 << 20));
    assert_eq!(
        query(&mut conn, &["GETBIT", "{q}bits", "536870911"]).await,
        Value::Int(1)
    );
    assert_eq!(query(&mut conn, &["BITCOUNT", "{q}bits"]).await, Value::Int(301));
    assert_eq!(
        query(&mut conn, &["SETRANGE", "{q}bits", "1", "ab"]).await,
        Value::Int(64 << 20)
    );
    assert_eq!(
        query(&mut conn, &["GETRANGE", "{q}bits", "0", "3"]).await,
        Value::BulkString(b"\x80ab\x80".to_vec())
    );
    wait_identical(&c, 3).await;
    // Copying 64 MB per write cost each replica about 55 ms a write, 16 s of CPU for these 300
    // on each of three nodes; in place they cost next to nothing beyond the first 64 MB.
    let spent: Duration = c.running().iter().map(|&id| c.cpu_time(id)).sum::<Duration>() - cpu_before;
    assert!(
        spent < Duration::from_secs(12),
        "300 single-bit writes to a 64 MB string took {spent:?} of CPU"
    );
    all_up_and_writable(&mut c).await;
}

/// Large writes: a transaction too large for one log entry is refused before it is proposed,
/// and a follower that slept through a run of large entries catches up (the leader sends them
/// a few at a time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_entries_are_bounded_and_a_follower_behind_them_catches_up() {
    let mut c = Cluster::three("").await;
    let leader = c.leader_of_key("{big}").await;
    let sleeper = c.running().into_iter().find(|&id| id != leader).unwrap();
    let mut conn = leader_conn(&c, "{big}").await;

    let value = vec![b'x'; 110 << 20];
    assert_eq!(query(&mut conn, &["MULTI"]).await, Value::Okay);
    for i in 0..5 {
        let queued: String = redis::cmd("SET")
            .arg(format!("{{big}}{i}"))
            .arg(&value[..])
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(queued, "QUEUED");
    }
    let refused = query(&mut conn, &["EXEC"]).await;
    assert!(
        is_error(&refused, "ERR write too large to replicate"),
        "a 550 MB transaction: {refused:?}"
    );
    assert_eq!(
        query(&mut conn, &["EXISTS", "{big}0"]).await,
        Value::Int(0),
        "nothing of it applied"
    );

    // Entries of 8 MiB, an AppendEntries' budget each (the unit test replication_reads_stop_at_a_byte_budget
    // shows what one carries; more than a frame may hold would take 512 MiB here).
    let value = vec![b'y'; 8 << 20];
    c.signal(sleeper, "STOP");
    for i in 0..12 {
        let _: () = redis::cmd("SET")
            .arg(format!("{{big}}{i}"))
            .arg(&value[..])
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    c.signal(sleeper, "CONT");
    wait_identical(&c, 3).await;
    all_up_and_writable(&mut c).await;
}

/// `client-output-buffer-limit normal`: a reply over the hard limit closes its client, one left
/// unread over the soft limit for its seconds too; everyone else is served on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_over_their_output_buffer_limits_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = Cluster::one().await;
    let addr = c.addr(1);
    let mut conn = plain_conn(&redis::Client::open(c.url(1)).unwrap()).await.unwrap();
    let chunk = vec![b'z'; 8 << 20];
    for _ in 0..3 {
        let _: i64 = redis::cmd("RPUSH")
            .arg("{o}l")
            .arg(&chunk[..])
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let get = |v: Value| match v {
        Value::Map(m) => format!("{:?}", m[0].1),
        Value::Array(a) => format!("{:?}", a[1]),
        other => panic!("{other:?}"),
    };
    let default = get(query(&mut conn, &["CONFIG", "GET", "client-output-buffer-limit"]).await);
    assert!(default.contains("normal 1073741824 0 0"), "{default}");

    assert_eq!(
        query(
            &mut conn,
            &["CONFIG", "SET", "client-output-buffer-limit", "normal 16mb 0 0"]
        )
        .await,
        Value::Okay
    );
    let request = b"*4\r\n$6\r\nLRANGE\r\n$4\r\n{o}l\r\n$1\r\n0\r\n$2\r\n-1\r\n";
    let (reply, closed) = raw_exchange(&addr, request, Duration::from_secs(5)).await;
    assert!(
        closed && reply.is_empty(),
        "a 24 MB reply over a 16 MB hard limit: {} bytes, closed {closed}",
        reply.len()
    );

    assert_eq!(
        query(
            &mut conn,
            &["CONFIG", "SET", "client-output-buffer-limit", "normal 0 1mb 1"]
        )
        .await,
        Value::Okay
    );
    // Asks, reads nothing for a while, then finds the connection closed before the whole reply.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(request).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), idle.read_to_end(&mut got)).await;
    assert!(
        matches!(read, Ok(Ok(_)) | Ok(Err(_))),
        "the connection is closed, not left open"
    );
    assert!(
        got.len() < 3 * chunk.len(),
        "only part of the reply was sent: {} bytes",
        got.len()
    );
    // The limits are gone, the reply whole again; the first connection was served throughout.
    assert_eq!(
        query(
            &mut conn,
            &["CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0"]
        )
        .await,
        Value::Okay
    );
    let (reply, _) = raw_exchange(&addr, request, Duration::from_secs(2)).await;
    assert!(reply.len() > 3 * chunk.len(), "{} bytes", reply.len());
    assert!(is_error(
        &query(
            &mut conn,
            &["CONFIG", "SET", "client-output-buffer-limit", "pubsub 1 0 0"]
        )
        .await,
        "only the normal class"
    ));
    all_up_and_writable(&mut c).await;
}
