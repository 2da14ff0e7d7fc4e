//! Direct TCP transport framing ([MS-SMB2] 2.1): each SMB2 message (or compound chain, or
//! transform) is preceded by a 4-byte big-endian length whose first byte is zero, so a frame
//! carries at most 2^24 - 1 bytes.

use super::{DecodeError, DecodeResult};
use alloc::vec::Vec;

/// Largest payload one frame can carry.
pub const MAX_FRAME_LEN: usize = (1 << 24) - 1;

/// Length of the direct TCP prefix.
pub const PREFIX_LEN: usize = 4;

/// The 4-byte prefix for a payload of `len` bytes.
pub fn prefix(len: usize) -> DecodeResult<[u8; 4]> {
    if len > MAX_FRAME_LEN {
        return Err(DecodeError::TooLong {
            len,
            max: MAX_FRAME_LEN,
        });
    }
    Ok((len as u32).to_be_bytes())
}

/// Length announced by a prefix, or an error if its first byte is not zero.
pub fn announced_len(p: [u8; 4]) -> DecodeResult<usize> {
    if p[0] != 0 {
        return Err(DecodeError::BadField {
            field: "DirectTcpZero",
            value: p[0].into(),
        });
    }
    Ok(u32::from_be_bytes(p) as usize)
}

/// Reassembles frames from a byte stream that arrives in arbitrary pieces.
///
/// Two ways to feed it: [`FrameReader::push`] copies bytes in; or, to save that copy on the
/// data path, a socket reads straight into [`FrameReader::read_space`] and reports how much
/// it read with [`FrameReader::commit`]. Whole frames come out of
/// [`FrameReader::next_frame_mut`] as their own mutable region of the buffer (no copy), so an
/// encrypted frame can be decrypted in place.
///
/// The buffer never grows beyond one frame plus the bytes of the next ones already received,
/// and a frame's announced length is checked against `max_len` before any room is made for
/// it. Space handed out for reading is zeroed once when the buffer grows (no unsafe code),
/// never again.
#[derive(Debug)]
pub struct FrameReader {
    /// `buf[..filled]` holds received bytes; `buf[filled..]` is zeroed room for more.
    buf: bytes::BytesMut,
    filled: usize,
    max_len: usize,
}

impl FrameReader {
    /// A reader that rejects frames longer than `max_len` (at most [`MAX_FRAME_LEN`]).
    pub fn new(max_len: usize) -> Self {
        FrameReader {
            buf: bytes::BytesMut::new(),
            filled: 0,
            max_len: max_len.min(MAX_FRAME_LEN),
        }
    }

    /// Append received bytes (one copy; see [`FrameReader::read_space`] to avoid it).
    pub fn push(&mut self, data: &[u8]) {
        self.read_space(data.len())[..data.len()].copy_from_slice(data);
        self.commit(data.len());
    }

    /// Room to read at least `min` bytes into, and the whole rest of the frame being received
    /// when its length is known (so one large read can complete it). After reading `n` bytes
    /// into the start of the returned slice, call [`FrameReader::commit`]`(n)`.
    pub fn read_space(&mut self, min: usize) -> &mut [u8] {
        let rest_of_frame = self.announced().map_or(0, |len| {
            (PREFIX_LEN + len.min(self.max_len)).saturating_sub(self.filled)
        });
        let want = min.max(rest_of_frame);
        if self.buf.len() - self.filled < want {
            self.buf.resize(self.filled + want, 0);
        }
        &mut self.buf[self.filled..]
    }

    /// `n` bytes were read into the space [`FrameReader::read_space`] returned.
    pub fn commit(&mut self, n: usize) {
        self.filled = (self.filled + n).min(self.buf.len());
    }

    /// The buffer itself, holding exactly the bytes received, with capacity reserved for at
    /// least `min` more and for the rest of the frame being received: for a socket that
    /// appends into uninitialised capacity (`bytes::BufMut`, e.g. tokio's `read_buf`), so
    /// that no room is zeroed first. Call [`FrameReader::commit_appended`] after appending.
    /// (What [`FrameReader::read_space`] costs: a memset of every byte received, about a
    /// tenth of the client's CPU in a large download.)
    pub fn unfilled_buf(&mut self, min: usize) -> &mut bytes::BytesMut {
        let rest_of_frame = self.announced().map_or(0, |len| {
            (PREFIX_LEN + len.min(self.max_len)).saturating_sub(self.filled)
        });
        // Zeroed room left by `read_space` is not data.
        self.buf.truncate(self.filled);
        self.buf.reserve(min.max(rest_of_frame));
        &mut self.buf
    }

    /// Bytes were appended to the buffer [`FrameReader::unfilled_buf`] returned.
    pub fn commit_appended(&mut self) {
        self.filled = self.buf.len();
    }

    /// Bytes held that do not yet form a whole frame.
    pub fn buffered(&self) -> usize {
        self.filled
    }

    /// Length announced by the prefix at the start of the buffer, if it has arrived (whatever
    /// its validity: [`FrameReader::next_frame_mut`] checks it).
    fn announced(&self) -> Option<usize> {
        (self.filled >= PREFIX_LEN).then(|| {
            u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize
        })
    }

    /// The next whole frame's payload (without prefix), `Ok(None)` if more bytes are needed,
    /// or an error when the stream is corrupt (the connection must then be dropped).
    pub fn next_frame(&mut self) -> DecodeResult<Option<bytes::Bytes>> {
        Ok(self.next_frame_mut()?.map(bytes::BytesMut::freeze))
    }

    /// Like [`FrameReader::next_frame`], but the payload stays mutable (its own region of
    /// the buffer, no copy), so an encrypted frame can be decrypted in place.
    pub fn next_frame_mut(&mut self) -> DecodeResult<Option<bytes::BytesMut>> {
        if self.filled < PREFIX_LEN {
            return Ok(None);
        }
        let len = announced_len([self.buf[0], self.buf[1], self.buf[2], self.buf[3]])?;
        if len > self.max_len {
            return Err(DecodeError::TooLong {
                len,
                max: self.max_len,
            });
        }
        if self.filled < PREFIX_LEN + len {
            return Ok(None);
        }
        let mut frame = self.buf.split_to(PREFIX_LEN + len);
        self.filled -= PREFIX_LEN + len;
        let _ = frame.split_to(PREFIX_LEN);
        Ok(Some(frame))
    }
}

/// Prefix `payload` and return the whole frame (one allocation; for small messages).
pub fn frame(payload: &[u8]) -> DecodeResult<Vec<u8>> {
    let mut v = Vec::with_capacity(PREFIX_LEN + payload.len());
    v.extend_from_slice(&prefix(payload.len())?);
    v.extend_from_slice(payload);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reassembles_frames_split_anywhere() {
        let mut stream = Vec::new();
        stream.extend(frame(b"hello").unwrap());
        stream.extend(frame(b"").unwrap());
        stream.extend(frame(&[7u8; 300]).unwrap());
        for chunk in 1..stream.len() {
            let mut r = FrameReader::new(MAX_FRAME_LEN);
            let mut got = Vec::new();
            for piece in stream.chunks(chunk) {
                r.push(piece);
                while let Some(f) = r.next_frame().unwrap() {
                    got.push(f);
                }
            }
            assert_eq!(got.len(), 3);
            assert_eq!(&got[0][..], b"hello");
            assert!(got[1].is_empty());
            assert_eq!(got[2].len(), 300);
            assert_eq!(r.buffered(), 0);
        }
    }

    /// Three frames (5 bytes, 70,000 bytes of 9, 1 byte) as one stream.
    fn three_frames() -> Vec<u8> {
        let mut stream = Vec::new();
        stream.extend(frame(b"hello").unwrap());
        stream.extend(frame(&[9u8; 70_000]).unwrap());
        stream.extend(frame(b"x").unwrap());
        stream
    }

    fn assert_three_frames(got: &[bytes::BytesMut], r: &FrameReader, chunk: usize) {
        assert_eq!(got.len(), 3, "chunk {chunk}");
        assert_eq!(&got[0][..], b"hello");
        assert_eq!(got[1].len(), 70_000);
        assert!(got[1].iter().all(|&b| b == 9));
        assert_eq!(&got[2][..], b"x");
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn reading_into_its_space_gives_the_same_frames() {
        let stream = three_frames();
        for chunk in [1, 3, 4, 5, 1000, 65536, stream.len()] {
            let mut r = FrameReader::new(MAX_FRAME_LEN);
            let mut got = Vec::new();
            let mut src = &stream[..];
            while !src.is_empty() {
                let space = r.read_space(chunk);
                // Once the prefix is known, the space covers the rest of the frame.
                assert!(space.len() >= chunk);
                let n = chunk.min(src.len()).min(space.len());
                space[..n].copy_from_slice(&src[..n]);
                r.commit(n);
                src = &src[n..];
                while let Some(f) = r.next_frame_mut().unwrap() {
                    got.push(f);
                }
            }
            assert_three_frames(&got, &r, chunk);
        }
    }

    #[test]
    fn appending_into_its_buffer_gives_the_same_frames() {
        use bytes::BufMut;
        let stream = three_frames();
        for chunk in [1, 3, 4, 5, 1000, 65536, stream.len()] {
            let mut r = FrameReader::new(MAX_FRAME_LEN);
            let mut got = Vec::new();
            let mut src = &stream[..];
            // Alternate with `read_space`: the two ways of feeding mix.
            let mut zeroed = false;
            while !src.is_empty() {
                let n = chunk.min(src.len());
                if zeroed {
                    r.read_space(n)[..n].copy_from_slice(&src[..n]);
                    r.commit(n);
                } else {
                    let buf = r.unfilled_buf(n);
                    assert!(buf.capacity() - buf.len() >= n);
                    buf.put_slice(&src[..n]);
                    r.commit_appended();
                }
                zeroed = !zeroed;
                src = &src[n..];
                while let Some(f) = r.next_frame_mut().unwrap() {
                    got.push(f);
                }
            }
            assert_three_frames(&got, &r, chunk);
        }
        // A prefix past the limit is refused before room is made for the frame.
        let mut r = FrameReader::new(1000);
        r.unfilled_buf(4).put_slice(&prefix(5000).unwrap());
        r.commit_appended();
        assert!(r.next_frame_mut().is_err());
        assert!(r.unfilled_buf(1).capacity() < 5000);
    }

    #[test]
    fn read_space_is_bounded_by_max_len() {
        let mut r = FrameReader::new(1024);
        r.push(&[0, 0xFF, 0xFF, 0xFF]); // announces 16 MiB - 1
        assert!(r.read_space(16).len() <= 1024 + PREFIX_LEN);
        assert!(matches!(
            r.next_frame_mut(),
            Err(DecodeError::TooLong { .. })
        ));
    }

    #[test]
    fn rejects_oversized_and_nonzero_prefix() {
        let mut r = FrameReader::new(1024);
        r.push(&[0, 0, 0x04, 0x01]);
        assert!(matches!(r.next_frame(), Err(DecodeError::TooLong { .. })));
        let mut r = FrameReader::new(1024);
        r.push(&[0xFF, 0, 0, 1]);
        assert!(r.next_frame().is_err());
        assert!(prefix(MAX_FRAME_LEN + 1).is_err());
        assert_eq!(prefix(MAX_FRAME_LEN).unwrap(), [0, 0xFF, 0xFF, 0xFF]);
    }
}
