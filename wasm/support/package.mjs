// The built package (wasm/pkg, made by build.sh) through its Node entry, which instantiates the
// module at import. package.test.mjs checks that `import '@parchment/core'` resolves to it.
export * from '../pkg/node.js';
