// Shared by the tests: the built package (wasm/pkg, made by build.sh), the vector files and
// small byte helpers. The vectors live in ../shared/vectors beside the repository unless
// PARCHMENT_VECTORS_DIR says otherwise; a missing file fails the test that needs it.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const wasmDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const repoDir = resolve(wasmDir, '..');
export const pkgDir = join(wasmDir, 'pkg');
export const vectorsDir = process.env.PARCHMENT_VECTORS_DIR ?? resolve(repoDir, '..', 'shared', 'vectors');

export const VECTOR_FILES = [
  'canonical.json',
  'derivation.json',
  'ecies.json',
  'envelope.json',
  'federation-envelope.json',
  'key-slot.json',
  'safety.json',
  'seed-wrap.json',
  'server-request.json',
];

/** The parsed vector file `name`; throws (so the test fails) when it is missing. */
export function vectors(name) {
  return JSON.parse(readFileSync(join(vectorsDir, name), 'utf8'));
}

/** A non-empty case list of a vector file. */
export function cases(file, list = 'cases') {
  const items = file[list];
  if (!Array.isArray(items) || items.length === 0) throw new Error(`case list ${list} missing or empty`);
  return items;
}

export const hex = (text) => Uint8Array.from(Buffer.from(text, 'hex'));
export const toHex = (bytes) => Buffer.from(bytes).toString('hex');
export const b64 = (text) => Uint8Array.from(Buffer.from(text, 'base64'));
export const toB64 = (bytes) => Buffer.from(bytes).toString('base64');
export const utf8 = (text) => new TextEncoder().encode(text);
export const fromUtf8 = (bytes) => new TextDecoder().decode(bytes);

/** The AAD bytes of a record context (crypto.md §3), computed independently of the package. */
export function aadBytes({ userId, recordType, recordId, keyContext }) {
  const parts = [];
  for (const field of [userId, recordType, recordId, keyContext]) {
    const bytes = utf8(field);
    parts.push(Uint8Array.of(bytes.length >> 8, bytes.length & 0xff), bytes);
  }
  return Buffer.concat(parts);
}

/** The seed of a named test identity in derivation.json. */
export function seedOf(name) {
  const found = vectors('derivation.json').cases.find((c) => c.name === name);
  if (!found) throw new Error(`no seed ${name} in derivation.json`);
  return hex(found.seed_hex);
}
