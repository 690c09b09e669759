// Every vector file of ../shared/vectors (made by the original TypeScript implementation),
// through the JavaScript API of the package. Raw keys never cross the API, so derived keys are
// checked by decrypting what the package encrypts with an independent AEAD (@noble/ciphers)
// under the vector's key, and by the package decrypting what noble encrypts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { gcm } from '@noble/ciphers/aes.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';

import {
  Identity,
  canonicalJson,
  deviceSas,
  prfSalt,
  safetyNumber,
  sealTo,
  verify,
  verifyFederationEnvelope,
  verifyKeySlot,
} from '../support/package.mjs';
import {
  VECTOR_FILES,
  aadBytes,
  b64,
  cases,
  fromUtf8,
  hex,
  seedOf,
  toB64,
  toHex,
  utf8,
  vectors,
  vectorsDir,
} from '../support/helpers.mjs';

ed.hashes.sha512 = sha512;

const HANDLE_SEEDS = { 'alice@a.example': 'counting', 'bob@b.example': 'random' };
const identityOf = (seedName) => Identity.fromSeed(seedOf(seedName));

test('every vector file is present and covered', () => {
  for (const name of VECTOR_FILES) assert.ok(vectors(name).cases, `${name} has cases`);
  const present = readdirSync(vectorsDir).filter((f) => f.endsWith('.json')).sort();
  assert.deepEqual(present, [...VECTOR_FILES].sort(), 'a new vector file needs a test here');
});

test('canonical.json: canonicalJson of parsed text and of JS values', () => {
  const file = vectors('canonical.json');
  for (const c of cases(file)) {
    const out = canonicalJson(JSON.parse(c.input));
    assert.equal(out, c.output, c.name);
    assert.equal(toHex(utf8(out)), c.output_utf8_hex, c.name);
  }
  for (const c of cases(file, 'js_value_cases')) {
    const value = (0, eval)(c.js)();
    assert.equal(canonicalJson(value), c.output, c.name);
  }
});

/** Encrypts with the package, decrypts with noble under the vector key, and the reverse. */
/** A vector's collection id and version as the separate arguments the package takes. */
function collectionKey(k) {
  const [, kind = 'collection', id] = k.collection_id.match(/^(?:(canvas|route|route-body):)?(.*)$/);
  return { kind, id, version: k.key_version };
}
const seal = (identity, key, ctx, pt) =>
  typeof key === 'string' ? identity.encryptRecord(key, ctx, pt) : identity.encryptCollectionRecord(key.kind, key.id, key.version, ctx, pt);
const open = (identity, key, ctx, env) =>
  typeof key === 'string' ? identity.decryptRecord(key, ctx, env) : identity.decryptCollectionRecord(key.kind, key.id, key.version, ctx, env);
const keyLabel = (key) => (typeof key === 'string' ? key : `${key.kind}:${key.id}:v${key.version}`);

function checkRecordKey(identity, keyName, keyHex, label) {
  const ctx = { userId: 'user-123', recordType: 'vector-check', recordId: label, keyContext: `ctx-${keyLabel(keyName)}` };
  const aad = aadBytes(ctx);
  const plaintext = utf8(`plaintext for ${label}`);

  const sealed = seal(identity, keyName, ctx, plaintext);
  assert.equal(sealed[0], 0x02, 'envelope version');
  assert.equal(sealed[1], 0x10, 'XChaCha20-Poly1305 is the default algorithm');
  const opened = xchacha20poly1305(hex(keyHex), sealed.subarray(2, 26), aad).decrypt(sealed.subarray(26));
  assert.deepEqual(opened, plaintext, `${label}: noble opens ours under the vector key`);

  const nonce = hex('0102030405060708090a0b0c');
  const theirs = Buffer.concat([Uint8Array.of(2, 1), nonce, gcm(hex(keyHex), nonce, aad).encrypt(plaintext)]);
  assert.deepEqual(open(identity, keyName, ctx, theirs), plaintext, `${label}: we open AES-256-GCM`);
}

test('derivation.json: recovery key, public keys, signing key and every record key of every seed', () => {
  const file = vectors('derivation.json');
  for (const c of cases(file)) {
    const identity = Identity.fromSeed(hex(c.seed_hex));
    assert.equal(identity.exportRecoveryKey(), c.recovery_key, c.name);
    assert.equal(identity.signingPublicKey, c.signing.public_key, c.name);
    assert.equal(identity.encryptionPublicKey, c.encryption.public_key, c.name);

    const again = Identity.fromRecoveryKey(c.recovery_key);
    assert.equal(again.signingPublicKey, c.signing.public_key);
    assert.equal(again.encryptionPublicKey, c.encryption.public_key);
    again.free();

    // The signing key is the vector's: Ed25519 is deterministic, so noble with the vector's
    // private seed makes the same signature.
    const message = utf8(`message signed by ${c.name}`);
    assert.equal(identity.sign(message), toB64(ed.sign(message, hex(c.signing.private_seed_hex))), c.name);

    checkRecordKey(identity, 'personal', c.personal_key.key_hex, `${c.name} personal`);
    checkRecordKey(identity, 'metadata', c.metadata_key.key_hex, `${c.name} metadata`);
    for (const k of c.collection_keys) {
      const key = collectionKey(k);
      checkRecordKey(identity, key, k.key_hex, `${c.name} ${keyLabel(key)}`);
    }
    identity.free();
  }
  for (const p of cases(file, 'pairwise')) {
    assert.equal(safetyNumber(p.a_signing_public_key, p.b_signing_public_key), p.safety_number);
    // The legacy static-DH share keys (D6): what A encrypts for B opens under the vector key,
    // and what noble encrypts under it, B opens with A's public key.
    const a = identityOf(p.a);
    const b = identityOf(p.b);
    for (const [context, keyHex] of [['parchment-share-v1', p.share_key_v1_hex], ['parchment-share-collection-v1', p.share_key_collection_v1_hex]]) {
      const sealed = a.encryptForFriend(b.encryptionPublicKey, utf8(`${p.a}→${p.b}`), context);
      assert.equal(fromUtf8(gcm(hex(keyHex), b64(sealed.nonce)).decrypt(b64(sealed.ciphertext))), `${p.a}→${p.b}`, context);
      const nonce = hex('a0a1a2a3a4a5a6a7a8a9aaab');
      const theirs = { ciphertext: toB64(gcm(hex(keyHex), nonce).encrypt(utf8('from noble'))), nonce: toB64(nonce) };
      assert.equal(fromUtf8(b.decryptFromFriend(theirs, a.encryptionPublicKey, context)), 'from noble');
    }
    a.free();
    b.free();
  }
  for (const d of cases(file, 'device_transfer')) {
    assert.equal(deviceSas(d.receiver_ephemeral_public, d.sender_ephemeral_public, d.session_id), d.sas);
    assert.equal(deviceSas(d.sender_ephemeral_public, d.receiver_ephemeral_public, d.session_id), d.sas_swapped_args);
  }
  assert.equal(toHex(prfSalt()), file.prf_salt.salt_hex);
});

test('envelope.json: the original\'s envelopes open under the keys the package derives', () => {
  const file = vectors('envelope.json');
  // The fixed-key cases use keys no seed derives; their AAD encoding is what the
  // cross-checks above rely on, so it is checked against them.
  for (const c of cases(file)) assert.equal(toHex(aadBytes(c.aad)), c.aad_hex, c.name);

  // Which key name derives each application's key, found from derivation.json.
  const derived = vectors('derivation.json').cases.find((c) => c.name === 'counting');
  const names = new Map([
    [derived.personal_key.key_hex, 'personal'],
    [derived.metadata_key.key_hex, 'metadata'],
    ...derived.collection_keys.map((k) => [k.key_hex, collectionKey(k)]),
  ]);
  const identity = identityOf('counting');
  for (const c of cases(file, 'applications')) {
    assert.equal(c.seed_name, 'counting');
    const keyName = names.get(c.key_hex);
    assert.ok(keyName, `${c.name}: key is one of the derived keys`);
    const plaintext = open(identity, keyName, c.aad, b64(c.envelope_base64));
    assert.equal(fromUtf8(plaintext), c.plaintext_utf8, c.name);
  }
  // Negative cases: every one must fail. Structural errors do not depend on the key and keep
  // the reference's message; authentication failures are reported as such.
  const expected = {
    authentication: /authentication failed/,
    'unsupported-version': null,
    'unsupported-algorithm': null,
    'too-short': null,
  };
  for (const c of cases(file, 'negative')) {
    assert.ok(c.expected_kind in expected, c.name);
    const message = expected[c.expected_kind] ?? new RegExp(`^${c.reference_error_message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    assert.throws(() => identity.decryptCollectionRecord('collection', 'col-1', 1, c.aad, b64(c.envelope_base64)), (e) => e instanceof Error && message.test(e.message), c.name);
  }
  identity.free();
});

test('federation-envelope.json: verify every message, reproduce every signature', () => {
  const file = vectors('federation-envelope.json');
  for (const c of cases(file)) {
    assert.equal(verifyFederationEnvelope(c.envelope, c.signer_signing_public_key), true, c.name);
    assert.equal(canonicalJson(c.envelope), c.envelope_json, c.name);
    const identity = identityOf(c.signer_seed_name);
    assert.equal(identity.signingPublicKey, c.signer_signing_public_key);
    assert.equal(identity.sign(utf8(c.signable)), c.signature, c.name);
    if (c.version === 2) {
      const signed = identity.signFederationEnvelope(c.fields);
      assert.equal(signed.signature, c.signature, c.name);
      assert.equal(JSON.stringify(signed), c.envelope_json, `${c.name}: members in canonical order`);
      assert.deepEqual(signed, JSON.parse(c.envelope_json));
    }
    identity.free();
  }
  for (const c of cases(file, 'negative')) {
    assert.equal(verifyFederationEnvelope(c.envelope, c.signer_public_key), false, c.name);
  }
});

test('server-request.json: bodies are canonical, user and server signatures verify', () => {
  const file = vectors('server-request.json');
  const serverKey = (id) => {
    const key = file.server_keys.find((k) => k.server_id === id || (k.note ?? '').includes(id));
    assert.ok(key, `server key of ${id}`);
    return key.public_key;
  };
  const userKey = (handle) => identityOf(HANDLE_SEEDS[handle]).signingPublicKey;
  for (const c of cases(file)) {
    const body = JSON.parse(c.body);
    assert.equal(canonicalJson(body), c.body, c.name);
    // The direct calls carry a plain JSON body, not a user envelope.
    if (body.from) assert.equal(verifyFederationEnvelope(body, userKey(body.from)), true, c.name);
    const signable = canonicalJson({
      method: c.method.toUpperCase(),
      path: c.path,
      body_hash: c.body_hash,
      nonce: c.headers['X-Parchment-Nonce'],
      timestamp: c.headers['X-Parchment-Timestamp'],
      peer_server_id: c.peer_server_id,
      sender_server_id: c.sender_server_id,
      protocol_version: c.protocol_version,
    });
    assert.equal(signable, c.signed_string, c.name);
    assert.equal(verify(serverKey(c.sender_server_id), utf8(signable), c.signature), true, c.name);
  }
});

test('seed-wrap.json: unwrap the original\'s stored values; our wraps open under the vector key', () => {
  for (const c of cases(vectors('seed-wrap.json'))) {
    const identity = Identity.unwrapSeed(c.wrap_secret_base64, c.device_id, c.stored_value);
    assert.equal(identity.exportRecoveryKey(), toB64(hex(c.seed_hex)), c.name);

    const wrapped = identity.wrapSeed(c.wrap_secret_base64, c.device_id);
    const bytes = b64(wrapped);
    assert.deepEqual([bytes[0], bytes[1]], [0x02, 0x10]);
    const opened = xchacha20poly1305(hex(c.wrap_key_hex), bytes.subarray(2, 26), hex(c.aad_hex)).decrypt(bytes.subarray(26));
    assert.equal(toHex(opened), c.seed_hex, `${c.name}: raw seed under the vector wrap key`);
    const back = Identity.unwrapSeed(c.wrap_secret_base64, c.device_id, wrapped);
    assert.equal(back.signingPublicKey, identity.signingPublicKey);

    // After the server rotates the device secret, the stored value no longer opens.
    const rotated = toB64(new Uint8Array(32).fill(0xee));
    assert.throws(() => Identity.unwrapSeed(rotated, c.device_id, c.stored_value), /cannot be opened/);
    assert.throws(() => Identity.unwrapSeed(c.wrap_secret_base64, 'another-device', c.stored_value), /cannot be opened/);
    identity.free();
    back.free();
  }
});

test('key-slot.json: open, verify and re-sign the original\'s slots; ours open under the vector key', () => {
  const file = vectors('key-slot.json');
  for (const c of cases(file)) {
    const prf = hex(c.prf_output_hex);
    const identity = Identity.fromKeySlot(c.slot, c.user_id, prf, c.identity_signing_public_key);
    assert.equal(identity.exportRecoveryKey(), c.wrapped_plaintext_utf8, c.seed_name);
    assert.equal(verifyKeySlot(c.slot, c.user_id, c.identity_signing_public_key), true);
    assert.equal(verifyKeySlot(c.slot, `${c.user_id}-other`, c.identity_signing_public_key), c.verify_with_other_user_id);
    assert.equal(identity.sign(utf8(c.slot_signable)), c.slot.slotSignature);
    assert.equal(identity.signKeySlot(c.user_id, c.slot), c.slot.slotSignature);

    const slot = identity.createKeySlot(c.user_id, c.credential_id, prf);
    assert.deepEqual(Object.keys(slot).sort(), ['credentialId', 'slotSignature', 'wrapAlgo', 'wrappedKm']);
    assert.equal(slot.wrapAlgo, c.slot.wrapAlgo);
    assert.equal(slot.credentialId, c.credential_id);
    const env = b64(slot.wrappedKm);
    const opened = gcm(hex(c.wrap_key_hex), env.subarray(2, 14), hex(c.aad_hex)).decrypt(env.subarray(14));
    assert.equal(fromUtf8(opened), c.wrapped_plaintext_utf8, 'base64 text of the seed under the vector wrap key');
    const back = Identity.fromKeySlot(slot, c.user_id, prf, identity.signingPublicKey);
    assert.equal(back.exportRecoveryKey(), c.wrapped_plaintext_utf8);

    const wrongPrf = prf.map((b) => b ^ 1);
    assert.throws(() => Identity.fromKeySlot(c.slot, c.user_id, wrongPrf, c.identity_signing_public_key), /slot cannot be opened/);
    const other = identityOf(c.seed_name === 'counting' ? 'random' : 'counting');
    assert.throws(() => Identity.fromKeySlot(c.slot, c.user_id, prf, other.signingPublicKey), /slot signature invalid/);
    identity.free();
    back.free();
    other.free();
  }
  assert.equal(toHex(prfSalt()), file.prf_salt.salt_hex);
  // Device transfer: the sender's signature over the transfer signable, and the SAS.
  for (const d of cases(file, 'device_transfer')) {
    const sender = identityOf(d.seed_name);
    assert.equal(sender.signingPublicKey, d.sender_identity_signing_public_key);
    assert.equal(sender.sign(utf8(d.sender_signable)), d.payload.senderSignature);
    assert.equal(deviceSas(d.receiver_ephemeral_public, d.sender_ephemeral_public, d.session_id), d.sas);
    sender.free();
  }
});

test('ecies.json: open the original\'s friend shares and static-DH shares, refuse the negative ones, round-trip ours', () => {
  const file = vectors('ecies.json');
  for (const c of cases(file)) {
    const recipient = identityOf(c.recipient_seed_name);
    assert.equal(recipient.encryptionPublicKey, c.recipient_encryption_public_key);
    const opened = recipient.openFriendShare(b64(c.blob_base64), c.sender_signing_public_key, c.binding);
    assert.equal(fromUtf8(opened), c.plaintext_utf8, c.name);

    const sender = identityOf(c.sender_seed_name);
    const blob = sender.sealFriendShare(recipient.encryptionPublicKey, utf8(c.plaintext_utf8), c.binding);
    assert.equal(fromUtf8(recipient.openFriendShare(blob, sender.signingPublicKey, c.binding)), c.plaintext_utf8);
    assert.throws(() => recipient.openFriendShare(blob, sender.signingPublicKey, { ...c.binding, timestamp: 'later' }), /authentication failed/);
    sender.free();
    recipient.free();
  }
  const kinds = {
    'bad-signature': /ECIES signature invalid — sender authentication failed/,
    authentication: /authentication failed/,
    'too-short': /too short/,
  };
  const recipient = identityOf('random');
  const sender = identityOf('counting').signingPublicKey;
  for (const c of cases(file, 'negative')) {
    assert.ok(kinds[c.expected_kind], c.name);
    assert.throws(() => recipient.openFriendShare(b64(c.blob_base64), sender, c.binding), kinds[c.expected_kind], c.name);
  }
  // The older static-DH share RESOURCE_SHARE still carries (no AAD, long-term keys).
  for (const c of cases(file, 'static_dh_v1')) {
    const bob = identityOf(c.recipient_seed_name);
    const alice = identityOf(c.sender_seed_name);
    const opened = bob.decryptFromFriend({ ciphertext: c.ciphertext, nonce: c.nonce }, alice.encryptionPublicKey, c.context);
    assert.equal(fromUtf8(opened), c.plaintext_utf8, c.name);
    assert.throws(() => bob.decryptFromFriend({ ciphertext: c.ciphertext, nonce: c.nonce }, alice.encryptionPublicKey, 'parchment-share-v1'), /authentication failed/);
    bob.free();
    alice.free();
  }
  // Our anonymous sealed box (not in the original): round trip to the vector recipient.
  const sealed = sealTo(recipient.encryptionPublicKey, utf8('sealed to bob'));
  assert.equal(fromUtf8(recipient.openSealed(sealed)), 'sealed to bob');
  recipient.free();
});

test('safety.json: safety numbers (both orders) and device SAS codes', () => {
  const file = vectors('safety.json');
  for (const c of cases(file)) {
    assert.equal(safetyNumber(c.a, c.b), c.safety_number, `${c.a_seed}/${c.b_seed}`);
    assert.equal(safetyNumber(c.b, c.a), c.safety_number);
  }
  for (const c of cases(file, 'sas')) {
    assert.equal(deviceSas(toB64(hex(c.a_hex)), toB64(hex(c.b_hex)), c.session_id), c.sas);
  }
});
