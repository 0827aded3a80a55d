//! Node-to-node authentication (`wire::handshake`): a stranger on a node's RPC port, without the
//! cluster secret, can do nothing there (vote, append, install a snapshot, forward a command,
//! publish, heartbeat, ask for a revert); a node holding another secret is refused by its
//! peers; a node without its secret file does not start.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use openraft::raft::{AppendEntriesRequest, VoteRequest};
use slotraft::raft::types::{SnapshotMeta, StoredMembership, TypeConfig, Vote};
use slotraft::wire::convert::encode;
use slotraft::wire::pb;
use slotraft::wire::pb::node_service_client::NodeServiceClient;
use slotraft::wire::pb::raft_service_client::RaftServiceClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::{Channel, Endpoint};

use crate::harness::{Cluster, bin, command, wait_until, write_secret};

/// A gRPC channel to `addr` as any stranger would open one: no handshake.
fn stranger(addr: &str) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .connect_lazy()
}

fn timed<T>(msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.set_timeout(Duration::from_secs(10));
    req
}

/// The call never reached the service: the connection failed under it (a status the service
/// answered with has no transport error behind it).
#[track_caller]
fn refused_by_transport<T: std::fmt::Debug>(what: &str, r: Result<tonic::Response<T>, tonic::Status>) {
    match r {
        Ok(reply) => panic!("{what}: the stranger was answered: {reply:?}"),
        Err(status) => assert!(
            std::error::Error::source(&status).is_some() || status.code() == tonic::Code::Unavailable,
            "{what}: the service answered the stranger (it should never have seen the request): {status:?}"
        ),
    }
}

/// (term, leader) of `group` on node `addr`, from INFO raft.
async fn term_and_leader(addr: &str, group: u64) -> (u64, String) {
    let info = command(addr, &["INFO", "raft"]).await.unwrap();
    let prefix = format!("group{group}:");
    let line = info
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in {info}"));
    let field = |name: &str| {
        line.split([':', ','])
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_default()
            .to_string()
    };
    (field("term").parse().unwrap(), field("leader"))
}

/// Every node's (term, leader) of every group.
async fn terms(c: &Cluster) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for id in c.running() {
        for g in 1..=3 {
            out.push(term_and_leader(&c.addr(id), g).await);
        }
    }
    out
}

/// The cluster still takes writes (and reads them back) on every group.
async fn writable(c: &Cluster, tag: &str) {
    use redis::AsyncCommands;
    let mut conn = c.cluster_client().await;
    for i in 0..30 {
        let key = format!("{tag}:{i}");
        let _: () = conn.set(&key, i).await.unwrap();
        let v: i64 = conn.get(&key).await.unwrap();
        assert_eq!(v, i);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_cannot_vote() {
    let c = Cluster::three("").await;
    let before = terms(&c).await;
    // The vote that would end a group for good: the highest term there is, with a log that
    // claims to be ahead of everyone's. Sent to every node, for every group.
    let vote = VoteRequest::<TypeConfig>::new(
        Vote::new(u64::MAX, 2),
        Some(openraft::testing::log_id::<TypeConfig>(u64::MAX, 2, u64::MAX)),
    );
    for id in 1..=3 {
        let mut client = RaftServiceClient::new(stranger(&c.rpc_addr(id)));
        for group in 1..=3 {
            let msg = pb::GroupMessage {
                group,
                payload: encode(&vote),
            };
            refused_by_transport("vote", client.vote(timed(msg.clone())).await);
            refused_by_transport("pre-vote", client.pre_vote(timed(msg)).await);
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(terms(&c).await, before, "no term moved, no leader changed");
    writable(&c, "vote").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_cannot_open_an_append_stream() {
    let c = Cluster::three("").await;
    let before = terms(&c).await;
    // An append stream (`wire::stream`) as a leader of a far later term would open it.
    let mut bytes = slotraft::wire::stream::MAGIC.to_vec();
    let hello = slotraft::wire::stream::Hello {
        version: slotraft::wire::stream::VERSION,
        group: 1,
    };
    slotraft::wire::stream::push_frame(&mut bytes, &hello);
    let append = AppendEntriesRequest::<TypeConfig> {
        vote: Vote::new_committed(1 << 40, 2),
        prev_log_id: None,
        leader_commit: None,
        entries: vec![],
    };
    slotraft::wire::stream::push_frame(&mut bytes, &append);
    for id in 1..=3 {
        let mut tcp = tokio::net::TcpStream::connect(c.rpc_addr(id)).await.unwrap();
        let _ = tcp.write_all(&bytes).await;
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "node {id} should close the stranger's connection");
        assert!(
            answer.is_empty(),
            "node {id} answered the stranger's append stream: {answer:?}"
        );
    }
    assert_eq!(terms(&c).await, before);
    writable(&c, "append").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_cannot_install_a_snapshot() {
    let mut c = Cluster::three("").await;
    let before = terms(&c).await;
    let meta = SnapshotMeta {
        last_log_id: Some(openraft::testing::log_id::<TypeConfig>(1 << 40, 2, 1 << 40)),
        last_membership: StoredMembership::default(),
    };
    let header = encode(&(Vote::new_committed(1 << 40, 2), meta));
    for id in 1..=3 {
        let chunk = pb::SnapshotChunk {
            group: 1,
            header: header.clone(),
            data: b"not a snapshot".to_vec(),
        };
        let mut client = RaftServiceClient::new(stranger(&c.rpc_addr(id)));
        let r = client.install_snapshot(tokio_stream::iter([chunk])).await;
        refused_by_transport("install snapshot", r);
    }
    assert_eq!(terms(&c).await, before);
    assert_eq!(c.exited(), vec![], "no node stopped");
    writable(&c, "snapshot").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_cannot_forward_a_command() {
    let c = Cluster::three("").await;
    let key = "forwarded";
    let leader = c.leader_of_key(key).await;
    assert_eq!(command(&c.addr(leader), &["SET", key, "original"]).await.unwrap(), "OK");
    let slot = slotraft::slots::key_slot(key.as_bytes());
    for id in 1..=3 {
        let mut client = NodeServiceClient::new(stranger(&c.rpc_addr(id)));
        for group in 1..=3 {
            for args in [vec!["SET", key, "changed"], vec!["FLUSHALL"], vec!["DEL", key]] {
                let msg = pb::ForwardRequest {
                    group,
                    args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
                };
                refused_by_transport("forward", client.forward(timed(msg)).await);
            }
        }
    }
    assert_eq!(
        command(&c.addr(leader), &["GET", key]).await.unwrap(),
        "original",
        "slot {slot}"
    );
    writable(&c, "forward").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_cannot_publish() {
    let c = Cluster::three("").await;
    let client = redis::Client::open(c.url(1)).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe("news").await.unwrap();
    for id in 1..=3 {
        let mut client = NodeServiceClient::new(stranger(&c.rpc_addr(id)));
        for (channel, sharded) in [("news", false), ("snews", true)] {
            let msg = pb::PublishRequest {
                channel: channel.into(),
                message: b"from a stranger".to_vec(),
                sharded,
            };
            refused_by_transport("publish", client.publish(timed(msg)).await);
        }
    }
    let mut messages = pubsub.on_message();
    let got = tokio::time::timeout(Duration::from_secs(1), futures::StreamExt::next(&mut messages)).await;
    assert!(got.is_err(), "a subscriber received a stranger's message: {got:?}");
    // The way in for members still works: a PUBLISH on another node reaches node 1's subscriber.
    command(&c.addr(2), &["PUBLISH", "news", "hello"]).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), futures::StreamExt::next(&mut messages))
        .await
        .expect("node 2's PUBLISH should reach node 1's subscriber")
        .unwrap();
    assert_eq!(got.get_payload_bytes(), b"hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_cannot_heartbeat_or_ask_for_a_revert() {
    let c = Cluster::three("").await;
    let before = terms(&c).await;
    let nodes_before = command(&c.addr(1), &["CLUSTER", "NODES"]).await.unwrap();
    for id in 1..=3 {
        let mut client = NodeServiceClient::new(stranger(&c.rpc_addr(id)));
        let other = id % 3 + 1;
        // A claim to lead every group in a far later term.
        let msg = pb::HeartbeatRequest {
            from: other,
            leads: (1..=3).map(|group| pb::LeaderClaim { group, term: 1 << 40 }).collect(),
        };
        refused_by_transport("heartbeat", client.heartbeat(timed(msg)).await);
        // A node that lost its data asking to be replicated from the beginning.
        let msg = pb::AllowRevertRequest {
            node: other,
            groups: vec![1, 2, 3],
        };
        refused_by_transport("allow revert", client.allow_revert(timed(msg)).await);
    }
    assert_eq!(terms(&c).await, before);
    let masters = |nodes: &str| {
        let mut m: Vec<String> = nodes
            .lines()
            .filter(|l| l.contains("master"))
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                format!("{} {}", f[1], f[8..].join(" "))
            })
            .collect();
        m.sort();
        m
    };
    let nodes_after = command(&c.addr(1), &["CLUSTER", "NODES"]).await.unwrap();
    assert_eq!(masters(&nodes_after), masters(&nodes_before), "the view did not move");
    writable(&c, "heartbeat").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_another_secret_is_refused_and_the_others_go_on() {
    let mut c = Cluster::three("").await;
    // Node 3 restarts on its data with the same cluster description beside a secret of its own.
    let elsewhere = c.dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let config = elsewhere.join("cluster.toml");
    let data = c.dir.path().join("data");
    let text = std::fs::read_to_string(&c.config).unwrap().replace(
        "data_dir = \"data\"",
        &format!("data_dir = {:?}", data.display().to_string()),
    );
    std::fs::write(&config, text).unwrap();
    write_secret(&elsewhere.join("cluster.secret"));
    c.kill(3);
    c.start_with_config(3, &config);

    // Nodes 1 and 2 are a majority of every group: they elect leaders and take writes.
    let ok = wait_until(Duration::from_secs(30), || async {
        for id in [1, 2] {
            match command(&c.addr(id), &["CLUSTER", "INFO"]).await {
                Ok(info) if info.contains("cluster_state:ok") => {}
                _ => return false,
            }
        }
        true
    })
    .await;
    assert!(ok, "nodes 1 and 2 should serve without node 3");
    for i in 0..20 {
        let key = format!("k{i}");
        let wrote = wait_until(Duration::from_secs(10), || async {
            let Some(leader) = c.leader_of_slot(1, slotraft::slots::key_slot(key.as_bytes())).await else {
                return false;
            };
            command(&c.addr(leader), &["SET", &key, "v"])
                .await
                .is_ok_and(|r| r == "OK")
        })
        .await;
        assert!(wrote, "a write of {key} on nodes 1 and 2");
    }
    // Node 3 took part in nothing: it leads nothing and was sent none of the new writes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for id in [1, 2] {
        for group in 1..=3 {
            let (_, leader) = term_and_leader(&c.addr(id), group).await;
            assert_ne!(leader, "3", "node 3 leads nothing");
        }
    }
    for i in 0..20 {
        let key = format!("k{i}");
        let request = format!("READONLY\r\nGET {key}\r\n");
        let (reply, _) = crate::harness::raw_exchange(&c.addr(3), request.as_bytes(), Duration::from_millis(500)).await;
        let reply = String::from_utf8_lossy(&reply);
        assert!(
            !reply.contains("$1\r\nv"),
            "node 3 has {key}, written after it came back: {reply:?}"
        );
    }
    // Both sides said why, at warn level.
    let refused = wait_until(Duration::from_secs(10), || async {
        let peers = [1, 2].iter().any(|&id| {
            let log = c.log(id);
            log.contains("WARN") && log.contains("node-to-node authentication failed")
        });
        let own = c.log(3).contains("node-to-node authentication with a peer failed");
        peers && own
    })
    .await;
    assert!(
        refused,
        "the refusal should be logged on both sides:\nnode 1:\n{}\nnode 3:\n{}",
        crate::harness::tail(&c.log(1), 10),
        crate::harness::tail(&c.log(3), 10)
    );
    // At most one line per source per 10 s, however often node 3 retries.
    let lines = c.log(1).matches("node-to-node authentication failed").count();
    assert!(
        lines <= 5,
        "node 1 logged {lines} refusals of one source within seconds"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_its_secret_refuses_to_start() {
    let c = Cluster::configure(1, &crate::harness::even_groups(1, &[1]), "");
    let secret = c.dir.path().join("cluster.secret");
    let start = |c: &Cluster| {
        let mut child = Command::new(bin())
            .args(["serve", "--config"])
            .arg(&c.config)
            .args(["--node", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let end = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break Some(s);
            }
            if Instant::now() >= end {
                child.kill().unwrap();
                child.wait().unwrap();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        (status, err)
    };
    std::fs::remove_file(&secret).unwrap();
    let (status, err) = start(&c);
    let status = status.unwrap_or_else(|| panic!("a node without its secret file started: {err}"));
    assert_eq!(status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err:?}");
    assert!(err.contains(&secret.display().to_string()), "names the file: {err:?}");

    std::fs::write(&secret, "too short\n").unwrap();
    let (status, err) = start(&c);
    let status = status.unwrap_or_else(|| panic!("a node with a short secret started: {err}"));
    assert_eq!(status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err:?}");
    assert!(
        err.contains(&secret.display().to_string()) && err.contains("holds 9 bytes"),
        "{err:?}"
    );
}
