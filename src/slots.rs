//! Key → slot, exactly as Redis Cluster computes it (CRC16-XMODEM of the key or of its
//! hash tag, modulo 16384), so clients and servers agree on where a key lives.

/// Number of hash slots, fixed by the Redis Cluster protocol.
pub const SLOT_COUNT: u16 = 16384;

/// A hash slot, `0..SLOT_COUNT`.
pub type Slot = u16;

/// CRC16/XMODEM (poly 0x1021, init 0), the variant Redis Cluster specifies.
pub fn crc16(data: &[u8]) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(data)
}

/// The part of the key that is hashed: the bytes between the first `{` and the next `}`
/// when that is non-empty, otherwise the whole key.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{')
        && let Some(len) = key[open + 1..].iter().position(|&b| b == b'}')
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}

/// The slot a key belongs to.
pub fn key_slot(key: &[u8]) -> Slot {
    crc16(hash_tag(key)) & (SLOT_COUNT - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_reference_vector() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }

    #[test]
    fn slots_match_redis() {
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), 3443);
        assert_eq!(key_slot(b"user1000"), 3443);
        assert_eq!(key_slot(b"foo{}{bar}"), 8363);
        assert_eq!(key_slot(b"foo{{bar}}zap"), 4015);
        assert_eq!(key_slot(b"{bar"), 4015);
        assert_eq!(key_slot(b""), 0);
    }

    #[test]
    fn unclosed_tag_hashes_whole_key() {
        assert_eq!(hash_tag(b"abc{def"), b"abc{def");
        assert_eq!(hash_tag(b"a{b}c{d}"), b"b");
    }
}
