// Safety number v2 (core/src/safety.rs): safetyNumberV2, safetyQrPayload and compareSafetyQr,
// checked against an independent implementation of the construction (node:crypto SHA-512), the
// known answer core pins, and the v1 function left as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import { Identity, compareSafetyQr, safetyNumber, safetyNumberV2, safetyQrPayload } from '../support/package.mjs';
import { b64, toB64, toHex } from '../support/helpers.mjs';

// derivation.json's seeds "zero" (alice) and "counting" (bob).
const alice = {
  handle: 'alice@a.example',
  signingKey: '0jK4q+EE1Cn2UHYDqYLEkseu4tu+k57B9KvezZJL+u4=',
  encryptionKey: 'bTwkPGAYPqtf/R7E8nIQvCLVOQK1Oqp8Yy4b5Fmsm08=',
};
const bob = {
  handle: 'bob@b.example',
  signingKey: '+UYKxog/HBcEX4Vg00QkJWzmn1bbv9UfvdgPlROBMcI=',
  encryptionKey: 'zZdtcNfZszF3GnQMDDoWcLSyywes9OLQBw//y4DgLiY=',
};
const ALICE_BOB = '27483 55913 24229 25446 15499 74395 92673 32403 70796 89464 15660 66448';

/** The construction of core/src/safety.rs, written again from its description. */
function fingerprint({ handle, signingKey, encryptionKey }) {
  const keys = Buffer.concat([b64(signingKey), b64(encryptionKey)]);
  let h = Buffer.concat([Buffer.from([0, 2]), keys, Buffer.from(handle.toLowerCase(), 'utf8')]);
  for (let i = 0; i < 5200; i++) h = createHash('sha512').update(h).update(keys).digest();
  return h.subarray(0, 32);
}

function digits(fp) {
  let out = '';
  for (let i = 0; i < 30; i += 5) out += String(fp.readUIntBE(i, 5) % 100000).padStart(5, '0');
  return out;
}

function independent(me, friend) {
  const [a, b] = [digits(fingerprint(me)), digits(fingerprint(friend))].sort();
  return (a + b).match(/\d{5}/g).join(' ');
}

test('the pinned names exist', async () => {
  const pkg = await import('../support/package.mjs');
  for (const name of ['safetyNumberV2', 'safetyQrPayload', 'compareSafetyQr', 'safetyNumber']) {
    assert.equal(typeof pkg[name], 'function', name);
  }
});

test('safetyNumberV2: the known answer, the same on both sides, as the construction says', () => {
  assert.equal(safetyNumberV2(alice, bob), ALICE_BOB);
  assert.equal(safetyNumberV2(bob, alice), ALICE_BOB);
  assert.equal(independent(alice, bob), ALICE_BOB);
  assert.match(ALICE_BOB, /^\d{5}( \d{5}){11}$/);
  // Handles compare case-insensitively, as the server compares them.
  assert.equal(safetyNumberV2({ ...alice, handle: 'Alice@A.EXAMPLE' }, bob), ALICE_BOB);
});

test('safetyNumberV2: random identities agree with the independent implementation', () => {
  for (let i = 0; i < 4; i++) {
    const a = Identity.generate();
    const b = Identity.generate();
    const me = { handle: `user_${i}@a.example`, signingKey: a.signingPublicKey, encryptionKey: a.encryptionPublicKey };
    const friend = { handle: `friend_${i}@b.example:8443`, signingKey: b.signingPublicKey, encryptionKey: b.encryptionPublicKey };
    assert.equal(safetyNumberV2(me, friend), independent(me, friend));
    assert.equal(safetyNumberV2(friend, me), safetyNumberV2(me, friend));
    a.free();
    b.free();
  }
});

test('safetyNumberV2 covers each handle, signing key and encryption key; v1 stays the original\'s', () => {
  const base = safetyNumberV2(alice, bob);
  const other = Identity.generate();
  const changes = [
    [{ ...alice, handle: 'alice@c.example' }, bob],
    [{ ...alice, signingKey: other.signingPublicKey }, bob],
    [{ ...alice, encryptionKey: other.encryptionPublicKey }, bob],
    [alice, { ...bob, handle: 'bobby@b.example' }],
    [alice, { ...bob, signingKey: other.signingPublicKey }],
    [alice, { ...bob, encryptionKey: other.encryptionPublicKey }],
  ];
  for (const [me, friend] of changes) assert.notEqual(safetyNumberV2(me, friend), base, JSON.stringify([me, friend]));
  // v1 is the original's, unchanged (safety.json "zero"/"counting"): it takes the signing keys
  // only, so a server swapping bob's encryption key leaves it as it was; v2 changes (above).
  assert.equal(safetyNumber(alice.signingKey, bob.signingKey), '929 609 618 183');
  other.free();
});

test('safetyQrPayload: version byte and both fingerprints, mine first', () => {
  const qr = safetyQrPayload(alice, bob);
  assert.ok(qr instanceof Uint8Array);
  assert.equal(qr.length, 65);
  assert.equal(qr[0], 2);
  assert.equal(toHex(qr.subarray(1, 33)), toHex(fingerprint(alice)));
  assert.equal(toHex(qr.subarray(33)), toHex(fingerprint(bob)));
  assert.equal(
    toHex(qr),
    '0226771799e1192b0e2fb3651b1e59cca2622e1638cc95ec3cec0bc659127082b99a0b7ede9b6d6cf6e849fc2de644e5c68f395b6639a5ce96abc5350e1bdbd5b0',
  );
});

test('compareSafetyQr: the friend\'s code matches, my own and a tampered one do not, another format throws', () => {
  const onBob = safetyQrPayload(bob, alice);
  assert.equal(compareSafetyQr(alice, bob, onBob), true);
  assert.equal(compareSafetyQr(bob, alice, safetyQrPayload(alice, bob)), true);
  assert.equal(compareSafetyQr(alice, bob, safetyQrPayload(alice, bob)), false, 'my own screen is not my friend\'s');
  for (const at of [1, 20, 32, 33, 50, 64]) {
    const t = Uint8Array.from(onBob);
    t[at] ^= 0x80;
    assert.equal(compareSafetyQr(alice, bob, t), false, `byte ${at}`);
  }
  // A server that swapped bob's encryption key on alice's side: bob's real screen does not match.
  const mitm = Identity.generate();
  assert.equal(compareSafetyQr(alice, { ...bob, encryptionKey: mitm.encryptionPublicKey }, onBob), false);
  mitm.free();
  const v3 = Uint8Array.from(onBob);
  v3[0] = 3;
  assert.throws(() => compareSafetyQr(alice, bob, v3), /safety code has version 3; this app reads version 2/);
  assert.throws(() => compareSafetyQr(alice, bob, onBob.subarray(0, 64)), /safety code must be 65 bytes, got 64/);
  // Through text (what a QR code or a paste carries): base64 round trip.
  assert.equal(compareSafetyQr(alice, bob, b64(toB64(onBob))), true);
});

test('bad arguments throw errors that name them', () => {
  const cases = [
    [() => safetyNumberV2(null, bob), /me must be an object, got null/],
    [() => safetyNumberV2(alice, 'bob'), /friend must be an object, got string/],
    [() => safetyNumberV2({ ...alice, handle: undefined }, bob), /me.handle is required/],
    [() => safetyNumberV2({ ...alice, handle: 'alice' }, bob), /handle "alice": handle must have the form alias@domain/],
    [() => safetyNumberV2(alice, { ...bob, signingKey: 'aGk=' }), /friend.signingKey: Ed25519 public key couldn't be decoded/],
    [() => safetyNumberV2(alice, { ...bob, encryptionKey: 5 }), /friend.encryptionKey must be a string, got number/],
    [() => safetyQrPayload(alice, { ...bob, encryptionKey: 'aGk=' }), /friend.encryptionKey: X25519 public key couldn't be decoded/],
    [() => compareSafetyQr(alice, bob, 'AAAA'), /scanned must be a Uint8Array, got string/],
  ];
  for (const [call, message] of cases) assert.throws(call, (e) => e instanceof Error && message.test(e.message), String(message));
});
