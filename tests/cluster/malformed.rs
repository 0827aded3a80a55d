//! Malformed RESP gets an error or a close; the node keeps serving everyone else.

use std::time::Duration;

use redis::AsyncCommands;

use crate::harness::{Cluster, even_groups, raw_exchange};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_do_not_disturb_other_clients() {
    let mut c = Cluster::configure(
        1,
        &even_groups(1, &[1]),
        "[cluster.limits]\nclient_query_buffer_limit = 1048576",
    );
    c.start_all();
    c.wait_ready().await;
    let addr = c.addr(1);
    let client = redis::Client::open(c.url(1)).unwrap();
    let mut good = crate::harness::plain_conn(&client).await.unwrap();
    let _: () = good.set("steady", "yes").await.unwrap();

    let mut big_inline = vec![b'a'; 70 * 1024];
    big_inline.push(b'\n');
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "bad multibulk length",
            b"*abc\r\n".to_vec(),
            "-ERR Protocol error: invalid multibulk length",
        ),
        (
            "negative bulk length",
            b"*1\r\n$-5\r\n".to_vec(),
            "-ERR Protocol error: invalid bulk length",
        ),
        (
            "huge bulk length",
            b"*1\r\n$99999999999\r\n".to_vec(),
            "-ERR Protocol error: invalid bulk length",
        ),
        (
            "bad type byte",
            b"*1\r\n:5\r\n".to_vec(),
            "-ERR Protocol error: expected '$', got ':'",
        ),
        (
            "huge multibulk",
            b"*99999999999999999999\r\n".to_vec(),
            "-ERR Protocol error: invalid multibulk length",
        ),
        (
            "inline too big",
            big_inline,
            "-ERR Protocol error: too big inline request",
        ),
        (
            "unbalanced quotes",
            b"SET \"a b\r\n".to_vec(),
            "-ERR Protocol error: unbalanced quotes",
        ),
        (
            "query buffer limit",
            [&b"*2\r\n$3\r\nGET\r\n$2000000\r\n"[..], &[b'x'; 1100 * 1024]].concat(),
            "-ERR Protocol error: ",
        ),
        ("garbage", vec![0xff, 0x00, 0x2a, 0x0d, 0xfe, 0x24, 0x0a, 0x13], "-ERR"),
    ];
    for (name, bytes, want) in cases {
        let (reply, closed) = raw_exchange(&addr, &bytes, Duration::from_secs(2)).await;
        let text = String::from_utf8_lossy(&reply);
        assert!(
            text.starts_with(want) || (reply.is_empty() && closed),
            "{name}: got {text:?}, closed {closed}"
        );
        assert!(
            closed || want == "-ERR",
            "{name}: connection should be closed after a protocol error"
        );
        let pong: String = redis::cmd("PING").query_async(&mut good).await.unwrap();
        assert_eq!(pong, "PONG", "after {name}");
    }
    // A truncated frame followed by a hang-up, and one that never completes.
    let (reply, _) = raw_exchange(&addr, b"*2\r\n$3\r\nGET\r\n$3\r\nfo", Duration::from_millis(300)).await;
    assert!(
        reply.is_empty(),
        "an incomplete frame gets no reply: {:?}",
        String::from_utf8_lossy(&reply)
    );
    // Inline commands and pipelines on a raw connection work.
    let (reply, _) = raw_exchange(
        &addr,
        b"PING\r\nECHO \"hi there\"\r\n*1\r\n$4\r\nPING\r\n",
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(reply, b"+PONG\r\n$8\r\nhi there\r\n+PONG\r\n");
    // An HTTP request on the RESP port (a web page can make a browser send one to a local
    // port) closes the connection without running what follows it, as Redis does.
    for http in [
        &b"POST / HTTP/1.1\r\nHost: localhost\r\n\r\n*3\r\n$3\r\nSET\r\n$3\r\nweb\r\n$1\r\n1\r\n"[..],
        &b"Host: localhost\r\n*3\r\n$3\r\nSET\r\n$3\r\nweb\r\n$1\r\n1\r\n"[..],
    ] {
        let (reply, closed) = raw_exchange(&addr, http, Duration::from_secs(2)).await;
        assert!(reply.is_empty() && closed, "got {:?}", String::from_utf8_lossy(&reply));
    }
    let web: Option<String> = good.get("web").await.unwrap();
    assert_eq!(web, None, "nothing after the HTTP line ran");
    let v: String = good.get("steady").await.unwrap();
    assert_eq!(v, "yes");
}
