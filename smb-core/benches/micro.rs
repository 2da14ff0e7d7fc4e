//! Micro benchmarks of smb-core's hot paths, in bytes per second: framing, the header and the
//! READ/WRITE codecs, signing and verification per algorithm, and encryption and decryption
//! per cipher, for each crypto provider compiled in.
//!
//! ```sh
//! cargo bench -p smb-core --features aws-lc --bench micro            # both providers
//! cargo bench -p smb-core --bench micro -- 'sign'                     # RustCrypto only, a filter
//! ```
//!
//! Numbers of a run on the project's machine are in bench/results-micro.txt. The end-to-end
//! comparison with smbclient is scripts/bench; nothing here is asserted by the test suite.

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use smb_core::crypto::{CipherId, CryptoProvider, RustCryptoProvider, SigningAlgorithm};
use smb_core::wire::framing::{FrameReader, prefix};
use smb_core::wire::read::ReadResponse;
use smb_core::wire::write::WriteRequest;
use smb_core::wire::{Command, Decode, Encode, HEADER_LEN, Header, HeaderFlags};
use std::hint::black_box;

/// Message sizes: a small metadata answer, a 64 KiB piece and a 1 MiB READ/WRITE.
const SIZES: [usize; 3] = [256, 64 << 10, 1 << 20];
const SIGNING: [SigningAlgorithm; 3] = SigningAlgorithm::ALL;
const CIPHERS: [CipherId; 4] = CipherId::ALL;

fn providers() -> Vec<(&'static str, &'static dyn CryptoProvider)> {
    #[allow(unused_mut)]
    let mut v: Vec<(&'static str, &'static dyn CryptoProvider)> =
        vec![("rustcrypto", &RustCryptoProvider)];
    #[cfg(feature = "aws-lc")]
    v.push(("aws-lc", &smb_core::crypto::AwsLcProvider));
    v
}

/// Deterministic filler, so runs compare (no RNG dependency).
fn payload(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 7)) as u8)
        .collect()
}

/// A complete READ response message (header + body) carrying `len` bytes.
fn read_response(len: usize) -> Vec<u8> {
    let data = payload(len);
    let mut h = Header::request(Command::Read);
    h.flags.set(HeaderFlags::SERVER_TO_REDIR, true);
    h.message_id = 7;
    h.session_id = 0x1122_3344_5566_7788;
    let mut msg = Vec::with_capacity(HEADER_LEN + 16 + len);
    h.encode(&mut msg);
    ReadResponse {
        data: &data,
        data_remaining: 0,
        flags: 0,
    }
    .encode(&mut msg);
    msg
}

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("codec");
    for len in SIZES {
        let msg = read_response(len);
        g.throughput(Throughput::Bytes(msg.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("decode READ response", len),
            &msg,
            |b, msg| {
                b.iter(|| {
                    let h = Header::decode(black_box(msg)).unwrap();
                    let r = ReadResponse::decode(msg).unwrap();
                    black_box((h.message_id, r.data.len()))
                })
            },
        );
        let data = payload(len);
        g.bench_with_input(
            BenchmarkId::new("encode WRITE request", len),
            &data,
            |b, data| {
                let mut out = Vec::with_capacity(HEADER_LEN + 64 + len);
                b.iter(|| {
                    out.clear();
                    let mut h = Header::request(Command::Write);
                    h.message_id = 9;
                    h.encode(&mut out);
                    WriteRequest {
                        data,
                        offset: 1 << 30,
                        ..Default::default()
                    }
                    .encode(&mut out);
                    black_box(out.len())
                })
            },
        );
        // NetBIOS framing: the prefix, then the reader splitting a byte stream into frames.
        let mut stream = Vec::new();
        for _ in 0..4 {
            stream.extend_from_slice(&prefix(msg.len()).unwrap());
            stream.extend_from_slice(&msg);
        }
        g.throughput(Throughput::Bytes(stream.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("frame 4 messages", len),
            &stream,
            |b, stream| {
                let mut reader = FrameReader::new(16 << 20);
                b.iter(|| {
                    reader.push(black_box(stream));
                    let mut n = 0;
                    while let Some(f) = reader.next_frame().unwrap() {
                        n += f.len();
                    }
                    black_box(n)
                })
            },
        );
    }
    g.finish();
}

fn signing(c: &mut Criterion) {
    let mut g = c.benchmark_group("signing");
    for (name, p) in providers() {
        for alg in SIGNING {
            let signer = p.signer(alg, &[7u8; 16]).unwrap();
            for len in SIZES {
                let mut msg = read_response(len);
                g.throughput(Throughput::Bytes(msg.len() as u64));
                g.bench_function(BenchmarkId::new(format!("sign {alg:?} {name}"), len), |b| {
                    b.iter(|| signer.sign(black_box(&mut msg)).unwrap())
                });
                signer.sign(&mut msg).unwrap();
                g.bench_function(
                    BenchmarkId::new(format!("verify {alg:?} {name}"), len),
                    |b| b.iter(|| signer.verify(black_box(&msg)).unwrap()),
                );
            }
        }
    }
    g.finish();
}

fn encryption(c: &mut Criterion) {
    let mut g = c.benchmark_group("encryption");
    let nonce = [3u8; 16];
    let aad = [5u8; 32];
    for (name, p) in providers() {
        for id in CIPHERS {
            let cipher = p.cipher(id, &vec![7u8; id.key_len()]).unwrap();
            for len in SIZES {
                let plain = read_response(len);
                g.throughput(Throughput::Bytes(plain.len() as u64));
                let mut buf = plain.clone();
                g.bench_function(
                    BenchmarkId::new(format!("encrypt {id:?} {name}"), len),
                    |b| {
                        b.iter(|| {
                            cipher
                                .encrypt_in_place(&nonce, &aad, black_box(&mut buf))
                                .unwrap()
                        })
                    },
                );
                let mut sealed = plain.clone();
                let tag = cipher.encrypt_in_place(&nonce, &aad, &mut sealed).unwrap();
                // Each decryption needs the ciphertext again: the copy is in the setup, untimed.
                g.bench_function(
                    BenchmarkId::new(format!("decrypt {id:?} {name}"), len),
                    |b| {
                        b.iter_batched_ref(
                            || sealed.clone(),
                            |buf| cipher.decrypt_in_place(&nonce, &aad, buf, &tag).unwrap(),
                            BatchSize::LargeInput,
                        )
                    },
                );
            }
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    // Short runs: the aim is bytes per second per path, not sub-percent precision.
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1))
        .sample_size(20);
    targets = codec, signing, encryption
}
criterion_main!(benches);
