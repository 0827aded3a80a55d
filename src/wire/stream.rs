//! The framing of replication's hot path: a leader's stream of AppendEntries for one group to one follower,
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
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::ids::GroupId;
use crate::wire::MAX_MESSAGE_BYTES;
use crate::wire::convert::decode;

/// The first bytes of an append stream's connection.
pub const MAGIC: [u8; 4] = *b"SRAS";
/// Bumped when frames change meaning; a follower refuses a version it does not speak.
pub const VERSION: u32 = 1;
/// Longest a new connection may take to send its first four bytes, then its `Hello`.
pub const FIRST_BYTES_WITHIN: Duration = Duration::from_secs(10);
/// Frames ready at once are written together up to about this many bytes.
pub const WRITE_AT_MOST: usize = 1 << 20;

/// The leader's first frame.
#[derive(Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
    pub group: GroupId,
}

/// The follower's frames; `R` is the answer to one request (openraft's `StreamAppendResult`).
#[derive(Serialize, Deserialize)]
pub enum Answer<R> {
    /// The stream is open: send requests.
    Accepted,
    /// Not now (and why); the stream ends. The leader retries after its backoff.
    Refused(String),
    /// The answer to the next unanswered request.
    Result(R),
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
                // Room for what the header announced, a MiB at a time: the announcement
                // alone does not allocate it.
                self.buf.reserve((4 + len - self.buf.len()).min(1 << 20));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_come_out_whole_however_the_bytes_arrive() {
        let mut wire = Vec::new();
        push_frame(&mut wire, &Hello { version: 7, group: 3 });
        push_frame(&mut wire, &Answer::<u8>::Refused("no".into()));
        // One byte per read: every frame still comes out whole, then the end.
        let (mut w, r) = tokio::io::duplex(1);
        let writer = tokio::spawn(async move { w.write_all(&wire).await });
        let mut frames = FrameReader::new(r);
        let hello: Hello = frames.next_decoded().await.unwrap();
        assert_eq!((hello.version, hello.group), (7, 3));
        let answer: Answer<u8> = frames.next_decoded().await.unwrap();
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
