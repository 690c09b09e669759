//! The published OpenAPI document (`/openapi.json`, `/docs`, `parchment-server openapi`):
//! poem-openapi's output, completed where it falls short of the contract:
//! - every operation gets an `operationId` (`getUsersMeIdentity`, `deleteAuthSessionsBySessionId`);
//! - the seed documents' tag and description sentence for the operations they publish;
//! - optional members are `nullable` (poem serializes `None` as `null` and accepts `null`);
//! - the inbox body is the real envelope schema (v2, and the legacy v1 shape).

use serde_json::{json, Map, Value};

/// (method, path, tag, description) of each operation the seed documents publish, as they
/// word it; `seed_operations_match_the_seed_pages` in the tests reads the pages and checks.
pub const SEED_OPERATIONS: &[(&str, &str, &str, &str)] = &[
    (
        "get",
        "/auth/sessions/current",
        "Users",
        "Get Auth Sessions Current",
    ),
    ("get", "/users", "Users", "Get Users"),
    ("post", "/users", "Users", "Create a new user"),
    ("get", "/users/roles", "Users", "Get Users Roles"),
    ("get", "/users/permissions", "Users", "Get all permissions"),
    (
        "patch",
        "/users/me/profile",
        "Users",
        "Update current user display profile (first/last name)",
    ),
    (
        "get",
        "/users/me/km-version",
        "Users",
        "Get current master-key version (Part C.7)",
    ),
    (
        "post",
        "/users/me/km-version/commit",
        "Users",
        "Atomic rotation commit. Applies new public keys, re-encrypted blobs, re-encrypted \
         collection envelopes, and re-sealed slots in a single transaction gated by a CAS on \
         kmVersion. 409 on conflict — nothing is written.",
    ),
    (
        "get",
        "/users/me/preferences",
        "Users",
        "Get current user preferences (language, unit system)",
    ),
    (
        "put",
        "/users/me/preferences",
        "Users",
        "Update current user preferences (language, unit system)",
    ),
    (
        "get",
        "/users/me/devices/{deviceId}/wrap-secret",
        "Users",
        "Get (or lazily create) the per-device wrap secret used by the client to derive the \
         localStorage-seed wrap key. Idempotent.",
    ),
    (
        "post",
        "/users/me/identity/reset",
        "Federation",
        "Last-resort: wipe all of this user's encrypted data and clear the federation identity \
         so they can re-run identity setup. Session + passkeys survive; everything encrypted \
         under the old seed is gone. Irreversible.",
    ),
    (
        "get",
        "/users/me/revocations/pending",
        "Federation",
        "List peer handles queued for revocation after an identity reset.",
    ),
    (
        "post",
        "/users/me/revocations/flush",
        "Federation",
        "Deliver client-signed RELATIONSHIP_REVOKE envelopes to their peers. Rows that deliver \
         are dropped; failures stay queued for retry.",
    ),
    (
        "delete",
        "/users/me/revocations/pending/{peerHandle}",
        "Federation",
        "Drop a queued revocation without delivering it.",
    ),
    (
        "get",
        "/users/me/identity",
        "Federation",
        "Get current user federation identity (handle, keys)",
    ),
    (
        "patch",
        "/users/me/alias",
        "Federation",
        "Update current user alias (username for federation)",
    ),
    (
        "put",
        "/users/me/keys",
        "Federation",
        "Register or update federation public keys",
    ),
    (
        "post",
        "/federation/inbox",
        "Federation",
        "Receive federation messages from other servers",
    ),
];

/// `document` of poem-openapi (JSON text), completed; pretty-printed.
pub fn complete(document: &str) -> String {
    let mut doc: Value = serde_json::from_str(document).unwrap_or_default();
    add_operation_ids_and_seed_text(&mut doc);
    make_optional_members_nullable(&mut doc);
    describe_inbox_body(&mut doc);
    close_request_schemas(&mut doc);
    name_the_choices(&mut doc);
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// `get` `/auth/sessions/{sessionId}` → `getAuthSessionsBySessionId`.
pub fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        let (prefix, word) = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(param) => ("By", param),
            None => ("", segment),
        };
        id.push_str(prefix);
        for part in word
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|p| !p.is_empty())
        {
            let mut chars = part.chars();
            if let Some(first) = chars.next() {
                id.push(first.to_ascii_uppercase());
                id.push_str(chars.as_str());
            }
        }
    }
    id
}

fn add_operation_ids_and_seed_text(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, operations) in paths.iter_mut() {
        let Some(operations) = operations.as_object_mut() else {
            continue;
        };
        for (method, operation) in operations.iter_mut() {
            operation["operationId"] = json!(operation_id(method, path));
            let seed = SEED_OPERATIONS
                .iter()
                .find(|(m, p, _, _)| m == method && p == path);
            if let Some((_, _, tag, sentence)) = seed {
                operation["tags"] = json!([tag]);
                let ours = operation["description"].as_str().unwrap_or_default().trim();
                let description = if ours.is_empty() {
                    sentence.to_string()
                } else {
                    format!("{sentence}\n\n{ours}")
                };
                operation["description"] = json!(description);
            }
        }
    }
}

/// Every object schema's members that are not `required` may be `null`.
fn make_optional_members_nullable(doc: &mut Value) {
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        for schema in schemas.values_mut() {
            nullable_members(schema);
        }
    }
}

fn nullable_members(schema: &mut Value) {
    let required: Vec<String> = schema["required"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (name, property) in properties.iter_mut() {
        if required.contains(name) {
            continue;
        }
        if property.get("$ref").is_some() {
            // A sibling of `$ref` is ignored in OpenAPI 3.0: wrap it.
            let reference = property.take();
            *property = json!({ "allOf": [reference], "nullable": true });
        } else if let Some(object) = property.as_object_mut() {
            object.insert("nullable".into(), json!(true));
        }
    }
}

/// Request bodies refuse unknown members (`deny_unknown_fields`): say so. The inbox's
/// envelopes are the exception (extra members are dropped before the body hash).
fn close_request_schemas(doc: &mut Value) {
    let mut pending: Vec<String> = Vec::new();
    for operations in doc["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for operation in operations.as_object().into_iter().flat_map(|o| o.values()) {
            collect_refs(&operation["requestBody"], &mut pending);
        }
    }
    let mut closed: Vec<String> = Vec::new();
    while let Some(name) = pending.pop() {
        if closed.contains(&name) || name.contains("FederationEnvelope") {
            continue;
        }
        let schema = &mut doc["components"]["schemas"][&name];
        collect_refs(schema, &mut pending);
        if let Some(object) = schema
            .as_object_mut()
            .filter(|o| o.contains_key("properties"))
        {
            object.insert("additionalProperties".into(), json!(false));
        }
        closed.push(name);
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                out.push(name.to_owned());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Forms the services check themselves (with their own error codes, 400 `invalid_alias`,
/// `invalid_key`, as the original answers): (schema, member, pattern).
const SERVICE_PATTERNS: &[(&str, &str, &str)] = &[
    ("AliasChange", "alias", "^[A-Za-z0-9_]{3,30}$"),
    ("PublicKeys", "signingKey", BASE64_32),
    ("PublicKeys", "encryptionKey", BASE64_32),
    ("KmCommit", "signingKey", BASE64_32),
    ("KmCommit", "encryptionKey", BASE64_32),
    ("KmCommit", "currentKeySignature", SIGNATURE),
    ("BlobPut", "encryptedBlob", ENVELOPE),
    ("NewCollection", "metadataEncrypted", ENVELOPE),
    ("InviteRequest", "handle", HANDLE_PATTERN),
    ("InviteRequest", "signature", SIGNATURE),
    ("SignedRequest", "signature", SIGNATURE),
    ("MessageRequest", "signature", SIGNATURE),
    // Not FlushRequestItem's: a flush answers 200 with a result per item, failures included.
];

/// Standard base64 of a 64-byte Ed25519 signature.
const SIGNATURE: &str = "^[A-Za-z0-9+/]{86}==$";

/// Path parameters the services check: (parameter, pattern).
const SERVICE_PARAMETER_PATTERNS: &[(&str, &str)] = &[
    ("type", "^[a-zA-Z0-9._:-]{1,64}$"),
    ("handle", HANDLE_PATTERN),
];

/// base64 of at least the 30 bytes of an empty v2 envelope.
const ENVELOPE: &str = "^[A-Za-z0-9+/]{40,}={0,2}$";

/// Standard base64 of 32 bytes.
const BASE64_32: &str = "^[A-Za-z0-9+/]{43}=$";

/// Closed sets the services check, as enums: role ids, the reset's confirmation literal;
/// and the [`SERVICE_PATTERNS`].
fn name_the_choices(doc: &mut Value) {
    for operation in doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|p| p.values_mut())
        .flat_map(|o| o.as_object_mut().into_iter().flat_map(|o| o.values_mut()))
    {
        let parameters = operation
            .get_mut("parameters")
            .and_then(Value::as_array_mut);
        for parameter in parameters.into_iter().flatten() {
            let rule = SERVICE_PARAMETER_PATTERNS
                .iter()
                .find(|(name, _)| parameter["in"] == "path" && parameter["name"] == *name);
            if let Some((_, pattern)) = rule {
                parameter["schema"]["pattern"] = json!(pattern);
            }
        }
    }
    for (schema, member, pattern) in SERVICE_PATTERNS {
        let property = &mut doc["components"]["schemas"][schema]["properties"][member];
        if property.is_object() {
            property["pattern"] = json!(pattern);
        }
    }
    let roles: Vec<&str> = crate::service::roles::ROLES.iter().map(|r| r.id).collect();
    let schemas = &mut doc["components"]["schemas"];
    if schemas["NewUser"].is_object() {
        schemas["NewUser"]["properties"]["roles"]["items"]["enum"] = json!(roles);
        // `role` is optional, and `null` is accepted for it (nullable enums list null).
        let mut role: Vec<Value> = roles.iter().map(|r| json!(r)).collect();
        role.push(Value::Null);
        schemas["NewUser"]["properties"]["role"]["enum"] = Value::Array(role);
    }
    if schemas["ResetRequest"].is_object() {
        schemas["ResetRequest"]["properties"]["confirm"]["enum"] =
            json!([crate::service::identity::RESET_CONFIRMATION]);
    }
}

fn describe_inbox_body(doc: &mut Value) {
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut schemas: Map<String, Value> = schemas;
    schemas.insert("FederationEnvelope".into(), envelope_v2());
    schemas.insert("LegacyFederationEnvelope".into(), envelope_v1());
    doc["components"]["schemas"] = Value::Object(schemas);
    let body = &mut doc["paths"]["/federation/inbox"]["post"]["requestBody"];
    if let Some(content) = body["content"].as_object_mut() {
        for media in content.values_mut() {
            media["schema"] = json!({
                "oneOf": [
                    { "$ref": "#/components/schemas/FederationEnvelope" },
                    { "$ref": "#/components/schemas/LegacyFederationEnvelope" },
                ]
            });
        }
    }
}

fn envelope_v2() -> Value {
    json!({
        "type": "object",
        "title": "FederationEnvelope",
        "description": "A user-signed v2 message (federation.md §3). `signature` is the sender's \
            Ed25519 signature over the canonical JSON of every other member. Members other than \
            these are dropped before the body hash.",
        "required": ["protocol_version", "message_type", "from", "to", "nonce", "timestamp", "signature"],
        "properties": {
            "protocol_version": { "type": "integer", "enum": [2] },
            "message_type": {
                "type": "string",
                "enum": [
                    "FRIEND_INVITE", "FRIEND_ACCEPT", "FRIEND_REJECT", "RELATIONSHIP_REVOKE",
                    "LOCATION_UPDATE", "LOCATION_REQUEST", "RESOURCE_SHARE", "RESOURCE_UNSHARE",
                    "REALTIME_EVENT"
                ]
            },
            "message_version": { "type": "integer", "minimum": 1, "default": 1 },
            "type": {
                "type": "string",
                "description": "Optional, as in the seed's sample (the v1 name of the type). \
                    Not signed in v2 and never read there: `message_type` is the message's type.",
                "enum": [
                    "FRIEND_INVITE", "FRIEND_ACCEPT", "FRIEND_REJECT", "RELATIONSHIP_REVOKE",
                    "LOCATION_UPDATE", "LOCATION_REQUEST", "RESOURCE_SHARE", "RESOURCE_UNSHARE",
                    "REALTIME_EVENT"
                ]
            },
            "from": { "type": "string", "description": "Sender handle `alias@domain`.", "pattern": HANDLE_PATTERN },
            "to": { "type": "string", "description": "Recipient handle on this server.", "pattern": HANDLE_PATTERN },
            "nonce": { "type": "string", "minLength": 8, "maxLength": 64, "description": "Unique per sender: a (from, nonce) pair is accepted once." },
            "timestamp": { "type": "string", "format": "date-time", "description": "Within the server's maximum message age." },
            "payload": { "type": "object", "description": "Type-specific members, signed with the envelope." },
            "signature": { "type": "string", "description": "base64 Ed25519 signature (88 characters)." }
        }
    })
}

fn envelope_v1() -> Value {
    json!({
        "type": "object",
        "title": "LegacyFederationEnvelope",
        "description": "The original's v1 message, accepted only for FRIEND_INVITE, FRIEND_ACCEPT \
            and FRIEND_REJECT: the signature is over `JSON.stringify({type, ...sortedPayload})`; a \
            payload may not carry `type`, `from`, `to` or `timestamp`, and each (from, signature) \
            is accepted once.",
        "required": ["type", "from", "to", "timestamp", "signature"],
        "properties": {
            "type": { "type": "string", "enum": ["FRIEND_INVITE", "FRIEND_ACCEPT", "FRIEND_REJECT"] },
            "protocol_version": {
                "type": "number",
                "maximum": 1,
                "description": "Absent in the original's v1 messages; 2 or more makes it a v2 message."
            },
            "from": { "type": "string", "pattern": HANDLE_PATTERN },
            "to": { "type": "string", "pattern": HANDLE_PATTERN },
            "timestamp": { "type": "string", "format": "date-time" },
            "payload": { "type": "object" },
            "signature": { "type": "string" }
        }
    })
}

/// api.md §3: `alias@domain`, alias `[A-Za-z0-9_]{3,30}`.
const HANDLE_PATTERN: &str = "^[A-Za-z0-9_]{3,30}@[A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9](:[0-9]+)?$";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_read_like_the_path() {
        assert_eq!(
            operation_id("get", "/users/me/identity"),
            "getUsersMeIdentity"
        );
        assert_eq!(
            operation_id("delete", "/auth/sessions/{sessionId}"),
            "deleteAuthSessionsBySessionId"
        );
        assert_eq!(
            operation_id("get", "/.well-known/parchment-server"),
            "getWellKnownParchmentServer"
        );
        assert_eq!(
            operation_id("post", "/users/me/km-version/commit"),
            "postUsersMeKmVersionCommit"
        );
    }

    #[test]
    fn optional_members_become_nullable() {
        let mut schema = json!({
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": { "type": "string" },
                "alias": { "type": "string" },
                "role": { "$ref": "#/components/schemas/Role" }
            }
        });
        nullable_members(&mut schema);
        assert_eq!(schema["properties"]["id"], json!({ "type": "string" }));
        assert_eq!(schema["properties"]["alias"]["nullable"], true);
        assert_eq!(
            schema["properties"]["role"],
            json!({ "allOf": [{ "$ref": "#/components/schemas/Role" }], "nullable": true })
        );
    }
}
