//! Differences the differential fuzzer found against Redis 7.0.15 (scripts/fuzz.sh), each
//! visible only through a node: transactions, blocking pops, commands that name no key. The
//! expected bytes are redis-server 7.0.15's, in cluster mode with every slot on one node.

use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::Cluster;

/// Sends each command on one connection, in turn, and returns each raw reply.
async fn exchange(addr: &str, commands: &[&[&str]]) -> Vec<String> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut buf = BytesMut::new();
    let mut replies = Vec::new();
    for args in commands {
        let mut req = format!("*{}\r\n", args.len());
        for a in *args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(req.as_bytes()).await.unwrap();
        loop {
            let mut probe = buf.clone();
            if let Ok(Some(_)) = slotraft::resp::parse::parse_frame(&mut probe) {
                let frame = buf.split_to(buf.len() - probe.len());
                replies.push(String::from_utf8_lossy(&frame).into_owned());
                break;
            }
            let n = tokio::time::timeout(Duration::from_secs(10), s.read_buf(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("no reply to {args:?}"))
                .unwrap();
            assert!(n > 0, "connection closed at {args:?}");
        }
    }
    replies
}

// Finding 8: BLMOVE and BRPOPLPUSH time out with a null array, as every blocking pop does in
// Redis 7.0 (inside MULTI, where they do not block, their twins' null bulk stays).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_moves_time_out_with_a_null_array() {
    let c = Cluster::one().await;
    let addr = c.addr(1);
    let moves: [&[&str]; 2] = [
        &["BLMOVE", "{t}e", "{t}b", "RIGHT", "LEFT", "0.01"],
        &["BRPOPLPUSH", "{t}e", "{t}b", "0.01"],
    ];
    assert_eq!(exchange(&addr, &moves).await, ["*-1\r\n", "*-1\r\n"]);
    let resp3 = exchange(&addr, &[&["HELLO", "3"], moves[0], moves[1]]).await;
    assert_eq!(resp3[1..], ["_\r\n", "_\r\n"]);
}
