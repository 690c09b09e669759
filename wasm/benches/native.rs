//! Native figures for the operations of `wasm/bench/bench.mjs`, through `parchment-core` the
//! way the package calls it, so the Node benchmark can show the WASM/native ratio. The ids
//! are read back from `target/criterion/<id>/new/estimates.json` by bench.mjs.
//!
//! `cargo bench -p parchment-wasm --bench native`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use parchment_core::canonical;
use parchment_core::derive::{self, IdentityKeys};
use parchment_core::envelope::{self, Aad, Algorithm};
use parchment_core::keys::{Ed25519PublicKey, Ed25519Signature};
use parchment_core::Seed;
use rand_core::OsRng;

const AAD: Aad<'static> = Aad {
    user_id: "user-123",
    record_type: "personal-blob",
    record_id: "bench",
    key_context: "parchment-personal-v1",
};

/// The same shape of JSON as bench.mjs's `json2k`.
fn json_text() -> String {
    let items: Vec<String> = (0..21)
        .map(|i| {
            format!(
                r#"{{"name":"point {i}","lng":{},"lat":{},"tags":["cafe","wifi"],"z":{}}}"#,
                -122.4 + f64::from(i) / 100.0,
                37.7 + f64::from(i) / 100.0,
                i % 2 == 0
            )
        })
        .collect();
    format!(
        r#"{{"to":"bob@b.example","from":"alice@a.example","message_type":"RESOURCE_SHARE","timestamp":"2026-04-20T12:00:00.000Z","payload":{{"role":"viewer","resourceType":"collection","items":[{}]}}}}"#,
        items.join(",")
    )
}

fn benches(c: &mut Criterion) {
    let seed_bytes: [u8; 32] = core::array::from_fn(|i| i as u8);
    let seed = Seed::from_bytes(seed_bytes);
    let keys = IdentityKeys::derive(&seed);
    let personal = derive::personal_key(&seed);
    let message = [0x5au8; 200];
    let signature = keys.signing.sign(&message).to_base64();
    let public = keys.signing.public_key().to_base64();
    let kib = vec![7u8; 1024];
    let mib = vec![7u8; 1024 * 1024];
    let aes = envelope::seal(&personal, Algorithm::Aes256Gcm, &AAD, &mib, &mut OsRng).unwrap();
    let json = json_text();

    c.bench_function("derive_identity", |b| {
        b.iter(|| {
            let seed = Seed::from_slice(black_box(&seed_bytes)).unwrap();
            let keys = IdentityKeys::derive(&seed);
            black_box((keys.signing.public_key(), keys.encryption.public_key()))
        })
    });
    c.bench_function("sign_200", |b| {
        b.iter(|| keys.signing.sign(black_box(&message)).to_base64())
    });
    c.bench_function("verify_200", |b| {
        b.iter(|| {
            let key = Ed25519PublicKey::from_base64(black_box(&public)).unwrap();
            let sig = Ed25519Signature::from_base64(black_box(&signature)).unwrap();
            key.verify(&message, &sig).is_ok()
        })
    });
    c.bench_function("xchacha_seal_1k", |b| {
        b.iter(|| {
            envelope::seal(
                &personal,
                Algorithm::DEFAULT,
                &AAD,
                black_box(&kib),
                &mut OsRng,
            )
        })
    });
    c.bench_function("xchacha_seal_1m", |b| {
        b.iter(|| {
            envelope::seal(
                &personal,
                Algorithm::DEFAULT,
                &AAD,
                black_box(&mib),
                &mut OsRng,
            )
        })
    });
    c.bench_function("aes_gcm_open_1m", |b| {
        b.iter(|| envelope::open(&personal, &AAD, black_box(&aes)).unwrap())
    });
    c.bench_function("canonical_2k", |b| {
        b.iter(|| canonical::canonicalize(black_box(&json)).unwrap())
    });
}

criterion_group! {
    name = native;
    // Short runs: these figures are context for the WASM table, not a regression suite.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(20);
    targets = benches
}
criterion_main!(native);
