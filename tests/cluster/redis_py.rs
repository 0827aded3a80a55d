//! redis-py 8's RedisCluster against a real three-node cluster: the newest cluster clients
//! route keyless commands by COMMAND's tips (DBSIZE and KEYS to every primary, replies
//! summed or joined) and split commands over keys of several slots by their key
//! specifications. The checks are in redis_py_cluster.py beside this file.

use std::path::Path;
use std::process::Command;

use crate::harness::Cluster;

/// Where `scripts/setup.sh --test` installs redis-py 8.
const PYTHON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/redis-py8/bin/python");
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cluster/redis_py_cluster.py");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_py_8_cluster_client_routes_by_tips_and_key_specs() {
    // A missing client fails the test rather than skips it: a skip would pass without
    // testing anything, here and in CI alike.
    assert!(
        Path::new(PYTHON).exists(),
        "redis-py 8 is not installed at {PYTHON}: run scripts/setup.sh --test (it makes that virtualenv), then run the tests again"
    );
    let c = Cluster::three("").await;
    let port = c.resp[&1].to_string();
    let out = tokio::task::spawn_blocking(move || Command::new(PYTHON).args([SCRIPT, "127.0.0.1", &port]).output())
        .await
        .unwrap()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "redis-py 8 against the cluster:\n{text}");
    println!("{}", text.trim());
}
