//! `GET /config`: what the web app needs to know about this server before sign-in.

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::ApiTags;
use crate::error::ApiResult;
use crate::state::AppState;

/// The app's configuration.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ClientConfig {
    /// The MapLibre style the map loads (`PARCHMENT_MAP_STYLE_URL`); `null`: the app's
    /// built-in style, which needs no network.
    pub map_style_url: Option<String>,
}

/// Client configuration handlers.
#[derive(Default)]
pub struct ConfigApi;

#[OpenApi(tag = "ApiTags::Users")]
impl ConfigApi {
    /// The web app's configuration (public: read before sign-in).
    #[oai(path = "/config", method = "get")]
    async fn config(&self, state: Data<&AppState>) -> ApiResult<Json<ClientConfig>> {
        Ok(Json(ClientConfig {
            map_style_url: state.settings.map_style_url.as_ref().map(|u| u.to_string()),
        }))
    }
}
