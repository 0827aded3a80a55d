//! redis-cli -c and redis-benchmark --cluster against a cluster run by scripts/cluster.sh.

use std::process::Command;

use crate::harness::{BIN, Cluster, even_groups};

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Stops the nodes `cluster.sh up` started, also when the test fails half-way (they are not
/// children of the test, so the harness cannot kill them).
struct StopOnDrop<'a>(&'a Cluster);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/cluster.sh"))
            .arg("down")
            .env("SLOTRAFT_CONFIG", &self.0.config)
            .env("SLOTRAFT_RUN_DIR", self.0.dir.path().join("run"))
            .env("SLOTRAFT_BIN", BIN)
            .output();
    }
}

fn script(c: &Cluster, args: &[&str]) -> String {
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/cluster.sh"))
        .args(args)
        .env("SLOTRAFT_CONFIG", &c.config)
        .env("SLOTRAFT_RUN_DIR", c.dir.path().join("run"))
        .env("SLOTRAFT_BIN", BIN)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "cluster.sh {args:?} failed: {text}");
    text
}

#[test]
fn redis_cli_and_benchmark_against_cluster_sh() {
    // Missing tools fail the test rather than skip it: a skip would pass without testing
    // anything, here and in CI alike.
    let missing: Vec<&str> = ["redis-cli", "redis-benchmark"]
        .into_iter()
        .filter(|t| !have(t))
        .collect();
    assert!(
        missing.is_empty(),
        "{} not installed: run scripts/setup.sh --test (it installs redis-tools), then run the tests again",
        missing.join(" and ")
    );
    let c = Cluster::configure(3, &even_groups(3, &[1, 2, 3]), "");
    let _stop = StopOnDrop(&c);
    let up = script(&c, &["up"]);
    assert!(up.contains("cluster is up"), "{up}");
    let port = c.resp[&1].to_string();
    let cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(["-c", "-p", &port])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    for i in 0..60 {
        let key = format!("cli-key-{i}");
        assert_eq!(cli(&["SET", &key, &format!("v{i}")]), "OK");
        assert_eq!(cli(&["GET", &key]), format!("v{i}"));
    }
    let out = Command::new("redis-benchmark")
        .args([
            "--cluster",
            "-p",
            &port,
            "-t",
            "set,get",
            "-n",
            "20000",
            "-c",
            "20",
            "-q",
        ])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "redis-benchmark failed: {text}");
    assert!(text.contains("SET:") && text.contains("GET:"), "{text}");
    assert!(!text.to_lowercase().contains("error"), "{text}");
    let figures: Vec<&str> = text
        .split(['\r', '\n'])
        .filter(|l| l.contains("requests per second"))
        .collect();
    println!("redis-benchmark --cluster -n 20000 -c 20: {}", figures.join("; "));

    let status = script(&c, &["status"]);
    assert_eq!(status.matches("running").count(), 3, "{status}");
    script(&c, &["kill", "2"]);
    assert!(script(&c, &["status"]).contains("node 2: stopped"));
    script(&c, &["start", "2"]);
    assert_eq!(cli(&["GET", "cli-key-7"]), "v7");
    script(&c, &["down"]);
    assert_eq!(script(&c, &["status"]).matches("stopped").count(), 3);
}
