//! Native figures for the hot operations (the limit the WASM build is measured against).
//! Run: `cargo bench -p parchment-core`.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use parchment_core::canonical::{self, Value};
use parchment_core::derive::{self, IdentityKeys, SymmetricKey};
use parchment_core::envelope::{self, Aad, Algorithm};
use parchment_core::federation::{Envelope, MessageType, UnsignedMessage};
use parchment_core::Seed;

const AAD: Aad<'static> = Aad {
    user_id: "user-123",
    record_type: "personal-blob",
    record_id: "places",
    key_context: "parchment-personal-v1",
};

/// A realistic federation envelope of about `size` bytes of canonical JSON.
fn envelope_of_size(size: usize) -> Envelope {
    let key = derive::signing_key(&Seed::from_bytes([1; 32]));
    let mut message = UnsignedMessage {
        message_type: MessageType::ResourceShare,
        message_version: 1,
        from: "alice@a.example".into(),
        to: "bob@b.example".into(),
        nonce: "AAECAwQFBgcICQoLDA0ODw==".into(),
        timestamp: "2026-04-20T12:00:00.000Z".into(),
        payload: [
            ("resourceType", Value::string("collection")),
            ("resourceId", Value::string("col-1")),
            ("role", Value::string("viewer")),
            ("nonce", Value::string("0NHS09TV1tfY2drb")),
        ]
        .into_iter()
        .collect(),
    };
    let base = message.sign(&key).body().len();
    let filler = "A".repeat(size.saturating_sub(base + 20));
    message
        .payload
        .insert("encryptedData", Value::string(&filler));
    message.sign(&key)
}

fn benches(c: &mut Criterion) {
    let seed = Seed::from_bytes([1; 32]);
    c.bench_function(
        "derive identity (signing + encryption keys, public keys)",
        |b| {
            b.iter(|| {
                let keys = IdentityKeys::derive(black_box(&seed));
                black_box((keys.signing.public_key(), keys.encryption.public_key()))
            })
        },
    );

    // A 200-byte v2 federation signable.
    let signer = derive::signing_key(&seed);
    let message = vec![b'x'; 200];
    let signature = signer.sign(&message);
    let public = signer.public_key();
    c.bench_function("ed25519 sign 200 B", |b| {
        b.iter(|| signer.sign(black_box(&message)))
    });
    c.bench_function("ed25519 verify 200 B", |b| {
        b.iter(|| public.verify(black_box(&message), &signature).is_ok())
    });

    let key = SymmetricKey::from_bytes([7; 32]);
    let mut group = c.benchmark_group("aead");
    for size in [1024usize, 1 << 20] {
        let plaintext = vec![0x5au8; size];
        group.throughput(Throughput::Bytes(size as u64));
        for (name, alg) in [
            ("xchacha20poly1305", Algorithm::XChaCha20Poly1305),
            ("aes256gcm", Algorithm::Aes256Gcm),
        ] {
            let nonce = vec![3u8; alg.nonce_length()];
            group.bench_with_input(
                BenchmarkId::new(format!("{name} seal"), size),
                &plaintext,
                |b, p| b.iter(|| envelope::seal_with_nonce(&key, alg, &nonce, &AAD, black_box(p))),
            );
            let sealed = envelope::seal_with_nonce(&key, alg, &nonce, &AAD, &plaintext).unwrap();
            group.bench_with_input(
                BenchmarkId::new(format!("{name} open"), size),
                &sealed,
                |b, s| b.iter(|| envelope::open(&key, &AAD, black_box(s))),
            );
        }
    }
    group.finish();

    let envelope = envelope_of_size(2048);
    let body = envelope.body();
    assert!(
        (2000..=2100).contains(&body.len()),
        "body is {} bytes",
        body.len()
    );
    c.bench_function(
        "canonical JSON of a 2 KiB envelope (parse + canonicalize)",
        |b| b.iter(|| canonical::canonicalize(black_box(&body))),
    );
    c.bench_function(
        "verify a 2 KiB federation envelope (parse + signable + verify)",
        |b| b.iter(|| Envelope::parse(black_box(&body)).map(|e| e.verify(&public))),
    );
}

criterion_group! {
    name = core;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = benches
}
criterion_main!(core);
