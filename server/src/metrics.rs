//! `GET /metrics` on `PARCHMENT_METRICS_BIND` (off by default, and never on the public
//! listener): Prometheus text with requests by route and status and their latency, inbox
//! messages by type and outcome, outbox depth and delivery failures, database pool usage and
//! open push streams. Recorded through the `metrics` facade; rendered by
//! `metrics-exporter-prometheus`.

use std::net::SocketAddr;
use std::sync::OnceLock;

use anyhow::Context;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use poem::listener::TcpListener;
use poem::{Response, Route};

use crate::state::AppState;

/// Seconds buckets for request latency (1 ms to 10 s).
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls share it). Until this runs, every
/// `record_*` call is a no-op.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("parchment_http_request_duration_seconds".into()),
            LATENCY_BUCKETS,
        )
        .context("metrics buckets")?
        .install_recorder()
        .context("installing the metrics recorder")?;
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// One answered request: `route` is the API's path template (bounded label values), `app`
/// for the web app's files.
pub fn record_request(route: &str, method: &str, status: u16, seconds: f64) {
    // HTTP allows any method token: only the standard ones become label values, or a client
    // could add series without end.
    let method = match method {
        "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
        _ => "other",
    };
    let labels = [
        ("route", route.to_owned()),
        ("method", method.to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!("parchment_http_requests_total", &labels).increment(1);
    metrics::histogram!("parchment_http_request_duration_seconds", &labels).record(seconds);
}

/// One inbox message: its type (as claimed) and `accepted` or the error code.
pub fn record_inbox(message_type: &str, outcome: &str) {
    metrics::counter!(
        "parchment_inbox_messages_total",
        "type" => message_type.to_owned(),
        "outcome" => outcome.to_owned()
    )
    .increment(1);
}

/// One outbox delivery attempt that did not deliver: `retry` or `refused`.
pub fn record_delivery_failure(outcome: &'static str) {
    metrics::counter!("parchment_outbox_delivery_failures_total", "outcome" => outcome)
        .increment(1);
}

/// Serves `GET /metrics` on `bind` until the task is aborted.
pub async fn serve(bind: SocketAddr, state: AppState, handle: PrometheusHandle) {
    let app = Route::new().at(
        "/metrics",
        poem::endpoint::make(move |_| {
            let (state, handle) = (state.clone(), handle.clone());
            async move { render(&state, &handle).await }
        }),
    );
    tracing::info!(addr = %bind, "metrics listening");
    if let Err(err) = poem::Server::new(TcpListener::bind(bind)).run(app).await {
        tracing::error!(error = %err, "metrics listener failed");
    }
}

/// Gauges read at scrape time, then the text exposition.
async fn render(state: &AppState, handle: &PrometheusHandle) -> Response {
    let pools = state.store.pool_usage();
    for (pool, size, idle) in pools {
        metrics::gauge!("parchment_db_pool_connections", "pool" => pool, "state" => "open")
            .set(size as f64);
        metrics::gauge!("parchment_db_pool_connections", "pool" => pool, "state" => "idle")
            .set(idle as f64);
    }
    match state.store.outbox_depth().await {
        Ok(depth) => metrics::gauge!("parchment_outbox_pending").set(depth as f64),
        Err(err) => tracing::warn!(error = %err, "metrics: outbox depth"),
    }
    metrics::gauge!("parchment_push_streams").set(state.push.open_streams() as f64);
    Response::builder()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}
