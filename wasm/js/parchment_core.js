// @parchment/core in two WebAssembly modules, behind the API of one.
//
// `init()` loads the START module: what the app needs to start and unlock (derive, sign,
// verify, record encryption with XChaCha20-Poly1305 and the original's AES-GCM records, HKDF,
// seed wrap, canonical JSON, federation envelopes). `loadExtras()` loads the SECOND module on
// first use: key slots, friend shares, legacy static-DH encryption, sealed boxes, device
// transfer, safety numbers. Every name, argument and result is the one-module package's; a
// function of the second module called before `loadExtras()` has resolved throws an Error that
// says so. (The Node entry loads both at import, so Node code needs neither call.)
//
// AES-256-GCM is in the second module too: `decryptRecord` of the original's records (algorithm
// byte 0x01) needs `loadExtras()` first, like the rest of the legacy formats.
//
// An Identity created by the start module moves into the second module the first time one of
// the second module's methods is called on it: the second module makes an ephemeral X25519 key,
// the start module seals the seed to it, the second module opens it. The seed is never a
// JavaScript value on the way.
import initStart, * as start from './start/parchment_core.js';
import { extrasSource } from './extras_source.js';

let full = null;
let loadingFull = null;

/** Loads the start module (the same options as wasm-bindgen's init). */
export default function init(options) {
  return initStart(options);
}

/** Loads the start module from bytes or a compiled module, synchronously. */
export function initSync(options) {
  return start.initSync(options);
}

/** Loads the second module (once; later calls return the same promise). */
export function loadExtras() {
  if (full) return Promise.resolve();
  loadingFull ??= (async () => {
    const module = await import('./full/parchment_core.js');
    // Where the second module's bytes come from: next to its glue (browsers, bundlers), or
    // what the Node entry set (extras_source.js, not exported by the package).
    const source = await extrasSource();
    await module.default(source === undefined ? undefined : { module_or_path: source });
    full = module;
  })().catch((e) => {
    loadingFull = null;
    throw e;
  });
  return loadingFull;
}

/** Whether `loadExtras()` has resolved. */
export function extrasLoaded() {
  return full !== null;
}

function second(name) {
  if (!full) throw new Error(`@parchment/core: ${name} is in the second module; call \`await loadExtras()\` first`);
  return full;
}

export { verify, verifyFederationEnvelope, canonicalJson, prfSalt } from './start/parchment_core.js';

const secondFunction = (name) => (...args) => second(name)[name](...args);
export const safetyNumber = secondFunction('safetyNumber');
export const safetyNumberV2 = secondFunction('safetyNumberV2');
export const safetyQrPayload = secondFunction('safetyQrPayload');
export const compareSafetyQr = secondFunction('compareSafetyQr');
export const deviceSas = secondFunction('deviceSas');
export const sealTo = secondFunction('sealTo');
export const verifyKeySlot = secondFunction('verifyKeySlot');

const HANDLE = Symbol('handle');

/** The handle in the second module, moving it there first if it is still in the start module. */
function inSecond(identity, name) {
  const module = second(`identity.${name}`);
  const handle = identity[HANDLE];
  if (handle instanceof module.Identity) return handle;
  const handoff = module.ModuleHandoff.generate();
  try {
    const moved = handoff.receive(handle.__sealForModule(handoff.publicKey));
    handle.free();
    identity[HANDLE] = moved;
    return moved;
  } finally {
    handoff.free();
  }
}

/** An identity: a master seed and the keys derived from it, held inside WebAssembly. */
export class Identity {
  constructor(handle) {
    if (!handle) throw new Error('create an Identity with Identity.generate(), fromSeed(), fromRecoveryKey(), unwrapSeed() or fromKeySlot()');
    this[HANDLE] = handle;
  }
  static generate() {
    return new Identity(start.Identity.generate());
  }
  static fromSeed(seed) {
    return new Identity(start.Identity.fromSeed(seed));
  }
  static fromRecoveryKey(text) {
    return new Identity(start.Identity.fromRecoveryKey(text));
  }
  static unwrapSeed(deviceSecret, deviceId, wrapped) {
    // Our wraps are XChaCha20-Poly1305; one written with AES-256-GCM opens in the second module.
    const module = isAesText(wrapped) ? second('Identity.unwrapSeed of an AES-256-GCM wrap') : start;
    return new Identity(module.Identity.unwrapSeed(deviceSecret, deviceId, wrapped));
  }
  static fromKeySlot(slot, userId, prfOutput, signingPublicKey) {
    return new Identity(second('Identity.fromKeySlot').Identity.fromKeySlot(slot, userId, prfOutput, signingPublicKey));
  }
  get signingPublicKey() {
    return this[HANDLE].signingPublicKey;
  }
  get encryptionPublicKey() {
    return this[HANDLE].encryptionPublicKey;
  }
  /** Zeroizes the seed and every key; any later use throws. */
  free() {
    this[HANDLE].free();
  }
  [Symbol.dispose]() {
    this.free();
  }
}

for (const name of ['sign', 'signFederationEnvelope', 'signKeyChange', 'encryptRecord', 'encryptCollectionRecord', 'wrapSeed', 'exportRecoveryKey', 'exportRecoveryCode']) {
  Identity.prototype[name] = function (...args) {
    return this[HANDLE][name](...args);
  };
}

// AES-256-GCM (the original's records, algorithm byte 0x01) is in the second module only: an
// envelope of it is opened there; every other envelope where the identity is.
const AES_256_GCM = 0x01;
/** Whether base64 `text` starts like an AES-256-GCM envelope (anything unreadable: no). */
function isAesText(text) {
  try {
    return typeof text === 'string' && atob(text.slice(0, 4)).charCodeAt(1) === AES_256_GCM;
  } catch {
    return false;
  }
}
const isAes = (envelope) => envelope instanceof Uint8Array && envelope.length > 1 && envelope[1] === AES_256_GCM;
for (const [name, at] of [['decryptRecord', 2], ['decryptCollectionRecord', 4]]) {
  Identity.prototype[name] = function (...args) {
    const handle = isAes(args[at]) ? inSecond(this, `${name} of an AES-256-GCM envelope`) : this[HANDLE];
    return handle[name](...args);
  };
}
for (const name of ['createKeySlot', 'signKeySlot', 'openSealed', 'sealFriendShare', 'openFriendShare', 'sealDeviceTransfer', 'sealDeviceTransferV2', 'encryptForFriend', 'decryptFromFriend', 'wrapCollectionKey', 'decryptSharedCollectionRecord', 'encryptSharedCollectionRecord']) {
  Identity.prototype[name] = function (...args) {
    return inSecond(this, name)[name](...args);
  };
}

/** The receiving side of a device transfer (second module). */
export class DeviceTransferReceiver {
  static generate() {
    const receiver = second('DeviceTransferReceiver').DeviceTransferReceiver.generate();
    // What it opens becomes an Identity of this package.
    for (const name of ['open', 'openV2']) {
      const open = receiver[name].bind(receiver);
      Object.defineProperty(receiver, name, { value: (...args) => new Identity(open(...args)), enumerable: false });
    }
    return receiver;
  }
}

/** The sending side of a v2 device transfer (second module). */
export class DeviceTransferSender {
  static generate() {
    return second('DeviceTransferSender').DeviceTransferSender.generate();
  }
}
