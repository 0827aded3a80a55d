//! RESP over TLS with real clients: certificates from `slotraft certs`, nodes serving both a
//! plain and a TLS port, redis-cli 7, redis-py 8 and the `redis` crate following redirects to
//! TLS ports, and clients without a certificate, or with another CA's, refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::harness::{BIN, Cluster, even_groups, free_port, wait_until};

const PYTHON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/redis-py8/bin/python");

/// A cluster whose nodes also serve TLS, with its certificates.
struct TlsCluster {
    c: Cluster,
    /// Each node's TLS port.
    tls: BTreeMap<u64, u16>,
    certs: PathBuf,
}

/// Writes a cluster of `nodes` nodes with TLS ports and `[cluster.tls]` (`auth_clients`),
/// and its certificates with `slotraft certs`; nothing started. Without `plain`, the nodes
/// have only TLS ports.
fn configure(nodes: u64, auth_clients: &str, plain: bool) -> TlsCluster {
    let settings = format!(
        "[cluster.tls]\nca_file = \"certs/ca.crt\"\ncert_file = \"certs/node-{{node}}.crt\"\nkey_file = \"certs/node-{{node}}.key\"\nauth_clients = \"{auth_clients}\"\n"
    );
    let members: Vec<u64> = (1..=nodes).collect();
    let c = Cluster::configure(nodes, &even_groups(nodes, &members), &settings);
    let mut text = std::fs::read_to_string(&c.config).unwrap();
    let mut tls = BTreeMap::new();
    for (&id, &port) in &c.resp {
        let t = free_port();
        tls.insert(id, t);
        let resp = format!("resp = \"127.0.0.1:{port}\"\n");
        let both = format!("{}resp_tls = \"127.0.0.1:{t}\"\n", if plain { &resp } else { "" });
        text = text.replace(&resp, &both);
    }
    std::fs::write(&c.config, text).unwrap();
    let certs = c.dir.path().join("certs");
    let out = make_certs(&c.config, &certs);
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "slotraft certs: {printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "ca.crt",
        "ca.key",
        "client.crt",
        "client.key",
        "node-1.crt",
        "node-1.key",
    ] {
        assert!(certs.join(name).exists(), "{name} not written:\n{printed}");
    }
    assert!(printed.contains("cert_file = \"certs/node-{node}.crt\""), "{printed}");
    TlsCluster { c, tls, certs }
}

fn run(command: &mut Command) -> Output {
    command.output().unwrap()
}

/// `slotraft certs --config CONFIG --out OUT`.
fn make_certs(config: &Path, out: &Path) -> Output {
    run(Command::new(BIN)
        .arg("certs")
        .arg("--config")
        .arg(config)
        .arg("--out")
        .arg(out))
}

/// What a command printed, stdout then stderr.
fn printed(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl TlsCluster {
    fn file(&self, name: &str) -> String {
        self.certs.join(name).display().to_string()
    }

    /// redis-cli over TLS to node `id`, trusting the cluster's CA, with the client
    /// certificate when `cert` is given (`-c`: following redirects, when `follow`).
    fn cli(&self, id: u64, cert: Option<(&Path, &Path)>, follow: bool, args: &[&str]) -> Output {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["--tls", "--cacert", &self.file("ca.crt"), "-h", "127.0.0.1"]);
        cmd.args(["-p", &self.tls[&id].to_string()]);
        if let Some((crt, key)) = cert {
            cmd.arg("--cert").arg(crt).arg("--key").arg(key);
        }
        if follow {
            cmd.arg("-c");
        }
        run(cmd.args(args))
    }

    fn client_cert(&self) -> (PathBuf, PathBuf) {
        (self.certs.join("client.crt"), self.certs.join("client.key"))
    }

    /// redis-cli with the cluster's client certificate; its output as text.
    fn cli_text(&self, id: u64, follow: bool, args: &[&str]) -> String {
        let (crt, key) = self.client_cert();
        printed(&self.cli(id, Some((&crt, &key)), follow, args))
    }
}

/// The ports named in CLUSTER SLOTS as redis-cli prints it (one value a line).
fn ports_in(text: &str, ports: &BTreeMap<u64, u16>) -> Vec<u16> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    ports
        .values()
        .copied()
        .filter(|p| lines.contains(&p.to_string().as_str()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_use_a_cluster_over_tls_and_follow_redirects_to_tls_ports() {
    let mut t = configure(3, "yes", true);
    t.c.start_all();
    t.c.wait_ready().await;
    assert!(t.c.wait_balanced(1, Duration::from_secs(30)).await);
    t.c.wait_ready().await;

    // redis-cli -c over TLS: keys of every node's slots, set and read back through node 1,
    // each redirect followed to a TLS port.
    let keys: Vec<String> = (0..30).map(|i| format!("tls-key-{i}")).collect();
    for k in &keys {
        let out = t.cli_text(1, true, &["SET", k, &format!("v-{k}")]);
        assert!(out.contains("OK"), "SET {k} over TLS: {out}");
    }
    for k in keys.iter().rev() {
        let out = t.cli_text(2, true, &["GET", k]);
        assert!(out.contains(&format!("v-{k}")), "GET {k} over TLS: {out}");
    }
    // The same keys through the plain port.
    let plain = crate::harness::command(&t.c.addr(3), &["GET", "tls-key-7"]).await;
    let plain = match plain {
        Ok(v) => v,
        Err(moved) => {
            let addr = moved.rsplit(' ').next().unwrap().to_string();
            crate::harness::command(&addr, &["GET", "tls-key-7"]).await.unwrap()
        }
    };
    assert_eq!(plain, "v-tls-key-7");

    // A redirect given to a TLS client names the leader's TLS port, to a plain one its plain port.
    let slot = slotraft::slots::key_slot(b"tls-key-0");
    let leader = t.c.settled_leader_of_slot(slot).await.unwrap();
    let other = if leader == 1 { 2 } else { 1 };
    let moved = t.cli_text(other, false, &["GET", "tls-key-0"]);
    assert!(
        moved.contains(&format!("MOVED {slot} 127.0.0.1:{}", t.tls[&leader])),
        "{moved}"
    );
    let moved = crate::harness::command(&t.c.addr(other), &["GET", "tls-key-0"]).await;
    assert_eq!(moved, Err(format!("MOVED {slot} 127.0.0.1:{}", t.c.resp[&leader])));

    // CLUSTER SLOTS and NODES name TLS ports to a TLS client and plain ports to a plain one;
    // CLUSTER SHARDS names both.
    let slots = t.cli_text(1, false, &["CLUSTER", "SLOTS"]);
    assert_eq!(ports_in(&slots, &t.tls).len(), 3, "{slots}");
    assert!(ports_in(&slots, &t.c.resp).is_empty(), "{slots}");
    let nodes = t.cli_text(1, false, &["CLUSTER", "NODES"]);
    for id in 1..=3 {
        assert!(nodes.contains(&format!("127.0.0.1:{}@", t.tls[&id])), "{nodes}");
    }
    let plain_slots = crate::harness::command(&t.c.addr(1), &["CLUSTER", "SLOTS"])
        .await
        .unwrap();
    for id in 1..=3 {
        assert!(
            plain_slots.contains(&format!("int({})", t.c.resp[&id])),
            "{plain_slots}"
        );
        assert!(!plain_slots.contains(&format!("int({})", t.tls[&id])), "{plain_slots}");
    }
    let shards = t.cli_text(1, false, &["CLUSTER", "SHARDS"]);
    assert!(
        shards.contains("tls-port") && shards.contains(&t.tls[&2].to_string()),
        "{shards}"
    );
    assert!(shards.contains(&t.c.resp[&2].to_string()), "{shards}");

    // auth_clients = "yes": no certificate, or one of another CA, is refused.
    let out = t.cli(1, None, false, &["PING"]);
    let text = printed(&out);
    assert!(
        !text.contains("PONG"),
        "a client without a certificate was served: {text}"
    );
    let other_ca = t.c.dir.path().join("other-ca");
    let made = make_certs(&t.c.config, &other_ca);
    assert!(made.status.success());
    let out = t.cli(
        1,
        Some((&other_ca.join("client.crt"), &other_ca.join("client.key"))),
        false,
        &["PING"],
    );
    let text = printed(&out);
    assert!(!text.contains("PONG"), "a client of another CA was served: {text}");
    // `slotraft certs` does not overwrite without --force.
    let again = make_certs(&t.c.config, &other_ca);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists (--force replaces it)"));

    // The `redis` crate's cluster client over TLS.
    let urls: Vec<String> = t.tls.values().map(|p| format!("rediss://127.0.0.1:{p}")).collect();
    let (crt, key) = t.client_cert();
    let certs = redis::TlsCertificates {
        client_tls: Some(redis::ClientTlsConfig {
            client_cert: std::fs::read(crt).unwrap(),
            client_key: std::fs::read(key).unwrap(),
        }),
        root_cert: Some(std::fs::read(t.certs.join("ca.crt")).unwrap()),
    };
    let client = redis::cluster::ClusterClientBuilder::new(urls)
        .certs(certs)
        .connection_timeout(Duration::from_secs(2))
        .response_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut conn = client.get_async_connection().await.unwrap();
    for k in &keys {
        let v: String = redis::cmd("GET").arg(k).query_async(&mut conn).await.unwrap();
        assert_eq!(v, format!("v-{k}"));
        let () = redis::cmd("SET")
            .arg(k)
            .arg("from-rust")
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    drop(conn);

    // redis-py 8's RedisCluster with ssl=True.
    assert!(
        Path::new(PYTHON).exists(),
        "redis-py 8 is not installed at {PYTHON}: run scripts/setup.sh --test"
    );
    let script = r#"
import sys
from redis.cluster import RedisCluster
port, ca, crt, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
rc = RedisCluster(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=ca, ssl_certfile=crt, ssl_keyfile=key, decode_responses=True)
for i in range(30):
    k = f"tls-key-{i}"
    assert rc.get(k) == "from-rust", (k, rc.get(k))
    rc.set(k, f"py-{i}")
    assert rc.get(k) == f"py-{i}"
print(sorted({n.port for n in rc.get_nodes()}))
"#;
    let (crt, key) = t.client_cert();
    let out = run(Command::new(PYTHON)
        .args(["-c", script, &t.tls[&1].to_string(), &t.file("ca.crt")])
        .arg(crt)
        .arg(key));
    let text = printed(&out);
    assert!(out.status.success(), "redis-py over TLS:\n{text}");
    let mut want: Vec<u16> = t.tls.values().copied().collect();
    want.sort();
    assert!(
        text.contains(&format!("{want:?}")),
        "redis-py should know the nodes by their TLS ports: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_only_node_without_client_auth_serves_any_tls_client() {
    let mut t = configure(1, "no", false);
    t.c.start(1);
    let ready = wait_until(Duration::from_secs(30), || async {
        let out = t.cli(1, None, false, &["CLUSTER", "INFO"]);
        String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok")
    })
    .await;
    assert!(ready, "node did not become ready:\n{}", t.c.log(1));
    // No certificate needed, and no plain port.
    let out = t.cli(1, None, false, &["SET", "k", "v"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK"), "{out:?}");
    let out = t.cli(1, None, false, &["GET", "k"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "v");
    assert!(std::net::TcpStream::connect(("127.0.0.1", t.c.resp[&1])).is_err());
    // A client of another CA's certificate is still refused: it does not trust the node.
    let other = t.c.dir.path().join("other-ca");
    assert!(make_certs(&t.c.config, &other).status.success());
    let out = run(Command::new("redis-cli")
        .args(["--tls", "--cacert", &other.join("ca.crt").display().to_string()])
        .args(["-h", "127.0.0.1", "-p", &t.tls[&1].to_string(), "PING"]));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("PONG"), "{out:?}");
}

#[tokio::test]
async fn a_bad_certificate_file_stops_the_node_with_its_name() {
    let t = configure(1, "yes", true);
    // Node 1 started on its files: exit status 2 and one line saying what is wrong with which.
    let refused = || {
        let out = run(Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&t.c.config)
            .args(["--node", "1"]));
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.lines().count() == 1 && err.starts_with("slotraft: "), "{err}");
        err
    };
    std::fs::write(t.certs.join("node-1.key"), "not a key").unwrap();
    let err = refused();
    assert!(err.contains("node-1.key: holds no PEM private key"), "{err}");
    std::fs::remove_file(t.certs.join("node-1.crt")).unwrap();
    let err = refused();
    assert!(err.contains("cannot read") && err.contains("node-1.crt"), "{err}");
}
