//! Users and passwords as a Redis user sees them: AUTH, HELLO AUTH, requirepass, ACL users and
//! their permissions, protected mode. Users are cluster-wide (the metadata group): made on one
//! node, they hold on every node, also on one that was down when they were made.

use std::process::Command;
use std::time::Duration;

use crate::clients::Raw;
use crate::harness::{Cluster, command, even_groups, wait_until};

const NOAUTH: &str = "-NOAUTH Authentication required.\r\n";
const WRONGPASS: &str = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_users_hold_on_every_node_and_after_a_restart() {
    let mut c = Cluster::three("").await;
    let (a1, a2, a3) = (c.addr(1), c.addr(2), c.addr(3));
    let set_alice = [
        "ACL",
        "SETUSER",
        "alice",
        "on",
        ">pw1",
        "~a*",
        "+get",
        "+set",
        "+acl|whoami",
        "+@transaction",
    ];
    assert_eq!(command(&a1, &set_alice).await.as_deref(), Ok("OK"));

    // Made on node 1, it authenticates on node 3 at once.
    let mut r3 = Raw::connect(&a3).await;
    assert_eq!(r3.ask("AUTH alice wrong").await, WRONGPASS);
    assert_eq!(r3.ask("AUTH alice pw1").await, "+OK\r\n");
    assert_eq!(r3.ask("ACL WHOAMI").await, "$5\r\nalice\r\n");
    assert_eq!(
        r3.ask("DEL a1").await,
        "-NOPERM User alice has no permissions to run the 'del' command\r\n"
    );
    assert_eq!(r3.ask("GET b1").await, "-NOPERM No permissions to access a key\r\n");
    let allowed = r3.ask("GET a1").await;
    assert!(allowed == "$-1\r\n" || allowed.starts_with("-MOVED"), "{allowed}");
    // In MULTI a refused command dooms the transaction, as in Redis.
    assert_eq!(r3.ask("MULTI").await, "+OK\r\n");
    assert!(r3.ask("DEL a1").await.starts_with("-NOPERM"));
    assert!(r3.ask("EXEC").await.starts_with("-EXECABORT"));
    let log = command(&a3, &["ACL", "LOG"]).await.unwrap();
    for reason in ["command", "key", "auth"] {
        assert!(
            log.contains(reason),
            "ACL LOG on node 3 should record a {reason} denial: {log}"
        );
    }

    // A user made while node 2 is down is known to it once it is back.
    c.kill(2);
    let set_carol = ["ACL", "SETUSER", "carol", "on", ">pw2", "allcommands", "allkeys"];
    assert_eq!(command(&a1, &set_carol).await.as_deref(), Ok("OK"));
    c.start(2);
    c.wait_ready().await;
    let knows_carol = wait_until(Duration::from_secs(30), || async {
        command(&a2, &["ACL", "USERS"]).await.is_ok_and(|u| u.contains("carol"))
    })
    .await;
    assert!(knows_carol, "node 2 should learn of carol after its restart");
    let mut r2 = Raw::connect(&a2).await;
    assert_eq!(r2.ask("AUTH carol pw2").await, "+OK\r\n");
    let set = r2.ask("SET b1 v").await;
    assert!(set == "+OK\r\n" || set.starts_with("-MOVED"), "{set}");

    // Deleted on node 2, alice's connection on node 3 is closed at its next command.
    assert_eq!(
        command(&a2, &["ACL", "DELUSER", "alice", "nobody"]).await.as_deref(),
        Ok("1")
    );
    let gone = wait_until(Duration::from_secs(10), || async {
        command(&a3, &["ACL", "USERS"])
            .await
            .is_ok_and(|u| !u.contains("alice"))
    })
    .await;
    assert!(gone, "node 3 should forget alice");
    r3.send("GET a1").await;
    assert!(
        r3.closed_within(Duration::from_secs(5)).await,
        "a deleted user's connection is closed"
    );
    assert_eq!(
        command(&a1, &["ACL", "DELUSER", "default"]).await,
        Err("ERR The 'default' user cannot be removed".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_is_needed_everywhere_and_changes_cluster_wide() {
    let mut c = Cluster::configure(3, &even_groups(3, &[1, 2, 3]), "requirepass = \"s3cret\"");
    c.start_all();
    let (a1, a2, a3) = (c.addr(1), c.addr(2), c.addr(3));
    for a in [&a1, &a2, &a3] {
        let up = wait_until(Duration::from_secs(30), || async {
            command(a, &["PING"]).await == Err("NOAUTH Authentication required.".into())
        })
        .await;
        assert!(up, "{a} should answer NOAUTH before AUTH");
    }
    let mut r = Raw::connect(&a3).await;
    assert_eq!(r.ask("GET k").await, NOAUTH);
    assert_eq!(r.ask("AUTH wrong").await, WRONGPASS);
    assert!(r.ask("HELLO 3").await.starts_with("-NOAUTH HELLO must be called"));
    assert_eq!(r.ask("HELLO 3 AUTH default wrong").await, WRONGPASS);
    assert!(r.ask("HELLO 3 AUTH default s3cret").await.starts_with("%7\r\n"));
    assert_eq!(r.ask("ACL WHOAMI").await, "$7\r\ndefault\r\n");

    // The Rust redis crate's cluster client with the password, and redis-cli -c -a.
    let urls: Vec<String> = [&a1, &a2, &a3]
        .iter()
        .map(|a| format!("redis://:s3cret@{a}/"))
        .collect();
    let ready = wait_until(Duration::from_secs(30), || async {
        let Ok(client) = redis::cluster::ClusterClient::new(urls.clone()) else {
            return false;
        };
        let Ok(mut conn) = client.get_async_connection().await else {
            return false;
        };
        let mut ok = true;
        for i in 0..30 {
            let set: redis::RedisResult<()> = redis::cmd("SET")
                .arg(format!("k{i}"))
                .arg(i)
                .query_async(&mut conn)
                .await;
            ok &= set.is_ok();
        }
        ok
    })
    .await;
    assert!(
        ready,
        "the cluster client with a password should write keys of every node"
    );
    let port3 = c.resp[&3].to_string();
    let out = Command::new("redis-cli")
        .args(["-c", "-p", &port3, "-a", "s3cret", "--no-auth-warning", "MGET", "k7"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "7");

    // CONFIG SET requirepass on one node holds on every node.
    let mut r1 = Raw::connect(&a1).await;
    assert_eq!(r1.ask("AUTH s3cret").await, "+OK\r\n");
    assert_eq!(r1.ask("CONFIG SET requirepass n3w").await, "+OK\r\n");
    let mut r2 = Raw::connect(&a2).await;
    assert_eq!(r2.ask("AUTH s3cret").await, WRONGPASS);
    assert_eq!(r2.ask("AUTH n3w").await, "+OK\r\n");
    c.kill_all();
}

/// The address of this host that is not loopback (the source of a route outward); no packet
/// is sent.
fn outward_ip() -> std::net::IpAddr {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    s.connect("10.255.255.1:9")
        .expect("this test needs a network interface besides loopback");
    s.local_addr().unwrap().ip()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_mode_refuses_other_hosts_until_a_password_is_set() {
    let mut c = Cluster::configure(1, &even_groups(1, &[1]), "");
    let port = c.resp[&1];
    let text = std::fs::read_to_string(&c.config).unwrap();
    std::fs::write(
        &c.config,
        text.replace(&format!("127.0.0.1:{port}"), &format!("0.0.0.0:{port}")),
    )
    .unwrap();
    c.start_all();
    c.wait_ready().await;
    let outside = format!("{}:{port}", outward_ip());
    let mut r = Raw::connect(&outside).await;
    let denied = r.read().await.unwrap_or_default();
    assert!(
        denied.starts_with("-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user."),
        "{denied}"
    );
    assert!(r.closed_within(Duration::from_secs(5)).await);
    // Loopback clients are served; with a password other hosts are too.
    assert_eq!(
        command(&c.addr(1), &["CONFIG", "SET", "requirepass", "pw"])
            .await
            .as_deref(),
        Ok("OK")
    );
    let mut r = Raw::connect(&outside).await;
    assert_eq!(r.ask("PING").await, NOAUTH);
    assert_eq!(r.ask("AUTH pw").await, "+OK\r\n");
    assert_eq!(r.ask("PING").await, "+PONG\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acl_file_seeds_the_users_and_acl_save_and_load_use_it() {
    let mut c = Cluster::configure(3, &even_groups(3, &[1, 2, 3]), "acl_file = \"users.acl\"");
    let file = c.dir.path().join("users.acl");
    std::fs::write(&file, "user default on nopass ~* &* +@all\nuser dave on >pw ~* +@all\n").unwrap();
    c.start_all();
    c.wait_ready().await;
    for id in 1..=3 {
        let addr = c.addr(id);
        let seeded = wait_until(Duration::from_secs(30), || async {
            command(&addr, &["ACL", "USERS"])
                .await
                .is_ok_and(|u| u.contains("dave"))
        })
        .await;
        assert!(seeded, "node {id} should know the file's users");
        let mut r = Raw::connect(&addr).await;
        assert_eq!(r.ask("AUTH dave pw").await, "+OK\r\n");
    }
    let (a1, a3) = (c.addr(1), c.addr(3));
    assert_eq!(
        command(&a1, &["ACL", "SETUSER", "erin", "on", ">e", "+get"])
            .await
            .as_deref(),
        Ok("OK")
    );
    assert_eq!(command(&a3, &["ACL", "SAVE"]).await.as_deref(), Ok("OK"));
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(saved.contains("user erin on #") && !saved.contains(">e"), "{saved}");
    // The file edited by hand, then loaded: erin is gone everywhere, and a bad line loads nothing.
    let without_erin: String = saved
        .lines()
        .filter(|l| !l.contains("erin"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&file, format!("{without_erin}user frank +nosuch\n")).unwrap();
    let refused = command(&a3, &["ACL", "LOAD"]).await.unwrap_err();
    assert!(
        refused.contains("users.acl:3: Error in applying operation '+nosuch'"),
        "{refused}"
    );
    std::fs::write(&file, &without_erin).unwrap();
    assert_eq!(command(&a3, &["ACL", "LOAD"]).await.as_deref(), Ok("OK"));
    let forgotten = wait_until(Duration::from_secs(10), || async {
        command(&a1, &["ACL", "USERS"])
            .await
            .is_ok_and(|u| !u.contains("erin") && u.contains("dave"))
    })
    .await;
    assert!(forgotten, "ACL LOAD on node 3 should hold on node 1");
}
