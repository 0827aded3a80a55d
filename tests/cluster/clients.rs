//! Connections as a Redis user sees them: CLIENT LIST / KILL / REPLY over every connection of
//! a node, CONFIG SET, and a blocked client sent on when its slot's leader changes.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{Cluster, command, raw_exchange, wait_until};

/// A raw RESP connection: inline commands in, raw reply bytes out.
pub struct Raw(TcpStream);

impl Raw {
    pub async fn connect(addr: &str) -> Raw {
        Raw(TcpStream::connect(addr).await.unwrap())
    }

    pub async fn send(&mut self, line: &str) {
        self.0.write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
    }

    /// Whatever arrives until the connection goes quiet for 300 ms; None once it is closed.
    pub async fn read(&mut self) -> Option<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match tokio::time::timeout(Duration::from_millis(300), self.0.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return (!out.is_empty()).then(|| String::from_utf8_lossy(&out).into()),
                Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
                Err(_) => return Some(String::from_utf8_lossy(&out).into()),
            }
        }
    }

    pub async fn ask(&mut self, line: &str) -> String {
        self.send(line).await;
        self.read().await.unwrap_or_default()
    }

    /// Waits up to `within` for the server to close the connection.
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let mut buf = [0u8; 8192];
        let end = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(end, self.0.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
                Err(_) => return false,
            }
        }
    }
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
}

/// Waits until the node at `addr` reports one blocked client.
async fn one_blocked(addr: &str) -> bool {
    wait_until(Duration::from_secs(5), || async {
        command(addr, &["INFO", "clients"])
            .await
            .unwrap_or_default()
            .contains("blocked_clients:1")
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_list_and_kill_cover_every_connection() {
    let c = Cluster::one().await;
    let addr = c.addr(1);
    let mut a = Raw::connect(&addr).await;
    assert_eq!(a.ask("CLIENT SETNAME alpha").await, "+OK\r\n");
    let mut b = Raw::connect(&addr).await;
    assert_eq!(b.ask("CLIENT SETNAME beta").await, "+OK\r\n");
    b.send("SUBSCRIBE news").await;
    assert!(b.read().await.unwrap().contains("subscribe"));
    let mut blocked = Raw::connect(&addr).await;
    assert_eq!(blocked.ask("CLIENT SETNAME gamma").await, "+OK\r\n");
    blocked.send("BLPOP nothing 0").await;
    assert!(one_blocked(&addr).await);

    // Every connection of the node, with what each did last.
    let list = command(&addr, &["CLIENT", "LIST"]).await.unwrap();
    let line = |name: &str| {
        list.lines()
            .find(|l| l.contains(&format!(" name={name} ")))
            .unwrap_or_else(|| panic!("{name} missing from {list}"))
            .to_string()
    };
    assert_eq!(field(&line("alpha"), "cmd"), "client|setname");
    assert_eq!(field(&line("alpha"), "laddr"), addr);
    assert_eq!(field(&line("beta"), "flags"), "P");
    assert_eq!(field(&line("beta"), "sub"), "1");
    assert_eq!(field(&line("gamma"), "cmd"), "blpop");
    let pubsub = command(&addr, &["CLIENT", "LIST", "TYPE", "pubsub"]).await.unwrap();
    assert_eq!(pubsub.lines().count(), 1, "{pubsub}");
    assert!(pubsub.contains(" name=beta "));
    let id = field(&line("alpha"), "id").to_string();
    let by_id = command(&addr, &["CLIENT", "LIST", "ID", &id]).await.unwrap();
    assert!(by_id.contains(" name=alpha ") && by_id.lines().count() == 1, "{by_id}");

    // KILL by ID ends the blocked BLPOP and closes its connection.
    let gamma = field(&line("gamma"), "id").to_string();
    assert_eq!(a.ask(&format!("CLIENT KILL ID {gamma}")).await, ":1\r\n");
    assert!(blocked.closed_within(Duration::from_secs(5)).await);
    // By address, old and new forms; by type; a client's own connection is skipped by default.
    let beta_addr = field(&line("beta"), "addr").to_string();
    assert_eq!(a.ask("CLIENT KILL 10.9.9.9:1").await, "-ERR No such client\r\n");
    assert_eq!(a.ask(&format!("CLIENT KILL {beta_addr}")).await, "+OK\r\n");
    assert!(b.closed_within(Duration::from_secs(5)).await);
    assert_eq!(a.ask("CLIENT KILL TYPE pubsub").await, ":0\r\n");
    assert_eq!(a.ask(&format!("CLIENT KILL ID {id}")).await, ":0\r\n");
    assert_eq!(
        a.ask("CLIENT KILL ID 0").await,
        "-ERR client-id should be greater than 0\r\n"
    );
    assert_eq!(a.ask("CLIENT KILL TYPE x").await, "-ERR Unknown client type 'x'\r\n");
    assert_eq!(a.ask("CLIENT KILL ID 1 SKIPME").await, "-ERR syntax error\r\n");
    // SKIPME no: the client gets its answer, then the connection is closed.
    a.send(&format!("CLIENT KILL ID {id} SKIPME no")).await;
    assert_eq!(a.read().await.as_deref(), Some(":1\r\n"));
    assert!(a.closed_within(Duration::from_secs(5)).await);

    // CLIENT REPLY: OFF silences, SKIP drops the next reply only.
    let (reply, _) = raw_exchange(
        &addr,
        b"CLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY ON\r\nCLIENT REPLY SKIP\r\nECHO skipped\r\nECHO shown\r\n",
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(String::from_utf8_lossy(&reply), "+OK\r\n$5\r\nshown\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_set_changes_what_the_node_does() {
    let c = Cluster::one().await;
    let addr = c.addr(1);
    let mut idle = Raw::connect(&addr).await;
    assert_eq!(idle.ask("PING").await, "+PONG\r\n");
    let mut subscriber = Raw::connect(&addr).await;
    subscriber.send("SUBSCRIBE quiet").await;
    assert!(subscriber.read().await.unwrap().contains("subscribe"));
    let mut blocked = Raw::connect(&addr).await;
    blocked.send("BLPOP waited 0").await;
    assert!(one_blocked(&addr).await);
    assert_eq!(command(&addr, &["CONFIG", "SET", "timeout", "1"]).await.unwrap(), "OK");
    let got = command(&addr, &["CONFIG", "GET", "timeout"]).await.unwrap();
    assert!(got.contains("\"timeout\"") && got.contains("\"1\""), "{got}");
    // An idle client is closed after the timeout; a subscriber is not, nor a blocked client
    // (as in Redis), which still gets its reply.
    assert!(idle.closed_within(Duration::from_secs(5)).await);
    assert!(!subscriber.closed_within(Duration::from_millis(1500)).await);
    assert_eq!(command(&addr, &["RPUSH", "waited", "v"]).await.unwrap(), "1");
    assert_eq!(
        blocked.read().await.as_deref(),
        Some("*2\r\n$6\r\nwaited\r\n$1\r\nv\r\n")
    );
    assert_eq!(command(&addr, &["CONFIG", "SET", "timeout", "0"]).await.unwrap(), "OK");

    // A smaller proto-max-bulk-len refuses a bigger argument on connections already open.
    let mut open = Raw::connect(&addr).await;
    assert_eq!(open.ask("PING").await, "+PONG\r\n");
    assert_eq!(
        command(&addr, &["CONFIG", "SET", "proto-max-bulk-len", "1mb"])
            .await
            .unwrap(),
        "OK"
    );
    // The length alone is refused (sending the body too would race the server's close).
    open.send(&format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}", 1024 * 1024 + 1))
        .await;
    assert_eq!(
        open.read().await.as_deref(),
        Some("-ERR Protocol error: invalid bulk length\r\n")
    );

    // Several at once are all or nothing; errors as Redis words them.
    let err = command(&addr, &["CONFIG", "SET", "timeout", "5", "port", "1"])
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config"
    );
    assert!(
        command(&addr, &["CONFIG", "GET", "timeout"])
            .await
            .unwrap()
            .contains("\"0\"")
    );
    let err = command(&addr, &["CONFIG", "SET", "nope", "1"]).await.unwrap_err();
    assert_eq!(err, "ERR Unknown option or number of arguments for CONFIG SET - 'nope'");
    let err = command(&addr, &["CONFIG", "SET", "timeout", "x"]).await.unwrap_err();
    assert_eq!(
        err,
        "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_client_is_moved_when_its_leader_loses_the_slot() {
    let c = Cluster::three("").await;
    let slot = slotraft::slots::key_slot(b"{mv}q");
    let leader = c.leader_of_slot(1, slot).await.unwrap();
    let other = c.running().into_iter().find(|&n| n != leader).unwrap();
    let mut blocked = Raw::connect(&c.addr(leader)).await;
    blocked.send("BLPOP {mv}q 0").await;
    let addr = c.addr(leader);
    assert!(one_blocked(&addr).await);
    // Pause the leader until the others elect another, then let it run again.
    c.signal(leader, "STOP");
    let moved = wait_until(Duration::from_secs(15), || async {
        c.leader_of_slot(other, slot).await.is_some_and(|l| l != leader)
    })
    .await;
    let new_leader = c.leader_of_slot(other, slot).await;
    c.signal(leader, "CONT");
    assert!(moved, "no new leader while node {leader} was paused");
    let mut reply = String::new();
    let end = tokio::time::Instant::now() + Duration::from_secs(10);
    while reply.is_empty() && tokio::time::Instant::now() < end {
        reply = blocked.read().await.unwrap_or_default();
    }
    // To the leader elected during the pause (the balancer may hand the slot back to the
    // resumed node soon after, so the leader is read before it resumes).
    assert_eq!(
        reply,
        format!("-MOVED {slot} {}\r\n", c.addr(new_leader.unwrap())),
        "the blocked client should be sent to the new leader"
    );
}

/// maxclients is lowered to what the open files limit allows (`ulimit -n`), as Redis lowers it,
/// and CONFIG GET and INFO say the value in force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxclients_is_lowered_to_the_open_files_limit() {
    let mut c = Cluster::configure(1, &crate::harness::even_groups(1, &[1]), "");
    c.start_with_file_limit(1, slotraft::config::RESERVED_FDS + 144);
    c.wait_ready().await;
    let client = redis::Client::open(c.url(1)).unwrap();
    let mut conn = crate::harness::plain_conn(&client).await.unwrap();
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(got, ["maxclients", "144"]);
    let info = crate::harness::command(&c.addr(1), &["INFO", "clients"]).await.unwrap();
    assert!(info.contains("maxclients:144\r\n"), "{info}");
    assert!(c.log(1).contains("maxclients has been reduced to 144"), "{}", c.log(1));
}
