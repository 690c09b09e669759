#!/usr/bin/env python3
"""The replica-crash test of issue 19 (run by scripts/lib/replicas.sh, `test_replicas`).

Starts a fresh PostgreSQL database, three `parchment-server serve` replicas on loopback (one
database, one server key, one public URL: the balancer's) and nginx from
deploy/nginx/parchment-lb-test.conf in front of them, plus a fake federation peer in this
process (its own Ed25519 server key, users, an inbox that records every delivered message by
(from, nonce) and the replica process that delivered it). Then:

1. mixed load through the balancer (sign-ins by emailed code, authenticated GETs, blob writes,
   km-version commits, messages to friends on the peer = outbox deliveries, inbox messages
   from the peer, friend-gated and not); one replica is SIGKILLed in the middle (while it is
   delivering to the peer) and restarted a few seconds later;
2. checks: only requests in flight on the killed replica failed (and nginx names it as their
   upstream); a signed inbox request replayed at another replica is refused (sequentially and
   racing all three); rate limits hold across replicas; after the outbox lease expired every
   queued message reached the peer and was accepted exactly once (a re-send only for messages
   the killed replica had in flight); every 2xx answer is durable; no commit is half applied;
3. figures: throughput of authenticated GETs through nginx with 1, 2 and 3 replicas and CPU
   seconds per request (replicas, nginx, PostgreSQL, this client), and how long clients saw
   errors after the kill.

Exit status 0 when every check passed, 1 with the failed checks listed otherwise. Every process
it started is stopped and its temporary directory and database are removed (keep them with
PARCHMENT_REPLICAS_KEEP=1). Needs: nginx, psql, python3 with `cryptography`.
"""

import argparse
import base64
import collections
import datetime
import hashlib
import http.client
import http.server
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NGINX_TEMPLATE = os.path.join(ROOT, "deploy", "nginx", "parchment-lb-test.conf")

REPLICAS = 3
VICTIM = 1  # index of the replica that is killed
LEASE_SECS = 60  # server/src/federation/outbox.rs LEASE_MS
PEER_DELAY = 0.35  # the fake peer answers each first delivery after this long
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# Small helpers


class Fatal(Exception):
    """The test cannot go on."""


def b64(data):
    return base64.b64encode(data).decode()


def canonical(value):
    """Canonical JSON (federation.md §5) for what this test signs: ASCII keys, strings and
    integers only, where sorted keys and no whitespace are the whole rule."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def iso_now():
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (now.microsecond // 1000)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(msg):
    print(f"[replicas {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class SigningKey:
    def __init__(self, private=None):
        self.private = private or Ed25519PrivateKey.generate()
        raw = self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public = b64(raw)

    @classmethod
    def from_seed_b64(cls, seed):
        return cls(Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed)))

    def sign(self, text):
        return b64(self.private.sign(text.encode()))


def verify(public_b64, text, signature_b64):
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64)).verify(
            base64.b64decode(signature_b64), text.encode()
        )
        return True
    except Exception:
        return False


def x25519_public():
    return b64(
        X25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


ENVELOPE_SIGNED = (
    "protocol_version",
    "message_type",
    "message_version",
    "from",
    "to",
    "nonce",
    "timestamp",
    "payload",
)


def envelope(key, message_type, sender, to, payload=None):
    """A v2 user-level envelope (federation.md §6), signed by `key`."""
    env = {
        "protocol_version": 2,
        "message_type": message_type,
        "message_version": 1,
        "from": sender,
        "to": to,
        "nonce": b64(os.urandom(16)),
        "timestamp": iso_now(),
        "payload": payload or {},
    }
    env["signature"] = key.sign(canonical({k: env[k] for k in ENVELOPE_SIGNED}))
    return env


def envelope_verifies(env, public):
    signable = {k: env.get(k) for k in ENVELOPE_SIGNED}
    signable["message_version"] = env.get("message_version", 1)
    signable["payload"] = env.get("payload", {})
    return verify(public, canonical(signable), env.get("signature", ""))


def fake_ciphertext(size=100):
    """Bytes of the shape of a v2 envelope (0x02, AES-256-GCM, 12-byte nonce, sealed data)."""
    return b64(b"\x02\x01" + os.urandom(12 + size))


def proc_cpu_seconds(pid):
    """utime + stime of a process, in seconds (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def children_of(ppid):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == ppid:
                out.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return out


# ---------------------------------------------------------------------------------------------
# HTTP client: one keep-alive connection per thread and target port


class Reply:
    def __init__(self, status, headers, text):
        self.status = status
        self.headers = headers
        self.text = text
        try:
            self.json = json.loads(text) if text else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return f"{self.status} {self.text[:300]}"


class Client:
    def __init__(self, port, timeout=30):
        self.port = port
        self.timeout = timeout
        self.conn = None
        self.last_used = 0.0

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, token=None, headers=None, raw_body=None):
        # An idle keep-alive connection may have been closed by the other side meanwhile.
        if self.conn is not None and time.monotonic() - self.last_used > 5:
            self.close()
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        h = {"Accept": "application/json"}
        data = None
        if raw_body is not None:
            data = raw_body.encode()
            h["Content-Type"] = "application/json"
        elif body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if token:
            h["Authorization"] = f"Bearer {token}"
        h.update(headers or {})
        try:
            self.conn.request(method, path, body=data, headers=h)
            resp = self.conn.getresponse()
            text = resp.read().decode("utf-8", "replace")
            self.last_used = time.monotonic()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, text)
        except Exception:
            self.close()
            raise


# ---------------------------------------------------------------------------------------------
# What happened: every request of the load, and every check


class Record:
    __slots__ = ("rid", "kind", "method", "path", "t0", "t1", "status", "error")

    def __init__(self, rid, kind, method, path, t0, t1, status, error):
        self.rid, self.kind, self.method, self.path = rid, kind, method, path
        self.t0, self.t1, self.status, self.error = t0, t1, status, error

    @property
    def failed(self):
        return self.error is not None or (self.status is not None and self.status >= 500)


class Journal:
    def __init__(self):
        self.lock = threading.Lock()
        self.records = []
        self.next_rid = 0
        self.checks = []  # (name, ok, detail)

    def rid(self):
        with self.lock:
            self.next_rid += 1
            return self.next_rid

    def add(self, record):
        with self.lock:
            self.records.append(record)

    def check(self, name, ok, detail=""):
        with self.lock:
            self.checks.append((name, bool(ok), detail))
        log(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
        return ok


class Tracked:
    """A client whose requests are journaled (with a `rid` query tag that nginx logs)."""

    def __init__(self, journal, port, kind):
        self.journal = journal
        self.client = Client(port)
        self.kind = kind

    def call(self, method, path, body=None, token=None, headers=None, raw_body=None):
        rid = self.journal.rid()
        tagged = f"{path}{'&' if '?' in path else '?'}rid={rid}"
        t0 = time.monotonic()
        status, error, reply = None, None, None
        try:
            reply = self.client.request(method, tagged, body, token, headers, raw_body)
            status = reply.status
        except Exception as e:  # noqa: BLE001 - every failure is journaled
            error = f"{type(e).__name__}: {e}"
        t1 = time.monotonic()
        self.journal.add(Record(rid, self.kind, method, path, t0, t1, status, error))
        return reply, error


# ---------------------------------------------------------------------------------------------
# The fake federation peer


class FakePeer:
    """A Parchment server as far as federation goes: manifest, user documents, an inbox that
    verifies each delivery (server and user signature) and records it by (from, nonce)."""

    def __init__(self, harness):
        self.h = harness
        self.key = SigningKey()
        self.port = free_port()
        self.id = f"127.0.0.1:{self.port}"
        self.users = {}  # alias -> (SigningKey, x25519 public)
        self.lock = threading.Condition()
        self.arrivals = collections.defaultdict(list)  # (from, nonce) -> [arrival dicts]
        self.problems = []
        self.in_flight = collections.Counter()  # pid -> deliveries being answered
        peer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send_json(self, status, value):
                """Answers; False when the sender had gone (the killed replica)."""
                data = json.dumps(value).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                    return True
                except OSError:
                    self.close_connection = True
                    return False

            def do_GET(self):
                peer.serve_get(self)

            def do_POST(self):
                peer.serve_post(self)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def add_user(self, alias):
        self.users[alias] = (SigningKey(), x25519_public())
        return f"{alias}@{self.id}"

    def key_of(self, alias):
        return self.users[alias][0]

    def serve_get(self, req):
        path = req.path.split("?")[0]
        if path == "/.well-known/parchment-server":
            return req.send_json(
                200,
                {
                    "server_id": self.id,
                    "public_key": self.key.public,
                    "protocol_versions": [2],
                    "minimum_protocol_version": 2,
                    "capabilities": [],
                    "key_transparency_anchor": None,
                },
            )
        m = re.fullmatch(r"/\.well-known/user/([A-Za-z0-9_]+)", path)
        if m and m.group(1) in self.users:
            key, enc = self.users[m.group(1)]
            return req.send_json(
                200,
                {
                    "handle": f"{m.group(1)}@{self.id}",
                    "signingKey": key.public,
                    "encryptionKey": enc,
                    "inbox": f"http://{self.id}/federation/inbox",
                    "name": f"Peer {m.group(1)}",
                },
            )
        req.send_json(404, {"message": "not found"})

    def sender_pid(self, sport):
        """The replica process owning the TCP connection from 127.0.0.1:sport to us."""
        inode = None
        try:
            with open("/proc/net/tcp") as f:
                next(f)
                for line in f:
                    parts = line.split()
                    lport = int(parts[1].split(":")[1], 16)
                    rport = int(parts[2].split(":")[1], 16)
                    if lport == sport and rport == self.port:
                        inode = parts[9]
                        break
        except OSError:
            return None
        if inode is None:
            return None
        target = f"socket:[{inode}]"
        for pid in self.h.replica_pids():
            try:
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    try:
                        if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                            return pid
                    except OSError:
                        continue
            except OSError:
                continue
        return None

    def serve_post(self, req):
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length).decode()
        if req.path.split("?")[0] != "/federation/inbox":
            return req.send_json(404, {"message": "not found"})
        t = time.monotonic()
        pid = self.sender_pid(req.client_address[1])
        problem = None
        try:
            env = json.loads(raw)
        except ValueError:
            env, problem = {}, "body is not JSON"
        hdr = {k: req.headers.get(f"X-Parchment-{k}") for k in
               ("Server-Id", "Protocol-Version", "Nonce", "Timestamp", "Server-Signature")}
        if problem is None and None in hdr.values():
            problem = f"missing transport headers: {hdr}"
        if problem is None:
            wrapper = canonical({
                "body_hash": b64(hashlib.sha256(canonical(env).encode()).digest()),
                "method": "POST",
                "nonce": hdr["Nonce"],
                "path": "/federation/inbox",
                "peer_server_id": self.id,
                "protocol_version": 2,
                "sender_server_id": hdr["Server-Id"],
                "timestamp": hdr["Timestamp"],
            })
            if hdr["Server-Id"] != self.h.our_id:
                problem = f"sender server id {hdr['Server-Id']!r}, expected {self.h.our_id!r}"
            elif not verify(self.h.server_public, wrapper, hdr["Server-Signature"]):
                problem = "the server signature does not verify"
        sender_key = self.h.local_keys.get(env.get("from"))
        if problem is None and sender_key is None:
            problem = f"message from an unknown local user {env.get('from')!r}"
        if problem is None and not envelope_verifies(env, sender_key):
            problem = f"the user signature of {env.get('from')} does not verify"
        to_alias = str(env.get("to", "")).split("@")[0]
        if problem is None and (env.get("to") != f"{to_alias}@{self.id}" or to_alias not in self.users):
            problem = f"recipient {env.get('to')!r} is not a user here"
        if problem is not None:
            with self.lock:
                self.problems.append(problem)
            return req.send_json(400, {"message": problem, "code": "invalid_message"})
        key = (env["from"], env["nonce"])
        with self.lock:
            first = not self.arrivals[key]
            self.arrivals[key].append(
                {"t": t, "pid": pid, "type": env.get("message_type"), "first": first}
            )
            self.in_flight[pid] += 1
            self.lock.notify_all()
        answered = False
        try:
            if first:
                time.sleep(PEER_DELAY)  # holds the delivery open: a kill can land inside it
                answered = req.send_json(202, {"success": True})
            else:
                answered = req.send_json(
                    409, {"code": "replay", "message": "This message was already received"})
        finally:
            with self.lock:
                self.in_flight[pid] -= 1
                self.arrivals[key][-1]["answered"] = answered

    def wait_arrival(self, sender, nonce, timeout):
        deadline = time.monotonic() + timeout
        with self.lock:
            while not self.arrivals.get((sender, nonce)):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.lock.wait(left)
            return True

    def signed_request(self, env):
        """A complete signed inbox request for `env`: (body, headers), replayable as is."""
        body = canonical(env)
        nonce, ts = b64(os.urandom(16)), iso_now()
        wrapper = canonical({
            "body_hash": b64(hashlib.sha256(body.encode()).digest()),
            "method": "POST",
            "nonce": nonce,
            "path": "/federation/inbox",
            "peer_server_id": self.h.our_id,
            "protocol_version": 2,
            "sender_server_id": self.id,
            "timestamp": ts,
        })
        headers = {
            "X-Parchment-Server-Id": self.id,
            "X-Parchment-Protocol-Version": "2",
            "X-Parchment-Nonce": nonce,
            "X-Parchment-Timestamp": ts,
            "X-Parchment-Server-Signature": self.key.sign(wrapper),
        }
        return body, headers


# ---------------------------------------------------------------------------------------------
# Processes


class Harness:
    def __init__(self, args):
        self.args = args
        self.bin = os.path.abspath(args.server_bin)
        self.dir = tempfile.mkdtemp(prefix="parchment-replicas.")
        os.chmod(self.dir, 0o755)  # nginx workers run as nobody when started as root
        self.mail_dir = os.path.join(self.dir, "mail")
        self.procs = {}  # name -> Popen
        self.replica_ports = [free_port() for _ in range(REPLICAS)]
        self.replica_procs = [None] * REPLICAS
        self.lb_port = free_port()
        self.public_url = f"http://127.0.0.1:{self.lb_port}"
        self.our_id = f"127.0.0.1:{self.lb_port}"
        self.journal = Journal()
        self.local_keys = {}  # local handle -> signing public key (for the fake peer)
        self.db_name = None
        self.admin_url = None
        self.db_url = None
        self.psql_bin = None
        self.pg_postmaster = None
        self.server_key = None
        self.server_public = None

    # --- database

    def find_psql(self):
        candidates = sorted(
            (p for p in (os.path.join("/usr/lib/postgresql", v, "bin", "psql")
                         for v in (os.listdir("/usr/lib/postgresql")
                                   if os.path.isdir("/usr/lib/postgresql") else []))
             if os.path.exists(p)),
            key=lambda p: [int(x) if x.isdigit() else 0 for x in p.split("/")[4].split(".")],
        )
        return candidates[-1] if candidates else shutil.which("psql")

    def psql(self, sql, url=None):
        out = subprocess.run(
            [self.psql_bin, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d",
             url or self.db_url, "-c", sql],
            capture_output=True, text=True, timeout=60,
        )
        if out.returncode != 0:
            raise Fatal(f"psql failed ({sql[:80]}): {out.stderr.strip()}")
        return [line for line in out.stdout.splitlines() if line != ""]

    def create_database(self):
        self.psql_bin = self.find_psql()
        if not self.psql_bin:
            raise Fatal("psql not found (install postgresql-client)")
        self.admin_url = self.args.postgres_url
        self.db_name = f"parchment_replicas_{os.getpid()}_{random.randrange(1 << 30)}"
        self.psql(f'CREATE DATABASE "{self.db_name}"', self.admin_url)
        parts = urllib.parse.urlsplit(self.admin_url)
        self.db_url = urllib.parse.urlunsplit(parts._replace(path="/" + self.db_name))
        # The postmaster (its children are the backends) for the CPU figures: the first line
        # of postmaster.pid in the data directory, when the cluster runs on this machine.
        data_dir = self.psql("SELECT setting FROM pg_settings WHERE name = 'data_directory'")
        try:
            with open(os.path.join(data_dir[0], "postmaster.pid")) as f:
                self.pg_postmaster = int(f.readline())
        except (OSError, IndexError, ValueError):
            self.pg_postmaster = None

    def drop_database(self):
        if self.db_name and self.admin_url:
            subprocess.run(
                [self.psql_bin, "-X", "-q", "-d", self.admin_url, "-c",
                 f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'],
                capture_output=True, timeout=60,
            )

    def pg_cpu(self):
        if not self.pg_postmaster:
            return 0.0
        return sum(proc_cpu_seconds(p) for p in children_of(self.pg_postmaster))

    # --- the server binary

    def env(self):
        # Only the flags given here configure the replicas: none of the caller's settings.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARCHMENT_")}
        env["DATABASE_URL"] = self.db_url
        env["RUST_LOG"] = os.environ.get("PARCHMENT_REPLICAS_RUST_LOG", "warn,webauthn_rs=off")
        return env

    def cli(self, *args):
        out = subprocess.run(
            [self.bin, *args], capture_output=True, text=True, env=self.env(), timeout=120,
            cwd=self.dir,
        )
        if out.returncode != 0:
            raise Fatal(f"parchment-server {' '.join(args[:2])} failed: {out.stderr.strip()[-2000:]}")
        return out.stdout.strip()

    def start_replica(self, i):
        port = self.replica_ports[i]
        # --fault: the last replica misconfigured, to see the checks fail.
        fault = self.args.fault if i == REPLICAS - 1 else None
        server_key = self.cli("keygen") if fault == "other-key" else self.server_key
        data_dir = os.path.join(self.dir, f"data{i}")
        os.makedirs(data_dir, exist_ok=True)
        logf = open(os.path.join(self.dir, f"replica{i}.log"), "ab")
        p = subprocess.Popen(
            [self.bin, "serve",
             "--bind", f"127.0.0.1:{port}",
             "--database-url", self.db_url,
             "--data-dir", data_dir,
             "--server-key", server_key,
             "--public-url", self.public_url,
             "--trusted-proxies", "127.0.0.1",
             "--federation-allow-http",
             "--mail-dir", self.mail_dir,
             "--open-registration",
             "--rate-limits", "off" if fault == "rate-limits-off" else "on"],
            stdout=logf, stderr=subprocess.STDOUT, env=self.env(), cwd=self.dir,
            start_new_session=True,
        )
        logf.close()
        self.replica_procs[i] = p
        self.procs[f"replica{i}"] = p
        return p

    def wait_ready(self, port, proc=None, timeout=60, path="/readyz"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise Fatal(f"process on port {port} exited with {proc.returncode}")
            try:
                r = Client(port, timeout=2).request("GET", path)
                if r.status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise Fatal(f"nothing ready on port {port} after {timeout}s")

    def replica_pids(self):
        return [p.pid for p in self.replica_procs if p is not None and p.poll() is None]

    # --- nginx

    def start_nginx(self, name, port, replicas):
        prefix = os.path.join(self.dir, name)
        os.makedirs(prefix, exist_ok=True)
        os.chmod(prefix, 0o755)
        upstreams = " ".join(
            f"server 127.0.0.1:{self.replica_ports[i]} max_fails=3 fail_timeout=10s;"
            for i in replicas
        )
        with open(NGINX_TEMPLATE) as f:
            conf = f.read().replace("__PORT__", str(port)).replace("__UPSTREAMS__", upstreams)
        path = os.path.join(prefix, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        logf = open(os.path.join(prefix, "stderr.log"), "ab")
        p = subprocess.Popen(
            [nginx, "-p", prefix, "-c", path, "-g", f"daemon off; pid {prefix}/nginx.pid;"],
            stdout=logf, stderr=subprocess.STDOUT, start_new_session=True,
        )
        logf.close()
        self.procs[name] = p
        self.wait_ready(port, p, timeout=20, path="/healthz")
        return p

    def stop(self, name, sig=signal.SIGTERM):
        p = self.procs.pop(name, None)
        if p is None or p.poll() is not None:
            return
        p.send_signal(sig)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def cleanup(self, failed):
        for name in list(self.procs):
            self.stop(name)
        if failed:
            for name in [f"replica{i}.log" for i in range(REPLICAS)] + ["nginx/error.log"]:
                path = os.path.join(self.dir, name)
                if os.path.exists(path):
                    with open(path, errors="replace") as f:
                        tail = f.readlines()[-15:]
                    if tail:
                        print(f"--- last lines of {name} ---\n{''.join(tail)}", file=sys.stderr)
        if os.environ.get("PARCHMENT_REPLICAS_KEEP") == "1":
            log(f"kept {self.dir} and database {self.db_name}")
            return
        self.drop_database()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Users


class LocalUser:
    def __init__(self, h, label, alias=None):
        self.email = f"{label}@example.com"
        info = json.loads(h.cli("admin", "create-user", "--email", self.email,
                                "--first-name", label, "--last-name", "Replica"))
        self.id = info["id"]
        self.token = h.cli("admin", "issue-token", "--email", self.email)
        self.alias = alias
        self.handle = f"{alias}@{h.our_id}" if alias else None
        self.key = SigningKey()
        self.enc = x25519_public()


def publish_identity(client, user, h):
    r = client.request("PATCH", "/users/me/alias", {"alias": user.alias}, user.token)
    if r.status != 200:
        raise Fatal(f"alias {user.alias}: {r}")
    r = client.request("PUT", "/users/me/keys",
                       {"signingKey": user.key.public, "encryptionKey": user.enc}, user.token)
    if r.status != 200:
        raise Fatal(f"keys of {user.alias}: {r}")
    h.local_keys[user.handle] = user.key.public


def signed_fields(env):
    return {"signature": env["signature"], "nonce": env["nonce"], "timestamp": env["timestamp"]}


# ---------------------------------------------------------------------------------------------
# The test


class ReplicaTest:
    def __init__(self, args):
        self.args = args
        self.h = Harness(args)
        self.peer = None
        self.stop_load = threading.Event()
        self.lock = threading.Lock()
        # What the load was told (2xx) and what it could not know (the request failed).
        self.outbox_acked = {}  # (from, nonce) -> outbox id
        self.outbox_unknown = set()  # (from, nonce)
        self.signins = []  # (email, token)
        self.blobs = []  # (user, type, content)
        self.inbox_invites = []  # (local user, stranger handle)
        self.inbox_shares = []  # resource ids answered 202
        self.inbox_unknown = 0
        self.kill = {}  # t_kill, t_dead, t_restart, t_ready, pid
        self.figures = {}
        self.peer_xff = 0
        self.signin_seq = 0

    # --- setup

    def setup(self):
        h = self.h
        h.create_database()
        h.server_key = h.cli("keygen")
        h.server_public = SigningKey.from_seed_b64(h.server_key).public
        h.cli("migrate")
        self.peer = FakePeer(h)
        self.peer.start()
        for i in range(REPLICAS):
            h.start_replica(i)
        for i in range(REPLICAS):
            h.wait_ready(h.replica_ports[i], h.replica_procs[i])
        h.start_nginx("nginx", h.lb_port, range(REPLICAS))
        log(f"{REPLICAS} replicas on ports {h.replica_ports} behind nginx on {h.lb_port}; "
            f"fake peer {self.peer.id}; database {h.db_name}")

        c = Client(h.lb_port)
        self.readers = [LocalUser(h, f"reader{i}", f"reader{i}") for i in range(4)]
        self.writers = [LocalUser(h, f"writer{i}", f"writer{i}") for i in range(2)]
        self.social = [LocalUser(h, f"social{i}", f"social{i}") for i in range(6)]
        self.committers = [LocalUser(h, f"committer{i}", f"committer{i}") for i in range(4)]
        self.racer = LocalUser(h, "racer", "racer")
        self.locals = self.readers + self.writers + self.social + self.committers + [self.racer]
        for u in self.locals:
            publish_identity(c, u, h)
        self.friends = {u.handle: self.peer.add_user(f"friend{i}") for i, u in enumerate(self.social)}
        self.strangers = [self.peer.add_user(f"stranger{i}") for i in range(40)]

        # social[i] invites friend[i] on the peer (an outbox delivery); the peer accepts
        # (an inbox message); both sides then hold the friendship.
        for u in self.social:
            friend = self.friends[u.handle]
            env = envelope(u.key, "FRIEND_INVITE", u.handle, friend)
            r = c.request("POST", "/friends/invite", {"handle": friend, **signed_fields(env)}, u.token)
            if r.status != 200:
                raise Fatal(f"invite {u.handle} -> {friend}: {r}")
            self.outbox_acked[(u.handle, env["nonce"])] = r.json["invitation"]["id"]
        for u in self.social:
            friend = self.friends[u.handle]
            invite = [k for k in self.outbox_acked if k[0] == u.handle][0]
            if not self.peer.wait_arrival(invite[0], invite[1], 30):
                raise Fatal(f"the invitation of {u.handle} did not reach the peer in 30 s"
                            + (f" (the peer refused: {self.peer.problems[0]})"
                               if self.peer.problems else ""))
            alias = friend.split("@")[0]
            accept = envelope(self.peer.key_of(alias), "FRIEND_ACCEPT", friend, u.handle)
            body, headers = self.peer.signed_request(accept)
            r = c.request("POST", "/federation/inbox", headers=headers, raw_body=body)
            if r.status != 202:
                raise Fatal(f"FRIEND_ACCEPT {friend} -> {u.handle}: {r}")
        for u in self.social:
            r = c.request("GET", "/friends", token=u.token)
            if r.status != 200 or [f["handle"] for f in r.json["friends"]] != [self.friends[u.handle]]:
                raise Fatal(f"friendship of {u.handle} not established: {r}")
        self.commit_state = {
            u.id: {"user": u, "version": 1, "key": u.key, "known": True, "acked": {},
                   "attempted": {}}
            for u in self.committers
        }
        log(f"{len(self.locals)} local users, {len(self.social)} friendships with the peer")

    # --- load workers

    def worker(self, kind, step, pause=0.0):
        def run():
            client = Tracked(self.h.journal, self.h.lb_port, kind)
            rng = random.Random(f"{kind}-{threading.get_ident()}")
            while not self.stop_load.is_set():
                try:
                    step(client, rng)
                except Exception as e:  # noqa: BLE001 - a broken worker fails the test
                    self.h.journal.check(f"load worker {kind} ran to its end", False,
                                         f"{type(e).__name__}: {e}")
                    return
                if pause:
                    time.sleep(pause * rng.uniform(0.5, 1.5))
        t = threading.Thread(target=run, name=kind, daemon=True)
        return t

    def expect(self, kind, reply, error, status):
        if error is None and reply.status != status and reply.status < 500:
            self.h.journal.check(f"{kind}: answered {status}", False, f"got {reply}")

    def step_get(self, client, rng):
        user = rng.choice(self.readers)
        path = rng.choice(["/users/me/identity", "/auth/sessions/current", "/friends",
                           "/users/me/blobs", "/users/me/km-version"])
        reply, error = client.call("GET", path, token=user.token)
        self.expect(f"GET {path}", reply, error, 200)

    def step_signin(self, client, rng):
        with self.lock:
            self.signin_seq += 1
            n = self.signin_seq
        email = f"signin-{n}@example.com"
        xff = {"X-Forwarded-For": f"127.20.{n // 250}.{n % 250 + 1}"}
        reply, error = client.call("POST", "/auth/verify", {"email": email}, headers=xff)
        if error or reply.status != 201:
            return self.expect("POST /auth/verify", reply, error, 201)
        code, deadline = None, time.monotonic() + 10
        while code is None and time.monotonic() < deadline:
            for name in os.listdir(self.h.mail_dir) if os.path.isdir(self.h.mail_dir) else []:
                if name.endswith(f"-{email}.eml"):
                    with open(os.path.join(self.h.mail_dir, name)) as f:
                        m = re.search(r"sign-in code is: (\d{8})", f.read())
                    if m:
                        code = m.group(1)
            if code is None:
                time.sleep(0.02)
        if code is None:
            raise Fatal(f"no sign-in code mailed to {email}")
        reply, error = client.call("POST", "/auth/sessions",
                                   {"method": "otp", "email": email, "token": code}, headers=xff)
        if error or reply.status != 201:
            return self.expect("POST /auth/sessions", reply, error, 201)
        with self.lock:
            self.signins.append((email, reply.json["token"]))

    def step_blob(self, client, rng):
        user = rng.choice(self.writers)
        blob_type = f"w-{self.h.journal.rid()}"
        content = fake_ciphertext(rng.randrange(64, 2048))
        reply, error = client.call("PUT", f"/users/me/blobs/{blob_type}",
                                   {"encryptedBlob": content}, user.token)
        if error is None and reply.status == 200:
            with self.lock:
                self.blobs.append((user, blob_type, content))
        else:
            self.expect("PUT /users/me/blobs", reply, error, 200)

    def step_commit(self, client, rng, mine):
        state = self.commit_state[rng.choice(mine).id]
        user = state["user"]
        if not state["known"]:
            # The last commit's outcome is unknown (its replica died): ask which keys won.
            reply, error = client.call("GET", "/users/me/identity", token=user.token)
            if error or reply.status != 200:
                return
            version = reply.json["kmVersion"]
            if reply.json["signingKey"] == state["key"].public:
                state["version"] = version
            else:
                attempt = state["attempted"].get(version)
                if attempt is None or attempt[1].public != reply.json["signingKey"]:
                    raise Fatal(f"{user.email}: kmVersion {version} with keys no commit sent")
                state["version"], state["key"] = version, attempt[1]
            state["known"] = True
        version = state["version"]
        new_key, new_enc = SigningKey(), x25519_public()
        statement = canonical({
            "encryptionKey": new_enc,
            "expectedCurrent": version,
            "signingKey": new_key.public,
            "type": "parchment-key-change-v1",
            "userId": user.id,
        })
        body = {
            "expectedCurrent": version,
            "currentKeySignature": state["key"].sign(statement),
            "signingKey": new_key.public,
            "encryptionKey": new_enc,
            "blobs": [{"blobType": f"k-{j}", "encryptedBlob": fake_ciphertext(512)}
                      for j in range(8)],
        }
        state["attempted"][version + 1] = (body, new_key)
        reply, error = client.call("POST", "/users/me/km-version/commit", body, user.token)
        if error is None and reply.status == 200:
            if reply.json.get("kmVersion") != version + 1:
                self.h.journal.check("commit answers the next kmVersion", False, repr(reply))
            state["acked"][version + 1] = body
            state["version"], state["key"] = version + 1, new_key
        elif error is not None or reply.status >= 500:
            state["known"] = False
        else:
            self.expect("POST /users/me/km-version/commit", reply, error, 200)
            state["known"] = False

    def step_outbox(self, client, rng):
        user = rng.choice(self.social)
        friend = self.friends[user.handle]
        if rng.random() < 0.2:
            kind = "RESOURCE_SHARE"
            payload = {"resourceType": "collection", "resourceId": f"out-{self.h.journal.rid()}",
                       "encryptedData": fake_ciphertext(48), "nonce": b64(os.urandom(12)),
                       "role": "viewer"}
        else:
            kind, payload = "LOCATION_REQUEST", {}
        env = envelope(user.key, kind, user.handle, friend, payload)
        body = {"messageType": kind, "payload": payload, **signed_fields(env)}
        reply, error = client.call("POST", f"/friends/{friend}/messages", body, user.token)
        key = (user.handle, env["nonce"])
        with self.lock:
            if error is None and reply.status == 200:
                self.outbox_acked[key] = reply.json["id"]
            elif error is not None or reply.status >= 500:
                self.outbox_unknown.add(key)
        if error is None and reply.status != 200 and reply.status < 500:
            self.expect(f"POST /friends/…/messages {kind}", reply, error, 200)

    def next_peer_xff(self):
        with self.lock:
            self.peer_xff += 1
            return {"X-Forwarded-For": f"127.30.0.{self.peer_xff % 8 + 1}"}

    def step_inbox(self, client, rng):
        if rng.random() < 0.5:
            # Not friend-gated: a stranger's invitation, each (stranger, user) pair once.
            with self.lock:
                n = len(self.inbox_invites) + self.inbox_unknown
            pairs = [(s, u) for s in self.strangers for u in self.locals]
            if n >= len(pairs):
                return
            stranger, user = pairs[(n * 7919) % len(pairs)]
            env = envelope(self.peer.key_of(stranger.split("@")[0]), "FRIEND_INVITE",
                           stranger, user.handle)
            body, headers = self.peer.signed_request(env)
            reply, error = client.call("POST", "/federation/inbox",
                                       headers={**headers, **self.next_peer_xff()}, raw_body=body)
            with self.lock:
                if error is None and reply.status == 202:
                    self.inbox_invites.append((user, stranger))
                else:
                    self.inbox_unknown += 1
        else:
            # Friend-gated (group-committed): a share from a friend.
            user = rng.choice(self.social)
            friend = self.friends[user.handle]
            rid = f"in-{self.h.journal.rid()}"
            payload = {"resourceType": "collection", "resourceId": rid,
                       "encryptedData": fake_ciphertext(48), "nonce": b64(os.urandom(12)),
                       "role": "viewer"}
            env = envelope(self.peer.key_of(friend.split("@")[0]), "RESOURCE_SHARE", friend,
                           user.handle, payload)
            body, headers = self.peer.signed_request(env)
            reply, error = client.call("POST", "/federation/inbox",
                                       headers={**headers, **self.next_peer_xff()}, raw_body=body)
            if error is None and reply.status == 202:
                with self.lock:
                    self.inbox_shares.append(rid)
        if error is None and reply.status != 202 and reply.status < 500:
            self.expect("POST /federation/inbox", reply, error, 202)

    # --- the kill

    def killer(self, load_start):
        h = self.h
        victim = h.replica_procs[VICTIM]
        time.sleep(max(0.0, load_start + self.args.kill_at - time.monotonic()))
        # Aim at a moment when the victim is delivering to the peer (the lease path).
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            with self.peer.lock:
                if self.peer.in_flight[victim.pid] > 0:
                    break
            time.sleep(0.005)
        with self.peer.lock:
            delivering = self.peer.in_flight[victim.pid]
        self.kill["delivering"] = delivering
        self.kill["pid"] = victim.pid
        self.kill["t_kill"] = time.monotonic()
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        self.kill["t_dead"] = time.monotonic()
        log(f"SIGKILL replica {VICTIM} (pid {victim.pid}, port {h.replica_ports[VICTIM]}) "
            f"while it had {delivering} delivery(ies) to the peer open")
        time.sleep(self.args.down_secs)
        self.kill["t_restart"] = time.monotonic()
        h.procs.pop(f"replica{VICTIM}", None)
        p = h.start_replica(VICTIM)
        h.wait_ready(h.replica_ports[VICTIM], p)
        self.kill["t_ready"] = time.monotonic()
        log(f"replica {VICTIM} restarted (pid {p.pid}), ready after "
            f"{self.kill['t_ready'] - self.kill['t_restart']:.2f} s")

    def load(self):
        workers = []
        for _ in range(3):
            workers.append(self.worker("get", self.step_get))
        workers.append(self.worker("signin", self.step_signin, 0.05))
        workers.append(self.worker("blob", self.step_blob, 0.03))
        # Each commit worker has its own users: a user's commits are sequential, as one
        # device's are, so every 409 would be a server error.
        for part in (self.committers[:2], self.committers[2:]):
            workers.append(self.worker(
                "commit", lambda c, r, mine=part: self.step_commit(c, r, mine), 0.02))
        workers.append(self.worker("outbox", self.step_outbox, 0.08))
        workers.append(self.worker("outbox", self.step_outbox, 0.08))
        workers.append(self.worker("inbox", self.step_inbox, 0.12))
        load_start = time.monotonic()
        self.load_start = load_start
        log(f"load for {self.args.load_secs} s through nginx; SIGKILL of replica {VICTIM} "
            f"at ~{self.args.kill_at} s, restart {self.args.down_secs} s later")
        for w in workers:
            w.start()
        killer = threading.Thread(target=self.killer, args=(load_start,), daemon=True)
        killer.start()
        time.sleep(max(0.0, load_start + self.args.load_secs - time.monotonic()))
        killer.join(timeout=120)
        if killer.is_alive() or "t_ready" not in self.kill:
            raise Fatal("the killed replica did not come back")
        self.stop_load.set()
        for w in workers:
            w.join(timeout=60)
        self.load_end = time.monotonic()

    # --- checks after the load

    def nginx_log(self):
        """rid -> (status, upstream addresses) from the balancer's access log."""
        out = {}
        path = os.path.join(self.h.dir, "nginx", "access.log")
        pattern = re.compile(r'"\S+ (\S+) HTTP/[\d.]+" (\d+) upstream=(.*?) upstream_status=')
        with open(path, errors="replace") as f:
            for line in f:
                m = pattern.search(line)
                if not m:
                    continue
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(m.group(1)).query)
                if "rid" in q:
                    out[int(q["rid"][0])] = (int(m.group(2)), m.group(3))
        return out

    def check_errors(self):
        j, k = self.h.journal, self.kill
        records = j.records
        total = len(records)
        duration = self.load_end - self.load_start
        failed = [r for r in records if r.failed]
        victim = f"127.0.0.1:{self.h.replica_ports[VICTIM]}"
        nginx = self.nginx_log()
        outside, not_victim = [], []
        for r in failed:
            if not (r.t0 <= k["t_dead"] and r.t1 >= k["t_kill"]):
                outside.append(r)
            entry = nginx.get(r.rid)
            if entry is not None and victim not in entry[1]:
                not_victim.append((r, entry))
        by_kind = collections.Counter(r.kind for r in records)
        log(f"load: {total} requests in {duration:.1f} s ({total / duration:.0f}/s): "
            + ", ".join(f"{n} {kind}" for kind, n in sorted(by_kind.items())))
        in_flight = [r for r in records if r.t0 <= k["t_dead"] and r.t1 >= k["t_kill"]]
        detail = (f"{len(failed)} failed of {total}; {len(in_flight)} were in flight at the kill "
                  f"(any replica)")
        if failed:
            last = max(r.t1 for r in failed) - k["t_kill"]
            first = min(r.t1 for r in failed) - k["t_kill"]
            detail += (f"; failures answered {first * 1000:.0f}–{last * 1000:.0f} ms after the "
                       f"kill: " + ", ".join(sorted({f'{r.method} {r.path.split("?")[0]} '
                                                     f'{r.status or r.error}' for r in failed})))
            self.figures["error_window_ms"] = last * 1000
        else:
            self.figures["error_window_ms"] = 0.0
        retried = [r for r in in_flight if r.rid in nginx and ", " in nginx[r.rid][1]]
        self.figures["retried_by_nginx"] = len(retried)
        self.figures["errors"] = len(failed)
        self.figures["in_flight"] = len(in_flight)
        j.check("after the kill, only requests in flight on the killed replica failed",
                not outside and not not_victim,
                detail + (f"; OUTSIDE the kill: {[(r.method, r.path, r.status, r.error, round(r.t0 - k['t_kill'], 3)) for r in outside[:10]]}" if outside else "")
                + (f"; not on the victim per nginx: {[(r.method, r.path, e) for r, e in not_victim[:10]]}" if not_victim else ""))
        after = [r for r in failed if r.t0 > k["t_dead"]]
        j.check("no request sent after the kill failed", not after,
                f"{len(after)} failed" if after else "")

    def check_replay(self):
        """A signed inbox request accepted by one replica is refused by the others: sent
        again as is (transport nonce: 401), re-signed with a fresh transport nonce (message
        nonce: 409), and the same request racing all three replicas (exactly one 202)."""
        h, j, peer = self.h, self.h.journal, self.peer
        direct = [Client(p) for p in h.replica_ports]
        xff = {"X-Forwarded-For": "127.50.0.1"}
        user = self.social[0]
        friend = self.friends[user.handle]
        stranger = self.strangers[-1]

        env = envelope(peer.key_of(stranger.split("@")[0]), "FRIEND_INVITE", stranger,
                       self.readers[0].handle)
        body, headers = peer.signed_request(env)
        first = direct[0].request("POST", "/federation/inbox", headers={**headers, **xff}, raw_body=body)
        again = direct[1].request("POST", "/federation/inbox", headers={**headers, **xff}, raw_body=body)
        body2, headers2 = peer.signed_request(env)
        resigned = direct[2].request("POST", "/federation/inbox", headers={**headers2, **xff}, raw_body=body2)
        j.check("replay: accepted by replica 0, the same request is refused by replica 1 (401), "
                "re-signed by replica 2 (409 replay)",
                first.status == 202 and again.status == 401 and resigned.status == 409
                and (resigned.json or {}).get("code") == "replay",
                f"{first.status}, {again.status} {again.text[:120]}, {resigned.status} {resigned.text[:120]}")

        def race(build):
            env = build()
            body, headers = peer.signed_request(env)
            barrier = threading.Barrier(len(direct))
            answers = [None] * len(direct)

            def send(i):
                barrier.wait()
                answers[i] = direct[i].request("POST", "/federation/inbox",
                                               headers={**headers, **xff}, raw_body=body)
            threads = [threading.Thread(target=send, args=(i,)) for i in range(len(direct))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            late = []
            for c in direct:  # each with fresh transport headers: only the message repeats
                body2, headers2 = peer.signed_request(env)
                late.append(c.request("POST", "/federation/inbox",
                                      headers={**headers2, **xff}, raw_body=body2))
            return env, [a.status for a in answers], [a.status for a in late]

        rid = "replay-share"
        env, racing, late = race(lambda: envelope(
            peer.key_of(friend.split("@")[0]), "RESOURCE_SHARE", friend, user.handle,
            {"resourceType": "collection", "resourceId": rid, "encryptedData": fake_ciphertext(48),
             "nonce": b64(os.urandom(12)), "role": "viewer"}))
        rows = h.psql(f"SELECT count(*) FROM incoming_shares WHERE resource_id = '{rid}'")[0]
        j.check("replay: a friend-gated message racing all 3 replicas is applied once",
                sorted(racing) == [202, 401, 401] and late == [409, 409, 409] and rows == "1",
                f"racing {racing}, re-signed afterwards {late}, rows {rows}")
        env, racing, late = race(lambda: envelope(
            peer.key_of(stranger.split("@")[0]), "FRIEND_INVITE", stranger, self.readers[1].handle))
        j.check("replay: an invitation racing all 3 replicas is applied once",
                sorted(racing) == [202, 401, 401] and late == [409, 409, 409],
                f"racing {racing}, re-signed afterwards {late}")

    def check_rate_limits(self):
        """Fixed-window limits counted in the database hold across replicas: the same burst
        spread over the three replicas (racing) gets exactly the limit through."""
        h, j = self.h, self.h.journal

        def burst(n, make):
            barrier = threading.Barrier(n)
            results = [None] * n

            def send(i):
                client = Client(h.replica_ports[i % REPLICAS])
                method, path, body, token, headers = make(i)
                barrier.wait()
                results[i] = client.request(method, path, body, token, headers)
            threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return results

        def straddles(window):
            return int(time.time() // window) != int((time.time() + 3) // window)

        # Sign-in codes per email address: 5 per 900 s (service/rate_limit.rs OTP_SEND_PER_EMAIL).
        # A burst that crossed a window boundary proves nothing: then once more.
        for attempt in range(2):
            if straddles(900):
                time.sleep(3.5)
            window = int(time.time() // 900)
            email = f"ratelimit-{attempt}-{random.randrange(1 << 30)}@example.com"
            res = burst(12, lambda i: ("POST", "/auth/verify", {"email": email}, None,
                                       {"X-Forwarded-For": f"127.40.{attempt}.{i + 1}"}))
            counts = collections.Counter(r.status for r in res)
            if window == int(time.time() // 900):
                break
        j.check("rate limit across replicas: 12 racing code requests for one email, 4 per "
                "replica, from 12 addresses → exactly 5 mailed (OTP_SEND_PER_EMAIL 5/900 s)",
                counts == {201: 5, 429: 7} and all("retry-after" in r.headers for r in res if r.status == 429),
                str(dict(counts)))

        # Handle look-ups per user: 60 per minute (FRIEND_LOOKUP_PER_USER).
        for attempt in range(2):
            if straddles(60):
                time.sleep(3.5)
            window = int(time.time() // 60)
            user = self.readers[2 + attempt]
            target = self.readers[0].handle
            res = burst(75, lambda i: ("GET", f"/friends/resolve/{target}", None, user.token, None))
            counts = collections.Counter(r.status for r in res)
            if window == int(time.time() // 60):
                break
        j.check("rate limit across replicas: 75 racing handle look-ups by one user, 25 per "
                "replica → exactly 60 answered (FRIEND_LOOKUP_PER_USER 60/min)",
                counts == {200: 60, 429: 15}, str(dict(counts)))

        # Inbox deliveries per client address: 120 per minute (FEDERATION_INBOX_PER_IP),
        # counted before anything is parsed: an empty envelope (422) counts too.
        for attempt in range(2):
            if straddles(60):
                time.sleep(3.5)
            window = int(time.time() // 60)
            xff = {"X-Forwarded-For": f"127.41.0.{attempt + 1}"}
            res = burst(132, lambda i: ("POST", "/federation/inbox", {}, None, xff))
            counts = collections.Counter(r.status for r in res)
            if window == int(time.time() // 60):
                break
        j.check("rate limit across replicas: 132 racing inbox POSTs from one address, 44 per "
                "replica → exactly 120 let through (FEDERATION_INBOX_PER_IP 120/min)",
                counts[429] == 12 and sum(counts.values()) == 132 and counts[202] == 0,
                str(dict(counts)))

    def check_codes_and_commits(self):
        """State that must be shared by the replicas, raced across them: a sign-in code
        signs in once, its try counter burns it after 5 wrong guesses wherever they land,
        and of racing km-version commits exactly one wins and is applied whole."""
        h, j = self.h, self.h.journal
        direct = [Client(p) for p in h.replica_ports]

        def race(calls):
            barrier = threading.Barrier(len(calls))
            out = [None] * len(calls)

            def send(i):
                port, method, path, body, token, headers = calls[i]
                client = Client(port)
                barrier.wait()
                out[i] = client.request(method, path, body, token, headers)
            ts = [threading.Thread(target=send, args=(i,)) for i in range(len(calls))]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            return out

        def code_for(email, xff):
            before = set(os.listdir(h.mail_dir))
            r = direct[0].request("POST", "/auth/verify", {"email": email}, headers=xff)
            if r.status != 201:
                raise Fatal(f"code for {email}: {r}")
            for _ in range(200):
                for name in set(os.listdir(h.mail_dir)) - before:
                    if name.endswith(f"-{email}.eml"):
                        with open(os.path.join(h.mail_dir, name)) as f:
                            m = re.search(r"sign-in code is: (\d{8})", f.read())
                        if m:
                            return m.group(1)
                time.sleep(0.02)
            raise Fatal(f"no code mailed to {email}")

        xff = {"X-Forwarded-For": "127.60.0.1"}
        email = f"race-code-{random.randrange(1 << 30)}@example.com"
        code = code_for(email, xff)
        body = {"method": "otp", "email": email, "token": code}
        res = race([(p, "POST", "/auth/sessions", body, None, xff) for p in h.replica_ports])
        j.check("sign-in: one code sent racing to all 3 replicas signs in once",
                sorted(r.status for r in res) == [201, 401, 401], str([r.status for r in res]))

        email = f"race-tries-{random.randrange(1 << 30)}@example.com"
        code = code_for(email, xff)
        wrong = f"{(int(code) + 1) % 10 ** 8:08d}"
        res = race([(h.replica_ports[i % REPLICAS], "POST", "/auth/sessions",
                     {"method": "otp", "email": email, "token": wrong}, None, xff) for i in range(5)])
        right = direct[1].request("POST", "/auth/sessions",
                                  {"method": "otp", "email": email, "token": code}, headers=xff)
        j.check("sign-in: 5 wrong guesses spread over the replicas burn the code",
                all(r.status == 401 for r in res) and right.status == 401,
                f"guesses {[r.status for r in res]}, then the right code {right.status}")

        u = self.racer
        bodies = []
        for i in range(REPLICAS):
            new_key, new_enc = SigningKey(), x25519_public()
            statement = canonical({"encryptionKey": new_enc, "expectedCurrent": 1,
                                   "signingKey": new_key.public,
                                   "type": "parchment-key-change-v1", "userId": u.id})
            bodies.append({
                "expectedCurrent": 1, "currentKeySignature": u.key.sign(statement),
                "signingKey": new_key.public, "encryptionKey": new_enc,
                "blobs": [{"blobType": f"k-{b}", "encryptedBlob": fake_ciphertext(512)}
                          for b in range(50)],
            })
        res = race([(h.replica_ports[i], "POST", "/users/me/km-version/commit", bodies[i],
                     u.token, None) for i in range(REPLICAS)])
        statuses = [r.status for r in res]
        winners = [i for i, r in enumerate(res) if r.status == 200]
        detail = str(statuses)
        ok = sorted(statuses) == [200, 409, 409] and all(
            (r.json or {}).get("code") == "km_version_mismatch" for r in res if r.status == 409)
        if ok:
            win = bodies[winners[0]]
            ident = direct[2].request("GET", "/users/me/identity", token=u.token).json
            stored = {b: direct[0].request("GET", f"/users/me/blobs/{b}", token=u.token).json
                      for b in ("k-0", "k-25", "k-49")}
            count = h.psql("SELECT count(*) || ' ' || count(DISTINCT km_version) FROM "
                           f"encrypted_user_blobs WHERE user_id = '{u.id}'")[0]
            ok = (ident["kmVersion"] == 2 and ident["signingKey"] == win["signingKey"]
                  and all(stored[b]["encryptedBlob"] == win["blobs"][int(b[2:])]["encryptedBlob"]
                          for b in stored) and count == "50 1")
            detail += f"; kmVersion {ident['kmVersion']}, blobs (rows, generations) {count}"
        j.check("commits: 3 racing commits from one kmVersion on the 3 replicas: one applied "
                "whole, two refused (409)", ok, detail)

        # A sign-out on one replica ends the session on all of them (within the session
        # cache time, --session-cache-ms, 1 s by default).
        email = f"signout-{random.randrange(1 << 30)}@example.com"
        code = code_for(email, xff)
        token = direct[0].request("POST", "/auth/sessions",
                                  {"method": "otp", "email": email, "token": code},
                                  headers=xff).json["token"]
        warm = [c.request("GET", "/users/me/identity", token=token).status for c in direct]
        out = direct[0].request("DELETE", "/auth/sessions", token=token).status
        time.sleep(1.3)
        after = [c.request("GET", "/users/me/identity", token=token).status for c in direct]
        j.check("sessions: a sign-out on replica 0 ends the session on every replica within "
                "the 1 s session cache", warm == [200] * REPLICAS and out == 204
                and after == [401] * REPLICAS,
                f"before {warm}, sign-out {out}, 1.3 s later {after}")

        # The push channel: a stream on replica 0 gets what replica 2 stored (NOTIFY).
        self.check_push(direct)

    def check_push(self, direct):
        h, j, peer = self.h, self.h.journal, self.peer
        user = self.social[1]
        friend = self.friends[user.handle]
        conn = http.client.HTTPConnection("127.0.0.1", h.replica_ports[0], timeout=10)
        seen, ok, detail = [], False, ""
        try:
            conn.request("GET", "/events", headers={"Authorization": f"Bearer {user.token}",
                                                    "Accept": "text/event-stream"})
            resp = conn.getresponse()
            if resp.status != 200:
                raise Fatal(f"GET /events: {resp.status}")

            def next_event(deadline):
                event = {}
                while time.monotonic() < deadline:
                    line = resp.fp.readline().decode().rstrip("\n")
                    if line == "":
                        if "event" in event:
                            return event
                        continue
                    name, _, value = line.partition(":")
                    event[name] = value.lstrip(" ")
                return None
            first = next_event(time.monotonic() + 10)
            seen.append((first or {}).get("event"))
            rid = f"push-{random.randrange(1 << 30)}"
            env = envelope(peer.key_of(friend.split("@")[0]), "RESOURCE_SHARE", friend,
                           user.handle,
                           {"resourceType": "collection", "resourceId": rid,
                            "encryptedData": fake_ciphertext(48), "nonce": b64(os.urandom(12)),
                            "role": "viewer"})
            body, headers = peer.signed_request(env)
            t0 = time.monotonic()
            r = direct[2].request("POST", "/federation/inbox",
                                  headers={**headers, "X-Forwarded-For": "127.50.0.2"},
                                  raw_body=body)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                event = next_event(deadline)
                if event is None:
                    break
                seen.append(event.get("event"))
                if event.get("event") == "share" and rid in event.get("data", ""):
                    ok = r.status == 202
                    detail = f"arrived {1000 * (time.monotonic() - t0):.0f} ms after the POST"
                    break
            else:
                detail = f"inbox answered {r.status}"
        except (OSError, Fatal) as e:
            detail = f"{type(e).__name__}: {e}"
        finally:
            conn.close()
        j.check("push: a stream on replica 0 receives the share replica 2 stored", ok,
                f"{detail}; events seen {seen}")

    def throughput(self):
        """Authenticated GETs through nginx with 1, 2 and 3 replicas behind it."""
        h = self.h
        readers = self.readers
        results = {}
        threads_n = self.args.clients
        for n in (1, 2, 3):
            port = free_port()
            name = f"nginx-tp{n}"
            h.start_nginx(name, port, range(n))
            nginx_pids = [h.procs[name].pid] + children_of(h.procs[name].pid)

            def measure(secs):
                stop = time.monotonic() + secs
                counts = [0] * threads_n
                errors = [0] * threads_n

                def run(i):
                    c = Client(port)
                    user = readers[i % len(readers)]
                    while time.monotonic() < stop:
                        try:
                            r = c.request("GET", "/users/me/identity", token=user.token)
                            if r.status == 200:
                                counts[i] += 1
                            else:
                                errors[i] += 1
                        except OSError:
                            errors[i] += 1
                    c.close()
                ts = [threading.Thread(target=run, args=(i,)) for i in range(threads_n)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                return sum(counts), sum(errors)

            measure(1.0)  # warm-up: connections, session caches
            cpu0 = {
                "replicas": sum(proc_cpu_seconds(p) for p in h.replica_pids()),
                "nginx": sum(proc_cpu_seconds(p) for p in nginx_pids),
                "postgres": h.pg_cpu(),
                "client": sum(os.times()[:2]),
            }
            t0 = time.monotonic()
            done, errors = measure(self.args.tp_secs)
            elapsed = time.monotonic() - t0
            cpu1 = {
                "replicas": sum(proc_cpu_seconds(p) for p in h.replica_pids()),
                "nginx": sum(proc_cpu_seconds(p) for p in nginx_pids),
                "postgres": h.pg_cpu(),
                "client": sum(os.times()[:2]),
            }
            h.stop(name)
            per = {k: (cpu1[k] - cpu0[k]) / max(done, 1) * 1000 for k in cpu0}
            results[n] = {"rps": done / elapsed, "errors": errors, "cpu_ms": per}
            log(f"throughput, {n} replica(s): {done / elapsed:.0f} GET/s ({errors} errors); CPU ms "
                f"per request: replicas {per['replicas']:.3f}, nginx {per['nginx']:.3f}, "
                f"postgres {per['postgres']:.3f}, this client {per['client']:.3f}")
            h.journal.check(f"throughput run with {n} replica(s) had no errors", errors == 0,
                            f"{errors} errors" if errors else "")
        self.figures["throughput"] = results

    def wait_outbox(self):
        h = self.h
        deadline = self.kill["t_kill"] + LEASE_SECS + self.args.lease_margin
        log(f"waiting up to {max(0, deadline - time.monotonic()):.0f} s for the outbox to drain "
            f"(a row the killed replica had claimed is free {LEASE_SECS} s after its claim)")
        while True:
            rows = h.psql("SELECT status || ' ' || count(*) FROM federation_outbox GROUP BY status")
            statuses = dict(r.split() for r in rows)
            if "pending" not in statuses or time.monotonic() > deadline:
                break
            time.sleep(1)
        drained = time.monotonic() - self.kill["t_kill"]
        self.figures["outbox_drained_after_kill_s"] = drained
        return statuses

    def check_outbox(self, statuses):
        h, j, peer = self.h, self.h.journal, self.peer
        j.check("outbox: every row delivered (none pending or failed)",
                set(statuses) == {"delivered"}, str(statuses))
        rows = h.psql("SELECT id || ' ' || status || ' ' || body FROM federation_outbox")
        by_nonce = {}
        for row in rows:
            rid, status, body = row.split(" ", 2)
            env = json.loads(body)
            by_nonce[(env["from"], env["nonce"])] = (rid, status)
        missing_rows = [k for k in self.outbox_acked if k not in by_nonce]
        j.check("outbox: every message answered 2xx is queued (durable)", not missing_rows,
                f"{len(self.outbox_acked)} acknowledged" + (f"; missing {missing_rows[:5]}" if missing_rows else ""))
        with peer.lock:
            arrivals = {k: list(v) for k, v in peer.arrivals.items()}
            problems = list(peer.problems)
        j.check("peer: every delivery carried valid server and user signatures", not problems,
                "; ".join(problems[:5]))
        not_arrived = [k for k in self.outbox_acked if k not in arrivals]
        phantom = [k for k in arrivals if k not in self.outbox_acked and k not in self.outbox_unknown]
        unknown_queued = sum(1 for k in self.outbox_unknown if k in by_nonce)
        j.check("outbox: every acknowledged message reached the peer", not not_arrived,
                f"{len(self.outbox_acked)} acknowledged, {len(arrivals)} distinct arrived"
                + (f"; missing {len(not_arrived)}: {not_arrived[:3]}" if not_arrived else ""))
        j.check("outbox: nothing reached the peer that was not queued", not phantom,
                f"{len(self.outbox_unknown)} sends with unknown outcome (in flight at the kill), "
                f"{unknown_queued} of them queued" + (f"; phantom {phantom[:3]}" if phantom else ""))
        # Exactly once: the peer accepted each message once (it answers a repeat 409 replay,
        # as a real server does). A repeat POST is expected only for a message the killed
        # replica was delivering when it died (its row comes back after the lease).
        # The sender of a delivery is the replica owning the connection; a connection
        # without an owner belonged to a process that had died (the victim: a request it
        # wrote just before the kill is read by the peer a moment after).
        victim, t_dead = self.kill["pid"], self.kill["t_dead"]
        resent, bad = [], []
        for k, arr in arrivals.items():
            if len(arr) > 1:
                first = arr[0]
                from_victim = (first["pid"] == victim and first["t"] <= t_dead) or (
                    first["pid"] is None and first["t"] <= t_dead + 1.0)
                ok = from_victim and len(arr) == 2 and arr[1]["pid"] not in (None, victim) \
                    and arr[1]["t"] - t_dead >= LEASE_SECS - 15
                (resent if ok else bad).append((k, [(round(a["t"] - self.kill["t_kill"], 2), a["pid"]) for a in arr]))
        self.figures["resent_after_lease"] = len(resent)
        if resent:
            gaps = [a[1][1][0] for a in resent]
            self.figures["resend_after_kill_s"] = (min(gaps), max(gaps))
        j.check("outbox: every message accepted exactly once by the peer; a second POST only "
                "for deliveries the killed replica had open",
                not bad,
                f"{len(resent)} re-sent after the lease (first POST from the killed pid {victim})"
                + (f"; UNEXPECTED repeats: {bad[:5]}" if bad else ""))
        pids = collections.Counter(arr[0]["pid"] for arr in arrivals.values())
        self.figures["deliveries_by_pid"] = dict(pids)

    def check_durability(self):
        h, j = self.h, self.h.journal
        c = Client(h.lb_port)
        # Sessions made by sign-in work afterwards (on any replica).
        bad = []
        for email, token in self.signins:
            r = c.request("GET", "/auth/sessions/current", token=token)
            if r.status != 200 or r.json["user"]["email"] != email:
                bad.append((email, r.status))
        j.check("durable: every session from a 2xx sign-in works", not bad and self.signins,
                f"{len(self.signins)} sign-ins" + (f"; broken {bad[:5]}" if bad else ""))
        # Blobs.
        bad = []
        for user, blob_type, content in self.blobs:
            r = c.request("GET", f"/users/me/blobs/{blob_type}", token=user.token)
            if r.status != 200 or r.json["encryptedBlob"] != content:
                bad.append((user.email, blob_type, r.status))
        j.check("durable: every blob answered 2xx reads back unchanged", not bad and self.blobs,
                f"{len(self.blobs)} blobs" + (f"; wrong {bad[:5]}" if bad else ""))
        # Commits: all or nothing, and every acknowledged one kept.
        bad, acked_total = [], 0
        for state in self.commit_state.values():
            u = state["user"]
            acked_total += len(state["acked"])
            ident = c.request("GET", "/users/me/identity", token=u.token).json
            version = ident["kmVersion"]
            top = max(state["acked"], default=1)
            body = state["acked"].get(version) or (state["attempted"].get(version) or (None,))[0]
            if version < top:
                bad.append(f"{u.email}: kmVersion {version} < acknowledged {top}")
                continue
            if version == 1:
                continue
            if body is None:
                bad.append(f"{u.email}: kmVersion {version} that no commit sent")
                continue
            if ident["signingKey"] != body["signingKey"] or ident["encryptionKey"] != body["encryptionKey"]:
                bad.append(f"{u.email}: keys of kmVersion {version} are not its commit's")
            for blob in body["blobs"]:
                r = c.request("GET", f"/users/me/blobs/{blob['blobType']}", token=u.token)
                if r.status != 200 or r.json["encryptedBlob"] != blob["encryptedBlob"] \
                        or r.json["kmVersion"] != version:
                    bad.append(f"{u.email}: blob {blob['blobType']} is not kmVersion {version}'s")
        mixed = h.psql(
            "SELECT count(*) FROM encrypted_user_blobs b JOIN users u ON u.id = b.user_id "
            "WHERE u.email LIKE 'committer%' AND b.km_version <> u.km_version")[0]
        if mixed != "0":
            bad.append(f"{mixed} committer blobs of another generation than their user's")
        j.check("commits: none half applied, every acknowledged one kept",
                not bad and acked_total > 0,
                f"{acked_total} commits acknowledged" + (f"; {bad[:5]}" if bad else ""))
        # Inbox: invitations (own transaction) and shares (group commit) answered 202.
        bad = []
        by_user = collections.defaultdict(set)
        for user, stranger in self.inbox_invites:
            by_user[user].add(stranger)
        for user, strangers in by_user.items():
            r = c.request("GET", "/friends/invitations?direction=incoming", token=user.token)
            have = {i["fromHandle"] for i in r.json["invitations"]}
            bad += [(user.email, s) for s in strangers - have]
        j.check("durable: every inbox invitation answered 202 is stored", not bad,
                f"{len(self.inbox_invites)} invitations" + (f"; missing {bad[:5]}" if bad else ""))
        rows = collections.Counter(h.psql("SELECT resource_id FROM incoming_shares WHERE resource_id LIKE 'in-%'"))
        missing = [r for r in self.inbox_shares if rows[r] != 1]
        j.check("durable: every friend-gated inbox share answered 202 is stored once", not missing,
                f"{len(self.inbox_shares)} shares" + (f"; missing or doubled {missing[:5]}" if missing else ""))

    # --- the whole run

    def run(self):
        t_start = time.monotonic()
        self.setup()
        self.load()
        self.check_errors()
        self.check_replay()
        self.check_rate_limits()
        self.check_codes_and_commits()
        if not self.args.no_throughput:
            self.throughput()
        statuses = self.wait_outbox()
        self.check_outbox(statuses)
        self.check_durability()
        self.report(time.monotonic() - t_start)

    def report(self, total):
        f, k = self.figures, self.kill
        print("\n== replica-crash test: figures ==")
        print(f"binary: {self.h.bin}")
        print(f"kill: replica {VICTIM} SIGKILLed {k['t_kill'] - self.load_start:.1f} s into the load, "
              f"restarted {k['t_restart'] - k['t_kill']:.1f} s later, ready after "
              f"{k['t_ready'] - k['t_restart']:.2f} s")
        if f["errors"]:
            print(f"client errors after the kill: {f['errors']} (requests in flight at the kill, "
                  f"any replica: {f['in_flight']}); the last one answered "
                  f"{f['error_window_ms']:.0f} ms after the kill")
        else:
            print(f"client errors after the kill: none (requests in flight at the kill, any "
                  f"replica: {f['in_flight']})")
        print(f"requests in flight on any replica at the kill that nginx passed on to another "
              f"replica (idempotent): {f['retried_by_nginx']}")
        print(f"outbox deliveries open on the killed replica at the kill: {k['delivering']}")
        if "resend_after_kill_s" in f:
            lo, hi = f["resend_after_kill_s"]
            print(f"outbox: {f['resent_after_lease']} message(s) the killed replica was delivering "
                  f"were re-sent {lo:.1f}–{hi:.1f} s after the kill (lease {LEASE_SECS} s) and "
                  f"accepted once")
        else:
            print("outbox: no delivery was open on the killed replica (nothing to re-send)")
        print(f"outbox drained {f['outbox_drained_after_kill_s']:.1f} s after the kill; first "
              f"deliveries by replica pid: {f.get('deliveries_by_pid')}")
        tp = f.get("throughput")
        if tp:
            print(f"authenticated GET /users/me/identity through nginx, {self.args.clients} "
                  f"keep-alive clients in this process, {os.cpu_count()} cores shared by all:")
            print("  replicas   req/s   CPU ms/request: replicas  nginx  postgres  client")
            for n, r in tp.items():
                c = r["cpu_ms"]
                print(f"  {n:>8} {r['rps']:>7.0f}   {c['replicas']:>24.3f} {c['nginx']:>6.3f} "
                      f"{c['postgres']:>9.3f} {c['client']:>7.3f}")
            per = sum(r["cpu_ms"]["replicas"] for r in tp.values()) / len(tp)
            server = per + sum(r["cpu_ms"]["postgres"] + r["cpu_ms"]["nginx"] for r in tp.values()) / len(tp)
            print(f"  projection: {per:.3f} CPU ms per request in the replicas → about "
                  f"{1000 / per:.0f} GET/s per core given to replicas; with nginx and PostgreSQL "
                  f"on the same cores {server:.3f} ms → about {1000 / server:.0f} GET/s per core")
        print(f"run time {total:.0f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server-bin", required=True)
    ap.add_argument("--postgres-url", required=True,
                    help="a cluster to create a throwaway database in (its `postgres` database)")
    ap.add_argument("--load-secs", type=float, default=24)
    ap.add_argument("--kill-at", type=float, default=8)
    ap.add_argument("--down-secs", type=float, default=4)
    ap.add_argument("--tp-secs", type=float, default=5)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--lease-margin", type=float, default=20)
    ap.add_argument("--no-throughput", action="store_true")
    ap.add_argument("--fault", choices=["rate-limits-off", "other-key"],
                    help="misconfigure the last replica (to see the checks fail)")
    args = ap.parse_args()

    test = ReplicaTest(args)
    failed = True

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    try:
        test.run()
        failed = not all(ok for _, ok, _ in test.h.journal.checks)
    except Fatal as e:
        test.h.journal.check("the test ran to its end", False, str(e))
    except KeyboardInterrupt as e:
        test.h.journal.check("the test ran to its end", False, f"interrupted ({e})")
    except Exception:  # noqa: BLE001 - a bug of the test itself, reported as a failure
        import traceback
        test.h.journal.check("the test ran to its end", False, traceback.format_exc())
    finally:
        test.stop_load.set()
        if test.peer is not None:
            test.peer.stop()
        test.h.cleanup(failed)
    checks = test.h.journal.checks
    bad = [c for c in checks if not c[1]]
    print(f"\n== replica-crash test: {len(checks) - len(bad)} passed, {len(bad)} failed ==")
    for name, _, detail in bad:
        print(f"FAILED: {name}: {detail}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
