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
// An Identity created by the start module moves into the second module the first time one of
// the second module's methods is called on it: the second module makes an ephemeral X25519 key,
// the start module seals the seed to it, the second module opens it. The seed is never a
// JavaScript value on the way.
import initStart, * as start from './start/parchment_core.js';

let full = null;
let loadingFull = null;
let fullSource;

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
    const source = typeof fullSource === 'function' ? await fullSource() : fullSource;
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

/** For the Node entry: where the second module's bytes come from (a value or a function). */
export function __setExtrasSource(source) {
  fullSource = source;
}

function second(name) {
  if (!full) throw new Error(`@parchment/core: ${name} is in the second module; call \`await loadExtras()\` first`);
  return full;
}

export { verify, verifyFederationEnvelope, canonicalJson } from './start/parchment_core.js';

const secondFunction = (name) => (...args) => second(name)[name](...args);
export const safetyNumber = secondFunction('safetyNumber');
export const safetyNumberV2 = secondFunction('safetyNumberV2');
export const safetyQrPayload = secondFunction('safetyQrPayload');
export const compareSafetyQr = secondFunction('compareSafetyQr');
export const deviceSas = secondFunction('deviceSas');
export const sealTo = secondFunction('sealTo');
export const prfSalt = secondFunction('prfSalt');
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
    return new Identity(start.Identity.unwrapSeed(deviceSecret, deviceId, wrapped));
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

for (const name of ['sign', 'signFederationEnvelope', 'signKeyChange', 'encryptRecord', 'decryptRecord', 'encryptCollectionRecord', 'decryptCollectionRecord', 'wrapSeed', 'exportRecoveryKey', 'exportRecoveryCode']) {
  Identity.prototype[name] = function (...args) {
    return this[HANDLE][name](...args);
  };
}
for (const name of ['createKeySlot', 'signKeySlot', 'openSealed', 'sealFriendShare', 'openFriendShare', 'sealDeviceTransfer', 'sealDeviceTransferV2', 'encryptForFriend', 'decryptFromFriend']) {
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
