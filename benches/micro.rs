//! Micro-benchmarks printed as figures (`cargo bench --bench micro`): the log engine alone
//! (entries appended with fsync, by one writer waiting for each, and by many at once as the
//! groups and clients of a node are), and the RESP parser alone (bytes of SET commands per
//! second), the disk alone (fdatasync after a small append, to a growing file and to blocks
//! written before), and one replica's state machine alone (batches of SETs applied, a snapshot
//! written). scripts/bench.sh runs this after the cluster figures; `cargo bench --bench micro
//! -- store` runs only the sections whose names are given (engine, disk, parser, store).

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use slotraft::raft::log_engine::{Durability, FsyncPolicy, LogEngine, Op};
use slotraft::resp::parse::{Limits, parse_command};
use slotraft::store::Store;

fn entry(writer: u64, i: u64) -> Op {
    let mut key = writer.to_be_bytes().to_vec();
    key.extend_from_slice(&i.to_be_bytes());
    // About a SET of a 100-byte value with its log-entry framing.
    Op::Put(key, vec![b'x'; 160])
}

/// Appends for `time` from `writers` concurrent writers, each waiting for its entry to be
/// durable before the next; returns entries per second and fsyncs per second.
async fn engine(writers: u64, time: Duration) -> (f64, f64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = LogEngine::open(dir.path(), FsyncPolicy::Always).expect("open the engine");
    let syncs_before = engine.stats.syncs.load(std::sync::atomic::Ordering::Relaxed);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while start.elapsed() < time {
                engine
                    .submit_and_wait(vec![entry(w, n)], Durability::Policy)
                    .await
                    .expect("append");
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("writer");
    }
    let secs = start.elapsed().as_secs_f64();
    let syncs = engine.stats.syncs.load(std::sync::atomic::Ordering::Relaxed) - syncs_before;
    (total as f64 / secs, syncs as f64 / secs)
}

/// fdatasyncs per second, each after writing 1 KiB: appended to a growing file (the
/// filesystem allocates blocks and journals the new size before the data is durable), or
/// over blocks written and synced before (only the data and a cache flush).
fn disk(prewritten: bool, time: Duration) -> std::io::Result<f64> {
    use std::io::{Seek, Write};
    const CHUNK: usize = 1024;
    const SPAN: usize = 64 << 20;
    let dir = tempfile::tempdir()?;
    let mut file = std::fs::File::create(dir.path().join("segment"))?;
    if prewritten {
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..SPAN >> 20 {
            file.write_all(&zeros)?;
        }
        file.sync_all()?;
        file.rewind()?;
    }
    let chunk = vec![b'x'; CHUNK];
    let (mut n, mut written) = (0u64, 0usize);
    let start = Instant::now();
    while start.elapsed() < time && written + CHUNK <= SPAN {
        file.write_all(&chunk)?;
        file.sync_data()?;
        written += CHUNK;
        n += 1;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

fn parser(time: Duration) -> (f64, f64) {
    let mut one = Vec::new();
    let value = vec![b'v'; 100];
    for i in 0..1000 {
        let key = format!("key:{i:06}");
        one.extend_from_slice(format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n", key.len(), value.len()).as_bytes());
        one.extend_from_slice(&value);
        one.extend_from_slice(b"\r\n");
    }
    let limits = Limits::default();
    let (mut bytes, mut commands) = (0u64, 0u64);
    let start = Instant::now();
    while start.elapsed() < time {
        let mut buf = BytesMut::from(&one[..]);
        while let Ok(Some(args)) = parse_command(&mut buf, &limits) {
            commands += 1;
            std::hint::black_box(args);
        }
        bytes += one.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    (bytes as f64 / secs, commands as f64 / secs)
}

/// One replica's state machine: batches of 29 SETs (what a pipelined entry carries at
/// `-P 16`, 50 clients) of 100-byte values over 100,000 random keys, applied for `time`;
/// then a snapshot of the store written to memory. Returns SETs applied per second, and the
/// snapshot's bytes per second.
fn store(time: Duration) -> (f64, f64) {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let value = Bytes::from(vec![b'x'; 100]);
    let batches: Vec<Vec<Bytes>> = (0..1000)
        .map(|_| {
            let sets = (0..29)
                .map(|_| {
                    let key = format!("key:{:012}", next() % 100_000);
                    vec![Bytes::from_static(b"SET"), Bytes::from(key), value.clone()]
                })
                .collect();
            slotraft::cmd::txn::encode_batch(sets)
        })
        .collect();
    let mut store = Store::new();
    let (mut sets, mut time_ms) = (0u64, 1u64);
    let start = Instant::now();
    while start.elapsed() < time {
        for args in &batches {
            slotraft::cmd::apply_write(&mut store, args, time_ms);
            time_ms += 1;
            sets += 29;
        }
    }
    let rate = sets as f64 / start.elapsed().as_secs_f64();
    let mut out = Vec::with_capacity(32 << 20);
    let start = Instant::now();
    store.write_snapshot(&mut out).expect("snapshot to memory");
    (rate, out.len() as f64 / start.elapsed().as_secs_f64())
}

fn main() {
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let run = |section: &str| only.is_empty() || only.iter().any(|o| o == section);
    if run("store") {
        let (sets, snapshot) = store(Duration::from_secs(3));
        println!(
            "state machine alone: {sets:>9.0} SETs/s applied (batches of 29, 100,000 keys); snapshot written at {:.0} MB/s",
            snapshot / 1e6
        );
    }
    if run("engine") {
        engine_figures();
    }
    if run("disk") {
        disk_figures();
    }
    if run("parser") {
        parser_figures();
    }
}

fn engine_figures() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    for writers in [1, 16, 64] {
        let (rate, syncs) = runtime.block_on(engine(writers, Duration::from_secs(3)));
        println!(
            "log engine, fsync always, {writers:>2} concurrent writers: {rate:>9.0} entries/s durable ({syncs:.0} fsyncs/s)"
        );
    }
}

fn disk_figures() {
    for (prewritten, what) in [
        (false, "appended to a growing file"),
        (true, "over blocks written before"),
    ] {
        match disk(prewritten, Duration::from_secs(2)) {
            Ok(rate) => println!("disk alone: {rate:>6.0} fdatasyncs/s of 1 KiB {what}"),
            Err(e) => println!("disk alone: {what}: {e}"),
        }
    }
}

fn parser_figures() {
    let (bytes, commands) = parser(Duration::from_secs(2));
    println!(
        "RESP parser: {:.0} MB/s, {:.2} M SET commands/s (100-byte values)",
        bytes / 1e6,
        commands / 1e6
    );
}
