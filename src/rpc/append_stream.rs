//! The follower's end of an append stream (framing in `wire::stream`): an RPC connection that,
//! once authenticated (`wire::handshake`), goes on with `wire::stream::MAGIC` is served here;
//! any other is handed to tonic with its first bytes put back, and the authenticated node's id
//! in its requests' extensions (`Peer`).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::{FutureExt, StreamExt};
use openraft::raft::{AppendEntriesRequest, StreamAppendResult};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

use crate::ids::NodeId;
use crate::node::Node;
use crate::raft::types::TypeConfig;
use crate::wire::stream::{
    FIRST_BYTES_WITHIN, FrameReader, Hello, MAGIC, VERSION, WRITE_AT_MOST, push_frame, tune, write_out,
};

/// The follower's frames on this stream.
type Answer = crate::wire::stream::Answer<StreamAppendResult<TypeConfig>>;

/// What an accepted RPC connection turned out to be.
pub enum Accepted {
    /// An append stream, now served.
    Served,
    /// Anything else (gRPC): for tonic, with the bytes already read put back in front.
    Other(Replayed),
}

/// Reads a new connection's first bytes after its handshake: serves it here if it is an append
/// stream, or hands it back for gRPC.
/// `peer`: the node the handshake authenticated. `permit`: its place among the node's RPC
/// connections, held as long as the connection is.
pub async fn accept(
    node: Arc<Node>,
    tcp: TcpStream,
    peer: NodeId,
    permit: OwnedSemaphorePermit,
) -> io::Result<Accepted> {
    tune(&tcp);
    let mut tcp = tcp;
    let mut head = [0u8; 4];
    tokio::time::timeout(FIRST_BYTES_WITHIN, tcp.read_exact(&mut head))
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    if head != MAGIC {
        return Ok(Accepted::Other(Replayed {
            head,
            at: 0,
            tcp,
            peer,
            _permit: permit,
        }));
    }
    if let Err(e) = serve(node, tcp, peer).await {
        tracing::debug!(error = %e, "append stream ended");
    }
    Ok(Accepted::Served)
}

/// The follower's end: answers each AppendEntries of the stream in order. `_peer`, the
/// authenticated node, is not checked against the requests' leader yet.
async fn serve(node: Arc<Node>, tcp: TcpStream, _peer: NodeId) -> io::Result<()> {
    let (rd, mut wr) = tcp.into_split();
    let mut frames = FrameReader::new(rd);
    let hello: Hello = tokio::time::timeout(FIRST_BYTES_WITHIN, frames.next_decoded())
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    let mut out = Vec::with_capacity(64 * 1024);
    let group = if hello.version == VERSION {
        crate::rpc::replica(&node, hello.group).map_err(|r| r.to_string())
    } else {
        Err(format!(
            "append stream version {} is not spoken here (this node speaks {VERSION})",
            hello.version
        ))
    };
    let raft = match group {
        Ok(group) => group.raft().clone(),
        Err(why) => {
            push_frame(&mut out, &Answer::Refused(why));
            write_out(&mut wr, &mut out).await?;
            return wr.shutdown().await;
        }
    };
    push_frame(&mut out, &Answer::Accepted);
    write_out(&mut wr, &mut out).await?;
    // Requests until the leader closes its side; an unreadable one ends the stream (the leader
    // then opens another).
    let requests = futures::stream::unfold(frames, |mut frames| async move {
        let request = frames.next_decoded::<AppendEntriesRequest<TypeConfig>>().await;
        request.ok().map(|r| (r, frames))
    });
    // Fused: openraft's stream must not be polled again once it has ended, and a look for
    // more ready answers may find its end.
    let mut replies = std::pin::pin!(raft.stream_append(requests).fuse());
    while let Some(first) = replies.next().await {
        // Let the tasks woken with this answer make theirs ready too.
        tokio::task::yield_now().await;
        let mut ended = false;
        let mut reply = Some(first);
        // Every answer ready now goes out in one write.
        while let Some(r) = reply.take() {
            match r {
                Ok(result) => {
                    // A conflict or a higher vote is the stream's last answer.
                    ended = result.is_err();
                    push_frame(&mut out, &Answer::Result(result));
                }
                Err(fatal) => {
                    push_frame(&mut out, &Answer::Refused(fatal.to_string()));
                    ended = true;
                }
            }
            if ended || out.len() >= WRITE_AT_MOST {
                break;
            }
            reply = replies.next().now_or_never().flatten();
        }
        write_out(&mut wr, &mut out).await?;
        if ended {
            break;
        }
    }
    wr.shutdown().await
}

/// A connection whose first bytes were read to tell its protocol, with them put back: what
/// tonic's server is given for gRPC.
pub struct Replayed {
    head: [u8; 4],
    at: usize,
    tcp: TcpStream,
    peer: NodeId,
    _permit: OwnedSemaphorePermit,
}

/// Who sent a gRPC request: the node its connection authenticated as, and the connection's
/// remote address. tonic puts it in every request's extensions (`Request::extensions`).
#[derive(Clone, Debug)]
pub struct Peer {
    pub node: NodeId,
    pub remote: Option<std::net::SocketAddr>,
}

impl AsyncRead for Replayed {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.at < this.head.len() {
            let n = (this.head.len() - this.at).min(buf.remaining());
            buf.put_slice(&this.head[this.at..this.at + n]);
            this.at += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Replayed {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for Replayed {
    type ConnectInfo = Peer;

    fn connect_info(&self) -> Self::ConnectInfo {
        Peer {
            node: self.peer,
            remote: self.tcp.peer_addr().ok(),
        }
    }
}
