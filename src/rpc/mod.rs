//! The node's gRPC services: Raft traffic for all its groups, command forwarding for proxy
//! mode, and the leadership heartbeat. Every RPC connection is authenticated first
//! (`wire::handshake`, in `accept_loop`): a peer that fails the handshake is closed and served
//! nothing.

pub mod append_stream;

use std::sync::Arc;

use openraft::async_runtime::watch::WatchReceiver;
use openraft::raft::{AppendEntriesRequest, TransferLeaderRequest, VoteRequest};
use openraft::type_config::alias::VoteOf;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use crate::cluster::view::LeaderClaim;
use crate::exec::dispatch;
use crate::ids::NodeId;
use crate::node::Node;
use crate::raft::types::{GroupId, SnapshotFile, SnapshotMeta, TypeConfig};
use crate::wire::MAX_MESSAGE_BYTES;
use crate::wire::convert::{decode, encode};
use crate::wire::handshake::{self, FailureLog};
use crate::wire::pb;
use crate::wire::peers::payload;

/// Both services, over one shared node.
#[derive(Clone)]
pub struct Services {
    node: Arc<Node>,
}

/// Why a replica being rebuilt grants no vote (see `Group::rebuilding`).
const REBUILDING: &str = "this replica started on an empty data directory: it votes (or takes leadership) once its leader has caught it up, or once every member of its group has answered that the group is new";

/// The node a request's connection authenticated as (`append_stream::Peer`).
fn sender<T>(req: &Request<T>) -> Option<NodeId> {
    req.extensions().get::<append_stream::Peer>().map(|p| p.node)
}

/// Refuses a request that speaks for another node than the one its connection authenticated as.
fn speaks_for<T>(req: &Request<T>, claimed: NodeId) -> Result<(), Status> {
    match sender(req) {
        Some(node) if node == claimed => Ok(()),
        node => Err(Status::permission_denied(format!(
            "the request speaks for node {claimed}, its connection authenticated as {node:?}"
        ))),
    }
}

fn bad(e: impl std::fmt::Display) -> Status {
    Status::invalid_argument(e.to_string())
}

fn reply<T: serde::Serialize, E: std::fmt::Display>(r: Result<T, E>) -> Result<Response<pb::Payload>, Status> {
    Ok(Response::new(payload(r)))
}

impl Services {
    fn group(&self, id: GroupId) -> Result<&crate::node::Group, Status> {
        self.node
            .group(id)
            .ok_or_else(|| Status::not_found(format!("group {id} is not hosted here")))
    }

    fn group_to_replicate(&self, id: GroupId) -> Result<&crate::node::Group, Status> {
        replica(&self.node, id).map_err(|r| match r {
            Refusal::NotHosted(_) => Status::not_found(r.to_string()),
            Refusal::AwaitingRevert(_) | Refusal::Unconfirmed(_) => Status::unavailable(r.to_string()),
        })
    }
}

/// Why a replica takes no replication from a leader now.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("group {0} is not hosted here")]
    NotHosted(GroupId),
    #[error("group {0}: this replica lost its data and waits for its leader to replicate it from the beginning")]
    AwaitingRevert(GroupId),
    #[error(
        "group {0}: this replica started on an empty data directory and waits for every member of the group to answer"
    )]
    Unconfirmed(GroupId),
}

/// The group, for a leader's replication to it: refused while this replica, rebuilt after lost
/// data, waits for its leader's consent to start over (the leader retries). A leader that
/// matched the old log would take the empty one's answer for a log gone backwards and stop
/// replicating to it for good.
pub fn replica(node: &Node, id: GroupId) -> Result<&crate::node::Group, Refusal> {
    let group = node.group(id).ok_or(Refusal::NotHosted(id))?;
    if group.awaiting_revert() {
        return Err(Refusal::AwaitingRevert(id));
    }
    if group.unconfirmed() {
        return Err(Refusal::Unconfirmed(id));
    }
    Ok(group)
}

#[tonic::async_trait]
impl pb::raft_service_server::RaftService for Services {
    async fn append(&self, req: Request<pb::GroupMessage>) -> Result<Response<pb::Payload>, Status> {
        let m = req.into_inner();
        let rpc: AppendEntriesRequest<TypeConfig> = decode(&m.payload).map_err(bad)?;
        reply(self.group_to_replicate(m.group)?.raft().append_entries(rpc).await)
    }

    async fn vote(&self, req: Request<pb::GroupMessage>) -> Result<Response<pb::Payload>, Status> {
        let m = req.into_inner();
        let rpc: VoteRequest<TypeConfig> = decode(&m.payload).map_err(bad)?;
        let group = self.group(m.group)?;
        if group.rebuilding() {
            return reply::<(), _>(Err(REBUILDING));
        }
        reply(group.raft().vote(rpc).await)
    }

    async fn pre_vote(&self, req: Request<pb::GroupMessage>) -> Result<Response<pb::Payload>, Status> {
        let m = req.into_inner();
        let rpc: VoteRequest<TypeConfig> = decode(&m.payload).map_err(bad)?;
        let group = self.group(m.group)?;
        if group.rebuilding() {
            return reply::<(), _>(Err(REBUILDING));
        }
        reply(group.raft().pre_vote(rpc).await)
    }

    async fn transfer_leader(&self, req: Request<pb::GroupMessage>) -> Result<Response<pb::Payload>, Status> {
        let m = req.into_inner();
        let rpc: TransferLeaderRequest<TypeConfig> = decode(&m.payload).map_err(bad)?;
        let group = self.group(m.group)?;
        // Taking over would mean campaigning with a log that may lack acknowledged entries.
        if group.rebuilding() {
            return reply::<(), _>(Err(REBUILDING));
        }
        reply(group.raft().handle_transfer_leader(rpc).await)
    }

    async fn install_snapshot(
        &self,
        req: Request<Streaming<pb::SnapshotChunk>>,
    ) -> Result<Response<pb::Payload>, Status> {
        use tokio::io::AsyncWriteExt;
        let mut stream = req.into_inner();
        let first = stream
            .next()
            .await
            .ok_or_else(|| bad("empty snapshot stream"))?
            .map_err(|s| Status::aborted(s.to_string()))?;
        let group = self.group_to_replicate(first.group)?;
        let (vote, meta): (VoteOf<TypeConfig>, SnapshotMeta) = decode(&first.header).map_err(bad)?;
        let path = group.incoming_snapshot_path();
        let io = |e: std::io::Error| Status::internal(e.to_string());
        let mut file = tokio::fs::File::create(&path).await.map_err(io)?;
        let mut chunk = Some(first);
        let received = async {
            while let Some(c) = chunk.take() {
                file.write_all(&c.data).await?;
                chunk = match stream.next().await {
                    Some(Ok(c)) => Some(c),
                    Some(Err(s)) => return Err(std::io::Error::other(s.to_string())),
                    None => None,
                };
            }
            file.sync_all().await
        }
        .await;
        if let Err(e) = received {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(io(e));
        }
        let snapshot = openraft::type_config::alias::SnapshotOf::<TypeConfig, SnapshotFile> {
            meta,
            snapshot: SnapshotFile { path },
        };
        reply(group.raft().install_full_snapshot(vote, snapshot).await)
    }
}

#[tonic::async_trait]
impl pb::node_service_server::NodeService for Services {
    async fn forward(&self, req: Request<pb::ForwardRequest>) -> Result<Response<pb::ForwardReply>, Status> {
        let m = req.into_inner();
        let args = m.args.into_iter().map(bytes::Bytes::from).collect::<Vec<_>>();
        let frame = dispatch::execute_forwarded(&self.node, m.group, args).await;
        Ok(Response::new(pb::ForwardReply { frame: encode(&frame) }))
    }

    async fn publish(&self, req: Request<pb::PublishRequest>) -> Result<Response<pb::PublishReply>, Status> {
        let m = req.into_inner();
        let (channel, message) = (bytes::Bytes::from(m.channel), bytes::Bytes::from(m.message));
        let n = if m.sharded {
            self.node.pubsub.spublish(&channel, &message)
        } else {
            self.node.pubsub.publish(&channel, &message)
        };
        Ok(Response::new(pb::PublishReply { receivers: n as u64 }))
    }

    async fn allow_revert(
        &self,
        req: Request<pb::AllowRevertRequest>,
    ) -> Result<Response<pb::AllowRevertReply>, Status> {
        speaks_for(&req, req.get_ref().node)?;
        let m = req.into_inner();
        let (mut allowed, mut held) = (Vec::new(), Vec::new());
        for id in m.groups {
            let Some(g) = self.node.group(id) else { continue };
            let (leader, last_log) = {
                let m = g.raft().metrics();
                let m = m.borrow_watched();
                (m.current_leader, m.last_log_index.unwrap_or(0))
            };
            // A replica being rebuilt holds less than it knows the group has had: a peer
            // that started on an empty data directory must not count it as new.
            let last_log = last_log.max(g.known_history());
            held.push(pb::RevertAllowed { group: id, last_log });
            // Only a leader replicates (openraft would refuse anywhere else).
            if leader != Some(self.node.id) {
                continue;
            }
            if let Ok(Ok(())) = g.raft().trigger().allow_next_revert(&m.node, true).await {
                tracing::warn!(
                    group = id,
                    node = m.node,
                    "node started on an empty data directory (after the others on a new cluster, or having lost its data): replicating the group to it from the beginning"
                );
                allowed.push(pb::RevertAllowed { group: id, last_log });
            }
        }
        Ok(Response::new(pb::AllowRevertReply { allowed, held }))
    }

    async fn heartbeat(&self, req: Request<pb::HeartbeatRequest>) -> Result<Response<pb::HeartbeatReply>, Status> {
        speaks_for(&req, req.get_ref().from)?;
        let m = req.into_inner();
        let claims: Vec<LeaderClaim> = m.leads.into_iter().map(LeaderClaim::from).collect();
        crate::node::learn_claims(&self.node, m.from, &claims);
        let leads = crate::node::leader_claims(&self.node)
            .into_iter()
            .map(pb::LeaderClaim::from)
            .collect();
        Ok(Response::new(pb::HeartbeatReply {
            from: self.node.id,
            leads,
        }))
    }
}

/// Serves both services on the node's RPC address until shutdown.
pub async fn serve(node: Arc<Node>, listener: tokio::net::TcpListener) -> Result<(), tonic::transport::Error> {
    let services = Services { node: node.clone() };
    let raft = pb::raft_service_server::RaftServiceServer::new(services.clone())
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let cluster = pb::node_service_server::NodeServiceServer::new(services)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let mut shutdown = node.shutdown_signal();
    // Connections are told apart by their first bytes: append streams are served here, the
    // rest goes to tonic.
    let (grpc, incoming) = tokio::sync::mpsc::channel::<append_stream::Replayed>(64);
    let accepting = tokio::spawn(accept_loop(node, listener, grpc));
    let incoming = tokio_stream::wrappers::ReceiverStream::new(incoming).map(Ok::<_, std::io::Error>);
    let served = tonic::transport::Server::builder()
        .initial_stream_window_size(Some(8 << 20))
        .initial_connection_window_size(Some(32 << 20))
        .add_service(raft)
        .add_service(cluster)
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = shutdown.changed().await;
        })
        .await;
    accepting.abort();
    served
}

/// RPC connections a node keeps open at once: each peer needs a gRPC connection and an append
/// stream for each group the two share (and a few more while reconnecting), so four for each
/// peer and each local group, and room to spare, are far more than peers use.
fn rpc_connection_limit(node: &Node) -> usize {
    4 * (node.config.nodes.len() + node.groups().count()) + 64
}

/// Accepts RPC connections until shutdown, each told apart in its own task; those over
/// `rpc_connection_limit` are closed at once.
async fn accept_loop(
    node: Arc<Node>,
    listener: tokio::net::TcpListener,
    grpc: tokio::sync::mpsc::Sender<append_stream::Replayed>,
) {
    let mut shutdown = node.shutdown_signal();
    let limit = rpc_connection_limit(&node);
    let places = Arc::new(tokio::sync::Semaphore::new(limit));
    let failures: Arc<FailureLog<std::net::IpAddr>> = Arc::default();
    let mut last_warning: Option<std::time::Instant> = None;
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let (mut tcp, from) = match tcp {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors, most likely: give connections time to close.
                tracing::warn!(error = %e, "accepting an RPC connection failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = places.clone().try_acquire_owned() else {
            // Peers need far fewer: a stranger holding connections open.
            if last_warning.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(60)) {
                last_warning = Some(std::time::Instant::now());
                tracing::warn!(
                    limit,
                    "RPC connection refused: the node already has its limit of RPC connections open"
                );
            }
            drop(tcp);
            continue;
        };
        let (node, grpc, failures) = (node.clone(), grpc.clone(), failures.clone());
        tokio::spawn(async move {
            // Before anything is read for the protocol: an unauthenticated peer is served
            // nothing. (A TLS acceptor would wrap `tcp` here.)
            let peer = match handshake::accept(node.peers.auth(), &mut tcp).await {
                Ok(peer) => peer,
                Err(e) => {
                    if let Some(suppressed) = failures.due(&from.ip(), std::time::Instant::now()) {
                        tracing::warn!(
                            %from,
                            suppressed,
                            "RPC connection refused: node-to-node authentication failed: {e}"
                        );
                    }
                    return;
                }
            };
            match append_stream::accept(node, tcp, peer, permit).await {
                Ok(append_stream::Accepted::Other(conn)) => {
                    let _ = grpc.send(conn).await;
                }
                Ok(append_stream::Accepted::Served) => {}
                Err(e) => tracing::debug!(error = %e, "RPC connection closed before it said what it is"),
            }
        });
    }
}
