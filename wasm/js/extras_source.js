// Where the package's second module's bytes come from, when not from next to its glue: the Node
// entry reads them from disk. Internal: the package's exports map does not expose this file,
// so no other code can point loadExtras() at other bytes.
let source;

export function setExtrasSource(read) {
  source = read;
}

export async function extrasSource() {
  return source ? source() : undefined;
}
