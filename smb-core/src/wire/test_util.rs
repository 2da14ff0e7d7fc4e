//! Helpers shared by the tests of every wire module.

use crate::wire::{Command, Decode, Encode, Header, HeaderFlags, NtStatus};
use alloc::vec::Vec;
use core::fmt::Debug;

/// The header a test message gets: a request header for `cmd`, turned into a response
/// (SERVER_TO_REDIR) when `response`.
pub fn header(cmd: Command, response: bool) -> Header {
    let mut h = Header::request(cmd);
    if response {
        h.flags = HeaderFlags(HeaderFlags::SERVER_TO_REDIR);
    }
    h
}

/// A whole message: a header for `cmd` (response when `response`) followed by `body`.
pub fn message<B: Encode + ?Sized>(cmd: Command, response: bool, body: &B) -> Vec<u8> {
    let mut msg = Vec::new();
    header(cmd, response).encode(&mut msg);
    body.encode(&mut msg);
    msg
}

/// A response message for `cmd` with `status` in its header, followed by `body`.
pub fn response_with_status<B: Encode + ?Sized>(
    cmd: Command,
    status: NtStatus,
    body: &B,
) -> Vec<u8> {
    let mut h = header(cmd, true);
    h.status = status;
    let mut msg = Vec::new();
    h.encode(&mut msg);
    body.encode(&mut msg);
    msg
}

/// Encode, decode, compare; re-encode and compare the bytes. Returns the message.
pub fn round_trip<T>(cmd: Command, response: bool, body: &T) -> Vec<u8>
where
    T: Encode + for<'a> Decode<'a> + PartialEq + Debug,
{
    let msg = message(cmd, response, body);
    let back = T::decode(&msg).expect("decodes");
    assert_eq!(&back, body);
    let again = message(cmd, response, &back);
    assert_eq!(again, msg);
    msg
}

/// Every strict prefix of `msg` must decode to an error (and never panic).
pub fn prefixes_fail<'a, T: Decode<'a> + Debug>(msg: &'a [u8]) {
    for n in 0..msg.len() {
        assert!(
            T::decode(&msg[..n]).is_err(),
            "prefix {n} of {} decoded",
            msg.len()
        );
    }
}

/// Every strict prefix of a valid message must make `fails` return true, without panicking.
pub fn all_prefixes_fail(msg: &[u8], fails: impl Fn(&[u8]) -> bool) {
    for n in 0..msg.len() {
        assert!(fails(&msg[..n]), "prefix {n} of {} decoded", msg.len());
    }
}

/// Hex text (whitespace and line-continuation backslashes ignored) to bytes.
pub fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
    assert!(digits.len() % 2 == 0, "odd number of hex digits");
    digits
        .chunks(2)
        .map(|p| {
            let v = |c: u8| (c as char).to_digit(16).unwrap() as u8;
            (v(p[0]) << 4) | v(p[1])
        })
        .collect()
}

/// Decode `msg`'s header, re-encode header + `body` and compare with the original bytes.
pub fn reencodes_exactly<T: Encode + ?Sized>(msg: &[u8], body: &T) {
    let mut again = Vec::new();
    Header::decode(msg).unwrap().encode(&mut again);
    body.encode(&mut again);
    assert_eq!(again, msg);
}

/// Decode `msg` as `T` and re-encode it after the original header bytes.
pub fn reencode<'a, T: Decode<'a> + Encode>(msg: &'a [u8]) -> Vec<u8> {
    let body = T::decode(msg).expect("message decodes");
    let mut out = msg[..crate::wire::HEADER_LEN].to_vec();
    body.encode(&mut out);
    out
}
