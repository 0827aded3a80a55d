//! The one place where openraft and reply types become bytes on the wire and back.
//! Raft messages are postcard-encoded openraft types inside protobuf envelopes.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a payload could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("bad rpc payload: {0}")]
pub struct DecodeError(#[from] postcard::Error);

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // postcard fails only on types serde cannot describe, which ours never are.
    postcard::to_allocvec(value).unwrap_or_default()
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    Ok(postcard::from_bytes(bytes)?)
}
