//! A node and its disk: a node whose storage fails stops with the reason (exit status 70) while
//! the others serve on, and below `min_free_disk` writes that may add data are refused with
//! `-MISCONF` until space is freed. Real filesystems: each test mounts a small tmpfs where the
//! node keeps its files, so it needs root (it says so and passes without).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::harness::{Cluster, command, even_groups, raw_exchange, wait_until};

/// A tmpfs of `size` (as mount's `size=` reads it) mounted at `dir` for one test, unmounted
/// when it ends.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts it, or `None` (the test then passes, saying why) when not root.
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: mounting a small tmpfs for the node's files needs root");
            return None;
        }
        std::fs::create_dir_all(dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "mount tmpfs at {}", dir.display());
        Some(Tmpfs { dir: dir.to_path_buf() })
    }

    fn free(&self) -> u64 {
        let s = rustix::fs::statvfs(&self.dir).unwrap();
        s.f_bavail * s.f_frsize
    }

    /// Writes zeros to `path` (on this filesystem) until `bytes` are written or the filesystem
    /// is full.
    fn fill(&self, path: &Path, bytes: u64) {
        use std::io::Write as _;
        let mut f = std::fs::File::create(path).unwrap();
        let chunk = vec![0u8; 1 << 20];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            if f.write_all(&chunk[..n]).is_err() {
                break;
            }
            left -= n as u64;
        }
        let _ = f.sync_all();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

/// A node process this test starts itself, to see how it exits (the harness keeps its own);
/// killed when the test ends, if still running.
struct OwnNode(Child);

impl OwnNode {
    /// Starts node `id` of `c` as the harness would, logging to the harness's log file.
    fn start(c: &Cluster, id: u64) -> OwnNode {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(c.dir.path().join(format!("node-{id}.log")))
            .unwrap();
        let child = Command::new(crate::harness::BIN)
            .args(["serve", "--config"])
            .arg(&c.config)
            .args(["--node", &id.to_string()])
            .env("RUST_LOG", "info,openraft=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        OwnNode(child)
    }

    /// Its exit status once it has exited within `within`.
    async fn exited(&mut self, within: Duration) -> Option<ExitStatus> {
        let mut status = None;
        wait_until(within, || {
            status = self.0.try_wait().unwrap();
            std::future::ready(status.is_some())
        })
        .await;
        status
    }
}

impl Drop for OwnNode {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_snapshot_cannot_be_written_exits_with_the_reason_and_the_others_serve_on() {
    // Snapshots after 200 writes; node 1 keeps its snapshots on a tmpfs of 4 MiB, its log on
    // the test's disk.
    let mut c = Cluster::configure(3, &even_groups(3, &[1, 2, 3]), "snapshot_every = 200");
    let Some(snapshots) = Tmpfs::mount(&c.data_dir(1).join("snapshots"), "4m") else {
        return;
    };
    c.start(2);
    c.start(3);
    let mut node1 = OwnNode::start(&c, 1);
    c.wait_ready().await;
    assert_eq!(command(&c.addr(1), &["PING"]).await.unwrap(), "PONG");
    snapshots.fill(&snapshots.dir.join("filler"), u64::MAX);
    assert_eq!(snapshots.free(), 0);

    // Every group applies 200 writes: node 1's replicas fail to write their snapshots.
    let mut conn = c.cluster_client().await;
    for i in 0..1200 {
        let _: redis::RedisResult<()> = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg("v")
            .query_async(&mut conn)
            .await;
    }
    let status = node1.exited(Duration::from_secs(30)).await;
    let log = c.log(1);
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(70),
        "node 1 should exit with status 70 once a snapshot cannot be written; its log:\n{}",
        crate::harness::tail(&log, 30)
    );
    assert!(
        log.contains("its Raft core stopped"),
        "{}",
        crate::harness::tail(&log, 30)
    );
    assert!(
        log.contains("No space left on device"),
        "{}",
        crate::harness::tail(&log, 30)
    );

    // Nodes 2 and 3 elect leaders without it and take writes in every group.
    c.wait_ready().await;
    let mut conn = c.cluster_client().await;
    for key in ["a", "b", "c", "d", "e", "f"] {
        let set: String = redis::cmd("SET")
            .arg(key)
            .arg("after")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(set, "OK");
        let got: String = redis::cmd("GET").arg(key).query_async(&mut conn).await.unwrap();
        assert_eq!(got, "after");
    }
    drop(node1);
    drop(snapshots);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_refused_below_min_free_disk_and_accepted_again_once_space_is_back() {
    const MIN_FREE: u64 = 16 << 20;
    // Declared first, so unmounted after the cluster's node is gone, also when the test fails.
    let disk;
    let mut c = Cluster::configure(1, &even_groups(1, &[1]), &format!("min_free_disk = {MIN_FREE}"));
    match Tmpfs::mount(&c.data_dir(1), "64m") {
        Some(d) => disk = d,
        None => return,
    }
    c.start_all();
    c.wait_ready().await;
    let addr = c.addr(1);
    assert_eq!(command(&addr, &["SET", "kept", "v"]).await.unwrap(), "OK");
    assert_eq!(command(&addr, &["SET", "dropped", "v"]).await.unwrap(), "OK");
    let info = command(&addr, &["INFO", "persistence"]).await.unwrap();
    assert!(info.contains("disk_writes_refused:0"), "{info}");

    // Leave half the watermark free.
    let filler = c.data_dir(1).join("filler");
    disk.fill(&filler, disk.free().saturating_sub(MIN_FREE / 2));
    let saw = wait_until(Duration::from_secs(10), || async {
        command(&addr, &["SET", "k", "v"])
            .await
            .is_err_and(|e| e.starts_with("MISCONF"))
    })
    .await;
    let refused = command(&addr, &["SET", "k", "v"]).await;
    assert!(saw, "SET below the watermark should get -MISCONF, got {refused:?}");
    let refused = refused.unwrap_err();
    let path = c.data_dir(1).display().to_string();
    assert!(
        refused.contains(&path) && refused.contains("16 MiB required"),
        "{refused}"
    );
    let info = command(&addr, &["INFO", "persistence"]).await.unwrap();
    assert!(info.contains("disk_writes_refused:1"), "{info}");

    // Reads are served, deletes run, a transaction that adds data is refused whole.
    assert_eq!(command(&addr, &["GET", "kept"]).await.unwrap(), "v");
    assert_eq!(command(&addr, &["DEL", "dropped"]).await.unwrap(), "1");
    assert!(
        command(&addr, &["APPEND", "kept", "more"])
            .await
            .unwrap_err()
            .starts_with("MISCONF")
    );
    let (reply, _) = raw_exchange(
        &addr,
        b"MULTI\r\nSET tx v\r\nEXEC\r\nGET tx\r\n",
        Duration::from_millis(500),
    )
    .await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("+OK\r\n+QUEUED\r\n-MISCONF "), "{reply}");
    assert!(reply.ends_with("$-1\r\n"), "{reply}");

    // Space back: writes are accepted again.
    std::fs::remove_file(&filler).unwrap();
    let back = wait_until(Duration::from_secs(10), || async {
        command(&addr, &["SET", "k", "v"]).await.is_ok()
    })
    .await;
    assert!(back, "SET once space is back should succeed");
    assert_eq!(command(&addr, &["GET", "k"]).await.unwrap(), "v");
    let info = command(&addr, &["INFO", "persistence"]).await.unwrap();
    assert!(info.contains("disk_writes_refused:0"), "{info}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_of_large_values_is_compacted_by_its_bytes() {
    // By writes alone no snapshot would come for a million of them; 1 MiB of log brings one.
    let mut c = Cluster::configure(
        1,
        &even_groups(1, &[1]),
        "snapshot_every = 1000000\nsnapshot_log_bytes = 1048576",
    );
    c.start_all();
    c.wait_ready().await;
    let addr = c.addr(1);
    let value = "x".repeat(100 * 1024);
    for i in 0..30 {
        assert_eq!(command(&addr, &["SET", &format!("k{i}"), &value]).await.unwrap(), "OK");
    }
    let field = |info: &str, name: &str| -> u64 {
        info.split([',', '\r', '\n'])
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
            .unwrap_or(0)
    };
    let compacted = wait_until(Duration::from_secs(10), || async {
        let info = command(&addr, &["INFO", "raft"]).await.unwrap_or_default();
        field(&info, "snapshot") > 0 && field(&info, "purged") > 0
    })
    .await;
    let info = command(&addr, &["INFO", "raft"]).await.unwrap();
    // Purged up to the snapshot, not 1,000 entries (100 MiB here) behind it.
    assert!(
        compacted,
        "30 values of 100 KiB should bring a snapshot and a purge: {info}"
    );
    assert!(field(&info, "purged") >= 10, "{info}");
}
