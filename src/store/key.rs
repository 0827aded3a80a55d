//! A key as the store keeps it in a slot's table and in the deadline index.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;

/// Longest key kept inline: the key is then as wide as the `Arc<[u8]>` (plus its tag) it
/// replaces.
pub const INLINE: usize = 22;

/// A key of up to [`INLINE`] bytes (most keys are: `user:1000:session`,
/// `key:000000012345`) sits in the table's bucket itself: a lookup compares bytes on the cache
/// line the probe already fetched, instead of following a pointer to a cold allocation (a
/// cache miss on every SET of a large keyspace), and the key costs no allocation of its own
/// (32 bytes with the reference counts). A longer key is one allocation holding the reference
/// counts and the bytes, so sharing it (a snapshot's copy of a slot, the deadline index)
/// allocates nothing.
#[derive(Clone)]
pub enum Key {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Arc<[u8]>),
}

impl Key {
    pub fn new(b: &[u8]) -> Key {
        if b.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..b.len()].copy_from_slice(b);
            Key::Inline {
                len: b.len() as u8,
                bytes,
            }
        } else {
            Key::Shared(Arc::from(b))
        }
    }

    /// The key as a reply's or a command's `Bytes`: a copy of an inline key, the store's
    /// allocation shared for a longer one.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Key::Inline { len, bytes } => Bytes::copy_from_slice(&bytes[..*len as usize]),
            Key::Shared(b) => Bytes::from_owner(b.clone()),
        }
    }
}

impl From<&[u8]> for Key {
    fn from(b: &[u8]) -> Key {
        Key::new(b)
    }
}

impl Deref for Key {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..*len as usize],
            Key::Shared(b) => b,
        }
    }
}

/// Lookups by `&[u8]`: `Hash`, `Eq` and `Ord` below are the slice's, as `Borrow` requires.
impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        **self == **other
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> Ordering {
        (**self).cmp(&**other)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", Bytes::copy_from_slice(self))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use super::*;

    #[test]
    fn as_wide_as_a_shared_slice() {
        assert_eq!(std::mem::size_of::<Key>(), 24);
    }

    #[test]
    fn short_keys_inline_and_long_ones_shared_read_back_alike() {
        for n in [0, 1, INLINE - 1, INLINE, INLINE + 1, 100] {
            let b: Vec<u8> = (0..n as u8).collect();
            let k = Key::new(&b);
            assert_eq!(matches!(k, Key::Inline { .. }), n <= INLINE, "length {n}");
            assert_eq!(&*k, &b[..]);
            assert_eq!(k.to_bytes(), Bytes::from(b.clone()));
            assert_eq!(k.clone(), k);
        }
    }

    #[test]
    fn found_by_slice_and_ordered_as_slices() {
        let keys: Vec<Vec<u8>> = vec![
            b"a".to_vec(),
            vec![b'a'; INLINE],
            vec![b'a'; INLINE + 1],
            b"b".to_vec(),
            vec![],
        ];
        let map: HashMap<Key, usize, foldhash::fast::RandomState> =
            keys.iter().enumerate().map(|(i, k)| (Key::new(k), i)).collect();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(map.get(&k[..]), Some(&i));
        }
        assert_eq!(map.get(&b"c"[..]), None);
        let ordered: Vec<Vec<u8>> = keys
            .iter()
            .map(|k| Key::new(k))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|k| k.to_vec())
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(ordered, sorted);
    }
}
