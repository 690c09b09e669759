//! `/device-transfer*`: an identity moves to a new device of the same user, commit-before-
//! reveal, and every step refuses the wrong device, the wrong order, a swapped key and an
//! expired session.

mod common;

use common::{Db, Options, TestServer};
use parchment_core::derive::IdentityKeys;
use parchment_core::device_transfer::v2;
use parchment_core::encoding::to_base64;
use parchment_core::keys::X25519SecretKey;
use parchment_core::rand_core::OsRng;
use parchment_core::Seed;
use serde_json::{json, Value};

db_tests!(
    an_identity_moves_to_the_new_device,
    each_step_belongs_to_one_device_and_one_moment,
    hostile_input_is_refused_and_changes_nothing,
    a_transfer_expires_and_is_capped,
    signing_out_the_new_device_ends_its_transfer,
    an_expired_upload_is_scrubbed,
);

const EMAIL: &str = "dora@example.com";

/// A user with keys derived from a fresh seed, signed in on two devices: (old, new, seed).
async fn user_on_two_devices(s: &TestServer) -> (String, String, Seed) {
    let (_, old) = s.user(EMAIL, "user").await;
    let seed = Seed::generate(&mut OsRng);
    let keys = IdentityKeys::derive(&seed);
    s.put(
        "/users/me/keys",
        Some(&old),
        json!({
            "signingKey": keys.signing.public_key().to_base64(),
            "encryptionKey": keys.encryption.public_key().to_base64(),
        }),
    )
    .await
    .expect(200);
    let new = s.sign_in(EMAIL).await;
    (old, new, seed)
}

struct Started {
    id: String,
    receiver: X25519SecretKey,
    commitment: v2::Commitment,
}

async fn start(s: &TestServer, new: &str) -> Started {
    let receiver = X25519SecretKey::generate(&mut OsRng);
    let commitment = v2::commitment(&receiver.public_key());
    let created = s
        .post(
            "/device-transfer",
            Some(new),
            json!({ "receiverCommitment": commitment.to_base64() }),
        )
        .await
        .expect(201);
    assert_eq!(created.json["state"], "awaiting-sender");
    assert_eq!(created.json["isReceiver"], true);
    Started {
        id: created.json["sessionId"].as_str().expect("id").to_owned(),
        receiver,
        commitment,
    }
}

impl Started {
    /// What the old device uploads: `seed` sealed to this transfer's receiver by `sender`,
    /// signed by `signing`, bound to `session`.
    fn seal(
        &self,
        seed: &Seed,
        signing: &parchment_core::keys::Ed25519SecretKey,
        sender: &X25519SecretKey,
        session: &str,
    ) -> v2::Sealed {
        v2::seal(
            seed,
            signing,
            sender,
            &self.commitment,
            &self.receiver.public_key(),
            session,
            &mut OsRng,
        )
        .expect("seal")
    }
}

/// The old device joins with a fresh key and the new one reveals; returns the old device's key.
async fn join_and_reveal(s: &TestServer, t: &Started, old: &str, new: &str) -> X25519SecretKey {
    let sender = X25519SecretKey::generate(&mut OsRng);
    s.post(
        &path(&t.id, "/sender"),
        Some(old),
        json!({ "senderEphemeralPub": sender.public_key().to_base64() }),
    )
    .await
    .expect(200);
    s.post(
        &path(&t.id, "/reveal"),
        Some(new),
        json!({ "receiverEphemeralPub": t.receiver.public_key().to_base64() }),
    )
    .await
    .expect(200);
    sender
}

fn path(id: &str, step: &str) -> String {
    format!("/device-transfer/{id}{step}")
}

async fn rows(s: &TestServer) -> i64 {
    s.sql_i64("SELECT COUNT(*) FROM device_transfers").await
}

async fn an_identity_moves_to_the_new_device(db: Db) {
    let s = TestServer::start(db).await;
    let (old, new, seed) = user_on_two_devices(&s).await;
    let t = start(&s, &new).await;

    // The old device reads the commitment (it compares it with the QR code) and joins.
    let seen = s.get(&path(&t.id, ""), Some(&old)).await.expect(200);
    assert_eq!(seen.json["receiverCommitment"], t.commitment.to_base64());
    assert_eq!(seen.json["isReceiver"], false);
    assert!(seen.json["receiverSignedInAt"].is_string());
    let sender = X25519SecretKey::generate(&mut OsRng);
    let joined = s
        .post(
            &path(&t.id, "/sender"),
            Some(&old),
            json!({ "senderEphemeralPub": sender.public_key().to_base64() }),
        )
        .await
        .expect(200);
    assert_eq!(joined.json["state"], "awaiting-reveal");
    assert_eq!(joined.json["receiverEphemeralPub"], Value::Null);

    // The new device reveals; both compute the same 8 digits.
    let revealed = s
        .post(
            &path(&t.id, "/reveal"),
            Some(&new),
            json!({ "receiverEphemeralPub": t.receiver.public_key().to_base64() }),
        )
        .await
        .expect(200);
    assert_eq!(revealed.json["state"], "awaiting-confirmation");
    let at_old = s.get(&path(&t.id, ""), Some(&old)).await.expect(200);
    let receiver_public = parchment_core::keys::X25519PublicKey::from_base64(
        at_old.json["receiverEphemeralPub"]
            .as_str()
            .expect("revealed"),
    )
    .expect("key");
    let old_sas = v2::sas_for_sender(&t.commitment, &receiver_public, &sender.public_key(), &t.id)
        .expect("the revealed key matches the commitment");
    assert_eq!(
        old_sas,
        v2::sas(&t.receiver.public_key(), &sender.public_key(), &t.id)
    );

    // The user confirmed: the old device seals and uploads.
    let keys = IdentityKeys::derive(&seed);
    let sealed = v2::seal(
        &seed,
        &keys.signing,
        &sender,
        &t.commitment,
        &receiver_public,
        &t.id,
        &mut OsRng,
    )
    .expect("seal");
    let uploaded = s
        .post(
            &path(&t.id, "/upload"),
            Some(&old),
            json!({ "sealedSeed": sealed.sealed_seed, "senderSignature": sealed.sender_signature }),
        )
        .await
        .expect(200);
    assert_eq!(uploaded.json["state"], "sealed");
    assert_eq!(
        uploaded.json["sealedSeed"],
        Value::Null,
        "the sender does not get it back"
    );
    // A second upload is refused.
    s.post(
        &path(&t.id, "/upload"),
        Some(&old),
        json!({ "sealedSeed": sealed.sealed_seed, "senderSignature": sealed.sender_signature }),
    )
    .await
    .expect_error(409, "transfer_state");

    // Only the new device downloads; it opens under the account's key, then deletes.
    let at_new = s.get(&path(&t.id, ""), Some(&new)).await.expect(200);
    let download = v2::Sealed {
        sealed_seed: at_new.json["sealedSeed"]
            .as_str()
            .expect("sealed")
            .to_owned(),
        sender_signature: at_new.json["senderSignature"]
            .as_str()
            .expect("sig")
            .to_owned(),
    };
    let opened = v2::open(
        &download,
        &t.receiver,
        &sender.public_key(),
        &t.id,
        &keys.signing.public_key(),
    )
    .expect("opens");
    assert!(opened == seed, "the same seed arrived");
    s.delete(&path(&t.id, ""), Some(&new)).await.expect(204);
    s.get(&path(&t.id, ""), Some(&new))
        .await
        .expect_error(404, "not_found");
    assert_eq!(rows(&s).await, 0, "nothing is left after success");
    s.stop().await;
}

async fn each_step_belongs_to_one_device_and_one_moment(db: Db) {
    let s = TestServer::start(db).await;
    let (old, new, seed) = user_on_two_devices(&s).await;
    let (_, stranger) = s.user("eve@example.com", "user").await;
    let t = start(&s, &new).await;
    let sender = X25519SecretKey::generate(&mut OsRng);
    let sender_body = json!({ "senderEphemeralPub": sender.public_key().to_base64() });
    let reveal_body = json!({ "receiverEphemeralPub": t.receiver.public_key().to_base64() });

    // Another user sees nothing and can join nothing.
    s.get(&path(&t.id, ""), Some(&stranger))
        .await
        .expect_error(404, "not_found");
    s.post(
        &path(&t.id, "/sender"),
        Some(&stranger),
        sender_body.clone(),
    )
    .await
    .expect_error(404, "not_found");
    // The new device cannot be its own sender, nor reveal before anyone joined.
    s.post(&path(&t.id, "/sender"), Some(&new), sender_body.clone())
        .await
        .expect_error(403, "transfer_other_device");
    s.post(&path(&t.id, "/reveal"), Some(&new), reveal_body.clone())
        .await
        .expect_error(409, "transfer_state");
    s.post(&path(&t.id, "/sender"), Some(&old), sender_body.clone())
        .await
        .expect(200);
    // A third device of the same user cannot take the sender's place.
    let third = s.sign_in(EMAIL).await;
    s.post(&path(&t.id, "/sender"), Some(&third), sender_body.clone())
        .await
        .expect_error(409, "transfer_state");
    // …nor watch or cancel it once the old device joined.
    s.get(&path(&t.id, ""), Some(&third))
        .await
        .expect_error(403, "transfer_other_device");
    s.delete(&path(&t.id, ""), Some(&third))
        .await
        .expect_error(403, "transfer_other_device");
    // Only the new device reveals, and only the committed key.
    s.post(&path(&t.id, "/reveal"), Some(&old), reveal_body.clone())
        .await
        .expect_error(403, "transfer_other_device");
    let swapped = X25519SecretKey::generate(&mut OsRng).public_key();
    s.post(
        &path(&t.id, "/reveal"),
        Some(&new),
        json!({ "receiverEphemeralPub": swapped.to_base64() }),
    )
    .await
    .expect_error(400, "commitment_mismatch");
    s.post(&path(&t.id, "/reveal"), Some(&new), reveal_body.clone())
        .await
        .expect(200);

    // Only the joined sender uploads, and only a signature by the account's key over this
    // exchange.
    let keys = IdentityKeys::derive(&seed);
    let sealed = t.seal(&seed, &keys.signing, &sender, &t.id);
    let body =
        json!({ "sealedSeed": sealed.sealed_seed, "senderSignature": sealed.sender_signature });
    for token in [&new, &third] {
        s.post(&path(&t.id, "/upload"), Some(token), body.clone())
            .await
            .expect_error(403, "transfer_other_device");
    }
    // Signed by another key (a stolen session without the seed), or for another session.
    let thief = IdentityKeys::derive(&Seed::generate(&mut OsRng));
    let forged = t.seal(&seed, &thief.signing, &sender, &t.id);
    let other_session = t.seal(&seed, &keys.signing, &sender, "another-session");
    for bad in [forged, other_session] {
        s.post(
            &path(&t.id, "/upload"),
            Some(&old),
            json!({ "sealedSeed": bad.sealed_seed, "senderSignature": bad.sender_signature }),
        )
        .await
        .expect_error(403, "invalid_signature");
    }
    let at_new = s.get(&path(&t.id, ""), Some(&new)).await.expect(200);
    assert_eq!(at_new.json["state"], "awaiting-confirmation");
    assert_eq!(at_new.json["sealedSeed"], Value::Null);
    s.post(&path(&t.id, "/upload"), Some(&old), body)
        .await
        .expect(200);
    // A stranger cannot delete it either.
    s.delete(&path(&t.id, ""), Some(&stranger))
        .await
        .expect_error(404, "not_found");
    s.stop().await;
}

async fn hostile_input_is_refused_and_changes_nothing(db: Db) {
    let s = TestServer::start(db).await;
    let (old, new, _) = user_on_two_devices(&s).await;
    for commitment in [
        json!("AAAA"),
        json!("not base64!"),
        json!(to_base64(&[0u8; 33])),
        json!(7),
    ] {
        let reply = s
            .post(
                "/device-transfer",
                Some(&new),
                json!({ "receiverCommitment": commitment }),
            )
            .await;
        assert!(
            reply.status == 400 || reply.status == 422,
            "{commitment}: {}",
            reply.text
        );
        reply.assert_error_shape();
    }
    s.post(
        "/device-transfer",
        Some(&new),
        json!({ "receiverCommitment": to_base64(&[1u8; 32]), "extra": 1 }),
    )
    .await
    .assert_error_shape();
    s.post(
        "/device-transfer",
        None,
        json!({ "receiverCommitment": to_base64(&[1u8; 32]) }),
    )
    .await
    .expect_error(401, "unauthorized");
    assert_eq!(rows(&s).await, 0);

    let t = start(&s, &new).await;
    // Low-order and malformed sender keys.
    let mut order_one = [0u8; 32];
    order_one[0] = 1;
    for key in [
        to_base64(&[0u8; 32]),
        to_base64(&order_one),
        "short".to_owned(),
    ] {
        s.post(
            &path(&t.id, "/sender"),
            Some(&old),
            json!({ "senderEphemeralPub": key }),
        )
        .await
        .expect_error(422, "validation_failed");
    }
    let still = s.get(&path(&t.id, ""), Some(&old)).await.expect(200);
    assert_eq!(still.json["state"], "awaiting-sender");
    join_and_reveal(&s, &t, &old, &new).await;
    // Oversized, non-base64 and non-envelope uploads.
    for sealed in ["A".repeat(600), "%%%".into(), to_base64(&[9u8; 40])] {
        s.post(
            &path(&t.id, "/upload"),
            Some(&old),
            json!({ "sealedSeed": sealed, "senderSignature": to_base64(&[0u8; 64]) }),
        )
        .await
        .expect_error(422, "validation_failed");
    }
    let still = s.get(&path(&t.id, ""), Some(&new)).await.expect(200);
    assert_eq!(still.json["state"], "awaiting-confirmation");
    // An unknown id.
    s.get(&path("nope", ""), Some(&new))
        .await
        .expect_error(404, "not_found");
    s.stop().await;
}

async fn a_transfer_expires_and_is_capped(db: Db) {
    let s = TestServer::start_with(
        db,
        Options {
            rate_limits: true,
            ..Options::default()
        },
    )
    .await;
    let (old, new, _) = user_on_two_devices(&s).await;
    s.fresh_rate_window(3600);
    let first = start(&s, &new).await;
    let second = start(&s, &new).await;
    start(&s, &new).await;
    s.post(
        "/device-transfer",
        Some(&new),
        json!({ "receiverCommitment": to_base64(&[1u8; 32]) }),
    )
    .await
    .expect_error(409, "too_many_transfers");
    assert_eq!(rows(&s).await, 3);

    // Ten minutes on: refused as expired, and gone.
    s.clock.advance(10 * 60 * 1000);
    s.get(&path(&first.id, ""), Some(&old))
        .await
        .expect_error(404, "transfer_expired");
    let sender = X25519SecretKey::generate(&mut OsRng);
    // The others refuse every step from then on.
    s.post(
        &path(&second.id, "/sender"),
        Some(&old),
        json!({ "senderEphemeralPub": sender.public_key().to_base64() }),
    )
    .await
    .expect_error(404, "transfer_expired");

    // Expired ones no longer count against the cap; the hourly limit (10, the refused
    // fourth included) still holds.
    for _ in 0..6 {
        let t = start(&s, &new).await;
        s.delete(&path(&t.id, ""), Some(&new)).await.expect(204);
    }
    s.post(
        "/device-transfer",
        Some(&new),
        json!({ "receiverCommitment": to_base64(&[1u8; 32]) }),
    )
    .await
    .expect_error(429, "rate_limited");
    s.stop().await;
}

async fn signing_out_the_new_device_ends_its_transfer(db: Db) {
    let s = TestServer::start(db).await;
    let (_, new, _) = user_on_two_devices(&s).await;
    start(&s, &new).await;
    assert_eq!(rows(&s).await, 1);
    s.delete("/auth/sessions", Some(&new)).await.expect(204);
    assert_eq!(rows(&s).await, 0, "the transfer died with its session");
    // The same for the old device's session once it joined.
    let (old, new, _) = {
        let old = s.sign_in(EMAIL).await;
        let new = s.sign_in(EMAIL).await;
        (old, new, ())
    };
    let t = start(&s, &new).await;
    let sender = X25519SecretKey::generate(&mut OsRng);
    s.post(
        &path(&t.id, "/sender"),
        Some(&old),
        json!({ "senderEphemeralPub": sender.public_key().to_base64() }),
    )
    .await
    .expect(200);
    s.delete("/auth/sessions", Some(&old)).await.expect(204);
    assert_eq!(
        rows(&s).await,
        0,
        "the transfer died with the old device's session"
    );
    s.stop().await;
}

async fn an_expired_upload_is_scrubbed(db: Db) {
    let s = TestServer::start(db).await;
    let (old, new, seed) = user_on_two_devices(&s).await;
    let t = start(&s, &new).await;
    let sender = join_and_reveal(&s, &t, &old, &new).await;
    let keys = IdentityKeys::derive(&seed);
    let sealed = t.seal(&seed, &keys.signing, &sender, &t.id);
    s.post(
        &path(&t.id, "/upload"),
        Some(&old),
        json!({ "sealedSeed": sealed.sealed_seed, "senderSignature": sealed.sender_signature }),
    )
    .await
    .expect(200);
    // The new device never downloads it; ten minutes on, both hear "expired" and the
    // ciphertext is gone.
    s.clock.advance(10 * 60 * 1000);
    for token in [&old, &new] {
        s.get(&path(&t.id, ""), Some(token))
            .await
            .expect_error(404, "transfer_expired");
    }
    assert_eq!(
        s.sql_i64("SELECT COUNT(*) FROM device_transfers WHERE sealed_seed IS NOT NULL")
            .await,
        0
    );
    s.stop().await;
}
