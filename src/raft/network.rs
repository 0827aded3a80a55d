//! Outgoing Raft traffic: one lazily connected, reused gRPC channel per peer, shared by every
//! group (openraft-multi's `GroupRouter`), and the per-group network factory openraft asks for.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use openraft::BasicNode;
use openraft::error::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest, TransferLeaderResponse,
    VoteRequest, VoteResponse,
};
use openraft::type_config::alias::{SnapshotOf, VoteOf};
use openraft_multi::{GroupNetworkAdapter, GroupRouter};
use tokio::io::AsyncReadExt;
use tonic::transport::{Channel, Endpoint};

use crate::raft::state_machine::SnapshotFile;
use crate::raft::types::{GroupId, NodeId, TypeConfig};
use crate::rpc::convert::{decode, encode};
use crate::rpc::pb;
use crate::rpc::pb::node_service_client::NodeServiceClient;
use crate::rpc::pb::raft_service_client::RaftServiceClient;

/// Largest gRPC message either side accepts (an append of many entries can be large).
pub const MAX_MESSAGE_BYTES: usize = 512 * 1024 * 1024;
const SNAPSHOT_CHUNK_BYTES: usize = 1024 * 1024;

/// Channels to every peer, created once at start and reused for all RPCs.
#[derive(Clone)]
pub struct Peers {
    channels: Arc<BTreeMap<NodeId, Channel>>,
}

impl Peers {
    pub fn new(addrs: &BTreeMap<NodeId, SocketAddr>) -> Result<Peers, tonic::transport::Error> {
        let mut channels = BTreeMap::new();
        for (&id, addr) in addrs {
            let ch = Endpoint::from_shared(format!("http://{addr}"))?
                .connect_timeout(Duration::from_millis(500))
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(5))
                .keep_alive_timeout(Duration::from_secs(5))
                .initial_stream_window_size(Some(8 << 20))
                .initial_connection_window_size(Some(32 << 20))
                .connect_lazy();
            channels.insert(id, ch);
        }
        Ok(Peers {
            channels: Arc::new(channels),
        })
    }

    fn channel<E>(&self, target: NodeId) -> Result<Channel, RPCError<TypeConfig, E>>
    where
        E: std::error::Error + 'static,
    {
        self.channels
            .get(&target)
            .cloned()
            .ok_or_else(|| RPCError::Unreachable(Unreachable::from_string(format!("unknown node {target}"))))
    }

    pub fn raft_client(&self, target: NodeId) -> Option<RaftServiceClient<Channel>> {
        self.channels.get(&target).map(|c| {
            RaftServiceClient::new(c.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES)
        })
    }

    pub fn node_client(&self, target: NodeId) -> Option<NodeServiceClient<Channel>> {
        self.channels.get(&target).map(|c| {
            NodeServiceClient::new(c.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES)
        })
    }

    pub fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.channels.keys().copied()
    }
}

fn status_to_rpc_error(status: tonic::Status) -> RPCError<TypeConfig> {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
            RPCError::Unreachable(Unreachable::from_string(status.message()))
        }
        _ => RPCError::Network(NetworkError::from_string(status.to_string())),
    }
}

fn with_timeout<T>(msg: T, option: &RPCOption) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.set_timeout(option.hard_ttl());
    req
}

/// Decodes a `Payload` reply: the remote either answered or said why it could not.
fn open_payload<T: serde::de::DeserializeOwned>(reply: pb::Payload) -> Result<T, RPCError<TypeConfig>> {
    if !reply.error.is_empty() {
        return Err(RPCError::Network(NetworkError::from_string(reply.error)));
    }
    decode(&reply.payload).map_err(|e| RPCError::Network(NetworkError::new(&e)))
}

impl Peers {
    async fn call<Req, Resp, F, Fut>(
        &self,
        target: NodeId,
        group: GroupId,
        rpc: &Req,
        option: &RPCOption,
        f: F,
    ) -> Result<Resp, RPCError<TypeConfig>>
    where
        Req: serde::Serialize,
        Resp: serde::de::DeserializeOwned,
        F: FnOnce(RaftServiceClient<Channel>, tonic::Request<pb::GroupMessage>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<pb::Payload>, tonic::Status>>,
    {
        let ch = self.channel(target)?;
        let client = RaftServiceClient::new(ch)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let msg = pb::GroupMessage {
            group,
            payload: encode(rpc),
        };
        let reply = f(client, with_timeout(msg, option))
            .await
            .map_err(status_to_rpc_error)?;
        open_payload(reply.into_inner())
    }
}

impl GroupRouter<TypeConfig, GroupId> for Peers {
    type SnapshotData = SnapshotFile;

    async fn append_entries(
        &self,
        target: NodeId,
        group: GroupId,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.call(
            target,
            group,
            &rpc,
            &option,
            |mut c, r| async move { c.append(r).await },
        )
        .await
    }

    async fn vote(
        &self,
        target: NodeId,
        group: GroupId,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.call(target, group, &rpc, &option, |mut c, r| async move { c.vote(r).await })
            .await
    }

    async fn pre_vote(
        &self,
        target: NodeId,
        group: GroupId,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.call(
            target,
            group,
            &rpc,
            &option,
            |mut c, r| async move { c.pre_vote(r).await },
        )
        .await
    }

    async fn transfer_leader(
        &self,
        target: NodeId,
        group: GroupId,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.call(target, group, &req, &option, |mut c, r| async move {
            c.transfer_leader(r).await
        })
        .await
    }

    async fn full_snapshot(
        &self,
        target: NodeId,
        group: GroupId,
        vote: VoteOf<TypeConfig>,
        snapshot: SnapshotOf<TypeConfig, SnapshotFile>,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let unreachable = |m: String| StreamingError::Unreachable(Unreachable::from_string(m));
        let Some(mut client) = self.raft_client(target) else {
            return Err(unreachable(format!("unknown node {target}")));
        };
        let mut file = tokio::fs::File::open(&snapshot.snapshot.path)
            .await
            .map_err(|e| StreamingError::Network(NetworkError::new(&e)))?;
        let header = encode(&(vote, snapshot.meta.clone()));
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
        let work = async move {
            let (read, reply) = tokio::join!(reader, send);
            read.map_err(|e| StreamingError::Network(NetworkError::new(&e)))?;
            let reply = reply.map_err(|s| unreachable(s.to_string()))?;
            let reply = reply.into_inner();
            if !reply.error.is_empty() {
                return Err(StreamingError::Network(NetworkError::from_string(reply.error)));
            }
            decode::<SnapshotResponse<TypeConfig>>(&reply.payload)
                .map_err(|e| StreamingError::Network(NetworkError::new(&e)))
        };
        tokio::select! {
            closed = cancel => Err(StreamingError::Closed(closed)),
            res = work => res,
        }
    }
}

/// openraft's per-group network factory: binds a group id to the shared `Peers`.
pub struct GroupNetwork {
    pub peers: Peers,
    pub group: GroupId,
}

impl RaftNetworkFactory<TypeConfig> for GroupNetwork {
    type Network = GroupNetworkAdapter<TypeConfig, GroupId, Peers>;

    async fn new_client(&mut self, target: NodeId, _node: &BasicNode) -> Self::Network {
        GroupNetworkAdapter::new(self.peers.clone(), target, self.group)
    }
}
