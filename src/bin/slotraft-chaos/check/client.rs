//! The workload's cluster client: a slot map from CLUSTER SLOTS, one connection per node,
//! MOVED followed and the map refreshed, as cluster-aware Redis clients do. Unlike them it
//! never retries on its own: a caller decides, because only the caller knows whether what it
//! sent may have been applied.
//!
//! Every exchange ends in one of three ways, and the distinction is the whole point:
//! - a reply (`Ok(frame)`, which may be an error reply);
//! - [`Failure::NotSent`]: the connection could not be made, so nothing reached the server;
//! - [`Failure::Unknown`]: the request may have reached the server (timeout, connection lost
//!   after sending); a write's outcome is then unknown.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use slotraft::resp::frame::Frame;
use slotraft::resp::parse::parse_frame;
use slotraft::slots::{SLOT_COUNT, Slot};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Nothing was sent: the connection could not be made.
    NotSent(String),
    /// The request may have been received and applied.
    Unknown(String),
}

/// One connection to one node.
pub struct Conn {
    stream: TcpStream,
    buf: BytesMut,
}

impl Conn {
    async fn open(addr: &str, timeout: Duration) -> Result<Conn, Failure> {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                Ok(Conn {
                    stream,
                    buf: BytesMut::with_capacity(4096),
                })
            }
            Ok(Err(e)) => Err(Failure::NotSent(format!("connect {addr}: {e}"))),
            Err(_) => Err(Failure::NotSent(format!("connect {addr}: timed out"))),
        }
    }

    /// Sends one command and reads its reply.
    pub async fn call(&mut self, args: &[&[u8]], timeout: Duration) -> Result<Frame, Failure> {
        let mut out = BytesMut::with_capacity(64);
        out.put_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            out.put_slice(format!("${}\r\n", a.len()).as_bytes());
            out.put_slice(a);
            out.put_slice(b"\r\n");
        }
        let exchange = async {
            self.stream
                .write_all(&out)
                .await
                .map_err(|e| Failure::Unknown(format!("send: {e}")))?;
            loop {
                match parse_frame(&mut self.buf) {
                    Ok(Some(frame)) => return Ok(frame),
                    Ok(None) => {}
                    Err(e) => return Err(Failure::Unknown(format!("bad reply: {e}"))),
                }
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) => return Err(Failure::Unknown("connection closed".into())),
                    Ok(_) => {}
                    Err(e) => return Err(Failure::Unknown(format!("receive: {e}"))),
                }
            }
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(Failure::Unknown(format!("no reply within {} ms", timeout.as_millis()))))
    }
}

/// The slot map and a connection per node, for one worker.
pub struct Client {
    seeds: Vec<String>,
    slots: Vec<Option<String>>,
    conns: HashMap<String, Conn>,
    /// A node that stopped answering: reload the map, from other nodes, before the next
    /// operation, as clients do after a timeout (its slots have probably moved).
    suspect: Option<String>,
    /// Reply timeout of one request: past it, the outcome is unknown.
    pub timeout: Duration,
}

impl Client {
    pub fn new(seeds: Vec<String>, timeout: Duration) -> Client {
        Client {
            seeds,
            slots: vec![None; usize::from(SLOT_COUNT)],
            conns: HashMap::new(),
            suspect: None,
            timeout,
        }
    }

    /// The node serving `slot`, as last learned.
    pub fn addr_of(&self, slot: Slot) -> Option<&str> {
        self.slots[usize::from(slot)].as_deref()
    }

    /// A connection to `addr`, opened if needed. The caller hands it back with [`Client::put`]
    /// when the exchange ended cleanly; a connection not handed back is closed, which is the
    /// right end for one in an unknown state (a reply may still arrive on it).
    pub async fn take(&mut self, addr: &str) -> Result<Conn, Failure> {
        match self.conns.remove(addr) {
            Some(c) => Ok(c),
            None => Conn::open(addr, self.timeout).await,
        }
    }

    pub fn put(&mut self, addr: &str, conn: Conn) {
        self.conns.insert(addr.to_string(), conn);
    }

    /// Learns one slot's node from a MOVED reply (`MOVED <slot> <addr>`). Only that slot: a
    /// full reload here could undo it with the map of a node that has not heard of the move.
    pub fn moved(&mut self, error: &str) {
        let mut parts = error.split_whitespace().skip(1);
        if let (Some(slot), Some(addr)) = (parts.next().and_then(|s| s.parse::<usize>().ok()), parts.next())
            && slot < usize::from(SLOT_COUNT)
        {
            self.slots[slot] = Some(addr.to_string());
        }
    }

    /// Notes that `addr` stopped answering.
    pub fn suspect(&mut self, addr: &str) {
        self.suspect = Some(addr.to_string());
    }

    /// Reloads the map if a node stopped answering since the last reload.
    pub async fn settle(&mut self) {
        if self.suspect.is_some() {
            self.refresh().await;
        }
    }

    /// Reloads the slot map from the first node that answers CLUSTER SLOTS (known nodes, then
    /// the seeds; a suspect node last). Returns whether one did.
    pub async fn refresh(&mut self) -> bool {
        let suspect = self.suspect.take();
        let mut candidates: Vec<String> = self.conns.keys().cloned().collect();
        candidates.extend(self.seeds.iter().cloned());
        candidates.sort();
        candidates.dedup();
        candidates.sort_by_key(|a| Some(a) == suspect.as_ref());
        // Quick: a paused node accepts connections and never answers.
        let timeout = self.timeout.min(Duration::from_millis(500));
        for addr in candidates {
            let Ok(mut conn) = self.take(&addr).await else { continue };
            let Ok(Frame::Array(entries)) = conn.call(&[b"CLUSTER", b"SLOTS"], timeout).await else {
                continue;
            };
            self.put(&addr, conn);
            if self.load_slots(&addr, &entries) {
                return true;
            }
        }
        false
    }

    fn load_slots(&mut self, from: &str, entries: &[Frame]) -> bool {
        let mut any = false;
        for e in entries {
            let Frame::Array(parts) = e else { continue };
            let (Some(Frame::Integer(lo)), Some(Frame::Integer(hi)), Some(Frame::Array(master))) =
                (parts.first(), parts.get(1), parts.get(2))
            else {
                continue;
            };
            let host = match master.first() {
                Some(Frame::Bulk(h)) if !h.is_empty() => String::from_utf8_lossy(h).into_owned(),
                // An empty host means "the address you asked".
                _ => from.rsplit_once(':').map_or(from, |(h, _)| h).to_string(),
            };
            let Some(Frame::Integer(port)) = master.get(1) else {
                continue;
            };
            let addr = format!("{host}:{port}");
            for s in (*lo).max(0)..=(*hi).min(i64::from(SLOT_COUNT) - 1) {
                self.slots[s as usize] = Some(addr.clone());
            }
            any = true;
        }
        any
    }
}

/// The values of a reply array of bulk strings holding numbers (LRANGE of a list-append key).
pub fn numbers(frame: &Frame) -> Option<Vec<u64>> {
    match frame {
        Frame::Array(items) => items.iter().map(number).collect(),
        _ => None,
    }
}

/// A bulk string holding a number.
pub fn number(frame: &Frame) -> Option<u64> {
    match frame {
        Frame::Bulk(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

/// The argument bytes of a number.
pub fn arg(n: u64) -> Bytes {
    Bytes::from(n.to_string())
}
