//! A tiny DER reader and writer, just enough for SPNEGO (RFC 4178) and the GSS-API
//! InitialContextToken wrapper (RFC 2743 3.1).
//!
//! Decoding is flat (no recursion): the caller walks each structure explicitly, so nesting depth
//! is bounded by the code, not by the input. Every length is checked against the bytes that are
//! left before it is used, and nothing is allocated while reading.

use alloc::vec::Vec;

use super::AuthError;

/// Universal tag: OBJECT IDENTIFIER.
pub const TAG_OID: u8 = 0x06;
/// Universal tag: OCTET STRING.
pub const TAG_OCTET_STRING: u8 = 0x04;
/// Universal tag: ENUMERATED.
pub const TAG_ENUMERATED: u8 = 0x0a;
/// Universal tag: BIT STRING.
pub const TAG_BIT_STRING: u8 = 0x03;
/// Universal tag: GeneralString.
pub const TAG_GENERAL_STRING: u8 = 0x1b;
/// Universal constructed tag: SEQUENCE / SEQUENCE OF.
pub const TAG_SEQUENCE: u8 = 0x30;
/// Application 0, constructed: the GSS-API InitialContextToken ([RFC 2743] 3.1).
pub const TAG_GSS_INITIAL: u8 = 0x60;

/// The tag of context-specific constructed field `[n]` (n < 31).
pub const fn context(n: u8) -> u8 {
    0xa0 | n
}

/// One element: its identifier octet and its contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The identifier octet (only low-tag-number form is supported).
    pub tag: u8,
    /// The contents octets.
    pub value: &'a [u8],
}

/// A cursor over a sequence of DER elements.
#[derive(Clone, Debug)]
pub struct DerReader<'a> {
    buf: &'a [u8],
}

fn malformed(what: &'static str) -> AuthError {
    AuthError::MalformedToken { what }
}

impl<'a> DerReader<'a> {
    /// A reader over `buf`, which holds zero or more elements.
    pub fn new(buf: &'a [u8]) -> Self {
        DerReader { buf }
    }

    /// True when every element has been read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    /// The identifier octet of the next element, if any.
    pub fn peek_tag(&self) -> Option<u8> {
        self.buf.first().copied()
    }

    /// Read the next element, checking that its length fits in what is left.
    pub fn read(&mut self) -> Result<Tlv<'a>, AuthError> {
        let (&tag, rest) = self.buf.split_first().ok_or(malformed("DER element"))?;
        if tag & 0x1f == 0x1f {
            return Err(malformed("DER high tag number"));
        }
        let (&first, mut rest) = rest.split_first().ok_or(malformed("DER length"))?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            // 0x80 is BER's indefinite form; more than 4 length octets cannot fit any token.
            if n == 0 || n > 4 || n > rest.len() {
                return Err(malformed("DER length"));
            }
            let mut len = 0usize;
            for &b in &rest[..n] {
                len = (len << 8) | usize::from(b);
            }
            rest = &rest[n..];
            len
        };
        if len > rest.len() {
            return Err(malformed("DER length exceeds input"));
        }
        let (value, after) = rest.split_at(len);
        self.buf = after;
        Ok(Tlv { tag, value })
    }

    /// Read the next element and require its tag to be `tag`.
    pub fn expect(&mut self, tag: u8, what: &'static str) -> Result<&'a [u8], AuthError> {
        let t = self.read().map_err(|_| malformed(what))?;
        if t.tag != tag {
            return Err(malformed(what));
        }
        Ok(t.value)
    }

    /// If the next element has tag `tag`, read it and return its contents.
    pub fn optional(&mut self, tag: u8, what: &'static str) -> Result<Option<&'a [u8]>, AuthError> {
        if self.peek_tag() == Some(tag) {
            self.expect(tag, what).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// Append a DER length.
pub fn put_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Append one element `tag`, length, `value`.
pub fn put_tlv(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    out.push(tag);
    put_len(out, value.len());
    out.extend_from_slice(value);
}

/// One element as a fresh vector.
pub fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(value.len() + 6);
    put_tlv(&mut v, tag, value);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn lengths_round_trip() {
        for len in [0usize, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x1_0000, 70_000] {
            let value = vec![0xab; len];
            let enc = tlv(TAG_OCTET_STRING, &value);
            let mut r = DerReader::new(&enc);
            let t = r.read().unwrap();
            assert_eq!(t.tag, TAG_OCTET_STRING);
            assert_eq!(t.value.len(), len);
            assert!(r.is_empty());
        }
        assert_eq!(tlv(4, &[0; 0x80])[..3], [4, 0x81, 0x80]);
        assert_eq!(tlv(4, &[0; 0x100])[..4], [4, 0x82, 1, 0]);
    }

    #[test]
    fn rejects_bad_lengths() {
        for bad in [
            &[][..],
            &[0x04],
            &[0x04, 0x01],
            &[0x04, 0x80],                         // indefinite
            &[0x04, 0x85, 0, 0, 0, 0, 1],          // too many length octets
            &[0x04, 0x82, 0x01],                   // truncated length
            &[0x04, 0x84, 0xff, 0xff, 0xff, 0xff], // huge
            &[0x1f, 0x01, 0x00],                   // high tag number
        ] {
            assert!(DerReader::new(bad).read().is_err(), "{bad:02x?}");
        }
    }

    #[test]
    fn expect_and_optional() {
        let mut enc = tlv(context(0), &tlv(TAG_ENUMERATED, &[1]));
        enc.extend(tlv(context(2), &tlv(TAG_OCTET_STRING, b"tok")));
        let mut r = DerReader::new(&enc);
        assert_eq!(r.optional(context(1), "x").unwrap(), None);
        let f0 = r.optional(context(0), "x").unwrap().unwrap();
        assert_eq!(DerReader::new(f0).expect(TAG_ENUMERATED, "e").unwrap(), [1]);
        assert!(r.clone().expect(context(3), "wrong").is_err());
        let f2 = r.expect(context(2), "x").unwrap();
        assert_eq!(
            DerReader::new(f2).expect(TAG_OCTET_STRING, "o").unwrap(),
            b"tok"
        );
        assert!(r.is_empty());
    }
}
