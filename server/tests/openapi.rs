//! The checked-in OpenAPI document must equal what the code generates.

use parchment_server::app::{docs_html, openapi_document, API_PREFIXES};

#[test]
fn checked_in_openapi_matches_the_code() {
    let generated = openapi_document();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        generated.trim() == on_disk.trim(),
        "openapi/openapi.json is stale: regenerate with \
         `cargo run -p parchment-server -- openapi > openapi/openapi.json`"
    );
}

/// The docs page (`/docs`, `openapi --html`, the static site of `scripts/docs`) embeds the
/// completed document, not poem's: a reader finds the inbox's envelopes and the error body.
#[test]
fn the_docs_page_embeds_the_published_document() {
    let html = docs_html();
    assert!(
        html.contains(&openapi_document()),
        "the completed document is embedded"
    );
    for name in [
        "FederationEnvelope",
        "LegacyFederationEnvelope",
        "ErrorBody",
        "postFederationInbox",
    ] {
        assert!(html.contains(name), "{name} is on the docs page");
    }
}

#[test]
fn every_path_is_routed_and_documented() {
    let spec: serde_json::Value = serde_json::from_str(&openapi_document()).expect("spec is JSON");
    let paths = spec["paths"].as_object().expect("paths");
    assert!(!paths.is_empty());
    let mut ids = std::collections::HashSet::new();
    for (path, operations) in paths {
        // The router only hands these prefixes to the API; a path outside them is unreachable.
        assert!(
            API_PREFIXES.iter().any(|p| path.starts_with(p)),
            "{path} is outside the API prefixes"
        );
        for (method, op) in operations.as_object().expect("operations") {
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path}: no tag"
            );
            assert!(
                op["operationId"]
                    .as_str()
                    .is_some_and(|id| ids.insert(id.to_owned())),
                "{method} {path}: operationId missing or not unique"
            );
            assert!(
                op["summary"].is_string() || op["description"].is_string(),
                "{method} {path}: undocumented"
            );
            let responses = op["responses"].as_object().expect("responses");
            for status in ["422", "500"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path}: {status} undocumented"
                );
            }
        }
    }
    let tags: Vec<&str> = spec["tags"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    for tag in ["Users", "Auth"] {
        assert!(tags.contains(&tag), "tag {tag} missing");
    }
}

/// What poem-openapi leaves out, the published document has: nullable optional members,
/// path parameters named as their templates, the inbox's envelope schema.
#[test]
fn document_is_complete() {
    let spec: serde_json::Value = serde_json::from_str(&openapi_document()).expect("JSON");
    let user = &spec["components"]["schemas"]["UserSummary"]["properties"];
    for member in ["alias", "picture", "onboardingCompletedAt"] {
        assert_eq!(user[member]["nullable"], true, "UserSummary.{member}");
    }
    for (path, operations) in spec["paths"].as_object().expect("paths") {
        let mut template: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        template.sort();
        for (method, op) in operations.as_object().expect("operations") {
            let mut names: Vec<&str> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            names.sort();
            assert_eq!(names, template, "{method} {path}");
        }
    }
    let inbox = &spec["paths"]["/federation/inbox"]["post"];
    let body = inbox["requestBody"]["content"]
        .as_object()
        .and_then(|c| c.values().next())
        .expect("inbox body");
    assert_eq!(body["schema"]["oneOf"].as_array().map(Vec::len), Some(2));
    let envelope = &spec["components"]["schemas"]["FederationEnvelope"];
    for member in [
        "protocol_version",
        "message_type",
        "from",
        "to",
        "nonce",
        "timestamp",
        "signature",
        "payload",
        "message_version",
        "type",
    ] {
        assert!(envelope["properties"][member].is_object(), "{member}");
    }
    // The seed's sample (all ten members, protocol_version 2) is a v2 envelope and not also a
    // legacy one: `oneOf` needs exactly one match, and v1 allows no protocol_version ≥ 2.
    let legacy = &spec["components"]["schemas"]["LegacyFederationEnvelope"];
    assert_eq!(legacy["properties"]["protocol_version"]["maximum"], 1);
    assert_eq!(
        envelope["properties"]["protocol_version"]["enum"],
        serde_json::json!([2])
    );
    assert_eq!(
        inbox["description"]
            .as_str()
            .map(|d| d.starts_with("Receive federation messages from other servers")),
        Some(true)
    );
}
