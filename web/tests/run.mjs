#!/usr/bin/env node
// Runs the unit tests in web/tests/unit/, then every flow spec in web/tests/flows/, one after another (each starts its own server and
// browser). Builds nothing: expects web/dist and PARCHMENT_SERVER_BIN.
//   PARCHMENT_SERVER_BIN=target/debug/parchment-server node web/tests/run.mjs [filter]
import { run } from 'node:test'
import { spec } from 'node:test/reporters'
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { serverBin } from './harness.mjs'

serverBin() // fail early with a clear message
const here = dirname(fileURLToPath(import.meta.url))
const filter = process.argv[2]
// Unit tests of src/crypto first, then one spec per flow.
const files = ['unit', 'flows'].flatMap((sub) =>
  readdirSync(join(here, sub))
    .filter((f) => f.endsWith('.test.mjs') && (!filter || f.includes(filter)))
    .sort()
    .map((f) => join(here, sub, f)),
)

let failed = 0
const stream = run({ files, concurrency: 1, timeout: 180000 })
stream.on('test:fail', (e) => {
  if (e.details?.type !== 'suite') failed++
})
stream.compose(spec).pipe(process.stdout)
stream.on('end', () => {
  process.exitCode = failed ? 1 : 0
})
