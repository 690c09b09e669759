//! `GET /events`: the push channel (Server-Sent Events) of the signed-in user.

use std::time::Duration;

use futures_util::StreamExt;
use poem::web::sse::Event;
use poem::web::Data;
use poem_openapi::param::{Header, Query};
use poem_openapi::payload::EventStream;
use poem_openapi::types::ToJSON;
use poem_openapi::{Object, OpenApi};

use super::{ApiTags, Session};
use crate::error::ApiResult;
use crate::service::events::{self as service, PushItem};
use crate::state::AppState;

/// Comment lines keep idle connections (and proxies) open.
const KEEP_ALIVE: Duration = Duration::from_secs(20);

/// One event. On the wire: `id:` is `seq`, `event:` is `event`, `data:` is `data` (JSON).
#[derive(Debug, Clone, Object)]
pub struct PushEvent {
    /// Per-user number, increasing; the browser sends the last one back as
    /// `Last-Event-ID` when it reconnects.
    pub seq: i64,
    /// `ready` (fresh connection: load your state now), `resync` (events were missed:
    /// load your state again), `location` `{fromHandle, encryptedLocation, sentAt,
    /// expiresAt}`, `location-stopped` `{fromHandle}`, `location-request` `{fromHandle}`,
    /// `invitation` `{fromHandle}`, `friend-added` `{handle}`, `invitation-rejected`
    /// `{handle}`, `friend-removed` `{handle}`, `share` `{fromHandle, resourceType,
    /// resourceId}`, `share-withdrawn` `{fromHandle, resourceType, resourceId}`.
    pub event: String,
    /// The event's JSON data.
    pub data: serde_json::Value,
}

impl From<PushItem> for PushEvent {
    fn from(item: PushItem) -> Self {
        PushEvent {
            seq: item.seq,
            event: item.kind,
            data: serde_json::from_str(&item.data).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// Push channel handlers.
#[derive(Default)]
pub struct EventsApi;

#[OpenApi(tag = "ApiTags::Federation")]
impl EventsApi {
    /// What the caller's friends cause, pushed as it happens (Server-Sent Events):
    /// locations, location requests, invitations and their answers, removals, shares.
    /// Resumes after `Last-Event-ID` (or `after`) so a dropped connection loses nothing; a
    /// stream ends after 30 minutes and the browser reconnects by itself. At most 32
    /// streams per user.
    #[oai(path = "/events", method = "get")]
    async fn events(
        &self,
        state: Data<&AppState>,
        session: Session,
        #[oai(name = "Last-Event-ID")] last_event_id: Header<Option<String>>,
        /// The last event number seen (for clients that cannot set `Last-Event-ID`; the
        /// header wins).
        after: Query<Option<i64>>,
    ) -> ApiResult<EventStream<futures_util::stream::BoxStream<'static, PushEvent>>> {
        let after = match last_event_id.0.as_deref() {
            Some(text) => Some(service::parse_last_event_id(text)?),
            None => after.0.filter(|n| *n >= 0),
        };
        let stream = service::open(&state, session.principal(), after).await?;
        Ok(EventStream::new(stream.map(PushEvent::from).boxed())
            .keep_alive(KEEP_ALIVE)
            .to_event(|e| {
                Event::message(e.data.to_json_string())
                    .event_type(e.event)
                    .id(e.seq.to_string())
            }))
    }
}
