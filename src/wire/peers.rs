//! The typed client of a node's peers: one lazily connected, reused gRPC channel per peer,
//! shared by every group and every caller, and one method per RPC that takes and returns
//! domain values. The protobuf messages stay in this file and in `rpc` (the services). Every
//! connection to a peer, gRPC or append stream, is opened by `Peers::dial`, which runs the
//! handshake (`wire::handshake`) before anything else is sent.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::cluster::view::LeaderClaim;
use crate::ids::{GroupId, NodeId};
use crate::resp::frame::Frame;
use crate::wire::MAX_MESSAGE_BYTES;
use crate::wire::convert::{DecodeError, decode, encode};
use crate::wire::handshake::{self, FailureLog, HandshakeError, PeerAuth};
use crate::wire::pb;
use crate::wire::pb::node_service_client::NodeServiceClient;
use crate::wire::pb::raft_service_client::RaftServiceClient;

/// Longest a TCP connection to a peer may take to open, before its handshake.
const TCP_CONNECT_WITHIN: Duration = Duration::from_millis(500);

/// A full snapshot goes to a follower in chunks of this size.
const SNAPSHOT_CHUNK_BYTES: usize = 1024 * 1024;

/// Why a call to a peer brought no answer.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("unknown node {0}")]
    UnknownNode(NodeId),
    /// The transport failed or the peer's service answered with an error status.
    #[error("{0}")]
    Rpc(#[from] tonic::Status),
    /// The peer answered, and refused (it says why).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Reading what was to be sent (a snapshot file) failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl PeerError {
    /// True when the peer could not be reached, or did not answer in time: a caller may try
    /// again, elsewhere or later.
    pub fn unreachable(&self) -> bool {
        match self {
            PeerError::UnknownNode(_) => true,
            PeerError::Rpc(s) => matches!(
                s.code(),
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled
            ),
            _ => false,
        }
    }

    /// True when the request certainly never reached the peer (no connection could be made),
    /// so a write sent with it was certainly not applied there.
    pub fn never_sent(&self) -> bool {
        let status = match self {
            PeerError::UnknownNode(_) => return true,
            PeerError::Rpc(s) => s,
            _ => return false,
        };
        let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(status);
        while let Some(e) = source {
            if let Some(io) = e.downcast_ref::<std::io::Error>()
                && matches!(io.kind(), std::io::ErrorKind::ConnectionRefused)
            {
                return true;
            }
            source = e.source();
        }
        status.code() == tonic::Code::Unavailable && status.message().contains("connect")
    }
}

/// The Raft RPCs of one group that go as unary calls (replication has its stream).
#[derive(Clone, Copy, Debug)]
pub enum RaftRpc {
    Append,
    Vote,
    PreVote,
    TransferLeader,
}

/// A peer's answer to a node that started on an empty data directory (`node::rejoin`).
#[derive(Debug, Default)]
pub struct RevertAnswer {
    /// The listed groups the peer leads and now replicates to the asking node from the
    /// beginning, each with the leader's last log index.
    pub allowed: Vec<(GroupId, u64)>,
    /// Every listed group the peer hosts, led or not, with its replica's last log index.
    pub held: Vec<(GroupId, u64)>,
}

/// Channels to every peer, created once at start and reused for all RPCs, and the peers'
/// addresses for replication streams.
#[derive(Clone)]
pub struct Peers {
    channels: Arc<BTreeMap<NodeId, Channel>>,
    dialer: Dialer,
}

/// Opens authenticated connections to peers: a TCP connection, then the handshake. Also the
/// connector of the peers' gRPC channels (tonic asks it for each new connection), so no byte of
/// gRPC goes out before the handshake has passed. A TLS layer would wrap the stream here.
#[derive(Clone)]
struct Dialer {
    auth: PeerAuth,
    addrs: Arc<BTreeMap<NodeId, SocketAddr>>,
    failures: Arc<FailureLog<SocketAddr>>,
}

impl Dialer {
    async fn dial(&self, target: NodeId) -> std::io::Result<TcpStream> {
        let addr = *self
            .addrs
            .get(&target)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, format!("unknown node {target}")))?;
        let mut tcp = tokio::time::timeout(TCP_CONNECT_WITHIN, TcpStream::connect(addr))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, format!("connecting to {addr}")))??;
        let _ = tcp.set_nodelay(true);
        if let Err(e) = handshake::connect(&self.auth, &mut tcp, target).await {
            // A peer that is slow, paused or gone is not a failed authentication.
            let quiet = matches!(e, HandshakeError::TimedOut(_) | HandshakeError::Io(_));
            if quiet {
                tracing::debug!(node = target, %addr, "node-to-node handshake did not complete: {e}");
            } else if let Some(suppressed) = self.failures.due(&addr, std::time::Instant::now()) {
                tracing::warn!(
                    node = target,
                    %addr,
                    suppressed,
                    "node-to-node authentication with a peer failed, connection closed: {e}"
                );
            }
            return Err(e.into());
        }
        Ok(tcp)
    }
}

/// The gRPC channel's connector for one peer (the `Uri` tonic passes is that peer's address).
struct ChannelConnector {
    dialer: Dialer,
    target: NodeId,
}

impl tonic::codegen::Service<Uri> for ChannelConnector {
    type Response = hyper_util::rt::TokioIo<TcpStream>;
    type Error = std::io::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let (dialer, target) = (self.dialer.clone(), self.target);
        Box::pin(async move { Ok(hyper_util::rt::TokioIo::new(dialer.dial(target).await?)) })
    }
}

fn with_timeout<T>(msg: T, timeout: Duration) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.set_timeout(timeout);
    req
}

/// A call bounded by `timeout`, connecting included: tonic's deadline (`with_timeout`) counts
/// from when a connection is ready, and opening one, handshake included, can take longer (a
/// peer that has bound its port and not started serving yet answers its handshake only then).
async fn within<T>(
    timeout: Duration,
    call: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, PeerError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(reply) => Ok(reply?.into_inner()),
        Err(_) => Err(PeerError::Rpc(tonic::Status::deadline_exceeded(format!(
            "no answer within {timeout:?}"
        )))),
    }
}

impl Peers {
    /// Channels to the peers at `addrs`, each connection authenticated with `auth`.
    pub fn new(addrs: &BTreeMap<NodeId, SocketAddr>, auth: PeerAuth) -> Result<Peers, PeerError> {
        let dialer = Dialer {
            auth,
            addrs: Arc::new(addrs.clone()),
            failures: Arc::default(),
        };
        let mut channels = BTreeMap::new();
        for (&id, addr) in addrs {
            let connector = ChannelConnector {
                dialer: dialer.clone(),
                target: id,
            };
            let ch = Endpoint::from_shared(format!("http://{addr}"))
                .map_err(|e| PeerError::Refused(format!("node {id} at {addr}: {e}")))?
                // The TCP connection and the handshake (`Dialer::dial` bounds each).
                .connect_timeout(TCP_CONNECT_WITHIN + handshake::HANDSHAKE_WITHIN)
                .http2_keep_alive_interval(Duration::from_secs(5))
                .keep_alive_timeout(Duration::from_secs(5))
                .initial_stream_window_size(Some(8 << 20))
                .initial_connection_window_size(Some(32 << 20))
                .connect_with_connector_lazy(connector);
            channels.insert(id, ch);
        }
        Ok(Peers {
            channels: Arc::new(channels),
            dialer,
        })
    }

    /// This node's credentials, which the RPC listener checks incoming connections with.
    pub fn auth(&self) -> &PeerAuth {
        &self.dialer.auth
    }

    /// A new authenticated connection to `target` (append streams open theirs here).
    pub async fn dial(&self, target: NodeId) -> std::io::Result<TcpStream> {
        self.dialer.dial(target).await
    }

    pub fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.channels.keys().copied()
    }

    /// The peer's RPC address.
    pub fn addr(&self, target: NodeId) -> Option<SocketAddr> {
        self.dialer.addrs.get(&target).copied()
    }

    fn channel(&self, target: NodeId) -> Result<Channel, PeerError> {
        self.channels
            .get(&target)
            .cloned()
            .ok_or(PeerError::UnknownNode(target))
    }

    fn raft_client(&self, target: NodeId) -> Result<RaftServiceClient<Channel>, PeerError> {
        Ok(RaftServiceClient::new(self.channel(target)?)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES))
    }

    fn node_client(&self, target: NodeId) -> Result<NodeServiceClient<Channel>, PeerError> {
        Ok(NodeServiceClient::new(self.channel(target)?)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES))
    }

    /// One of a group's unary Raft RPCs: `payload` is the encoded request, the answer the
    /// encoded response.
    pub async fn raft(
        &self,
        target: NodeId,
        group: GroupId,
        rpc: RaftRpc,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, PeerError> {
        let mut client = self.raft_client(target)?;
        let req = with_timeout(pb::GroupMessage { group, payload }, timeout);
        let reply = match rpc {
            RaftRpc::Append => within(timeout, client.append(req)).await,
            RaftRpc::Vote => within(timeout, client.vote(req)).await,
            RaftRpc::PreVote => within(timeout, client.pre_vote(req)).await,
            RaftRpc::TransferLeader => within(timeout, client.transfer_leader(req)).await,
        }?;
        open(reply)
    }

    /// Streams a snapshot file to `target` for `group`, `header` (the encoded vote and meta)
    /// first; the answer is the encoded response.
    pub async fn install_snapshot(
        &self,
        target: NodeId,
        group: GroupId,
        header: Vec<u8>,
        mut file: tokio::fs::File,
    ) -> Result<Vec<u8>, PeerError> {
        let mut client = self.raft_client(target)?;
        let (tx, rx) = tokio::sync::mpsc::channel::<pb::SnapshotChunk>(4);
        let reader = async move {
            let mut first = Some(header);
            loop {
                let mut buf = vec![0u8; SNAPSHOT_CHUNK_BYTES];
                let n = file.read(&mut buf).await?;
                buf.truncate(n);
                let chunk = pb::SnapshotChunk {
                    group,
                    header: first.take().unwrap_or_default(),
                    data: buf,
                };
                if tx.send(chunk).await.is_err() || n == 0 {
                    return Ok::<(), std::io::Error>(());
                }
            }
        };
        let send = async move {
            let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
            client.install_snapshot(stream).await
        };
        let (read, reply) = tokio::join!(reader, send);
        read?;
        open(reply?.into_inner())
    }

    /// Runs a command on `target` (the group's leader, in proxy mode) and returns its reply.
    pub async fn forward(
        &self,
        target: NodeId,
        group: GroupId,
        args: &[Bytes],
        timeout: Duration,
    ) -> Result<Frame, PeerError> {
        let msg = pb::ForwardRequest {
            group,
            args: args.iter().map(|a| a.to_vec()).collect(),
        };
        let mut client = self.node_client(target)?;
        let reply = within(timeout, client.forward(with_timeout(msg, timeout))).await?;
        Ok(decode::<Frame>(&reply.frame)?)
    }

    /// Delivers a PUBLISH (or SPUBLISH) to `target`'s own subscribers: how many received it.
    pub async fn publish(
        &self,
        target: NodeId,
        channel: &Bytes,
        message: &Bytes,
        sharded: bool,
        timeout: Duration,
    ) -> Result<u64, PeerError> {
        let msg = pb::PublishRequest {
            channel: channel.to_vec(),
            message: message.to_vec(),
            sharded,
        };
        let mut client = self.node_client(target)?;
        let reply = within(timeout, client.publish(with_timeout(msg, timeout))).await?;
        Ok(reply.receivers)
    }

    /// Tells `target` which groups this node (`from`) leads; the answer is who answered and
    /// what it leads.
    pub async fn heartbeat(
        &self,
        target: NodeId,
        from: NodeId,
        claims: &[LeaderClaim],
        timeout: Duration,
    ) -> Result<(NodeId, Vec<LeaderClaim>), PeerError> {
        let msg = pb::HeartbeatRequest {
            from,
            leads: claims.iter().map(|c| pb::LeaderClaim::from(*c)).collect(),
        };
        let mut client = self.node_client(target)?;
        let reply = within(timeout, client.heartbeat(with_timeout(msg, timeout))).await?;
        Ok((reply.from, reply.leads.into_iter().map(LeaderClaim::from).collect()))
    }

    /// Asks `target`, for each of `groups` it leads, to replicate it to `node` (which started
    /// on an empty data directory) from the beginning.
    pub async fn allow_revert(
        &self,
        target: NodeId,
        node: NodeId,
        groups: &[GroupId],
        timeout: Duration,
    ) -> Result<RevertAnswer, PeerError> {
        let msg = pb::AllowRevertRequest {
            node,
            groups: groups.to_vec(),
        };
        let mut client = self.node_client(target)?;
        let reply = within(timeout, client.allow_revert(with_timeout(msg, timeout))).await?;
        let pairs = |v: Vec<pb::RevertAllowed>| v.into_iter().map(|r| (r.group, r.last_log)).collect();
        Ok(RevertAnswer {
            allowed: pairs(reply.allowed),
            held: pairs(reply.held),
        })
    }
}

/// A `Payload` reply: the peer either answered or said why it could not.
fn open(reply: pb::Payload) -> Result<Vec<u8>, PeerError> {
    if !reply.error.is_empty() {
        return Err(PeerError::Refused(reply.error));
    }
    Ok(reply.payload)
}

/// A `Payload` reply to a request: the encoded answer, or the receiver's refusal.
pub fn payload<T: serde::Serialize, E: std::fmt::Display>(r: Result<T, E>) -> pb::Payload {
    match r {
        Ok(v) => pb::Payload {
            payload: encode(&v),
            error: String::new(),
        },
        Err(e) => pb::Payload {
            payload: Vec::new(),
            error: e.to_string(),
        },
    }
}

impl From<LeaderClaim> for pb::LeaderClaim {
    fn from(c: LeaderClaim) -> pb::LeaderClaim {
        pb::LeaderClaim {
            group: c.group,
            term: c.term,
        }
    }
}

impl From<pb::LeaderClaim> for LeaderClaim {
    fn from(c: pb::LeaderClaim) -> LeaderClaim {
        LeaderClaim {
            group: c.group,
            term: c.term,
        }
    }
}
