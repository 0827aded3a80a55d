//! Node-to-node authentication: every connection between nodes (gRPC channels and append
//! streams alike) starts with a mutual challenge-response over the cluster secret
//! (`config::Secret`), before either side says or serves anything else.
//!
//! The transcript, fixed-size messages on the bare TCP stream:
//! 1. client → server, `HELLO_LEN` bytes: `MAGIC`, `VERSION`, the client's node id, the node id
//!    it means to reach (both u64 little-endian), and its nonce `nc` (32 random bytes);
//! 2. server → client: its nonce `ns` (32 random bytes) and its proof
//!    `HMAC-SHA256(secret, LABEL ‖ "server" ‖ client ‖ server ‖ nc ‖ ns)`;
//! 3. client → server, once the server's proof checks out:
//!    `HMAC-SHA256(secret, LABEL ‖ "client" ‖ client ‖ server ‖ nc ‖ ns)`;
//! 4. server → client: `ACCEPTED`, once the client's proof checks out.
//!
//! Either side closes the connection at the first thing wrong (a client that finds the
//! server's proof wrong sends zeros in place of its own first, so the server can tell why). Fresh nonces on both sides
//! make a recorded transcript worthless on a new connection; the direction in the MAC means a
//! server's proof cannot be reflected back as a client's; the node ids bind the proof to the
//! pair of nodes. Proofs are compared in constant time (`Mac::verify_slice`). The server
//! learns the client's node id from step 1, proven by step 3 (`accept` returns it).
//!
//! What this does not do: it authenticates the start of a connection, not its bytes, so
//! someone who can inject into or take over an established TCP connection is not stopped.
//! Mutual TLS is meant to wrap the TCP stream before (or instead of) this handshake; both ends
//! take any `AsyncRead + AsyncWrite` for that reason.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use rand::RngCore;
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::config::{Config, MIN_SECRET_BYTES};
use crate::ids::NodeId;

/// Longest a whole handshake may take, either side: a peer that sends nothing, or too little,
/// is dropped after this.
pub const HANDSHAKE_WITHIN: Duration = Duration::from_secs(5);

/// The first bytes of every node-to-node connection (a TLS layer would start with 0x16, an
/// HTTP/2 client with `PRI `, an append stream with `SRAS`).
pub const MAGIC: [u8; 4] = *b"SRAH";
/// Bumped when the transcript changes; a server refuses a version it does not speak.
pub const VERSION: u8 = 1;
/// Domain separation: these MACs are for this handshake and nothing else keyed by the secret.
const LABEL: &[u8] = b"slotraft node-to-node handshake v1";
const NONCE_LEN: usize = 32;
const TAG_LEN: usize = 32;
/// Step 1: magic, version, client id, server id, client nonce.
pub const HELLO_LEN: usize = 4 + 1 + 8 + 8 + NONCE_LEN;
/// Step 2: server nonce, server proof.
const CHALLENGE_LEN: usize = NONCE_LEN + TAG_LEN;
/// Step 4.
const ACCEPTED: u8 = 0x01;

type HmacSha256 = Hmac<Sha256>;

/// Why a handshake failed. None of these says anything about the secret.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("no complete handshake within {0:?}")]
    TimedOut(Duration),
    #[error("the connection closed {0}")]
    Closed(&'static str),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("not a slotraft node-to-node handshake (first bytes {0:02x?})")]
    NotHandshake([u8; 4]),
    #[error("handshake version {0} is not spoken here (this node speaks {VERSION})")]
    Version(u8),
    #[error("the peer meant to reach node {wanted}; this is node {me}")]
    WrongNode { wanted: NodeId, me: NodeId },
    #[error("the peer says it is node {0}, which is not another node of this cluster")]
    UnknownNode(NodeId),
    #[error(
        "the peer's proof of the cluster secret is wrong (it holds a different secret, or is no node of this cluster)"
    )]
    BadProof,
    #[error("the peer refused this node's proof of the cluster secret (does it hold the same secret?)")]
    Refused,
    #[error("the cluster secret is shorter than {MIN_SECRET_BYTES} bytes, or was not read")]
    NoSecret,
}

impl From<HandshakeError> for io::Error {
    fn from(e: HandshakeError) -> io::Error {
        match e {
            HandshakeError::Io(e) => e,
            HandshakeError::TimedOut(_) => io::Error::new(io::ErrorKind::TimedOut, e.to_string()),
            other => io::Error::new(io::ErrorKind::PermissionDenied, other.to_string()),
        }
    }
}

/// What a node needs to authenticate its connections: its id, the cluster's node ids, and the
/// secret's HMAC key (keyed once, cloned per proof). Cheap to clone.
#[derive(Clone)]
pub struct PeerAuth {
    me: NodeId,
    nodes: Arc<BTreeSet<NodeId>>,
    key: HmacSha256,
}

impl PeerAuth {
    /// Node `me`'s credentials in `config`, whose secret must have been read
    /// (`Config::load_secret`).
    pub fn new(config: &Config, me: NodeId) -> Result<PeerAuth, HandshakeError> {
        let secret = config.secret.as_ref().ok_or(HandshakeError::NoSecret)?;
        PeerAuth::with_secret(me, config.nodes.keys().copied(), secret.bytes())
    }

    pub fn with_secret(
        me: NodeId,
        nodes: impl IntoIterator<Item = NodeId>,
        secret: &[u8],
    ) -> Result<PeerAuth, HandshakeError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(HandshakeError::NoSecret);
        }
        let key = HmacSha256::new_from_slice(secret).map_err(|_| HandshakeError::NoSecret)?;
        Ok(PeerAuth {
            me,
            nodes: Arc::new(nodes.into_iter().collect()),
            key,
        })
    }

    pub fn me(&self) -> NodeId {
        self.me
    }

    fn mac(&self, direction: &[u8; 6], client: NodeId, server: NodeId, nc: &[u8], ns: &[u8]) -> HmacSha256 {
        let mut mac = self.key.clone();
        mac.update(LABEL);
        mac.update(direction);
        mac.update(&client.to_le_bytes());
        mac.update(&server.to_le_bytes());
        mac.update(nc);
        mac.update(ns);
        mac
    }
}

fn nonce() -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut n);
    n
}

/// `read_exact`, with the peer closing early told apart (`at`: where in the handshake).
async fn read_all<S: AsyncRead + Unpin>(io: &mut S, buf: &mut [u8], at: &'static str) -> Result<(), HandshakeError> {
    match io.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(HandshakeError::Closed(at)),
        Err(e) => Err(e.into()),
    }
}

/// The client's side, on a new connection to node `server`: returns once both sides have
/// proven knowledge of the secret.
pub async fn connect<S>(auth: &PeerAuth, io: &mut S, server: NodeId) -> Result<(), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    connect_within(auth, io, server, HANDSHAKE_WITHIN).await
}

/// The server's side, on an accepted connection: the client's node id, once both sides have
/// proven knowledge of the secret.
pub async fn accept<S>(auth: &PeerAuth, io: &mut S) -> Result<NodeId, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_within(auth, io, HANDSHAKE_WITHIN).await
}

async fn connect_within<S>(auth: &PeerAuth, io: &mut S, server: NodeId, within: Duration) -> Result<(), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tokio::time::timeout(within, client_side(auth, io, server))
        .await
        .map_err(|_| HandshakeError::TimedOut(within))?
}

async fn accept_within<S>(auth: &PeerAuth, io: &mut S, within: Duration) -> Result<NodeId, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tokio::time::timeout(within, server_side(auth, io))
        .await
        .map_err(|_| HandshakeError::TimedOut(within))?
}

async fn client_side<S>(auth: &PeerAuth, io: &mut S, server: NodeId) -> Result<(), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let client = auth.me;
    let nc = nonce();
    let mut hello = Vec::with_capacity(HELLO_LEN);
    hello.extend_from_slice(&MAGIC);
    hello.push(VERSION);
    hello.extend_from_slice(&client.to_le_bytes());
    hello.extend_from_slice(&server.to_le_bytes());
    hello.extend_from_slice(&nc);
    io.write_all(&hello).await?;
    io.flush().await?;

    let mut challenge = [0u8; CHALLENGE_LEN];
    read_all(
        io,
        &mut challenge,
        "before the peer's challenge (it refused this node's hello: another node id or handshake version?)",
    )
    .await?;
    let (ns, server_proof) = challenge.split_at(NONCE_LEN);
    if auth
        .mac(b"server", client, server, &nc, ns)
        .verify_slice(server_proof)
        .is_err()
    {
        // No proof for a server that gave none, only zeros in its place: the server then
        // logs a wrong proof rather than a client that went away.
        let _ = io.write_all(&[0; TAG_LEN]).await;
        let _ = io.flush().await;
        return Err(HandshakeError::BadProof);
    }

    let proof = auth.mac(b"client", client, server, &nc, ns).finalize().into_bytes();
    io.write_all(&proof).await?;
    io.flush().await?;
    let mut answer = [0u8; 1];
    match read_all(io, &mut answer, "").await {
        Ok(()) if answer[0] == ACCEPTED => Ok(()),
        Ok(()) | Err(HandshakeError::Closed(_)) => Err(HandshakeError::Refused),
        Err(e) => Err(e),
    }
}

async fn server_side<S>(auth: &PeerAuth, io: &mut S) -> Result<NodeId, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let server = auth.me;
    let mut hello = [0u8; HELLO_LEN];
    read_all(io, &mut hello, "before a whole hello").await?;
    let field = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&hello[at..at + 8]);
        u64::from_le_bytes(b)
    };
    let magic = [hello[0], hello[1], hello[2], hello[3]];
    if magic != MAGIC {
        return Err(HandshakeError::NotHandshake(magic));
    }
    if hello[4] != VERSION {
        return Err(HandshakeError::Version(hello[4]));
    }
    let (client, wanted) = (field(5), field(13));
    if wanted != server {
        return Err(HandshakeError::WrongNode { wanted, me: server });
    }
    if client == server || !auth.nodes.contains(&client) {
        return Err(HandshakeError::UnknownNode(client));
    }
    let nc = &hello[21..];

    let ns = nonce();
    let mut challenge = Vec::with_capacity(CHALLENGE_LEN);
    challenge.extend_from_slice(&ns);
    challenge.extend_from_slice(&auth.mac(b"server", client, server, nc, &ns).finalize().into_bytes());
    io.write_all(&challenge).await?;
    io.flush().await?;

    let mut proof = [0u8; TAG_LEN];
    read_all(
        io,
        &mut proof,
        "after this node's challenge, without the peer's proof (it does not hold this node's secret?)",
    )
    .await?;
    auth.mac(b"client", client, server, nc, &ns)
        .verify_slice(&proof)
        .map_err(|_| HandshakeError::BadProof)?;
    io.write_all(&[ACCEPTED]).await?;
    io.flush().await?;
    Ok(client)
}

/// How often a handshake failure from one source is logged at most.
pub const FAILURE_LOG_EVERY: Duration = Duration::from_secs(10);
/// Sources remembered at once; past it, the ones not logged lately are forgotten.
const FAILURE_LOG_SOURCES: usize = 4096;

/// Rate limit for warnings about failed handshakes: at most one line per source (an IP on the
/// server's side, a peer's address on the client's) per `FAILURE_LOG_EVERY`, so a stranger
/// knocking in a loop cannot flood the log; each line counts the failures left unlogged.
pub struct FailureLog<K> {
    seen: Mutex<HashMap<K, (Instant, u64)>>,
}

impl<K: Hash + Eq + Clone> Default for FailureLog<K> {
    fn default() -> Self {
        FailureLog {
            seen: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq + Clone> FailureLog<K> {
    /// A failure from `source` at `now`: `Some(failures not logged since the last line)` if
    /// this one is to be logged, `None` if it is to be counted and left out.
    pub fn due(&self, source: &K, now: Instant) -> Option<u64> {
        let mut seen = self.seen.lock();
        if let Some((at, suppressed)) = seen.get_mut(source) {
            if now.saturating_duration_since(*at) < FAILURE_LOG_EVERY {
                *suppressed += 1;
                return None;
            }
            let n = *suppressed;
            *at = now;
            *suppressed = 0;
            return Some(n);
        }
        if seen.len() >= FAILURE_LOG_SOURCES {
            seen.retain(|_, (at, _)| now.saturating_duration_since(*at) < FAILURE_LOG_EVERY);
            if seen.len() >= FAILURE_LOG_SOURCES {
                // Sources from everywhere at once: forget them rather than grow.
                seen.clear();
            }
        }
        seen.insert(source.clone(), (now, 0));
        Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test";

    fn auth(me: NodeId, secret: &[u8]) -> PeerAuth {
        PeerAuth::with_secret(me, [1, 2, 3], secret).unwrap()
    }

    /// Runs node 1's client against node 2's server over an in-memory pipe.
    async fn run(client: PeerAuth, server: PeerAuth) -> (Result<(), HandshakeError>, Result<NodeId, HandshakeError>) {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let c = tokio::spawn(async move {
            let r = connect_within(&client, &mut a, 2, Duration::from_secs(2)).await;
            drop(a);
            r
        });
        let s = tokio::spawn(async move {
            let r = accept_within(&server, &mut b, Duration::from_secs(2)).await;
            drop(b);
            r
        });
        (c.await.unwrap(), s.await.unwrap())
    }

    #[tokio::test]
    async fn the_same_secret_passes_and_the_server_learns_who_the_client_is() {
        let (c, s) = run(auth(1, SECRET), auth(2, SECRET)).await;
        c.unwrap();
        assert_eq!(s.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_different_secret_fails_on_both_sides() {
        let other = b"another secret that is long enough, 32+ bytes";
        // A client with the wrong secret: it finds the server's proof wrong and stops.
        let (c, s) = run(auth(1, other), auth(2, SECRET)).await;
        assert!(matches!(c, Err(HandshakeError::BadProof)), "{c:?}");
        assert!(matches!(s, Err(HandshakeError::BadProof)), "{s:?}");
        // A server with the wrong secret fails the same way from the other end.
        let (c, s) = run(auth(1, SECRET), auth(2, other)).await;
        assert!(matches!(c, Err(HandshakeError::BadProof)), "{c:?}");
        assert!(s.is_err());
    }

    #[test]
    fn a_short_secret_is_refused() {
        assert!(matches!(
            PeerAuth::with_secret(1, [1, 2], &SECRET[..MIN_SECRET_BYTES - 1]),
            Err(HandshakeError::NoSecret)
        ));
    }

    type Answer = Box<dyn FnOnce(&[u8]) -> Vec<u8> + Send>;

    /// A stranger's side of the server's handshake, done by hand: sends `hello` and then, given
    /// the server's challenge, what `answer` makes of it (with no `answer`, it stops sending
    /// after the hello); returns what the server made of it all.
    async fn against_server(hello: Vec<u8>, answer: Option<Answer>) -> Result<NodeId, HandshakeError> {
        let (mut a, mut b) = tokio::io::duplex(1 << 20);
        let stranger = tokio::spawn(async move {
            let _ = a.write_all(&hello).await;
            match answer {
                None => {
                    let _ = a.shutdown().await;
                }
                Some(answer) => {
                    let mut challenge = [0u8; CHALLENGE_LEN];
                    if a.read_exact(&mut challenge).await.is_ok() {
                        let _ = a.write_all(&answer(&challenge)).await;
                    }
                    let _ = a.shutdown().await;
                }
            }
            let mut rest = Vec::new();
            let _ = a.read_to_end(&mut rest).await;
            rest
        });
        let r = accept_within(&auth(2, SECRET), &mut b, Duration::from_secs(2)).await;
        drop(b);
        let rest = stranger.await.unwrap();
        assert!(
            r.is_ok() || rest.is_empty(),
            "a failed handshake says nothing more: {rest:?}"
        );
        r
    }

    fn hello(client: NodeId, server: NodeId, nc: &[u8; NONCE_LEN]) -> Vec<u8> {
        let mut h = MAGIC.to_vec();
        h.push(VERSION);
        h.extend_from_slice(&client.to_le_bytes());
        h.extend_from_slice(&server.to_le_bytes());
        h.extend_from_slice(nc);
        h
    }

    #[tokio::test]
    async fn the_servers_own_proof_reflected_back_fails() {
        let reflect: Answer = Box::new(|challenge| challenge[NONCE_LEN..].to_vec());
        let r = against_server(hello(1, 2, &[7; NONCE_LEN]), Some(reflect)).await;
        assert!(matches!(r, Err(HandshakeError::BadProof)), "{r:?}");
    }

    #[tokio::test]
    async fn a_replayed_transcript_fails() {
        // Record a real client's proof from one connection (what the stranger saw on the wire)…
        let nc = [9u8; NONCE_LEN];
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let keep = recorded.clone();
        let client = auth(1, SECRET);
        let record: Answer = Box::new(move |challenge| {
            let proof = client
                .mac(b"client", 1, 2, &nc, &challenge[..NONCE_LEN])
                .finalize()
                .into_bytes()
                .to_vec();
            *keep.lock() = proof.clone();
            proof
        });
        let r = against_server(hello(1, 2, &nc), Some(record)).await;
        assert_eq!(r.unwrap(), 1, "the recorded connection itself passed");
        // …and play it back on a new one: the server's nonce is new, the proof stale.
        let proof = recorded.lock().clone();
        let r = against_server(hello(1, 2, &nc), Some(Box::new(move |_| proof))).await;
        assert!(matches!(r, Err(HandshakeError::BadProof)), "{r:?}");
        // Nor does a real proof pass for another pair of nodes.
        let client = auth(3, SECRET);
        let other_pair: Answer = Box::new(move |challenge| {
            client
                .mac(b"client", 3, 2, &nc, &challenge[..NONCE_LEN])
                .finalize()
                .into_bytes()
                .to_vec()
        });
        let r = against_server(hello(1, 2, &nc), Some(other_pair)).await;
        assert!(matches!(r, Err(HandshakeError::BadProof)), "{r:?}");
    }

    #[tokio::test]
    async fn garbage_short_oversized_or_misaddressed_hellos_fail_without_a_panic() {
        let nc = [1u8; NONCE_LEN];
        let none = || None;
        let r = against_server(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".repeat(4), none()).await;
        assert!(
            matches!(r, Err(HandshakeError::NotHandshake(m)) if &m == b"PRI "),
            "{r:?}"
        );
        let r = against_server(vec![0xff; 1 << 20], none()).await;
        assert!(matches!(r, Err(HandshakeError::NotHandshake(_))), "{r:?}");
        let r = against_server(hello(1, 2, &nc)[..HELLO_LEN - 1].to_vec(), none()).await;
        assert!(matches!(r, Err(HandshakeError::Closed(_))), "{r:?}");
        let mut wrong_version = hello(1, 2, &nc);
        wrong_version[4] = 9;
        assert!(matches!(
            against_server(wrong_version, none()).await,
            Err(HandshakeError::Version(9))
        ));
        let r = against_server(hello(1, 3, &nc), none()).await;
        assert!(
            matches!(r, Err(HandshakeError::WrongNode { wanted: 3, me: 2 })),
            "{r:?}"
        );
        for client in [2, 9, u64::MAX] {
            let r = against_server(hello(client, 2, &nc), none()).await;
            assert!(matches!(r, Err(HandshakeError::UnknownNode(c)) if c == client), "{r:?}");
        }
        // A proof of the wrong size: short, then long (its first 32 bytes are what count).
        let r = against_server(hello(1, 2, &nc), Some(Box::new(|_| vec![0; TAG_LEN - 1]))).await;
        assert!(matches!(r, Err(HandshakeError::Closed(_))), "{r:?}");
        let r = against_server(hello(1, 2, &nc), Some(Box::new(|_| vec![0; 1 << 16]))).await;
        assert!(matches!(r, Err(HandshakeError::BadProof)), "{r:?}");
        // A server that answers garbage: the client fails too.
        let (mut a, mut b) = tokio::io::duplex(4096);
        let server = tokio::spawn(async move {
            let mut h = [0u8; HELLO_LEN];
            let _ = b.read_exact(&mut h).await;
            let _ = b.write_all(&[0x42; CHALLENGE_LEN + 1]).await;
            b
        });
        let r = connect_within(&auth(1, SECRET), &mut a, 2, Duration::from_secs(2)).await;
        assert!(matches!(r, Err(HandshakeError::BadProof)), "{r:?}");
        drop(server.await.unwrap());
    }

    #[tokio::test]
    async fn a_peer_that_sends_nothing_is_dropped_after_a_bounded_time() {
        const { assert!(HANDSHAKE_WITHIN.as_secs() <= 5) };
        let (_silent, mut b) = tokio::io::duplex(4096);
        let start = Instant::now();
        let r = accept_within(&auth(2, SECRET), &mut b, Duration::from_millis(200)).await;
        assert!(matches!(r, Err(HandshakeError::TimedOut(_))), "{r:?}");
        assert!(start.elapsed() < Duration::from_secs(2));
        // The same for a client whose server accepted the connection and says nothing.
        let (_silent, mut a) = tokio::io::duplex(4096);
        let r = connect_within(&auth(1, SECRET), &mut a, 2, Duration::from_millis(200)).await;
        assert!(matches!(r, Err(HandshakeError::TimedOut(_))), "{r:?}");
    }

    #[test]
    fn failures_are_logged_once_per_source_and_interval_with_a_count_of_the_rest() {
        let log = FailureLog::default();
        let t0 = Instant::now();
        assert_eq!(log.due(&"a", t0), Some(0));
        assert_eq!(log.due(&"a", t0 + Duration::from_secs(1)), None);
        assert_eq!(log.due(&"a", t0 + Duration::from_secs(2)), None);
        assert_eq!(
            log.due(&"b", t0 + Duration::from_secs(2)),
            Some(0),
            "each source on its own"
        );
        assert_eq!(log.due(&"a", t0 + FAILURE_LOG_EVERY), Some(2));
        assert_eq!(log.due(&"a", t0 + FAILURE_LOG_EVERY + Duration::from_secs(1)), None);
        // Many sources: the table stays bounded.
        let many = FailureLog::default();
        for i in 0..(3 * FAILURE_LOG_SOURCES) {
            many.due(&i, t0);
        }
        assert!(many.seen.lock().len() <= FAILURE_LOG_SOURCES);
    }
}
