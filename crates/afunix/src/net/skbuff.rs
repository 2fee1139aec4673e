//! The payload of a queued message (`skb->data` and its page frags,
//! `net/core/skbuff.c`), and the bytes a read gathers from messages.
//!
//! The kernel copies a `sendmsg`'s bytes into its skbs once
//! (`skb_copy_datagram_from_iter`) and out to the reader once
//! (`skb_copy_datagram_iter`). The model has one address space, so the
//! second copy can go: a stream `sendmsg` that the send buffer lets queue
//! several messages copies their bytes into one buffer whose ranges the
//! messages share, and a read that takes those messages in order gathers
//! the ranges back into that buffer and returns it. What a reader sees is
//! byte for byte the same; message boundaries, charging (`truesize`) and
//! every rule that looks at a message are unchanged.

use std::ops::Range;
use std::sync::Arc;

/// The bytes of one message, or the bytes a read gathered so far.
#[derive(Debug)]
pub(crate) enum SkbData {
    /// Bytes of their own (a datagram, a single-message write, a copy).
    Owned(Vec<u8>),
    /// `buf[start..end]` of a buffer other messages may share.
    Shared {
        /// The buffer one `sendmsg` filled.
        buf: Arc<Vec<u8>>,
        /// First byte.
        start: usize,
        /// One past the last byte.
        end: usize,
    },
}

impl Default for SkbData {
    fn default() -> Self {
        SkbData::Owned(Vec::new())
    }
}

impl From<Vec<u8>> for SkbData {
    fn from(v: Vec<u8>) -> Self {
        SkbData::Owned(v)
    }
}

impl SkbData {
    /// `buf[range]` as a message of its own that shares `buf`.
    pub(crate) fn shared(buf: &Arc<Vec<u8>>, range: Range<usize>) -> Self {
        let end = range.end.min(buf.len());
        SkbData::Shared {
            buf: Arc::clone(buf),
            start: range.start.min(end),
            end,
        }
    }

    /// The bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            SkbData::Owned(v) => v,
            SkbData::Shared { buf, start, end } => buf.get(*start..*end).unwrap_or_default(),
        }
    }

    /// How many bytes.
    pub(crate) fn len(&self) -> usize {
        match self {
            SkbData::Owned(v) => v.len(),
            SkbData::Shared { start, end, .. } => end - start,
        }
    }

    /// No bytes.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Append `src[range]` (clamped to `src`): a range that continues this
    /// one in the same shared buffer is taken as it is, anything else is
    /// copied.
    pub(crate) fn extend_from(&mut self, src: &SkbData, range: Range<usize>) {
        let end = range.end.min(src.len());
        let range = range.start.min(end)..end;
        if range.is_empty() {
            return;
        }
        if let SkbData::Shared {
            buf: from,
            start: s0,
            ..
        } = src
        {
            let (from_start, from_end) = (s0 + range.start, s0 + range.end);
            match self {
                SkbData::Owned(v) if v.is_empty() => {
                    *self = SkbData::shared(from, from_start..from_end);
                    return;
                }
                SkbData::Shared { buf, end, .. }
                    if Arc::ptr_eq(buf, from) && *end == from_start =>
                {
                    *end = from_end;
                    return;
                }
                _ => {}
            }
        }
        let bytes = src.as_slice().get(range).unwrap_or_default();
        match self {
            SkbData::Owned(v) => v.extend_from_slice(bytes),
            SkbData::Shared { .. } => {
                let mut v = std::mem::take(self).into_vec();
                v.extend_from_slice(bytes);
                *self = SkbData::Owned(v);
            }
        }
    }

    /// The bytes as a vector of their own: the buffer itself when nothing
    /// else shares it, else a copy.
    pub(crate) fn into_vec(self) -> Vec<u8> {
        match self {
            SkbData::Owned(v) => v,
            SkbData::Shared { buf, start, end } => match Arc::try_unwrap(buf) {
                Ok(mut v) => {
                    v.truncate(end);
                    if start > 0 {
                        v.copy_within(start.., 0);
                        v.truncate(end - start);
                    }
                    v
                }
                Err(buf) => buf.get(start..end).unwrap_or_default().to_vec(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buf() -> Arc<Vec<u8>> {
        Arc::new((0u8..100).collect())
    }

    #[test]
    fn adjacent_ranges_gather_into_the_buffer_itself() {
        let b = buf();
        let p = b.as_ptr();
        let (one, two) = (SkbData::shared(&b, 0..60), SkbData::shared(&b, 60..100));
        drop(b);
        let mut out = SkbData::default();
        out.extend_from(&one, 0..60);
        out.extend_from(&two, 0..40);
        drop((one, two));
        let v = out.into_vec();
        assert_eq!(v, (0u8..100).collect::<Vec<_>>());
        assert_eq!(v.as_ptr(), p, "no copy was made");
    }

    #[test]
    fn a_gap_or_a_shared_buffer_makes_a_copy() {
        let b = buf();
        let one = SkbData::shared(&b, 0..50);
        let two = SkbData::shared(&b, 60..100);
        let mut out = SkbData::default();
        out.extend_from(&one, 10..50);
        out.extend_from(&two, 0..5);
        assert_eq!(out.into_vec(), (10u8..50).chain(60..65).collect::<Vec<_>>());
        // Still shared with `one`: a copy, and `b` is untouched.
        let mut out = SkbData::default();
        out.extend_from(&one, 0..50);
        assert_eq!(out.into_vec(), (0u8..50).collect::<Vec<_>>());
        assert_eq!(b.len(), 100);
    }

    #[test]
    fn ranges_are_clamped_and_owned_bytes_append() {
        let mut out = SkbData::from(vec![1, 2]);
        out.extend_from(&SkbData::from(vec![3, 4, 5]), 1..9);
        assert_eq!(out.as_slice(), &[1, 2, 4, 5]);
        let b = buf();
        let tail = SkbData::shared(&b, 90..200);
        assert_eq!(tail.len(), 10);
        let mut out = SkbData::default();
        let (from, to) = (5, 3);
        out.extend_from(&tail, from..to);
        assert!(out.is_empty());
        drop(b);
        let mut out = SkbData::default();
        out.extend_from(&tail, 2..10);
        drop(tail);
        assert_eq!(out.into_vec(), (92u8..100).collect::<Vec<_>>());
    }
}
