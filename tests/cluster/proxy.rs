//! redirect = "proxy": a plain (not cluster-aware) client works against any node.

use redis::AsyncCommands;

use crate::harness::{Cluster, keys_for_all_slots};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_client_works_through_any_node() {
    let c = Cluster::three("redirect = \"proxy\"").await;
    let keys: Vec<String> = keys_for_all_slots("p").into_iter().step_by(41).collect();
    for id in c.running() {
        let client = redis::Client::open(c.url(id)).unwrap();
        let mut conn = crate::harness::plain_conn(&client).await.unwrap();
        for (i, k) in keys.iter().enumerate() {
            let v = format!("{id}-{i}");
            let _: () = conn.set(k, &v).await.unwrap();
            let got: String = conn.get(k).await.unwrap();
            assert_eq!(got, v);
        }
        let n: i64 = conn.incr("{p}counter", 1).await.unwrap();
        assert_eq!(n, id as i64);
        // A watched transaction from any node: EXEC's entry and WATCH's clock read are
        // forwarded to the leader.
        let _: () = redis::cmd("WATCH")
            .arg("{p}counter")
            .query_async(&mut conn)
            .await
            .unwrap();
        let (n,): (i64,) = redis::pipe()
            .atomic()
            .incr("{p}counter", 10)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, id as i64 + 10);
        let n: i64 = conn.decr("{p}counter", 10).await.unwrap();
        assert_eq!(n, id as i64);
    }
}
