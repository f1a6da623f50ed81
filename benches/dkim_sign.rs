//! The raw RSA-2048 and Ed25519 signing rate of each candidate backend for DKIM, on one core:
//! the measurement behind the choice of `aws-lc-rs` (docs/sending.md, "DKIM speed"). Compare
//! with `openssl speed rsa2048` in the same minute; the machine is shared, so absolute figures
//! move, the ratios much less.
//!
//! Run with `cargo bench --bench dkim_sign`. The whole message (compose + canonicalise + hash +
//! sign) is measured by `cargo bench --bench compose`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer};

/// What DKIM signs per message: the canonical signed header fields, about 1 KB.
const DATA: [u8; 1024] = [b'h'; 1024];

fn raw_signing(c: &mut Criterion) {
    let pem = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dkim/rsa-test-key.pem"))
        .expect("the test key");
    let PrivateKeyDer::Pkcs1(der) = PrivateKeyDer::from_pem_slice(&pem).expect("pem") else { panic!("PKCS#1") };
    let der: PrivatePkcs1KeyDer<'_> = der;
    let mut group = c.benchmark_group("sign");
    group.throughput(Throughput::Elements(1));

    let key = aws_lc_rs::signature::RsaKeyPair::from_der(der.secret_pkcs1_der()).expect("aws-lc-rs key");
    let random = aws_lc_rs::rand::SystemRandom::new();
    let mut signature = vec![0; key.public_modulus_len()];
    group.bench_function("rsa2048 aws-lc-rs", |b| {
        b.iter(|| key.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &random, black_box(&DATA), &mut signature));
    });

    let key = ring::rsa::KeyPair::from_der(der.secret_pkcs1_der()).expect("ring key");
    let random = ring::rand::SystemRandom::new();
    let mut signature = vec![0; key.public().modulus_len()];
    group.bench_function("rsa2048 ring", |b| {
        b.iter(|| key.sign(&ring::signature::RSA_PKCS1_SHA256, &random, black_box(&DATA), &mut signature));
    });

    {
        use rsa::pkcs1::DecodeRsaPrivateKey as _;
        use rsa::sha2::Digest as _;
        let key = rsa::RsaPrivateKey::from_pkcs1_der(der.secret_pkcs1_der()).expect("RustCrypto key");
        group.bench_function("rsa2048 RustCrypto rsa (mail-auth's backend, before)", |b| {
            b.iter(|| {
                let hash = rsa::sha2::Sha256::digest(black_box(&DATA));
                key.sign(rsa::Pkcs1v15Sign::new::<rsa::sha2::Sha256>(), &hash).expect("signs")
            });
        });
    }

    let seed = [7u8; 32];
    let key = aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(&seed).expect("aws-lc-rs ed25519");
    group.bench_function("ed25519 aws-lc-rs", |b| b.iter(|| key.sign(black_box(&DATA[..32]))));
    let key = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).expect("ring ed25519");
    group.bench_function("ed25519 ring", |b| b.iter(|| key.sign(black_box(&DATA[..32]))));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = raw_signing
}
criterion_main!(benches);
