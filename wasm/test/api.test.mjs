// The JavaScript API beyond the vectors: round trips, the lifetime of an Identity, that no
// property or method hands out secret bytes, and that bad input throws a JS Error with a
// precise message instead of trapping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';

import * as pkg from '../support/package.mjs';
import { DeviceTransferReceiver, DeviceTransferSender, Identity, canonicalJson, deviceSas, prfSalt, safetyNumber, sealTo, verify, verifyFederationEnvelope, verifyKeySlot } from '../support/package.mjs';
import { b64, fromUtf8, hex, toB64, toHex, utf8, vectors } from '../support/helpers.mjs';

const ctx = { userId: 'user-1', recordType: 'personal-blob', recordId: 'search-history', keyContext: 'parchment-personal-v1' };

test('the pinned API names exist', () => {
  const functions = ['verify', 'verifyFederationEnvelope', 'canonicalJson', 'safetyNumber', 'safetyNumberV2', 'safetyQrPayload', 'compareSafetyQr', 'sealTo', 'prfSalt', 'verifyKeySlot', 'deviceSas'];
  for (const name of functions) assert.equal(typeof pkg[name], 'function', name);
  for (const name of ['generate', 'fromSeed', 'fromRecoveryKey', 'unwrapSeed', 'fromKeySlot']) {
    assert.equal(typeof Identity[name], 'function', `Identity.${name}`);
  }
  const methods = ['exportRecoveryKey', 'sign', 'signFederationEnvelope', 'encryptRecord', 'decryptRecord', 'wrapSeed', 'createKeySlot', 'signKeySlot', 'signKeyChange', 'openSealed', 'sealFriendShare', 'openFriendShare', 'sealDeviceTransfer', 'encryptForFriend', 'decryptFromFriend', 'free'];
  for (const name of methods) assert.equal(typeof Identity.prototype[name], 'function', `identity.${name}`);
  for (const name of ['signingPublicKey', 'encryptionPublicKey']) {
    assert.equal(typeof Object.getOwnPropertyDescriptor(Identity.prototype, name)?.get, 'function', name);
  }
});

test('generate, export and re-import a recovery key', () => {
  const a = Identity.generate();
  const key = a.exportRecoveryKey();
  assert.match(key, /^[A-Za-z0-9+/]{43}=$/);
  const b = Identity.fromRecoveryKey(`  ${key.slice(0, 20)}\n${key.slice(20)}  `);
  assert.equal(b.signingPublicKey, a.signingPublicKey);
  assert.equal(b.encryptionPublicKey, a.encryptionPublicKey);
  assert.notEqual(Identity.generate().signingPublicKey, a.signingPublicKey);
  a.free();
  b.free();
});

test('recovery code: checksummed, read by fromRecoveryKey, typos refused', () => {
  const a = Identity.generate();
  const code = a.exportRecoveryCode();
  assert.match(code, /^P1(-[0-9A-HJKMNP-TV-Z]{4}){14}$/);
  const b = Identity.fromRecoveryKey(code.toLowerCase().replaceAll('-', ' - '));
  assert.equal(b.signingPublicKey, a.signingPublicKey);
  const at = code.length - 2;
  const typo = code.slice(0, at) + (code[at] === 'A' ? 'B' : 'A') + code.slice(at + 1);
  assert.throws(() => Identity.fromRecoveryKey(typo), /checksum mismatch, a character is mistyped/);
  assert.throws(() => Identity.fromRecoveryKey('P1-0000'), /must have 56 characters/);
  a.free();
  b.free();
});

test('sign and verify', () => {
  const id = Identity.generate();
  const message = utf8('hello');
  const signature = id.sign(message);
  assert.equal(b64(signature).length, 64);
  assert.equal(verify(id.signingPublicKey, message, signature), true);
  assert.equal(verify(id.signingPublicKey, utf8('hellO'), signature), false);
  assert.equal(verify(Identity.generate().signingPublicKey, message, signature), false);
  assert.equal(id.sign(new Uint8Array()).length, 88);
  id.free();
});

test('record encryption round trips under every key, bound to its context', () => {
  const id = Identity.generate();
  const plaintext = utf8('{"lat":1,"lng":2}');
  for (const key of ['personal', 'metadata']) {
    const sealed = id.encryptRecord(key, ctx, plaintext);
    assert.equal(sealed.length, 2 + 24 + plaintext.length + 16);
    assert.deepEqual(id.decryptRecord(key, ctx, sealed), plaintext, key);
    assert.throws(() => id.decryptRecord(key, { ...ctx, recordId: 'other' }, sealed), /authentication failed/);
  }
  for (const [kind, cid, version] of [['collection', 'col-1', 1], ['collection', 'col-1', 2], ['canvas', 'cv-1', 1], ['route-body', 'rt-1', 1]]) {
    const sealed = id.encryptCollectionRecord(kind, cid, version, ctx, plaintext);
    assert.deepEqual(id.decryptCollectionRecord(kind, cid, version, ctx, sealed), plaintext, `${kind} ${cid} v${version}`);
    assert.throws(() => id.decryptCollectionRecord(kind, cid, version, { ...ctx, recordId: 'other' }, sealed), /authentication failed/);
  }
  const sealed = id.encryptCollectionRecord('collection', 'col-1', 1, ctx, plaintext);
  assert.throws(() => id.decryptCollectionRecord('collection', 'col-1', 2, ctx, sealed), /authentication failed/);
  assert.throws(() => Identity.generate().decryptCollectionRecord('collection', 'col-1', 1, ctx, sealed), /authentication failed/);
  // Empty and large plaintexts (the module's memory grows for the 4 MiB one).
  assert.deepEqual(id.decryptRecord('personal', ctx, id.encryptRecord('personal', ctx, new Uint8Array())), new Uint8Array());
  const big = new Uint8Array(4 << 20).fill(7);
  assert.deepEqual(id.decryptRecord('personal', ctx, id.encryptRecord('personal', ctx, big)), big);
  // Two encryptions of one plaintext differ (fresh nonce).
  assert.notDeepEqual(id.encryptRecord('personal', ctx, plaintext), id.encryptRecord('personal', ctx, plaintext));
  id.free();
});

test('seed wrap, key slot and sealed box round trips', () => {
  const id = Identity.generate();
  const secret = toB64(new Uint8Array(32).fill(9));
  const wrapped = id.wrapSeed(secret, 'device-1234');
  assert.equal(Identity.unwrapSeed(secret, 'device-1234', wrapped).exportRecoveryKey(), id.exportRecoveryKey());

  const prf = new Uint8Array(32).fill(3);
  const slot = id.createKeySlot('user-1', 'cred-1', prf);
  assert.equal(verifyKeySlot(slot, 'user-1', id.signingPublicKey), true);
  assert.equal(verifyKeySlot({ ...slot, credentialId: 'cred-2' }, 'user-1', id.signingPublicKey), false);
  assert.equal(Identity.fromKeySlot(slot, 'user-1', prf, id.signingPublicKey).signingPublicKey, id.signingPublicKey);
  assert.equal(id.signKeySlot('user-1', slot), slot.slotSignature);
  assert.throws(() => Identity.fromKeySlot({ ...slot, wrapAlgo: 'other' }, 'user-1', prf, id.signingPublicKey), /slot signature invalid/);

  const sealed = sealTo(id.encryptionPublicKey, utf8('secret note'));
  assert.equal(fromUtf8(id.openSealed(sealed)), 'secret note');
  assert.throws(() => Identity.generate().openSealed(sealed), /authentication failed/);
  assert.equal(prfSalt().length, 32);
  id.free();
});

test('signKeyChange: the current key signs the canonical key-change statement', () => {
  const current = Identity.generate();
  const next = Identity.generate();
  const sig = current.signKeyChange('user-1', 3, next.signingPublicKey, next.encryptionPublicKey);
  const statement = canonicalJson({
    type: 'parchment-key-change-v1', userId: 'user-1', expectedCurrent: 3,
    signingKey: next.signingPublicKey, encryptionKey: next.encryptionPublicKey,
  });
  assert.equal(statement.startsWith('{"encryptionKey":'), true);
  assert.equal(verify(current.signingPublicKey, utf8(statement), sig), true);
  assert.equal(verify(next.signingPublicKey, utf8(statement), sig), false);
  // Bound to the generation: another expectedCurrent is another statement.
  assert.notEqual(current.signKeyChange('user-1', 4, next.signingPublicKey, next.encryptionPublicKey), sig);
  assert.throws(() => current.signKeyChange('user-1', 0, next.signingPublicKey, next.encryptionPublicKey), /expectedCurrent must be a positive integer/);
  assert.throws(() => current.signKeyChange('user-1', '3', next.signingPublicKey, next.encryptionPublicKey), /expectedCurrent must be a number, got string/);
  assert.throws(() => current.signKeyChange('user-1', 3, 'AAAA', next.encryptionPublicKey), /Ed25519 public key/);
  current.free();
  next.free();
});

test('device transfer: the new device receives the seed, bound to session and sender', () => {
  const sender = Identity.generate();
  const receiver = DeviceTransferReceiver.generate();
  assert.equal(b64(receiver.publicKey).length, 32);
  const upload = sender.sealDeviceTransfer(receiver.publicKey, 'sess-1');
  assert.deepEqual(Object.keys(upload).sort(), ['sealedSeed', 'senderEphemeralPub', 'senderSignature']);
  // The signature is over the spec's legacy signable (crypto.md §7).
  const signable = JSON.stringify({ type: 'device-transfer', receiverEphemeralPub: receiver.publicKey, senderEphemeralPub: upload.senderEphemeralPub, sessionId: 'sess-1' });
  assert.equal(verify(sender.signingPublicKey, utf8(signable), upload.senderSignature), true);
  const sealed = b64(upload.sealedSeed);
  assert.deepEqual([sealed[0], sealed[1]], [2, 1], 'AES-256-GCM, readable by the original');
  // Both devices show the same code.
  assert.equal(deviceSas(receiver.publicKey, upload.senderEphemeralPub, 'sess-1'), deviceSas(upload.senderEphemeralPub, receiver.publicKey, 'sess-1'));

  const received = receiver.open('sess-1', upload, sender.signingPublicKey);
  assert.equal(received.exportRecoveryKey(), sender.exportRecoveryKey());
  assert.throws(() => receiver.open('sess-2', upload, sender.signingPublicKey), /signature verification failed/);
  assert.throws(() => receiver.open('sess-1', upload, Identity.generate().signingPublicKey), /signature verification failed/);
  assert.throws(() => DeviceTransferReceiver.generate().open('sess-1', upload, sender.signingPublicKey), /signature verification failed/);
  assert.throws(() => receiver.open('sess-1', { ...upload, sealedSeed: undefined }, sender.signingPublicKey), /upload.sealedSeed is required/);
  receiver.free();
  assert.throws(() => receiver.publicKey, /this DeviceTransferReceiver has been freed/);
  assert.throws(() => receiver.open('sess-1', upload, sender.signingPublicKey), /this DeviceTransferReceiver has been freed/);
  sender.free();
  received.free();
});

test('legacy static-DH friend encryption round trips under each context', () => {
  const a = Identity.generate();
  const b = Identity.generate();
  for (const context of ['parchment-share-v1', 'parchment-share-collection-v1', 'parchment-collection-key-wrap:col-1']) {
    const sealed = a.encryptForFriend(b.encryptionPublicKey, utf8(context), context);
    assert.deepEqual(Object.keys(sealed).sort(), ['ciphertext', 'nonce']);
    assert.equal(fromUtf8(b.decryptFromFriend(sealed, a.encryptionPublicKey, context)), context);
  }
  const sealed = a.encryptForFriend(b.encryptionPublicKey, utf8('x'), 'parchment-collection-key-wrap:col-1');
  assert.throws(() => b.decryptFromFriend(sealed, a.encryptionPublicKey, 'parchment-collection-key-wrap:col-2'), /authentication failed/);
  a.free();
  b.free();
});

test('a collection key wrapped for a friend opens their records inside wasm, and only theirs', () => {
  const owner = Identity.generate();
  const friend = Identity.generate();
  const stranger = Identity.generate();
  const ctx = { userId: 'owner@a.example', recordType: 'collection-content', recordId: 'col-1', keyContext: 'parchment-collection-col-1-v2' };
  const sealed = owner.encryptCollectionRecord('collection', 'col-1', 2, ctx, utf8('places'));
  const wrap = owner.wrapCollectionKey('col-1', 2, friend.encryptionPublicKey);
  assert.deepEqual(Object.keys(wrap).sort(), ['ciphertext', 'nonce']);
  assert.equal(fromUtf8(friend.decryptSharedCollectionRecord(wrap, owner.encryptionPublicKey, 'col-1', ctx, sealed)), 'places');
  // An editor's change opens for the owner under their own key; a friend cannot seal what would
  // read as the owner's content.
  const editCtx = { ...ctx, recordType: 'collection-edit' };
  const edit = friend.encryptSharedCollectionRecord(wrap, owner.encryptionPublicKey, 'col-1', editCtx, utf8('edited'));
  assert.equal(fromUtf8(owner.decryptCollectionRecord('collection', 'col-1', 2, editCtx, edit)), 'edited');
  assert.throws(() => friend.encryptSharedCollectionRecord(wrap, owner.encryptionPublicKey, 'col-1', ctx, utf8('forged')), /must be "collection-edit"/);
  // The original's format: the key's base64 under the key-wrap label.
  const raw = friend.decryptFromFriend(wrap, owner.encryptionPublicKey, 'parchment-collection-key-wrap:col-1');
  assert.equal(atob(fromUtf8(raw)).length, 32);
  // The old version's wrap does not open the new version; another collection or recipient fails.
  const v1 = owner.wrapCollectionKey('col-1', 1, friend.encryptionPublicKey);
  assert.throws(() => friend.decryptSharedCollectionRecord(v1, owner.encryptionPublicKey, 'col-1', ctx, sealed), /authentication failed/);
  assert.throws(() => friend.decryptSharedCollectionRecord(wrap, owner.encryptionPublicKey, 'col-2', ctx, sealed), /authentication failed/);
  assert.throws(() => stranger.decryptSharedCollectionRecord(wrap, owner.encryptionPublicKey, 'col-1', ctx, sealed), /authentication failed/);
  assert.throws(() => friend.decryptSharedCollectionRecord(wrap, owner.encryptionPublicKey, 'col-1', { ...ctx, keyContext: 'parchment-collection-col-1-v1' }, sealed), /authentication failed/);
  // Ids that could name another label are refused before any key is touched.
  assert.throws(() => owner.wrapCollectionKey('col-1:v2', 1, friend.encryptionPublicKey), /letters, digits/);
  assert.throws(() => owner.wrapCollectionKey('col-1', 0, friend.encryptionPublicKey), /positive integer/);
  assert.throws(() => friend.decryptSharedCollectionRecord({ ciphertext: wrap.ciphertext }, owner.encryptionPublicKey, 'col-1', ctx, sealed), /wrap.nonce is required/);
  for (const id of [owner, friend, stranger]) id.free();
});

test('signFederationEnvelope fills defaults and its output verifies', () => {
  const id = Identity.generate();
  const before = Date.now();
  const signed = id.signFederationEnvelope({ message_type: 'RELATIONSHIP_REVOKE', from: 'a@a.example', to: 'b@b.example' });
  assert.deepEqual(Object.keys(signed), ['from', 'message_type', 'message_version', 'nonce', 'payload', 'protocol_version', 'signature', 'timestamp', 'to']);
  assert.equal(signed.protocol_version, 2);
  assert.equal(signed.message_version, 1);
  assert.deepEqual(signed.payload, {});
  assert.equal(b64(signed.nonce).length, 16);
  assert.match(signed.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(Date.parse(signed.timestamp) >= before - 1000);
  assert.equal(verifyFederationEnvelope(signed, id.signingPublicKey), true);
  assert.equal(verifyFederationEnvelope({ ...signed, to: 'c@c.example' }, id.signingPublicKey), false);
  assert.equal(canonicalJson(signed), JSON.stringify(signed));

  const share = id.signFederationEnvelope({
    message_type: 'RESOURCE_SHARE', from: 'a@a.example', to: 'b@b.example', message_version: 1,
    nonce: 'AAAAAAAAAAAAAAAAAAAAAA==', timestamp: '2026-04-20T12:00:00.000Z',
    payload: { role: 'viewer', resourceType: 'collection', resourceId: 'c1', encryptedData: 'x', nonce: 'y' },
  });
  assert.deepEqual(Object.keys(share.payload), ['encryptedData', 'nonce', 'resourceId', 'resourceType', 'role']);
  assert.equal(share.timestamp, '2026-04-20T12:00:00.000Z');
  assert.equal(verifyFederationEnvelope(share, id.signingPublicKey), true);
  id.free();
});

test('free() zeroizes and every later use throws a clear Error', () => {
  const id = Identity.generate();
  id.free();
  const uses = {
    signingPublicKey: () => id.signingPublicKey,
    encryptionPublicKey: () => id.encryptionPublicKey,
    exportRecoveryKey: () => id.exportRecoveryKey(),
    exportRecoveryCode: () => id.exportRecoveryCode(),
    sign: () => id.sign(new Uint8Array(1)),
    signFederationEnvelope: () => id.signFederationEnvelope({ message_type: 'FRIEND_INVITE', from: 'a@a', to: 'b@b' }),
    encryptRecord: () => id.encryptRecord('personal', ctx, new Uint8Array(1)),
    decryptRecord: () => id.decryptRecord('personal', ctx, new Uint8Array(60)),
    wrapSeed: () => id.wrapSeed(toB64(new Uint8Array(32)), 'device-1'),
    createKeySlot: () => id.createKeySlot('u', 'c', new Uint8Array(32)),
    signKeySlot: () => id.signKeySlot('u', { credentialId: 'c', wrappedKm: 'w', wrapAlgo: 'a' }),
    signKeyChange: () => id.signKeyChange('u', 1, id.signingPublicKey, id.encryptionPublicKey),
    openSealed: () => id.openSealed(new Uint8Array(100)),
    sealFriendShare: () => id.sealFriendShare(id.encryptionPublicKey, new Uint8Array(1), {}),
    openFriendShare: () => id.openFriendShare(new Uint8Array(100), 'x', {}),
    sealDeviceTransfer: () => id.sealDeviceTransfer('x', 's'),
    encryptForFriend: () => id.encryptForFriend('x', new Uint8Array(1), 'parchment-share-v1'),
    decryptFromFriend: () => id.decryptFromFriend({}, 'x', 'parchment-share-v1'),
  };
  for (const [name, use] of Object.entries(uses)) {
    assert.throws(use, (e) => e instanceof Error && e.message === 'this Identity has been freed; create a new one', name);
  }
  id.free(); // twice is harmless
  const disposed = Identity.generate();
  disposed[Symbol.dispose]?.();
  if (Symbol.dispose) assert.throws(() => disposed.signingPublicKey, /freed/);
});

test('secrets are not reachable: no property or method returns seed or private-key bytes', () => {
  const vector = vectors('derivation.json').cases.find((c) => c.name === 'counting');
  const secrets = [
    vector.seed_hex,
    vector.signing.private_seed_hex,
    vector.encryption.private_key_hex,
    vector.personal_key.key_hex,
    vector.metadata_key.key_hex,
    ...vector.collection_keys.map((k) => k.key_hex),
  ];
  const forms = secrets.flatMap((h) => [h, toB64(hex(h)), toB64(hex(h)).replace(/=+$/, ''), Buffer.from(hex(h)).toString('base64url')]);
  const leaks = (value) => {
    const seen = [];
    const walk = (v) => {
      if (v instanceof Uint8Array) seen.push(toHex(v));
      else if (typeof v === 'string') seen.push(v);
      else if (v && typeof v === 'object') for (const k of Object.keys(v)) walk(v[k]);
    };
    walk(value);
    return forms.filter((f) => seen.some((s) => s.includes(f) || (f.length === 64 && s.includes(f))));
  };

  const id = Identity.fromSeed(hex(vector.seed_hex));
  const other = Identity.generate();
  const prf = new Uint8Array(32).fill(1);
  const slot = id.createKeySlot('u', 'c', prf);
  // Every member of the instance and its prototype chain, called with valid arguments.
  const calls = {
    signingPublicKey: () => id.signingPublicKey,
    encryptionPublicKey: () => id.encryptionPublicKey,
    sign: () => id.sign(utf8('m')),
    signFederationEnvelope: () => id.signFederationEnvelope({ message_type: 'FRIEND_INVITE', from: 'a@a', to: 'b@b' }),
    encryptRecord: () => id.encryptRecord('personal', ctx, utf8('p')),
    decryptRecord: () => id.decryptRecord('personal', ctx, id.encryptRecord('personal', ctx, utf8('p'))),
    wrapSeed: () => id.wrapSeed(toB64(new Uint8Array(32)), 'device-1'),
    createKeySlot: () => id.createKeySlot('u', 'c', prf),
    signKeySlot: () => id.signKeySlot('u', slot),
    signKeyChange: () => id.signKeyChange('u', 1, other.signingPublicKey, other.encryptionPublicKey),
    openSealed: () => id.openSealed(sealTo(id.encryptionPublicKey, utf8('x'))),
    sealFriendShare: () => id.sealFriendShare(other.encryptionPublicKey, utf8('x'), { senderId: 'a@a', recipientId: 'b@b', timestamp: 't' }),
    openFriendShare: () => id.openFriendShare(other.sealFriendShare(id.encryptionPublicKey, utf8('x'), { senderId: 'b@b', recipientId: 'a@a', timestamp: 't' }), other.signingPublicKey, { senderId: 'b@b', recipientId: 'a@a', timestamp: 't' }),
    sealDeviceTransfer: () => id.sealDeviceTransfer(DeviceTransferReceiver.generate().publicKey, 's'),
    sealDeviceTransferV2: () => {
      const receiver = DeviceTransferReceiver.generate();
      return id.sealDeviceTransferV2(DeviceTransferSender.generate(), receiver.commitment, receiver.publicKey, 's');
    },
    encryptCollectionRecord: () => id.encryptCollectionRecord('collection', 'col-1', 2, ctx, utf8('p')),
    decryptCollectionRecord: () => id.decryptCollectionRecord('collection', 'col-1', 2, ctx, id.encryptCollectionRecord('collection', 'col-1', 2, ctx, utf8('p'))),
    encryptForFriend: () => id.encryptForFriend(other.encryptionPublicKey, utf8('x'), 'parchment-share-v1'),
    decryptFromFriend: () => id.decryptFromFriend(other.encryptForFriend(id.encryptionPublicKey, utf8('x'), 'parchment-share-v1'), other.encryptionPublicKey, 'parchment-share-v1'),
    wrapCollectionKey: () => id.wrapCollectionKey('col-1', 1, other.encryptionPublicKey),
    decryptSharedCollectionRecord: () => {
      const c = { userId: 'o', recordType: 'collection-content', recordId: 'col-1', keyContext: 'k' };
      return id.decryptSharedCollectionRecord(other.wrapCollectionKey('col-1', 1, id.encryptionPublicKey), other.encryptionPublicKey, 'col-1', c, other.encryptCollectionRecord('collection', 'col-1', 1, c, utf8('x')))
    },
    encryptSharedCollectionRecord: () => id.encryptSharedCollectionRecord(other.wrapCollectionKey('col-1', 1, id.encryptionPublicKey), other.encryptionPublicKey, 'col-1', { userId: 'o', recordType: 'collection-edit', recordId: 'col-1', keyContext: 'k' }, utf8('x')),
    constructor: () => null,
    free: () => null, // checked last, below
    exportRecoveryKey: () => null, // the deliberate exports
    exportRecoveryCode: () => null,
  };
  const members = new Set();
  for (let o = id; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) members.add(name);
  }
  // wasm-bindgen's plumbing: the handle (a number: where the Rust struct lives, no key bytes)
  // and the method that detaches it (returns that number).
  members.delete('__wbg_ptr');
  members.delete('__destroy_into_raw');
  for (const name of members) {
    assert.ok(name in calls, `new member ${name}: add it to this test`);
    assert.deepEqual(leaks(calls[name]()), [], name);
  }
  for (const text of [JSON.stringify(id), String(id), inspect(id, { showHidden: true, depth: 5 })]) {
    assert.deepEqual(leaks(text), []);
  }
  assert.deepEqual(Object.keys(id), []);
  // Under the package's Identity, a handle of one of the two modules (the second one by now:
  // createKeySlot moved it). It has the same members plus wasm-bindgen's plumbing (the handle
  // is a number: where the Rust struct lives, no key bytes) and the module handoff, which
  // returns the seed sealed to a key only the caller of ModuleHandoff holds.
  const [handleKey] = Object.getOwnPropertySymbols(id);
  const handle = id[handleKey];
  assert.equal(typeof handle.__wbg_ptr, 'number');
  const handleMembers = new Set();
  for (let o = handle; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) handleMembers.add(name);
  }
  for (const name of handleMembers) {
    if (['__wbg_ptr', '__destroy_into_raw', '__sealForModule'].includes(name)) continue;
    assert.ok(members.has(name), `handle member ${name} is not on the package's Identity`);
  }
  // The handoff exists only in the start module, and its output is ciphertext.
  assert.equal(handle.__sealForModule, undefined, 'the second module never hands an identity back');
  const fresh = Identity.fromSeed(hex(vector.seed_hex));
  const startHandle = fresh[Object.getOwnPropertySymbols(fresh)[0]];
  assert.equal(typeof startHandle.__sealForModule, 'function');
  assert.deepEqual(leaks(startHandle.__sealForModule(Identity.generate().encryptionPublicKey)), []);
  fresh.free();
  // The transfer receiver exposes its public key and nothing else.
  const receiver = DeviceTransferReceiver.generate();
  const receiverMembers = new Set();
  for (let o = receiver; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) receiverMembers.add(name);
  }
  assert.deepEqual([...receiverMembers].sort(), ['__destroy_into_raw', '__wbg_ptr', 'commitment', 'constructor', 'free', 'open', 'openV2', 'publicKey', 'sasV2']);
  assert.equal(b64(receiver.publicKey).length, 32);
  assert.equal(b64(receiver.commitment).length, 32);
  // The transfer sender: its public key and the code, nothing else.
  const sender = DeviceTransferSender.generate();
  const senderMembers = new Set();
  for (let o = sender; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) senderMembers.add(name);
  }
  assert.deepEqual([...senderMembers].sort(), ['__destroy_into_raw', '__wbg_ptr', 'constructor', 'free', 'publicKey', 'sas']);
  assert.match(sender.sas(receiver.commitment, receiver.publicKey, 's'), /^\d{8}$/);
  assert.equal(sender.sas(receiver.commitment, receiver.publicKey, 's'), receiver.sasV2(sender.publicKey, 's'));
  assert.throws(() => sender.sas(receiver.commitment, DeviceTransferReceiver.generate().publicKey, 's'), /does not match its commitment/);
  sender.free();
  receiver.free();
  // The deliberate export does leak the seed: that is what it is for.
  assert.ok(leaks(id.exportRecoveryKey()).includes(toB64(hex(vector.seed_hex))), 'the leak detector sees the seed');
  id.free();
  other.free();
});

test('bad input throws an Error with a precise message, never a WebAssembly trap', () => {
  const id = Identity.generate();
  const pub = id.signingPublicKey;
  const sig = id.sign(utf8('m'));
  const cases = [
    [() => Identity.fromSeed(new Uint8Array(31)), /Invalid seed: must be 32 bytes \(got 31\)/],
    [() => Identity.fromSeed('0'.repeat(64)), /seed must be a Uint8Array, got string/],
    [() => Identity.fromSeed(undefined), /seed must be a Uint8Array, got undefined/],
    [() => Identity.fromSeed([1, 2, 3]), /seed must be a Uint8Array, got an array/],
    [() => Identity.fromRecoveryKey('aGk='), /Invalid recovery key: must be 32 bytes \(got 2\)/],
    [() => Identity.fromRecoveryKey('not base64!'), /Invalid recovery key: not base64/],
    [() => Identity.fromRecoveryKey(42), /recovery key must be a string, got number/],
    [() => verify('aGk=', utf8('m'), sig), /publicKey: Ed25519 public key couldn't be decoded: expected 32 bytes, got 2/],
    [() => verify(pub, utf8('m'), 'AAAA'), /signature: Ed25519 signature couldn't be decoded: expected 64 bytes, got 3/],
    [() => verify(pub, 'm', sig), /message must be a Uint8Array, got string/],
    [() => verify('%%%', utf8('m'), sig), /invalid base64/],
    [() => verify(null, utf8('m'), sig), /publicKey must be a string, got null/],
    [() => id.sign(null), /message must be a Uint8Array, got null/],
    [() => id.encryptRecord('secret', ctx, utf8('p')), /unknown record key "secret"/],
    [() => id.encryptRecord('collection:x', ctx, utf8('p')), /encryptCollectionRecord/],
    [() => id.encryptCollectionRecord('collection', 'x', 0, ctx, utf8('p')), /version must be a positive integer|at least 1/],
    [() => id.encryptCollectionRecord('collection', 'x-v2', 1, ctx, utf8('p')), /would share a key with another collection/],
    // Ids a server could steer into another key (issue 17): another id's version, another kind.
    [() => id.encryptCollectionRecord('collection', 'abc:v2', 1, ctx, utf8('p')), /letters, digits/],
    [() => id.encryptCollectionRecord('collection', 'route:r1', 1, ctx, utf8('p')), /letters, digits/],
    [() => id.encryptCollectionRecord('canvas', 'x', 2, ctx, utf8('p')), /no versions/],
    [() => id.encryptCollectionRecord('secret', 'x', 1, ctx, utf8('p')), /unknown key kind/],
    [() => id.encryptRecord('personal', { ...ctx, keyContext: undefined }, utf8('p')), /ctx.keyContext is required/],
    [() => id.encryptRecord('personal', { ...ctx, userId: 5 }, utf8('p')), /ctx.userId must be a string, got number/],
    [() => id.encryptRecord('personal', null, utf8('p')), /ctx must be an object, got null/],
    [() => id.encryptRecord('personal', { ...ctx, userId: 'x'.repeat(70000) }, utf8('p')), /AAD field userId is longer than 65535 bytes/],
    [() => id.decryptRecord('personal', ctx, new Uint8Array(29)), /Envelope too short: 29 bytes, need ≥ 30/],
    [() => id.decryptRecord('personal', ctx, Uint8Array.of(3, 1, ...new Uint8Array(40))), /Unsupported envelope version 0x03/],
    [() => id.decryptRecord('personal', ctx, Uint8Array.of(2, 2, ...new Uint8Array(40))), /Unsupported algorithm 0x02/],
    [() => id.decryptRecord('personal', ctx, Uint8Array.of(2, 0x10, ...new Uint8Array(30))), /Envelope too short: 32 bytes, need ≥ 42/],
    [() => id.wrapSeed('aGk=', 'device-1'), /deviceSecret: expected 32 bytes, got 2/],
    [() => Identity.unwrapSeed(toB64(new Uint8Array(32)), 'device-1', '***'), /invalid base64/],
    [() => id.createKeySlot('u', 'c', new Uint8Array(15)), /PRF output must be at least 16 bytes \(got 15\)/],
    [() => Identity.fromKeySlot({}, 'u', new Uint8Array(32), pub), /slot.credentialId is required/],
    [() => Identity.fromKeySlot({ credentialId: 'c', wrappedKm: 'w', wrapAlgo: 'a', slotSignature: 'AAAA' }, 'u', new Uint8Array(32), pub), /slot signature invalid: Ed25519 signature couldn't be decoded/],
    [() => id.openSealed(new Uint8Array(10)), /sealed blob too short: 10 bytes, need ≥ 62/],
    [() => sealTo(toB64(new Uint8Array(32)), utf8('x')), /X25519 public key is a weak \(small-order\) key/],
    [() => sealTo('aGk=', utf8('x')), /recipientEncryptionPublicKey: X25519 public key couldn't be decoded/],
    [() => safetyNumber(pub, 'aGk='), /pubB: Ed25519 public key couldn't be decoded/],
    [() => deviceSas(pub, pub, 7), /sessionId must be a string, got number/],
    [() => canonicalJson(undefined), /value has no JSON form/],
    [() => canonicalJson(() => 1), /value has no JSON form \(function is not serializable\)/],
    [() => canonicalJson({ a: 1n }), /value cannot be serialized to JSON: .*BigInt/],
    [() => { const o = {}; o.o = o; return canonicalJson(o); }, /value cannot be serialized to JSON: .*circular/],
    [() => canonicalJson(JSON.parse('['.repeat(200) + ']'.repeat(200))), /nested deeper than 128 levels/],
    [() => id.signFederationEnvelope({ message_type: 'NOPE', from: 'a', to: 'b' }), /Unsupported message type: NOPE/],
    [() => id.signFederationEnvelope({ from: 'a', to: 'b' }), /envelope.message_type is required/],
    [() => id.signFederationEnvelope({ type: 'FRIEND_INVITE', from: 'a', to: 'b' }), /legacy v1 form/],
    [() => id.signFederationEnvelope({ message_type: 'FRIEND_INVITE', from: 'a', to: 'b', extra: 1 }), /envelope.extra is not a member/],
    [() => id.signFederationEnvelope({ message_type: 'FRIEND_INVITE', from: 'a', to: 'b', protocol_version: 1 }), /protocol_version must be 2/],
    [() => id.signFederationEnvelope({ message_type: 'FRIEND_INVITE', from: 'a', to: 'b', message_version: 1.5 }), /message_version must be a positive integer/],
    [() => id.signFederationEnvelope({ message_type: 'FRIEND_INVITE', from: 'a', to: 'b', payload: [] }), /payload must be an object/],
    [() => id.signFederationEnvelope('{}'), /envelope must be an object, got string/],
    [() => verifyFederationEnvelope({ from: 'a', to: 'b', timestamp: 't' }, pub), /signature is required/],
    [() => verifyFederationEnvelope({ from: 'a', to: 'b', timestamp: 't', signature: 'AAAA', message_type: 'X' }, pub), /Malformed signature input/],
    [() => verifyFederationEnvelope({ from: 'a', to: 'b', timestamp: 't', signature: sig, protocol_version: 2, message_type: 'FRIEND_INVITE' }, pub), /v2 message missing nonce or message_type/],
    [() => id.openFriendShare(new Uint8Array(95), pub, { senderId: 'a', recipientId: 'b', timestamp: 't' }), /sealed blob too short: 95 bytes, need ≥ 96/],
    [() => id.sealFriendShare(id.encryptionPublicKey, utf8('x'), { senderId: 'a', recipientId: 'b' }), /binding.timestamp is required/],
    [() => id.encryptForFriend(id.encryptionPublicKey, utf8('x'), 'parchment-share-v2'), /unknown friend-share context "parchment-share-v2"/],
    [() => id.encryptForFriend(toB64(new Uint8Array(32)), utf8('x'), 'parchment-share-v1'), /X25519 shared secret is all zero/],
    [() => id.decryptFromFriend({ ciphertext: 'AAAA', nonce: 'AAAA' }, id.encryptionPublicKey, 'parchment-share-v1'), /nonce must be 12 bytes/],
    [() => id.sealDeviceTransfer('aGk=', 's'), /receiverEphemeralPub: X25519 public key couldn't be decoded/],
    [() => DeviceTransferReceiver.generate().open('s', {}, pub), /upload.senderEphemeralPub is required/],
  ];
  for (const [call, message] of cases) {
    assert.throws(call, (e) => {
      assert.ok(!(e instanceof WebAssembly.RuntimeError), `trapped: ${e}`);
      assert.ok(e instanceof Error, `not an Error: ${e}`);
      assert.match(e.message, message);
      return true;
    });
  }
  // The module is intact after all of that.
  assert.equal(verify(pub, utf8('m'), sig), true);
  id.free();
});
