//! Every case of every file in `../shared/vectors/` (computed by the original implementation),
//! loaded from the files and run in loops. A missing or unreadable file fails; it never skips.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use parchment_core::canonical::{self, legacy_signable, Object, Value as Js};
use parchment_core::derive::{self, ShareContext, SymmetricKey, WrapSecret};
use parchment_core::device_transfer::{self, SealedTransfer};
use parchment_core::ecies::{self, friend_share, ShareBinding};
use parchment_core::encoding::{from_base64, to_base64, to_base64url};
use parchment_core::envelope::{self, Aad, Algorithm, EnvelopeError, LegacyCiphertext};
use parchment_core::federation::request::{body_hash, RequestSignable};
use parchment_core::federation::{Envelope, FederationError, MessageType, UnsignedMessage};
use parchment_core::key_slot::{self, KeySlot};
use parchment_core::keys::{Ed25519PublicKey, Ed25519SecretKey, X25519PublicKey, X25519SecretKey};
use parchment_core::safety::{device_sas, safety_number};
use parchment_core::seed_wrap;
use parchment_core::share;
use parchment_core::Seed;
use serde_json::Value;

const FILES: [&str; 9] = [
    "canonical.json",
    "derivation.json",
    "ecies.json",
    "envelope.json",
    "federation-envelope.json",
    "key-slot.json",
    "safety.json",
    "seed-wrap.json",
    "server-request.json",
];

fn vectors_dir() -> PathBuf {
    match std::env::var_os("PARCHMENT_VECTORS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"),
    }
}

fn load(name: &str) -> Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("vector file {} unreadable: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
}

fn cases<'a>(file: &'a Value, list: &str) -> &'a Vec<Value> {
    let cases = file[list]
        .as_array()
        .unwrap_or_else(|| panic!("missing case list {list}"));
    assert!(!cases.is_empty(), "case list {list} is empty");
    cases
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("missing string {key} in {v}"))
}

fn hex(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(s(v, key)).unwrap_or_else(|e| panic!("{key}: {e}"))
}

fn arr<const N: usize>(v: &Value, key: &str) -> [u8; N] {
    hex(v, key)
        .try_into()
        .unwrap_or_else(|_| panic!("{key} is not {N} bytes"))
}

fn key(v: &Value, k: &str) -> SymmetricKey {
    SymmetricKey::from_bytes(arr::<32>(v, k))
}

fn aad(v: &Value) -> Aad<'_> {
    let a = &v["aad"];
    Aad {
        user_id: s(a, "userId"),
        record_type: s(a, "recordType"),
        record_id: s(a, "recordId"),
        key_context: s(a, "keyContext"),
    }
}

fn seeds() -> HashMap<String, Seed> {
    let file = load("derivation.json");
    cases(&file, "cases")
        .iter()
        .map(|c| {
            (
                s(c, "name").to_owned(),
                Seed::from_bytes(arr::<32>(c, "seed_hex")),
            )
        })
        .collect()
}

fn binding(v: &Value) -> ShareBinding {
    let b = &v["binding"];
    ShareBinding {
        sender_id: s(b, "senderId").to_owned(),
        recipient_id: s(b, "recipientId").to_owned(),
        relationship_id: s(b, "relationshipId").to_owned(),
        timestamp: s(b, "timestamp").to_owned(),
    }
}

#[test]
fn every_vector_file_is_covered() {
    let present: BTreeSet<String> = std::fs::read_dir(vectors_dir())
        .expect("vectors directory must exist")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    let covered: BTreeSet<String> = FILES.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        present, covered,
        "a vector file is not covered by this suite"
    );
}

#[test]
fn derivation() {
    let file = load("derivation.json");
    let mut n = 0;
    for c in cases(&file, "cases") {
        let seed = Seed::from_bytes(arr::<32>(c, "seed_hex"));
        assert_eq!(seed.to_recovery_key().as_str(), s(c, "recovery_key"));
        let back = Seed::from_recovery_key(s(c, "recovery_key")).unwrap();
        assert!(back == seed);

        let signing = derive::signing_key(&seed);
        let expected_signing =
            Ed25519SecretKey::from_bytes(&arr::<32>(&c["signing"], "private_seed_hex"));
        assert_eq!(signing.public_key(), expected_signing.public_key());
        assert_eq!(
            signing.public_key().to_base64(),
            s(&c["signing"], "public_key")
        );
        assert_eq!(
            hex::encode(signing.public_key().as_bytes()),
            s(&c["signing"], "public_key_hex")
        );
        let encryption = derive::encryption_key(&seed);
        assert_eq!(
            encryption.public_key().to_base64(),
            s(&c["encryption"], "public_key")
        );
        let from_private =
            X25519SecretKey::from_bytes(arr::<32>(&c["encryption"], "private_key_hex")).unwrap();
        assert_eq!(from_private.public_key(), encryption.public_key());

        assert_eq!(
            derive::personal_key(&seed).as_bytes().to_vec(),
            hex(&c["personal_key"], "key_hex")
        );
        assert_eq!(
            derive::metadata_key(&seed).as_bytes().to_vec(),
            hex(&c["metadata_key"], "key_hex")
        );
        for ck in c["collection_keys"].as_array().unwrap() {
            let id = s(ck, "collection_id");
            let version = ck["key_version"].as_u64().unwrap() as u32;
            assert_eq!(derive::collection_info(id, version).unwrap(), s(ck, "info"));
            let got = derive::collection_key(&seed, id, version).unwrap();
            assert_eq!(
                got.as_bytes().to_vec(),
                hex(ck, "key_hex"),
                "{id} v{version}"
            );
            n += 1;
        }
        // The typed helpers for canvas/route ids agree with the generic label.
        let by_id = |id: &str| {
            c["collection_keys"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| s(k, "collection_id") == id)
                .map(|k| hex(k, "key_hex"))
                .unwrap()
        };
        assert_eq!(
            derive::canvas_key(&seed, "cv-1")
                .unwrap()
                .as_bytes()
                .to_vec(),
            by_id("canvas:cv-1")
        );
        assert_eq!(
            derive::route_key(&seed, "rt-1")
                .unwrap()
                .as_bytes()
                .to_vec(),
            by_id("route:rt-1")
        );
        assert_eq!(
            derive::route_body_key(&seed, "rt-1")
                .unwrap()
                .as_bytes()
                .to_vec(),
            by_id("route-body:rt-1")
        );
        n += 1;
    }
    let seeds = seeds();
    for p in cases(&file, "pairwise") {
        let a = &seeds[s(p, "a")];
        let b = &seeds[s(p, "b")];
        let (sa, sb) = (
            derive::signing_key(a).public_key(),
            derive::signing_key(b).public_key(),
        );
        assert_eq!(sa.to_base64(), s(p, "a_signing_public_key"));
        assert_eq!(sb.to_base64(), s(p, "b_signing_public_key"));
        assert_eq!(safety_number(&sa, &sb), s(p, "safety_number"));
        let shared = derive::encryption_key(a)
            .diffie_hellman(&derive::encryption_key(b).public_key())
            .unwrap();
        assert_eq!(
            shared.as_bytes().to_vec(),
            hex(p, "x25519_shared_secret_hex")
        );
        let reverse = derive::encryption_key(b)
            .diffie_hellman(&derive::encryption_key(a).public_key())
            .unwrap();
        assert_eq!(reverse.as_bytes(), shared.as_bytes());
        assert_eq!(
            derive::share_key_v1(&shared, ShareContext::Default)
                .as_bytes()
                .to_vec(),
            hex(p, "share_key_v1_hex")
        );
        assert_eq!(
            derive::share_key_v1(&shared, ShareContext::Collection)
                .as_bytes()
                .to_vec(),
            hex(p, "share_key_collection_v1_hex")
        );
        n += 1;
    }
    for d in cases(&file, "device_transfer") {
        let receiver =
            X25519SecretKey::from_bytes(arr::<32>(d, "receiver_ephemeral_private_hex")).unwrap();
        let sender =
            X25519SecretKey::from_bytes(arr::<32>(d, "sender_ephemeral_private_hex")).unwrap();
        assert_eq!(
            receiver.public_key().to_base64(),
            s(d, "receiver_ephemeral_public")
        );
        assert_eq!(
            sender.public_key().to_base64(),
            s(d, "sender_ephemeral_public")
        );
        let (rp, sp) = (receiver.public_key(), sender.public_key());
        assert_eq!(
            device_sas(rp.as_bytes(), sp.as_bytes(), s(d, "session_id")),
            s(d, "sas")
        );
        assert_eq!(
            device_sas(sp.as_bytes(), rp.as_bytes(), s(d, "session_id")),
            s(d, "sas_swapped_args")
        );
        let shared = sender.diffie_hellman(&rp).unwrap();
        assert_eq!(
            shared.as_bytes().to_vec(),
            hex(d, "x25519_shared_secret_hex")
        );
        assert_eq!(
            derive::device_transfer_key(&shared).as_bytes().to_vec(),
            hex(d, "transfer_key_hex")
        );
        n += 1;
    }
    let prf = &file["prf_salt"];
    assert_eq!(derive::prf_salt().to_vec(), hex(prf, "salt_hex"));
    assert_eq!(to_base64url(&derive::prf_salt()), s(prf, "salt_base64url"));
    assert_eq!(n, 4 + 4 * 7 + 4 + 3);
}

#[test]
fn envelope() {
    let file = load("envelope.json");
    for c in cases(&file, "cases")
        .iter()
        .chain(cases(&file, "applications"))
    {
        let k = key(c, "key_hex");
        let a = aad(c);
        if c.get("aad_hex").is_some() {
            assert_eq!(hex::encode(a.encode().unwrap()), s(c, "aad_hex"));
        }
        let plaintext = match c.get("plaintext_hex") {
            Some(_) => hex(c, "plaintext_hex"),
            None => s(c, "plaintext_utf8").as_bytes().to_vec(),
        };
        let sealed = envelope::seal_with_nonce(
            &k,
            Algorithm::Aes256Gcm,
            &hex(c, "nonce_hex"),
            &a,
            &plaintext,
        )
        .unwrap();
        assert_eq!(
            to_base64(&sealed),
            s(c, "envelope_base64"),
            "{}",
            s(c, "name")
        );
        if c.get("envelope_hex").is_some() {
            assert_eq!(hex::encode(&sealed), s(c, "envelope_hex"));
        }
        let opened = envelope::open_base64(&k, &a, s(c, "envelope_base64")).unwrap();
        assert_eq!(opened.as_slice(), plaintext.as_slice());
        assert_eq!(envelope::check_shape(&sealed), Ok(Algorithm::Aes256Gcm));
    }
    for c in cases(&file, "legacy_v1") {
        let k = key(c, "key_hex");
        let nonce: [u8; 12] = arr(c, "nonce_hex");
        let sealed =
            LegacyCiphertext::seal_with_nonce(&k, &nonce, s(c, "plaintext_utf8").as_bytes())
                .unwrap();
        let expected: LegacyCiphertext = serde_json::from_value(c["blob"].clone()).unwrap();
        assert_eq!(sealed, expected);
        assert_eq!(
            expected.open(&k).unwrap().as_slice(),
            s(c, "plaintext_utf8").as_bytes()
        );
    }
    for c in cases(&file, "negative") {
        let k = key(c, "key_hex");
        let bytes = hex(c, "envelope_hex");
        let err = envelope::open(&k, &aad(c), &bytes).unwrap_err();
        let kind = match err {
            EnvelopeError::Authentication => "authentication",
            EnvelopeError::UnsupportedVersion(_) => "unsupported-version",
            EnvelopeError::UnsupportedAlgorithm(_) => "unsupported-algorithm",
            EnvelopeError::TooShort { .. } => "too-short",
            other => panic!("unexpected error {other:?}"),
        };
        assert_eq!(kind, s(c, "expected_kind"), "{}", s(c, "name"));
        if kind != "authentication" {
            assert_eq!(err.to_string(), s(c, "reference_error_message"));
        }
        let shape_ok = c["server_validateV2EnvelopeShape"]["valid"]
            .as_bool()
            .unwrap();
        assert_eq!(
            envelope::check_shape(&bytes).is_ok(),
            shape_ok,
            "{}",
            s(c, "name")
        );
    }
}

#[test]
fn canonical_json() {
    let file = load("canonical.json");
    for c in cases(&file, "cases") {
        let out = canonical::canonicalize(s(c, "input")).unwrap();
        assert_eq!(out, s(c, "output"), "{}", s(c, "name"));
        assert_eq!(hex::encode(out.as_bytes()), s(c, "output_utf8_hex"));
    }
    // JS values without a JSON-text form, built directly.
    let js = cases(&file, "js_value_cases");
    assert_eq!(js.len(), 3);
    let obj = |members: Vec<(&str, Js)>| Js::Object(members.into_iter().collect());
    let undefined_member = obj(vec![("b", Js::Number(1.0)), ("c", Js::Null)]); // `a: undefined` has no member
    let array = Js::Array(vec![
        Js::Null, // undefined in an array is written as null
        Js::Number(f64::NAN),
        Js::Number(f64::INFINITY),
        Js::Number(f64::NEG_INFINITY),
        Js::Number(1.0),
    ]);
    let nan_members = obj(vec![
        ("x", Js::Number(f64::NAN)),
        ("y", Js::Number(f64::INFINITY)),
    ]);
    let built = [undefined_member, array, nan_members];
    for (c, value) in js.iter().zip(built) {
        assert_eq!(value.canonical(), s(c, "output"), "{}", s(c, "name"));
    }
}

fn envelope_of(c: &Value) -> Envelope {
    Envelope::from_value(&Js::from(&c["envelope"])).unwrap()
}

#[test]
fn federation_envelopes() {
    let file = load("federation-envelope.json");
    let seeds = seeds();
    let mut types = BTreeSet::new();
    for c in cases(&file, "cases") {
        let seed = &seeds[s(c, "signer_seed_name")];
        let signer = derive::signing_key(seed);
        assert_eq!(
            signer.public_key().to_base64(),
            s(c, "signer_signing_public_key")
        );
        let env = envelope_of(c);
        assert_eq!(
            env.signable().unwrap(),
            s(c, "signable"),
            "{}",
            s(c, "name")
        );
        assert_eq!(
            hex::encode(env.signable().unwrap()),
            s(c, "signable_utf8_hex")
        );
        assert_eq!(env.body(), s(c, "envelope_json"));
        env.verify(&signer.public_key()).unwrap();
        // Deterministic Ed25519: signing the signable again gives the same signature.
        assert_eq!(
            signer.sign(env.signable().unwrap().as_bytes()).to_base64(),
            s(c, "signature")
        );
        // The wire body parses back to the same envelope.
        assert_eq!(Envelope::parse(s(c, "envelope_json")).unwrap(), env);
        if c["version"] == 2 {
            assert!(env.is_v2());
            let f = &c["fields"];
            let message = UnsignedMessage {
                message_type: s(f, "message_type").parse().unwrap(),
                message_version: f["message_version"].as_u64().unwrap() as u32,
                from: s(f, "from").to_owned(),
                to: s(f, "to").to_owned(),
                nonce: s(f, "nonce").to_owned(),
                timestamp: s(f, "timestamp").to_owned(),
                payload: Js::from(&f["payload"]).as_object().unwrap().clone(),
            };
            assert_eq!(to_base64(&hex(c, "nonce_bytes_hex")), message.nonce);
            assert_eq!(message.signable(), s(c, "signable"));
            let signed = message.sign(&signer);
            assert_eq!(signed.signature, s(c, "signature"));
            assert_eq!(signed.body(), s(c, "envelope_json"));
            types.insert(message.message_type);
        } else {
            assert!(!env.is_v2());
            let f = &c["signed_fields"];
            let fields: Object = ["from", "to", "timestamp"]
                .into_iter()
                .map(|k| (k, Js::string(s(f, k))))
                .collect();
            assert_eq!(
                legacy_signable(env.type_name().unwrap(), &fields),
                s(c, "signable")
            );
        }
    }
    // RESOURCE_UNSHARE is ours: the original has no such message, so no vector.
    let originals = MessageType::ALL
        .iter()
        .filter(|t| **t != MessageType::ResourceUnshare)
        .count();
    assert_eq!(
        types.len(),
        originals,
        "every v2 message type of the original has a vector"
    );
    for c in cases(&file, "negative") {
        let env = envelope_of(c);
        assert_eq!(env.signable().unwrap(), s(c, "recomputed_signable"));
        let key = Ed25519PublicKey::from_base64(s(c, "signer_public_key")).unwrap();
        assert_eq!(c["reference_verify_result"], false);
        assert!(
            matches!(env.verify(&key), Err(FederationError::InvalidSignature)),
            "{}",
            s(c, "name")
        );
    }
}

#[test]
fn server_requests() {
    let file = load("server-request.json");
    let keys: HashMap<&str, Ed25519SecretKey> = cases(&file, "server_keys")
        .iter()
        .map(|k| {
            let secret =
                Ed25519SecretKey::from_base64(s(k, "SERVER_IDENTITY_PRIVATE_KEY")).unwrap();
            assert_eq!(secret.public_key().to_base64(), s(k, "public_key"));
            assert_eq!(
                from_base64(s(k, "SERVER_IDENTITY_PRIVATE_KEY")).unwrap(),
                hex(k, "private_seed_hex")
            );
            (s(k, "server_id"), secret)
        })
        .collect();
    for c in cases(&file, "cases") {
        let body = s(c, "body");
        assert_eq!(body_hash(body), s(c, "body_hash"));
        let h = &c["headers"];
        let signable = RequestSignable {
            method: s(c, "method"),
            path: s(c, "path"),
            body_hash: s(c, "body_hash"),
            nonce: s(h, "X-Parchment-Nonce"),
            timestamp: s(h, "X-Parchment-Timestamp"),
            peer_server_id: s(c, "peer_server_id"),
            sender_server_id: s(c, "sender_server_id"),
            protocol_version: c["protocol_version"].as_u64().unwrap() as u32,
        };
        assert_eq!(
            signable.to_canonical(),
            s(c, "signed_string"),
            "{}",
            s(c, "name")
        );
        let sender = s(c, "sender_server_id");
        let secret = keys
            .get(sender)
            .or_else(|| {
                // The dev-host cases reuse the a.example / b.example keys (see the file's notes).
                let alias = if sender.ends_with(":5000") {
                    "a.example"
                } else {
                    "b.example"
                };
                keys.get(alias)
            })
            .unwrap();
        let headers = signable.sign(secret);
        assert_eq!(headers.signature, s(c, "signature"));
        for (name, value) in headers.pairs() {
            assert_eq!(value, s(h, name), "{name}");
        }
        assert_eq!(headers.parsed_protocol_version().unwrap(), 2);
        signable
            .verify(&secret.public_key(), s(c, "signature"))
            .unwrap();
        // The body of an inbox case is the canonical form of its normalized envelope.
        if c.get("url").is_some() {
            assert_eq!(Envelope::parse(body).unwrap().body(), body);
        }
    }
}

#[test]
fn seed_wrap() {
    let file = load("seed-wrap.json");
    for c in cases(&file, "cases") {
        let seed = Seed::from_bytes(arr::<32>(c, "seed_hex"));
        let secret = WrapSecret::from_base64(s(c, "wrap_secret_base64")).unwrap();
        assert_eq!(
            from_base64(s(c, "wrap_secret_base64")).unwrap(),
            hex(c, "wrap_secret_hex")
        );
        assert_eq!(
            derive::seed_wrap_key(&secret).as_bytes().to_vec(),
            hex(c, "wrap_key_hex")
        );
        let device = s(c, "device_id");
        assert_eq!(hex::encode(aad(c).encode().unwrap()), s(c, "aad_hex"));
        let wrapped = seed_wrap::wrap_seed_with_nonce(
            &seed,
            &secret,
            device,
            Algorithm::Aes256Gcm,
            &hex(c, "nonce_hex"),
        )
        .unwrap();
        assert_eq!(hex::encode(&wrapped), s(c, "envelope_hex"));
        assert_eq!(to_base64(&wrapped), s(c, "stored_value"));
        let back = seed_wrap::unwrap_seed(s(c, "stored_value"), &secret, device).unwrap();
        assert!(back == seed);
        // After rotation the stored value no longer opens.
        let rotated = WrapSecret::from_bytes([0xee; 32]);
        assert!(seed_wrap::unwrap_seed(s(c, "stored_value"), &rotated, device).is_err());
    }
}

#[test]
fn key_slots_and_device_transfer() {
    let file = load("key-slot.json");
    for c in cases(&file, "cases") {
        let seed = Seed::from_bytes(arr::<32>(c, "seed_hex"));
        let prf = hex(c, "prf_output_hex");
        assert_eq!(
            derive::prf_wrap_key(&prf).unwrap().as_bytes().to_vec(),
            hex(c, "wrap_key_hex")
        );
        assert_eq!(hex::encode(aad(c).encode().unwrap()), s(c, "aad_hex"));
        let (user, cred) = (s(c, "user_id"), s(c, "credential_id"));
        let slot =
            key_slot::create_slot_with_nonce(&seed, user, cred, &prf, &arr::<12>(c, "nonce_hex"))
                .unwrap();
        let expected: KeySlot = serde_json::from_value(c["slot"].clone()).unwrap();
        assert_eq!(slot, expected);
        assert_eq!(
            key_slot::slot_signable(user, cred, &slot.wrap_algo, &slot.wrapped_km),
            s(c, "slot_signable")
        );
        let signing = Ed25519PublicKey::from_base64(s(c, "identity_signing_public_key")).unwrap();
        let opened = expected.open(user, &prf, &signing).unwrap();
        assert!(opened == seed);
        assert!(expected.open("someone-else", &prf, &signing).is_err());
    }
    assert_eq!(
        derive::prf_salt().to_vec(),
        hex(&file["prf_salt"], "salt_hex")
    );
    for c in cases(&file, "device_transfer") {
        let seed = Seed::from_bytes(arr::<32>(c, "seed_hex"));
        let identity = derive::signing_key(&seed);
        let receiver =
            X25519SecretKey::from_bytes(arr::<32>(c, "receiver_ephemeral_private_hex")).unwrap();
        let sender =
            X25519SecretKey::from_bytes(arr::<32>(c, "sender_ephemeral_private_hex")).unwrap();
        let session = s(c, "session_id");
        assert_eq!(
            device_transfer::sender_signable(&receiver.public_key(), &sender.public_key(), session),
            s(c, "sender_signable")
        );
        assert_eq!(
            device_sas(
                receiver.public_key().as_bytes(),
                sender.public_key().as_bytes(),
                session
            ),
            s(c, "sas")
        );
        let sealed = device_transfer::seal_with(
            &seed,
            &identity,
            &sender,
            &receiver.public_key(),
            session,
            &arr::<12>(c, "nonce_hex"),
        )
        .unwrap();
        let p = &c["payload"];
        assert_eq!(
            sealed.sender_ephemeral_public.to_base64(),
            s(p, "senderEphemeralPub")
        );
        assert_eq!(sealed.sealed_seed, s(p, "sealedSeed"));
        assert_eq!(sealed.sender_signature, s(p, "senderSignature"));
        let received = SealedTransfer {
            sender_ephemeral_public: X25519PublicKey::from_base64(s(p, "senderEphemeralPub"))
                .unwrap(),
            sealed_seed: s(p, "sealedSeed").to_owned(),
            sender_signature: s(p, "senderSignature").to_owned(),
        };
        let opened =
            device_transfer::open(&received, &receiver, session, &identity.public_key()).unwrap();
        assert!(opened == seed);
    }
}

#[test]
fn ecies_shares() {
    let file = load("ecies.json");
    let seeds = seeds();
    for c in cases(&file, "cases") {
        let sender = derive::signing_key(&seeds[s(c, "sender_seed_name")]);
        let recipient = derive::encryption_key(&seeds[s(c, "recipient_seed_name")]);
        assert_eq!(
            recipient.public_key().to_base64(),
            s(c, "recipient_encryption_public_key")
        );
        let ephemeral = X25519SecretKey::from_bytes(arr::<32>(c, "ephemeral_private_hex")).unwrap();
        assert_eq!(
            hex::encode(ephemeral.public_key().as_bytes()),
            s(c, "ephemeral_public_hex")
        );
        let b = binding(c);
        assert_eq!(
            ShareBinding::new(&b.sender_id, &b.recipient_id, &b.timestamp),
            b
        );
        let shared = ephemeral.diffie_hellman(&recipient.public_key()).unwrap();
        assert_eq!(
            shared.as_bytes().to_vec(),
            hex(c, "x25519_shared_secret_hex")
        );
        assert_eq!(
            derive::ecies_key(&shared).as_bytes().to_vec(),
            hex(c, "aes_key_hex")
        );
        assert_eq!(hex::encode(aad(c).encode().unwrap()), s(c, "aad_hex"));
        let plaintext = s(c, "plaintext_utf8").as_bytes();
        let blob = friend_share::seal_with(
            plaintext,
            &sender,
            &recipient.public_key(),
            &b,
            &ephemeral,
            &arr::<12>(c, "envelope_nonce_hex"),
        )
        .unwrap();
        assert_eq!(to_base64(&blob), s(c, "blob_base64"), "{}", s(c, "name"));
        assert_eq!(
            hex::encode(&blob[32..blob.len() - 64]),
            s(c, "envelope_hex")
        );
        assert_eq!(hex::encode(&blob[blob.len() - 64..]), s(c, "signature_hex"));
        let opened = friend_share::open(
            &from_base64(s(c, "blob_base64")).unwrap(),
            &recipient,
            &sender.public_key(),
            &b,
        )
        .unwrap();
        assert_eq!(opened.as_slice(), plaintext);
    }
    let alice = derive::signing_key(&seeds["counting"]).public_key();
    let bob = derive::encryption_key(&seeds["random"]);
    for c in cases(&file, "negative") {
        let err = friend_share::open(
            &from_base64(s(c, "blob_base64")).unwrap(),
            &bob,
            &alice,
            &binding(c),
        )
        .unwrap_err();
        let kind = match err {
            ecies::EciesError::BadSignature => "bad-signature",
            ecies::EciesError::Envelope(EnvelopeError::Authentication) => "authentication",
            ecies::EciesError::TooShort { .. } => "too-short",
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(kind, s(c, "expected_kind"), "{}", s(c, "name"));
    }
    for c in cases(&file, "static_dh_v1") {
        let alice = derive::encryption_key(&seeds[s(c, "sender_seed_name")]);
        let bob = derive::encryption_key(&seeds[s(c, "recipient_seed_name")]);
        let shared = alice.diffie_hellman(&bob.public_key()).unwrap();
        assert_eq!(
            shared.as_bytes().to_vec(),
            hex(c, "x25519_shared_secret_hex")
        );
        assert_eq!(s(c, "context"), "parchment-share-collection-v1");
        let k = derive::share_key_v1(&shared, ShareContext::Collection);
        assert_eq!(k.as_bytes().to_vec(), hex(c, "aes_key_hex"));
        let sealed = LegacyCiphertext::seal_with_nonce(
            &k,
            &arr::<12>(c, "nonce_hex"),
            s(c, "plaintext_utf8").as_bytes(),
        )
        .unwrap();
        assert_eq!(sealed.ciphertext, s(c, "ciphertext"));
        assert_eq!(sealed.nonce, s(c, "nonce"));
        let opened = share::decrypt_from_friend(
            &sealed,
            &bob,
            &alice.public_key(),
            ShareContext::Collection,
        )
        .unwrap();
        assert_eq!(opened.as_slice(), s(c, "plaintext_utf8").as_bytes());
    }
}

#[test]
fn safety_numbers_and_sas() {
    let file = load("safety.json");
    for c in cases(&file, "cases") {
        let a = Ed25519PublicKey::from_base64(s(c, "a")).unwrap();
        let b = Ed25519PublicKey::from_base64(s(c, "b")).unwrap();
        assert_eq!(safety_number(&a, &b), s(c, "safety_number"));
        assert_eq!(safety_number(&b, &a), s(c, "safety_number"));
    }
    for c in cases(&file, "sas") {
        assert_eq!(
            device_sas(&hex(c, "a_hex"), &hex(c, "b_hex"), s(c, "session_id")),
            s(c, "sas")
        );
    }
}

#[test]
fn default_algorithm_round_trips_where_aes_is_the_wire_format() {
    // Our own writes (XChaCha) open with the same API that reads the original's AES envelopes.
    let k = SymmetricKey::from_bytes([9; 32]);
    let a = Aad {
        user_id: "u",
        record_type: "personal-blob",
        record_id: "places",
        key_context: "parchment-personal-v1",
    };
    let sealed = envelope::seal_with_nonce(&k, Algorithm::DEFAULT, &[3; 24], &a, b"hi").unwrap();
    assert_eq!(&sealed[..2], &[0x02, 0x10]);
    assert_eq!(envelope::open(&k, &a, &sealed).unwrap().as_slice(), b"hi");
}
