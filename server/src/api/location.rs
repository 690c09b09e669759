//! `GET /friends/location-sharing`, `PUT`/`DELETE /friends/{handle}/location-sharing`,
//! `GET /friends/locations`: live location with friends. Positions travel sealed for each
//! friend (`POST /friends/{handle}/messages`, LOCATION_UPDATE); the server keeps settings
//! and ciphertext only.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::friends::{signed, SignedRequest};
use super::identity::Success;
use super::{timestamp, ApiTags, Session};
use crate::error::ApiResult;
use crate::service::location as service;
use crate::state::AppState;
use crate::store::SharingRow;

/// Sharing with one friend.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct LocationSharing {
    /// The friend's handle.
    pub handle: String,
    /// When sharing ends by itself; `null`: when turned off.
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<SharingRow> for LocationSharing {
    fn from(row: SharingRow) -> Self {
        LocationSharing {
            handle: row.friend_handle,
            expires_at: row.expires_at.map(timestamp),
        }
    }
}

/// The friends the caller shares their live location with now.
#[derive(Debug, Clone, Object)]
pub struct LocationSharingList {
    /// Expired shares are not listed.
    pub sharing: Vec<LocationSharing>,
}

/// Turn sharing with a friend on, or change when it ends.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShareLocationRequest {
    /// When sharing ends by itself (in the future, at most a year ahead); `null` or absent:
    /// until turned off. LOCATION_UPDATEs to this friend must then carry the same instant
    /// as `payload.expiresAt`.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A friend's newest live location.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct FriendLocation {
    /// The friend.
    pub from_handle: String,
    /// The sealed location as sent (base64 of the friend share; open it with
    /// `openFriendShare`).
    pub encrypted_location: String,
    /// When the friend sent it.
    pub sent_at: DateTime<Utc>,
    /// When the friend's sharing ends; after it the location is no longer listed.
    pub expires_at: Option<DateTime<Utc>>,
    /// The signed envelope as received (canonical JSON), for the client to verify.
    pub envelope: String,
}

/// The newest location of each friend who shares with the caller now.
#[derive(Debug, Clone, Object)]
pub struct FriendLocations {
    /// One per friend.
    pub locations: Vec<FriendLocation>,
}

/// Live location handlers.
#[derive(Default)]
pub struct LocationApi;

#[OpenApi(tag = "ApiTags::Federation")]
impl LocationApi {
    /// The friends the caller shares their live location with (off by default).
    #[oai(path = "/friends/location-sharing", method = "get")]
    async fn sharing(
        &self,
        state: Data<&AppState>,
        session: Session,
    ) -> ApiResult<Json<LocationSharingList>> {
        let rows = service::sharing(&state, session.principal()).await?;
        Ok(Json(LocationSharingList {
            sharing: rows.into_iter().map(LocationSharing::from).collect(),
        }))
    }

    /// Share the caller's live location with a friend, until `expiresAt` or until turned
    /// off. Only a setting: positions are sealed in the browser for each friend.
    #[oai(path = "/friends/:handle/location-sharing", method = "put")]
    async fn share(
        &self,
        state: Data<&AppState>,
        session: Session,
        handle: Path<String>,
        body: Json<ShareLocationRequest>,
    ) -> ApiResult<Json<LocationSharing>> {
        let expires_at = body.expires_at.map(|t| t.timestamp_millis());
        let row = service::share(&state, session.principal(), &handle, expires_at).await?;
        Ok(Json(row.into()))
    }

    /// Stop sharing with a friend. The signature is over the v2 LOCATION_UPDATE to the
    /// friend with payload `{"stopped": true}`: it is sent to the friend's server, which
    /// stops showing the caller's location at once (positions still queued are dropped).
    #[oai(path = "/friends/:handle/location-sharing", method = "delete")]
    async fn stop(
        &self,
        state: Data<&AppState>,
        session: Session,
        handle: Path<String>,
        body: Json<SignedRequest>,
    ) -> ApiResult<Json<Success>> {
        service::stop(&state, session.principal(), &handle, signed(&body)).await?;
        Ok(Json(Success { success: true }))
    }

    /// The newest live location of each friend who shares with the caller now (stopped
    /// and expired ones are not listed).
    #[oai(path = "/friends/locations", method = "get")]
    async fn locations(
        &self,
        state: Data<&AppState>,
        session: Session,
    ) -> ApiResult<Json<FriendLocations>> {
        let rows = service::locations(&state, session.principal()).await?;
        Ok(Json(FriendLocations {
            locations: rows
                .into_iter()
                .map(|r| FriendLocation {
                    from_handle: r.from_handle,
                    encrypted_location: r.encrypted_location,
                    sent_at: timestamp(r.sent_at),
                    expires_at: r.expires_at.map(timestamp),
                    envelope: r.envelope,
                })
                .collect(),
        }))
    }
}
