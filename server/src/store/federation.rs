//! Federation state: peer pins and manifest cache, replay memory (transport and user level),
//! cached remote user documents.

use sqlx::FromRow;

use super::inbox::{insert_nonce, NonceTable};
use super::{Store, StoreResult};

/// A pinned peer server.
#[derive(Debug, Clone, FromRow)]
pub struct PeerRow {
    /// The peer's domain.
    pub host: String,
    /// Its pinned Ed25519 server key, base64.
    pub public_key: String,
    /// Unix milliseconds: when the key was pinned.
    pub first_seen_at: i64,
    /// Unix milliseconds: when its manifest was last fetched.
    pub fetched_at: i64,
}

/// A peer's server key as fetched, with the manifest that presented it.
pub struct PeerManifest<'a> {
    /// The peer's domain.
    pub host: &'a str,
    /// Its Ed25519 server key, base64.
    pub public_key: &'a str,
    /// The manifest document as fetched (JSON).
    pub manifest: &'a str,
}

impl Store {
    /// The pin of `host`, if any.
    pub async fn peer(&self, host: &str) -> StoreResult<Option<PeerRow>> {
        self.one_by(
            "SELECT host, public_key, first_seen_at, fetched_at FROM federation_peers \
             WHERE host = $1",
            host,
        )
        .await
    }

    /// First use of a peer: pins its key. `false` when a pin already exists (a race).
    pub async fn pin_peer(&self, peer: &PeerManifest<'_>, now: i64) -> StoreResult<bool> {
        self.write_peer(
            "INSERT INTO federation_peers (host, public_key, manifest, first_seen_at, fetched_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (host) DO NOTHING",
            peer,
            now,
        )
        .await
    }

    /// Refreshes the cached manifest of a peer whose key is still the pinned one.
    pub async fn refresh_peer(&self, peer: &PeerManifest<'_>, now: i64) -> StoreResult<bool> {
        self.write_peer(
            "UPDATE federation_peers SET manifest = $3, fetched_at = $4 \
             WHERE host = $1 AND public_key = $2",
            peer,
            now,
        )
        .await
    }

    /// Runs `sql` (a pin or a refresh) with `$1` host, `$2` key, `$3` manifest, `$4` now;
    /// `true` when it wrote the row.
    async fn write_peer(&self, sql: &str, peer: &PeerManifest<'_>, now: i64) -> StoreResult<bool> {
        let done = sqlx::query(sql)
            .bind(peer.host)
            .bind(peer.public_key)
            .bind(peer.manifest)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets a pin (operator-approved key rotation). `true` when one existed.
    pub async fn unpin_peer(&self, host: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM federation_peers WHERE host = $1")
            .bind(host)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a transport nonce of `sender`; `false` when it was seen before (a replay).
    /// Old nonces are pruned by housekeeping ([`Store::prune_federation`]), not per request.
    pub async fn record_transport_nonce(
        &self,
        sender: &str,
        nonce: &str,
        now: i64,
    ) -> StoreResult<bool> {
        insert_nonce(self.writer(), NonceTable::Transport, sender, nonce, now).await
    }

    /// Whether `sender` already used this transport nonce (the cheap early replay check;
    /// recording it is what counts).
    pub async fn transport_nonce_seen(&self, sender: &str, nonce: &str) -> StoreResult<bool> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM federation_nonces WHERE sender = $1 AND nonce = $2")
                .bind(sender)
                .bind(nonce)
                .fetch_optional(self.reader())
                .await?;
        Ok(row.is_some())
    }

    /// A cached remote user document (JSON) and when it was fetched (Unix milliseconds).
    pub async fn remote_user(&self, handle_key: &str) -> StoreResult<Option<(String, i64)>> {
        self.one_by(
            "SELECT document, fetched_at FROM remote_users WHERE handle_key = $1",
            handle_key,
        )
        .await
    }

    /// Caches a remote user document (insert or replace).
    pub async fn put_remote_user(
        &self,
        handle_key: &str,
        document: &str,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO remote_users (handle_key, document, fetched_at) VALUES ($1, $2, $3) \
             ON CONFLICT (handle_key) DO UPDATE SET document = excluded.document, \
             fetched_at = excluded.fetched_at",
        )
        .bind(handle_key)
        .bind(document)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Drops replay memory older than its window, and finished outbox rows last touched
    /// before `outbox_before`.
    pub async fn prune_federation(
        &self,
        transport_before: i64,
        message_before: i64,
        outbox_before: i64,
    ) -> StoreResult<()> {
        self.delete_where(&[
            (
                "federation_outbox",
                "status IN ('delivered', 'failed') AND updated_at < $1",
                outbox_before,
            ),
            ("federation_nonces", "created_at < $1", transport_before),
            (
                "federation_message_nonces",
                "created_at < $1",
                message_before,
            ),
        ])
        .await
    }
}
