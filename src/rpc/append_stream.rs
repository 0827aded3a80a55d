//! Replication's hot path: a leader's stream of AppendEntries for one group to one follower,
//! as length-prefixed postcard frames on a TCP connection of its own, instead of a gRPC stream.
//!
//! Why not gRPC: with h2 each message went through tonic's codec, h2's framing and flow
//! control, and hyper's connection task on both ends (an extra task hand-off per message each
//! way); under unpipelined SETs the h2/hyper/tonic frames were in over a third of the nodes'
//! CPU samples. Here the leader's writer task and the follower's handler write the socket
//! themselves, and everything ready goes out in one write.
//!
//! The connection goes to the node's RPC port, which tells it from gRPC by its first four
//! bytes (`MAGIC`; an HTTP/2 client starts with `PRI `). Then, both ways, frames: a
//! little-endian `u32` length and that many bytes of postcard.
//! - leader: `Hello`, then one `AppendEntriesRequest` per frame, in order;
//! - follower: `Answer::Accepted` or `Answer::Refused`, then one `Answer::Result` per request,
//!   in the same order. A refusal or a fatal error ends the stream; so does the leader closing
//!   its side, once every request has its answer.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures::{FutureExt, StreamExt};
use openraft::raft::{AppendEntriesRequest, StreamAppendResult};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use crate::node::Node;
use crate::raft::network::MAX_MESSAGE_BYTES;
use crate::raft::types::{GroupId, TypeConfig};
use crate::rpc::convert::decode;

/// The first bytes of an append stream's connection.
pub const MAGIC: [u8; 4] = *b"SRAS";
/// Bumped when frames change meaning; a follower refuses a version it does not speak.
pub const VERSION: u32 = 1;
/// Longest a new connection may take to send its first four bytes, then its `Hello`.
const FIRST_BYTES_WITHIN: Duration = Duration::from_secs(10);
/// Frames ready at once are written together up to about this many bytes.
pub const WRITE_AT_MOST: usize = 1 << 20;

/// The leader's first frame.
#[derive(Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
    pub group: GroupId,
}

/// The follower's frames.
#[derive(Serialize, Deserialize)]
pub enum Answer {
    /// The stream is open: send requests.
    Accepted,
    /// Not now (and why); the stream ends. The leader retries after its backoff.
    Refused(String),
    /// The answer to the next unanswered request.
    Result(StreamAppendResult<TypeConfig>),
}

/// Appends `value` to `buf` as one frame.
pub fn push_frame<T: Serialize>(buf: &mut Vec<u8>, value: &T) {
    let start = buf.len();
    buf.extend_from_slice(&[0; 4]);
    // postcard fails only on types serde cannot describe, which ours never are; a frame that
    // failed anyway is taken back whole.
    if postcard::serialize_with_flavor(value, Append(buf)).is_err() {
        buf.truncate(start);
        return;
    }
    let len = (buf.len() - start - 4) as u32;
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

/// postcard's output straight into a frame buffer (its own `Vec` flavor would need a copy).
struct Append<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Append<'_> {
    type Output = ();

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Splits a byte stream into frames; only whole frames come out.
pub struct FrameReader<R> {
    io: R,
    buf: BytesMut,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(io: R) -> Self {
        FrameReader {
            io,
            buf: BytesMut::with_capacity(64 * 1024),
        }
    }

    /// The next frame; `None` when the peer closed between frames. Cancel-safe: bytes read
    /// stay buffered for the next call.
    pub async fn next(&mut self) -> io::Result<Option<Bytes>> {
        loop {
            if self.buf.len() >= 4 {
                let len = u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
                if len > MAX_MESSAGE_BYTES {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("append stream: a frame of {len} bytes is over the limit"),
                    ));
                }
                if self.buf.len() >= 4 + len {
                    self.buf.advance(4);
                    return Ok(Some(self.buf.split_to(len).freeze()));
                }
                self.buf.reserve(4 + len - self.buf.len());
            } else {
                self.buf.reserve(64 * 1024);
            }
            if self.io.read_buf(&mut self.buf).await? == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// The next frame decoded; a closed stream is an error here.
    pub async fn next_decoded<T: serde::de::DeserializeOwned>(&mut self) -> io::Result<T> {
        let frame = self.next().await?.ok_or(io::ErrorKind::UnexpectedEof)?;
        decode(&frame).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

/// Both ends of a replication connection set this: either side notices within ~15 s that the
/// other is gone for good (a partition, a crashed machine), so a follower does not keep a
/// stale stream, and its task, forever.
pub fn tune(tcp: &TcpStream) {
    let _ = tcp.set_nodelay(true);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(5))
        .with_interval(Duration::from_secs(1));
    let _ = socket2::SockRef::from(tcp).set_tcp_keepalive(&keepalive);
}

/// Writes `buf` to `w`, then empties it; a buffer grown by one large burst is given back.
pub async fn write_out<W: AsyncWrite + Unpin>(w: &mut W, buf: &mut Vec<u8>) -> io::Result<()> {
    w.write_all(buf).await?;
    buf.clear();
    if buf.capacity() > 4 << 20 {
        buf.shrink_to(64 * 1024);
    }
    Ok(())
}

/// What an accepted RPC connection turned out to be.
pub enum Accepted {
    /// An append stream, now served.
    Served,
    /// Anything else (gRPC): for tonic, with the bytes already read put back in front.
    Other(Replayed),
}

/// Reads a new connection's first bytes: serves it here if it is an append stream, or hands
/// it back for gRPC.
pub async fn accept(node: Arc<Node>, tcp: TcpStream) -> io::Result<Accepted> {
    tune(&tcp);
    let mut tcp = tcp;
    let mut head = [0u8; 4];
    tokio::time::timeout(FIRST_BYTES_WITHIN, tcp.read_exact(&mut head))
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    if head != MAGIC {
        return Ok(Accepted::Other(Replayed { head, at: 0, tcp }));
    }
    if let Err(e) = serve(node, tcp).await {
        tracing::debug!(error = %e, "append stream ended");
    }
    Ok(Accepted::Served)
}

/// The follower's end: answers each AppendEntries of the stream in order.
async fn serve(node: Arc<Node>, tcp: TcpStream) -> io::Result<()> {
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
        Ok(group) => group.raft.clone(),
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
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.tcp.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_come_out_whole_however_the_bytes_arrive() {
        let mut wire = Vec::new();
        push_frame(&mut wire, &Hello { version: 7, group: 3 });
        push_frame(&mut wire, &Answer::Refused("no".into()));
        // One byte per read: every frame still comes out whole, then the end.
        let (mut w, r) = tokio::io::duplex(1);
        let writer = tokio::spawn(async move { w.write_all(&wire).await });
        let mut frames = FrameReader::new(r);
        let hello: Hello = frames.next_decoded().await.unwrap();
        assert_eq!((hello.version, hello.group), (7, 3));
        let answer: Answer = frames.next_decoded().await.unwrap();
        assert!(matches!(answer, Answer::Refused(m) if m == "no"));
        writer.await.unwrap().unwrap();
        assert!(frames.next().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_stream_cut_inside_a_frame_or_over_the_limit_is_an_error() {
        let mut wire = Vec::new();
        push_frame(&mut wire, &Hello { version: 1, group: 1 });
        wire.pop();
        let mut frames = FrameReader::new(&wire[..]);
        assert_eq!(frames.next().await.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);

        let huge = ((MAX_MESSAGE_BYTES + 1) as u32).to_le_bytes();
        let mut frames = FrameReader::new(&huge[..]);
        assert_eq!(frames.next().await.unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
