//! Property tests: round trips, tamper detection, canonical-JSON idempotence, and parsers of
//! untrusted input that must never panic.

use parchment_core::canonical::{self, Value as Js};
use parchment_core::derive::{self, SymmetricKey, WrapSecret};
use parchment_core::ecies::{self, friend_share, ShareBinding};
use parchment_core::encoding::from_base64;
use parchment_core::envelope::{self, Aad, Algorithm};
use parchment_core::federation::discovery::{ServerManifest, UserDocument};
use parchment_core::federation::{Envelope, MessageType, UnsignedMessage};
use parchment_core::keys::{Ed25519PublicKey, Ed25519SecretKey, Ed25519Signature, X25519PublicKey};
use parchment_core::safety::{safety_number_v2, SafetyIdentity, SafetyNumberV2};
use parchment_core::{key_slot, seed_wrap, Seed};
use proptest::prelude::*;
use rand_core::{CryptoRng, RngCore};

/// Deterministic test RNG (splitmix64). Only for tests: reproducible, not secure.
struct TestRng(u64);

impl RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for TestRng {}

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::Aes256Gcm),
        Just(Algorithm::XChaCha20Poly1305)
    ]
}

fn aad_fields() -> impl Strategy<Value = [String; 4]> {
    [".{0,20}", ".{0,20}", ".{0,20}", ".{0,40}"].prop_map(|f| f)
}

fn aad(f: &[String; 4]) -> Aad<'_> {
    Aad {
        user_id: &f[0],
        record_type: &f[1],
        record_id: &f[2],
        key_context: &f[3],
    }
}

/// Arbitrary JSON text values with JS-relevant edge cases (unicode keys, numbers, nesting).
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "\\PC{0,12}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("(\\PC{0,6}|[0-9]{1,3})", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn envelope_round_trip(alg in algorithm(), key in any::<[u8; 32]>(), fields in aad_fields(),
                           plaintext in prop::collection::vec(any::<u8>(), 0..65536), seed in any::<u64>()) {
        let key = SymmetricKey::from_bytes(key);
        let sealed = envelope::seal(&key, alg, &aad(&fields), &plaintext, &mut TestRng(seed)).unwrap();
        prop_assert_eq!(sealed.len(), plaintext.len() + alg.minimum_length());
        let opened = envelope::open(&key, &aad(&fields), &sealed).unwrap();
        prop_assert_eq!(opened.as_slice(), plaintext.as_slice());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bit_flip_in_envelope_fails(alg in algorithm(), fields in aad_fields(),
                                      plaintext in prop::collection::vec(any::<u8>(), 0..256),
                                      bit in any::<prop::sample::Index>(), seed in any::<u64>()) {
        let key = SymmetricKey::from_bytes([7; 32]);
        let mut sealed = envelope::seal(&key, alg, &aad(&fields), &plaintext, &mut TestRng(seed)).unwrap();
        let i = bit.index(sealed.len() * 8);
        sealed[i / 8] ^= 1 << (i % 8);
        prop_assert!(envelope::open(&key, &aad(&fields), &sealed).is_err());
    }

    #[test]
    fn any_bit_flip_in_aad_fails(alg in algorithm(), fields in aad_fields(),
                                 plaintext in prop::collection::vec(any::<u8>(), 0..64),
                                 bit in any::<prop::sample::Index>(), seed in any::<u64>()) {
        let key = SymmetricKey::from_bytes([7; 32]);
        let sealed = envelope::seal(&key, alg, &aad(&fields), &plaintext, &mut TestRng(seed)).unwrap();
        // Flip a bit of the encoded AAD; when the result is still four valid UTF-8 fields,
        // opening under it must fail.
        let mut encoded = aad(&fields).encode().unwrap();
        let i = bit.index(encoded.len() * 8);
        encoded[i / 8] ^= 1 << (i % 8);
        if let Some(flipped) = decode_aad(&encoded) {
            prop_assert!(envelope::open(&key, &aad(&flipped), &sealed).is_err());
        }
    }

    #[test]
    fn sign_then_verify(secret in any::<[u8; 32]>(), message in prop::collection::vec(any::<u8>(), 0..512),
                        flip in any::<prop::sample::Index>()) {
        let key = Ed25519SecretKey::from_bytes(&secret);
        let signature = key.sign(&message);
        let public = Ed25519PublicKey::from_base64(&key.public_key().to_base64()).unwrap();
        let signature = Ed25519Signature::from_base64(&signature.to_base64()).unwrap();
        prop_assert!(public.verify(&message, &signature).is_ok());
        let mut bad = signature.to_bytes();
        let i = flip.index(512);
        bad[i / 8] ^= 1 << (i % 8);
        prop_assert!(public.verify(&message, &Ed25519Signature::from_bytes(&bad)).is_err());
    }

    #[test]
    fn canonical_json_is_idempotent(value in json_value()) {
        let text = serde_json::to_string(&value).unwrap();
        let once = canonical::canonicalize(&text).unwrap();
        let twice = canonical::canonicalize(&once).unwrap();
        prop_assert_eq!(&once, &twice);
        // serde's own parse of our output agrees with ours.
        let reparsed: serde_json::Value = serde_json::from_str(&once).unwrap();
        prop_assert_eq!(Js::from(&reparsed).canonical(), once);
    }

    #[test]
    fn timestamps_round_trip(ms in -62_135_596_800_000i64..253_402_300_799_999) {
        let text = parchment_core::timestamp::format_millis(ms);
        prop_assert_eq!(parchment_core::timestamp::parse_millis(&text).unwrap(), ms);
    }

    #[test]
    fn seed_recovery_key_round_trip(bytes in any::<[u8; 32]>()) {
        let seed = Seed::from_bytes(bytes);
        let key = seed.to_recovery_key();
        prop_assert_eq!(key.len(), 44);
        prop_assert!(Seed::from_recovery_key(&key).unwrap() == seed);
    }

    #[test]
    fn federation_envelope_sign_verify(secret in any::<[u8; 32]>(), kind in 0usize..7,
                                       nonce in any::<[u8; 16]>(), note in "\\PC{0,40}") {
        let key = Ed25519SecretKey::from_bytes(&secret);
        let message = UnsignedMessage {
            message_type: MessageType::ALL[kind],
            message_version: 1,
            from: "alice@a.example".into(),
            to: "bob@b.example".into(),
            nonce: parchment_core::encoding::to_base64(&nonce),
            timestamp: "2026-01-01T00:00:00.000Z".into(),
            payload: [("note", Js::string(&note))].into_iter().collect(),
        };
        let envelope = message.sign(&key);
        let wire = Envelope::parse(&envelope.body()).unwrap();
        prop_assert!(wire.verify(&key.public_key()).is_ok());
    }

    #[test]
    fn seed_wrap_and_slot_round_trip(seed in any::<[u8; 32]>(), secret in any::<[u8; 32]>(),
                                     prf in prop::collection::vec(any::<u8>(), 16..64), rng in any::<u64>()) {
        let seed = Seed::from_bytes(seed);
        let secret = WrapSecret::from_bytes(secret);
        let wrapped = seed_wrap::wrap_seed(&seed, &secret, "device-1234", Algorithm::DEFAULT, &mut TestRng(rng)).unwrap();
        prop_assert!(seed_wrap::unwrap_seed(&wrapped, &secret, "device-1234").unwrap() == seed);
        prop_assert!(seed_wrap::unwrap_seed(&wrapped, &secret, "device-9999").is_err());
        let slot = key_slot::create_slot(&seed, "user-1", "cred", &prf, &mut TestRng(rng)).unwrap();
        let signing = derive::signing_key(&seed).public_key();
        prop_assert!(slot.open("user-1", &prf, &signing).unwrap() == seed);
    }

    #[test]
    fn sealed_box_round_trip(recipient in any::<[u8; 32]>(), plaintext in prop::collection::vec(any::<u8>(), 0..1024),
                             rng in any::<u64>()) {
        let seed = Seed::from_bytes(recipient);
        let secret = derive::encryption_key(&seed);
        let sealed = ecies::seal(&secret.public_key(), &plaintext, &mut TestRng(rng)).unwrap();
        let opened = ecies::open(&secret, &sealed).unwrap();
        prop_assert_eq!(opened.as_slice(), plaintext.as_slice());
        let other = derive::encryption_key(&Seed::from_bytes([1; 32]));
        prop_assert!(ecies::open(&other, &sealed).is_err());
    }

    #[test]
    fn friend_share_round_trip(plaintext in "\\PC{0,200}", rng in any::<u64>()) {
        let alice = derive::signing_key(&Seed::from_bytes([1; 32]));
        let bob = derive::encryption_key(&Seed::from_bytes([2; 32]));
        let binding = ShareBinding::new("alice@a.example", "bob@b.example", "2026-01-01T00:00:00.000Z");
        let blob = friend_share::seal(plaintext.as_bytes(), &alice, &bob.public_key(), &binding, &mut TestRng(rng)).unwrap();
        let opened = friend_share::open(&blob, &bob, &alice.public_key(), &binding).unwrap();
        prop_assert_eq!(opened.as_slice(), plaintext.as_bytes());
    }
}

/// One user of a v2 safety number: handle, Ed25519 key (from a secret, so a valid point) and
/// X25519 key (any 32 bytes).
#[derive(Debug, Clone)]
struct SafetyUser {
    handle: String,
    signing: Ed25519PublicKey,
    encryption: X25519PublicKey,
}

impl SafetyUser {
    fn identity(&self) -> SafetyIdentity<'_> {
        SafetyIdentity {
            handle: &self.handle,
            signing_key: &self.signing,
            encryption_key: &self.encryption,
        }
    }
}

fn safety_handle() -> impl Strategy<Value = String> {
    "[a-z0-9_]{3,12}@[a-z][a-z0-9-]{0,10}[a-z]\\.example(:[0-9]{1,5})?"
}

fn safety_user() -> impl Strategy<Value = SafetyUser> {
    (safety_handle(), any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(handle, secret, enc)| {
        SafetyUser {
            handle,
            signing: Ed25519SecretKey::from_bytes(&secret).public_key(),
            encryption: X25519PublicKey::from_bytes(enc),
        }
    })
}

// v2 safety numbers: 2 × 5200 SHA-512 each, so fewer cases.
proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn safety_v2_is_the_same_on_both_sides(a in safety_user(), b in safety_user()) {
        let on_a = SafetyNumberV2::new(&a.identity(), &b.identity()).unwrap();
        let on_b = SafetyNumberV2::new(&b.identity(), &a.identity()).unwrap();
        prop_assert_eq!(on_a.digits(), on_b.digits());
        prop_assert_eq!(on_a.matches_qr(&on_b.qr_payload()), Ok(true));
        prop_assert_eq!(on_b.matches_qr(&on_a.qr_payload()), Ok(true));
        // Upper-casing a handle names the same user.
        let mut shouting = b.clone();
        shouting.handle = b.handle.to_ascii_uppercase();
        prop_assert_eq!(safety_number_v2(&a.identity(), &shouting.identity()).unwrap(), on_a.digits());
    }

    #[test]
    fn safety_v2_changes_with_any_key_or_handle(a in safety_user(), b in safety_user(), other in safety_user(),
                                                 which in 0usize..6) {
        let before = SafetyNumberV2::new(&a.identity(), &b.identity()).unwrap();
        let (mut a2, mut b2) = (a.clone(), b.clone());
        let target = if which < 3 { &mut a2 } else { &mut b2 };
        match which % 3 {
            0 => {
                prop_assume!(!other.handle.eq_ignore_ascii_case(&target.handle));
                target.handle = other.handle.clone();
            }
            1 => {
                prop_assume!(other.signing != target.signing);
                target.signing = other.signing;
            }
            _ => {
                prop_assume!(other.encryption != target.encryption);
                target.encryption = other.encryption;
            }
        }
        let after = SafetyNumberV2::new(&a2.identity(), &b2.identity()).unwrap();
        prop_assert_ne!(before.digits(), after.digits());
        // Neither side's scanned code matches the other's any more.
        let after_other_side = SafetyNumberV2::new(&b2.identity(), &a2.identity()).unwrap();
        prop_assert_eq!(before.matches_qr(&after_other_side.qr_payload()), Ok(false));
    }
}

// Parsers of untrusted input: arbitrary bytes and text never panic.
proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn envelope_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        let key = SymmetricKey::from_bytes([1; 32]);
        let a = Aad { user_id: "", record_type: "", record_id: "", key_context: "" };
        let _ = envelope::check_shape(&bytes);
        let _ = envelope::open(&key, &a, &bytes);
        let _ = ecies::open(&derive::encryption_key(&Seed::from_bytes([3; 32])), &bytes);
        let alice = derive::signing_key(&Seed::from_bytes([1; 32])).public_key();
        let binding = ShareBinding::new("a@a.example", "b@b.example", "t");
        let _ = friend_share::open(&bytes, &derive::encryption_key(&Seed::from_bytes([2; 32])), &alice, &binding);
    }

    #[test]
    fn text_parsers_never_panic(text in "\\PC{0,120}", raw in prop::collection::vec(any::<u8>(), 0..120)) {
        let lossy = String::from_utf8_lossy(&raw).into_owned();
        for input in [&text, &lossy] {
            let _ = Seed::from_recovery_key(input);
            let _ = from_base64(input);
            let _ = Ed25519PublicKey::from_base64(input);
            let _ = Ed25519Signature::from_base64(input);
            let _ = X25519PublicKey::from_base64(input);
            let _ = canonical::parse(input);
            let _ = Envelope::parse(input);
            let _ = parchment_core::handle::Handle::parse(input);
            let _ = parchment_core::timestamp::parse_millis(input);
            let _ = ServerManifest::parse(input, "b.example");
            let _ = UserDocument::parse(input, &parchment_core::handle::Handle::parse("bob@b.example").unwrap());
        }
    }

    #[test]
    fn json_shaped_garbage_never_panics(text in r#"[\[\]{}",:0-9a-z\\. eE+-]{0,80}"#) {
        let _ = canonical::parse(&text);
        if let Ok(envelope) = Envelope::parse(&text) {
            let _ = envelope.signable();
            let _ = envelope.verify(&derive::signing_key(&Seed::from_bytes([1; 32])).public_key());
        }
    }
}

fn decode_aad(bytes: &[u8]) -> Option<[String; 4]> {
    let mut fields: Vec<String> = Vec::new();
    let mut rest = bytes;
    for _ in 0..4 {
        if rest.len() < 2 {
            return None;
        }
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        let body = rest.get(2..2 + len)?;
        fields.push(String::from_utf8(body.to_vec()).ok()?);
        rest = &rest[2 + len..];
    }
    if !rest.is_empty() {
        return None;
    }
    fields.try_into().ok()
}
