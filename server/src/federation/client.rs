//! The one outbound HTTP client: every manifest, user document and inbox delivery goes
//! through it. It connects only to addresses [`AddressPolicy`] permits, reads at most a
//! fixed number of bytes of any reply within a total deadline, remembers failures per host
//! for a short time, and rations the fetches a claimed (not yet verified) sender can cause.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use parchment_core::federation::discovery::UserDocument;
use parchment_core::keys::Ed25519PublicKey;
use url::{Host, Url};

use super::address_policy::{AddressPolicy, GuardedResolver, HostLookup, SystemLookup};
use super::PeerError;

/// Largest discovery document (manifest, user document) read.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// Largest inbox reply read (the reply is only a status body).
pub const MAX_REPLY_BYTES: usize = 4 * 1024;
/// Total time for one document fetch: connect, headers and the whole body (reqwest's
/// request timeout spans the body's reading).
const DOCUMENT_DEADLINE: Duration = Duration::from_secs(10);
/// Total time for one inbox POST.
const POST_DEADLINE: Duration = Duration::from_secs(15);
/// How long a failed fetch from a host is answered from memory instead of fetched again.
pub const FAILURE_TTL_MS: i64 = 30 * 1000;
/// Manifest fetches per host per window: a manifest is fetched before any signature is
/// verified, so this is what an unauthenticated request naming a host can cost.
pub const MANIFEST_FETCHES_PER_WINDOW: u32 = 5;
/// The window of [`MANIFEST_FETCHES_PER_WINDOW`].
pub const MANIFEST_WINDOW_MS: i64 = 5 * 60 * 1000;
/// After a signature failure, the manifest (or a user document) is re-fetched at most once
/// per this interval per peer: forged signatures cannot turn into fetches at the peer.
pub const FORCED_REFRESH_INTERVAL_MS: i64 = 5 * 60 * 1000;
/// Outbound fetches in flight at once, across all hosts: bounds the memory of replies
/// being read (each at most [`MAX_DOCUMENT_BYTES`]) and the sockets held.
const MAX_CONCURRENT_FETCHES: usize = 64;
/// Entries kept per in-memory table before it is cleared (hosts come from requests).
const MAX_TRACKED_HOSTS: usize = 10_000;
/// How long a peer's pinned key, or a remote user's document, as read from the database, is
/// reused without reading it again (the inbox would otherwise read it for every message).
/// Short, so an unpin by the admin CLI (another process) shows within seconds; a signature
/// failure re-reads at once.
pub const PIN_MEMO_MS: i64 = 10 * 1000;

/// What one inbox POST answered: the status and at most [`MAX_REPLY_BYTES`] of its body.
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body, cut at [`MAX_REPLY_BYTES`].
    pub body: String,
}

/// Memoized user documents kept at most (each ~0.6 KB with its key): a memo for the
/// senders of the moment, not a second cache (the database holds every fetched document).
const MAX_MEMOIZED_DOCUMENTS: usize = 1024;
/// Above this many entries, the table of fetch turns drops those nobody holds or awaits.
const TURNS_KEPT: usize = 64;

/// A table of host → value, cleared when it grows past its capacity
/// ([`MAX_TRACKED_HOSTS`] unless made [`Tracked::with_capacity`]).
struct Tracked<V> {
    map: Mutex<HashMap<String, V>>,
    capacity: usize,
}

impl<V> Default for Tracked<V> {
    fn default() -> Self {
        Self::with_capacity(MAX_TRACKED_HOSTS)
    }
}

impl<V> Tracked<V> {
    fn with_capacity(capacity: usize) -> Self {
        Tracked {
            map: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, V>) -> R) -> R {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.capacity {
            map.clear();
        }
        f(&mut map)
    }
}

/// The outbound HTTP client and its in-memory memos.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    allow_http: bool,
    policy: AddressPolicy,
    fetches: Arc<tokio::sync::Semaphore>,
    /// host → (pinned key, valid until).
    pins: Arc<Tracked<(Ed25519PublicKey, i64)>>,
    /// host + path → (error, until).
    failures: Arc<Tracked<(String, i64)>>,
    /// host → (window start, manifest fetches in it).
    manifest_budget: Arc<Tracked<(i64, u32)>>,
    /// peer (host, or `user:` handle) → when its last forced refresh was allowed.
    forced_refreshes: Arc<Tracked<i64>>,
    /// handle key → (validated user document, valid until).
    documents: Arc<Tracked<(UserDocument, i64)>>,
    /// peer (host, or `user:` handle) → the lock its fetches take turns on.
    turns: Arc<Tracked<Arc<tokio::sync::Mutex<()>>>>,
}

impl Client {
    /// The production client: the system resolver.
    pub fn new(allow_http: bool) -> anyhow::Result<Self> {
        Self::with_lookup(allow_http, Arc::new(SystemLookup))
    }

    /// A client resolving names through `lookup` (tests inject one).
    pub fn with_lookup(allow_http: bool, lookup: Arc<dyn HostLookup>) -> anyhow::Result<Self> {
        let policy = if allow_http {
            AddressPolicy::AllowLoopback
        } else {
            AddressPolicy::PublicOnly
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(POST_DEADLINE)
            // A redirect could point our signed POSTs or fetches elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve names itself, past the address policy.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { policy, lookup }))
            .user_agent(concat!("Parchment Federation/", env!("CARGO_PKG_VERSION")))
            .https_only(!allow_http)
            .build()?;
        Ok(Client {
            http,
            allow_http,
            policy,
            fetches: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_FETCHES)),
            pins: Default::default(),
            failures: Default::default(),
            manifest_budget: Default::default(),
            forced_refreshes: Default::default(),
            documents: Arc::new(Tracked::with_capacity(MAX_MEMOIZED_DOCUMENTS)),
            turns: Default::default(),
        })
    }

    /// The URL of `path` on the server `host` (host[:port]). IP-literal hosts are refused
    /// (they would bypass the resolver's checks), except loopback with allow-http.
    pub fn url(&self, host: &str, path: &str) -> Result<Url, PeerError> {
        let scheme = if self.allow_http { "http" } else { "https" };
        let forbidden = |reason: String| PeerError::Forbidden(host.to_owned(), reason);
        let url = Url::parse(&format!("{scheme}://{host}{path}"))
            .map_err(|e| forbidden(format!("not a valid host: {e}")))?;
        let literal: Option<IpAddr> = match url.host() {
            Some(Host::Domain(_)) => None,
            Some(Host::Ipv4(ip)) => Some(ip.into()),
            Some(Host::Ipv6(ip)) => Some(ip.into()),
            None => return Err(forbidden("no host".into())),
        };
        if let Some(ip) = literal {
            if !(self.policy == AddressPolicy::AllowLoopback && ip.is_loopback()) {
                return Err(forbidden(format!(
                    "IP-literal server ids are refused ({ip}); use a domain name"
                )));
            }
        }
        Ok(url)
    }

    /// The memoized pin of `host`, unless stale or `refresh` (which also forgets it).
    pub fn memo(&self, host: &str, now: i64, refresh: bool) -> Option<Ed25519PublicKey> {
        self.pins.with(|pins| {
            if refresh {
                pins.remove(host);
                return None;
            }
            match pins.get(host) {
                Some((key, until)) if now < *until => Some(*key),
                _ => None,
            }
        })
    }

    /// Memoizes `key` as `host`'s pin until `until`.
    pub fn remember(&self, host: &str, key: &Ed25519PublicKey, until: i64) {
        self.pins
            .with(|pins| pins.insert(host.to_owned(), (*key, until)));
    }

    /// The memoized document of the remote user `handle_key`, unless stale or `refresh`
    /// (which also forgets it).
    pub fn memo_document(&self, handle_key: &str, now: i64, refresh: bool) -> Option<UserDocument> {
        self.documents.with(|documents| {
            if refresh {
                documents.remove(handle_key);
                return None;
            }
            match documents.get(handle_key) {
                Some((document, until)) if now < *until => Some(document.clone()),
                _ => None,
            }
        })
    }

    /// Memoizes `document` as `handle_key`'s until `until`: the inbox would otherwise read
    /// and validate it again for every message of a sender who is not a friend.
    pub fn remember_document(&self, handle_key: &str, document: &UserDocument, until: i64) {
        self.documents
            .with(|documents| documents.insert(handle_key.to_owned(), (document.clone(), until)));
    }

    /// Waits for `peer`'s turn (a host, or `user:` and a handle) to look its document up:
    /// one at a time, so the requests of a first contact wait for the first one's fetch and
    /// then find its result stored, instead of each fetching the same document (and, past
    /// the manifest budget, being refused).
    pub async fn turn(&self, peer: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self.turns.with(|turns| {
            if turns.len() > TURNS_KEPT {
                // A lock only this table holds is nobody's turn: a first contact with each
                // of thousands of senders leaves nothing behind.
                turns.retain(|_, lock| Arc::strong_count(lock) > 1);
            }
            turns.entry(peer.to_owned()).or_default().clone()
        });
        lock.lock_owned().await
    }

    /// True (and the refresh is counted) when `peer` may be re-fetched after a signature
    /// failure: at most once per [`FORCED_REFRESH_INTERVAL_MS`].
    pub fn allow_forced_refresh(&self, peer: &str, now: i64) -> bool {
        self.forced_refreshes.with(|seen| match seen.get(peer) {
            Some(at) if now - *at < FORCED_REFRESH_INTERVAL_MS => false,
            _ => {
                seen.insert(peer.to_owned(), now);
                true
            }
        })
    }

    /// Counts one manifest fetch of `host`; `Err` when its budget is spent.
    pub fn spend_manifest_fetch(&self, host: &str, now: i64) -> Result<(), PeerError> {
        self.manifest_budget.with(|budget| {
            let entry = budget.entry(host.to_owned()).or_insert((now, 0));
            if now - entry.0 >= MANIFEST_WINDOW_MS {
                *entry = (now, 0);
            }
            if entry.1 >= MANIFEST_FETCHES_PER_WINDOW {
                return Err(PeerError::Unreachable(
                    host.to_owned(),
                    "too many manifest fetches for this host; try again later".into(),
                ));
            }
            entry.1 += 1;
            Ok(())
        })
    }

    fn recent_failure(&self, key: &str, now: i64) -> Option<String> {
        self.failures.with(|failures| match failures.get(key) {
            Some((reason, until)) if now < *until => Some(reason.clone()),
            Some(_) => {
                failures.remove(key);
                None
            }
            None => None,
        })
    }

    fn record_failure(&self, key: &str, err: &PeerError, now: i64) {
        self.failures.with(|failures| {
            failures.insert(key.to_owned(), (err.to_string(), now + FAILURE_TTL_MS))
        });
    }

    /// GET `path` on `host`: a JSON document of at most [`MAX_DOCUMENT_BYTES`], read within
    /// a total deadline. A failure is remembered for [`FAILURE_TTL_MS`] and answered from
    /// memory meanwhile.
    pub async fn get_document(
        &self,
        host: &str,
        path: &str,
        now: i64,
    ) -> Result<String, PeerError> {
        // Keyed by the URL: a missing user document must not block the host's manifest.
        let key = format!("{host}{path}");
        if let Some(reason) = self.recent_failure(&key, now) {
            return Err(PeerError::Unreachable(
                host.to_owned(),
                format!("failed recently, not retried yet: {reason}"),
            ));
        }
        let result = self.fetch_document(host, path).await;
        if let Err(err) = &result {
            self.record_failure(&key, err, now);
        }
        result
    }

    async fn fetch_document(&self, host: &str, path: &str) -> Result<String, PeerError> {
        let url = self.url(host, path)?;
        let _permit = self.fetches.acquire().await.map_err(|_| {
            PeerError::Unreachable(host.to_owned(), "the client is shutting down".into())
        })?;
        // The request's timeout covers connect, headers and every body chunk read.
        let resp = self
            .http
            .get(url)
            .header("Accept", "application/json")
            .timeout(DOCUMENT_DEADLINE)
            .send()
            .await
            .map_err(|e| unreachable(host, &e))?;
        if !resp.status().is_success() {
            return Err(PeerError::Status(host.to_owned(), resp.status().as_u16()));
        }
        let bytes = read_capped(host, resp, MAX_DOCUMENT_BYTES).await?;
        String::from_utf8(bytes).map_err(|_| PeerError::Invalid {
            host: host.to_owned(),
            reason: "document is not UTF-8".into(),
        })
    }

    /// The peer's clock (its `Date` header on `GET /.well-known/parchment-server`), in Unix
    /// milliseconds: `parchment-server doctor` compares it with ours (the federation window
    /// is ±300 s). Goes through the same address policy as every fetch.
    pub async fn peer_clock(&self, host: &str) -> Result<i64, PeerError> {
        let url = self.url(host, "/.well-known/parchment-server")?;
        let resp = self
            .http
            .get(url)
            .timeout(DOCUMENT_DEADLINE)
            .send()
            .await
            .map_err(|e| unreachable(host, &e))?;
        let date = resp
            .headers()
            .get("date")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
            .ok_or_else(|| PeerError::Invalid {
                host: host.to_owned(),
                reason: "no Date header".into(),
            })?;
        Ok(date.timestamp_millis())
    }

    /// POSTs `body` with `headers` to `path` on `host`; the reply's body is cut at
    /// [`MAX_REPLY_BYTES`].
    pub async fn post(
        &self,
        host: &str,
        path: &str,
        headers: &[(&'static str, &str)],
        body: String,
    ) -> Result<Reply, PeerError> {
        let url = self.url(host, path)?;
        let mut req = self
            .http
            .post(url)
            .header("Content-Type", "application/json");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        // The client's timeout (POST_DEADLINE) covers the exchange, the reply body included.
        let resp = req
            .body(body)
            .send()
            .await
            .map_err(|e| unreachable(host, &e))?;
        let status = resp.status().as_u16();
        let body = read_truncated(resp, MAX_REPLY_BYTES).await;
        Ok(Reply { status, body })
    }
}

fn unreachable(host: &str, err: &reqwest::Error) -> PeerError {
    // The resolver's refusal sits in the source chain: say it plainly.
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::PermissionDenied {
                return PeerError::Forbidden(host.to_owned(), io.to_string());
            }
        }
        source = e.source();
    }
    PeerError::Unreachable(host.to_owned(), err.to_string())
}

/// The whole body, or an error as soon as it exceeds `cap` (nothing beyond is buffered).
async fn read_capped(
    host: &str,
    mut resp: reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, PeerError> {
    let too_large = || PeerError::Invalid {
        host: host.to_owned(),
        reason: format!("document larger than {cap} bytes"),
    };
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| unreachable(host, &e))? {
        if bytes.len() + chunk.len() > cap {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// At most `cap` bytes of the body as text (lossy); the rest is not read.
async fn read_truncated(mut resp: reqwest::Response, cap: usize) -> String {
    let mut bytes = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = cap - bytes.len();
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if bytes.len() >= cap {
            break;
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_are_refused_unless_loopback_is_allowed() {
        let strict = Client::new(false).expect("client");
        for host in [
            "127.0.0.1",
            "127.0.0.1:8443",
            "[::1]",
            "10.0.0.1",
            "169.254.169.254",
            "2130706433",
            "0x7f.1",
            "8.8.8.8",
        ] {
            assert!(
                matches!(strict.url(host, "/x"), Err(PeerError::Forbidden(..))),
                "{host} must be refused"
            );
        }
        assert!(strict.url("example.com", "/x").is_ok());
        let loopback = Client::new(true).expect("client");
        assert!(loopback.url("127.0.0.1:8080", "/x").is_ok());
        assert!(loopback.url("10.0.0.1", "/x").is_err());
    }

    #[test]
    fn manifest_budget_and_forced_refreshes_are_rationed() {
        let client = Client::new(false).expect("client");
        for _ in 0..MANIFEST_FETCHES_PER_WINDOW {
            assert!(client.spend_manifest_fetch("a.example", 0).is_ok());
        }
        assert!(client.spend_manifest_fetch("a.example", 1).is_err());
        assert!(client.spend_manifest_fetch("b.example", 1).is_ok());
        assert!(client
            .spend_manifest_fetch("a.example", MANIFEST_WINDOW_MS)
            .is_ok());
        assert!(client.allow_forced_refresh("a.example", 0));
        assert!(!client.allow_forced_refresh("a.example", 1000));
        assert!(client.allow_forced_refresh("a.example", FORCED_REFRESH_INTERVAL_MS));
    }
}
