//! The checked-in OpenAPI document must equal what the code generates.

use parchment_server::app::{openapi_service, API_PREFIXES};

#[test]
fn checked_in_openapi_matches_the_code() {
    let generated = openapi_service().spec();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        generated.trim() == on_disk.trim(),
        "openapi/openapi.json is stale: regenerate with \
         `cargo run -p parchment-server -- openapi > openapi/openapi.json`"
    );
}

#[test]
fn every_path_is_routed_and_documented() {
    let spec: serde_json::Value =
        serde_json::from_str(&openapi_service().spec()).expect("spec is JSON");
    let paths = spec["paths"].as_object().expect("paths");
    assert!(!paths.is_empty());
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
