#!/usr/bin/env python3
"""Where the bytes of a .wasm go: code size per crate (from the name section, so run it on
cargo's output before wasm-bindgen/wasm-opt strip the names), data segments, and the rest.

    python3 wasm/bench/size.py target/wasm32-unknown-unknown/wasm-release/parchment_wasm.wasm
"""
import re
import sys
from collections import Counter


def leb(buf, pos):
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def owner(name):
    """The crate a function belongs to, from its legacy (`_ZN`) or v0 (`_R`) mangled name or
    a demangled one; for `<T as Trait>` impls, the crate named first."""
    if name.startswith("_R"):
        m = re.search(r"C(?:s[0-9A-Za-z]*_)?(\d+)([A-Za-z_][0-9A-Za-z_]*)", name[2:])
        if m:
            return m.group(2)[: int(m.group(1))]
    if name.startswith("_ZN"):
        m = re.match(r"_ZN(\d+)", name)
        if m:
            name = name[m.end():m.end() + int(m.group(1))]
        name = name.replace("$LT$", "<").replace("$GT$", ">").replace("..", "::")
        name = re.sub(r"\$[A-Za-z0-9]+\$", " ", name)
    name = re.sub(r"^[<&* ]+|^_+<", "", name).replace("mut ", "").replace("dyn ", "")
    name = name.lstrip("<&* ")
    crate = re.split(r"::|\$|\.|<|>| ", name, maxsplit=1)[0]
    return crate or "?"


def main(path):
    buf = open(path, "rb").read()
    assert buf[:4] == b"\0asm", "not a wasm module"
    pos = 8
    sections = Counter()
    imported = 0
    bodies = []
    names = {}
    data_total = 0
    while pos < len(buf):
        sid = buf[pos]
        size, body = leb(buf, pos + 1)
        end = body + size
        if sid == 0:
            nlen, p = leb(buf, body)
            cname = buf[p:p + nlen].decode()
            sections["custom:" + cname] += end - pos
            if cname == "name":
                p += nlen
                while p < end:
                    sub = buf[p]
                    slen, p2 = leb(buf, p + 1)
                    if sub == 1:
                        count, q = leb(buf, p2)
                        for _ in range(count):
                            idx, q = leb(buf, q)
                            ln, q = leb(buf, q)
                            names[idx] = buf[q:q + ln].decode(errors="replace")
                            q += ln
                    p = p2 + slen
        else:
            sections[{1: "type", 2: "import", 3: "function", 4: "table", 5: "memory", 6: "global",
                      7: "export", 8: "start", 9: "element", 10: "code", 11: "data",
                      12: "datacount"}.get(sid, str(sid))] += end - pos
            if sid == 2:
                count, p = leb(buf, body)
                for _ in range(count):
                    for _ in range(2):
                        ln, p = leb(buf, p)
                        p += ln
                    kind = buf[p]
                    p += 1
                    if kind == 0:
                        imported += 1
                        _, p = leb(buf, p)
                    elif kind == 1:
                        p += 1
                        flags, p = leb(buf, p)
                        _, p = leb(buf, p)
                        if flags & 1:
                            _, p = leb(buf, p)
                    elif kind == 2:
                        flags, p = leb(buf, p)
                        _, p = leb(buf, p)
                        if flags & 1:
                            _, p = leb(buf, p)
                    elif kind == 3:
                        p += 2
            if sid == 10:
                count, p = leb(buf, body)
                for i in range(count):
                    bsize, p2 = leb(buf, p)
                    bodies.append((imported + i, p2 + bsize - p))
                    p = p2 + bsize
            if sid == 11:
                data_total += size
        pos = end
    print(f"{path}: {len(buf):,} bytes")
    for name, size in sections.most_common():
        print(f"  section {name:<28} {size:>9,}")
    per_crate = Counter()
    biggest = []
    for idx, size in bodies:
        name = names.get(idx, f"func[{idx}]")
        per_crate[owner(name)] += size
        biggest.append((size, name))
    print("code by crate (function bodies):")
    for crate, size in per_crate.most_common(25):
        print(f"  {crate:<30} {size:>9,}")
    print("largest functions:")
    for size, name in sorted(biggest, reverse=True)[:25]:
        print(f"  {size:>8,}  {name[:110]}")


if __name__ == "__main__":
    main(sys.argv[1])
