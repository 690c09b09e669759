//! Strict JSON types for every request body, checked once at the edge against the OpenAPI
//! document: poem-openapi's `String` accepts JSON numbers and booleans (`{"firstName": 5}`
//! would store `"5"`), so a body whose value has another JSON type than its schema declares
//! is refused with 422 naming the field, before any handler sees it.

use poem::http::Method;
use serde_json::{Map, Value};

use crate::route_template::{best_match, RouteTemplate};

/// Each operation's request body schema, with the document's component schemas.
pub struct StrictJson {
    routes: Vec<(RouteTemplate, Vec<(Method, Value)>)>,
    components: Map<String, Value>,
}

/// Refs nest (objects of arrays of objects); the document's own depth is far below this.
const MAX_DEPTH: usize = 32;

impl StrictJson {
    /// The checks for the OpenAPI document `spec` (JSON); nothing is checked when it does not
    /// parse.
    pub fn from_spec(spec: &str) -> StrictJson {
        let mut doc: Value = serde_json::from_str(spec).unwrap_or_default();
        let components = match doc["components"]["schemas"].take() {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let mut routes = Vec::new();
        if let Some(paths) = doc["paths"].as_object() {
            for (template, operations) in paths {
                let mut bodies = Vec::new();
                for (method, operation) in operations.as_object().into_iter().flatten() {
                    let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                    else {
                        continue;
                    };
                    let content = &operation["requestBody"]["content"];
                    let schema = content
                        .as_object()
                        .and_then(|c| {
                            c.iter()
                                .find(|(media, _)| media.starts_with("application/json"))
                        })
                        .map(|(_, c)| c["schema"].clone());
                    if let Some(schema) = schema {
                        bodies.push((method, schema));
                    }
                }
                routes.push((RouteTemplate::parse(template), bodies));
            }
        }
        StrictJson { routes, components }
    }

    /// Whether the operation at (`method`, `path`) takes a JSON body with a schema.
    pub fn has_schema(&self, method: &Method, path: &str) -> bool {
        self.schema(method, path).is_some()
    }

    fn schema(&self, method: &Method, path: &str) -> Option<&Value> {
        best_match(&self.routes, path)
            .and_then(|bodies| bodies.iter().find(|(m, _)| m == method))
            .map(|(_, schema)| schema)
    }

    /// `Err(message)` when `body` (JSON) holds a value of the wrong JSON type for its
    /// field. Bodies that are not JSON, and paths without a schema, are left to the router.
    pub fn check(&self, method: &Method, path: &str, body: &[u8]) -> Result<(), String> {
        let Some(schema) = self.schema(method, path) else {
            return Ok(());
        };
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return Ok(());
        };
        self.walk(schema, &value, "", 0)
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(r) => r
                .strip_prefix("#/components/schemas/")
                .and_then(|name| self.components.get(name))
                .unwrap_or(&Value::Null),
            None => schema,
        }
    }

    fn walk(&self, schema: &Value, value: &Value, field: &str, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Ok(());
        }
        let schema = self.resolve(schema);
        // poem-openapi wraps a described `$ref` in `allOf: [ref]`.
        if let Some(all) = schema["allOf"].as_array() {
            for part in all {
                self.walk(part, value, field, depth + 1)?;
            }
        }
        if value.is_null() {
            return Ok(()); // absent-or-null is the handler's call (Option fields)
        }
        let declared = schema["type"].as_str();
        let fits = match declared {
            Some("string") => value.is_string(),
            Some("integer") => value.is_i64() || value.is_u64(),
            Some("number") => value.is_number(),
            Some("boolean") => value.is_boolean(),
            Some("array") => value.is_array(),
            Some("object") => value.is_object(),
            _ => true,
        };
        if !fits {
            let name = if field.is_empty() { "body" } else { field };
            return Err(format!(
                "{name}: expected {}, got {}",
                article(declared.unwrap_or("value")),
                json_type(value)
            ));
        }
        match value {
            Value::Object(members) => {
                if let Some(properties) = schema["properties"].as_object() {
                    for (key, member) in members {
                        if let Some(property) = properties.get(key) {
                            self.walk(property, member, &join(field, key), depth + 1)?;
                        }
                    }
                }
                if let Some(extra) = schema.get("additionalProperties").filter(|s| s.is_object()) {
                    for (key, member) in members {
                        self.walk(extra, member, &join(field, key), depth + 1)?;
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.walk(item_schema, item, &format!("{field}[{i}]"), depth + 1)?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn join(field: &str, key: &str) -> String {
    if field.is_empty() {
        key.to_owned()
    } else {
        format!("{field}.{key}")
    }
}

fn article(kind: &str) -> String {
    match kind {
        "integer" | "object" | "array" => format!("an {kind}"),
        other => format!("a {other}"),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> StrictJson {
        StrictJson::from_spec(
            r##"{
              "paths": {"/users": {"post": {"requestBody": {"content": {
                "application/json; charset=utf-8": {"schema": {"$ref": "#/components/schemas/NewUser"}}}}}}},
              "components": {"schemas": {
                "NewUser": {"type": "object", "properties": {
                  "email": {"type": "string"},
                  "roles": {"type": "array", "items": {"type": "string"}},
                  "limit": {"type": "integer"},
                  "prefs": {"allOf": [{"$ref": "#/components/schemas/Prefs"}]}}},
                "Prefs": {"type": "object", "properties": {"dark": {"type": "boolean"}}}}}
            }"##,
        )
    }

    #[test]
    fn wrong_json_types_are_named() {
        let t = table();
        let check = |body: &str| t.check(&Method::POST, "/users", body.as_bytes());
        assert_eq!(check(r#"{"email": "a@b.c", "roles": ["user"]}"#), Ok(()));
        assert_eq!(check(r#"{"email": null}"#), Ok(()));
        assert_eq!(
            check(r#"{"email": 5}"#),
            Err("email: expected a string, got a number".into())
        );
        assert_eq!(
            check(r#"{"roles": ["user", true]}"#),
            Err("roles[1]: expected a string, got a boolean".into())
        );
        assert_eq!(
            check(r#"{"limit": 12.5}"#),
            Err("limit: expected an integer, got a number".into())
        );
        assert_eq!(
            check(r#"{"prefs": {"dark": "yes"}}"#),
            Err("prefs.dark: expected a boolean, got a string".into())
        );
        assert_eq!(
            check(r#"[1]"#),
            Err("body: expected an object, got an array".into())
        );
        // Other methods and paths, and non-JSON bodies, are not this check's business.
        assert_eq!(t.check(&Method::GET, "/users", b"{\"email\": 5}"), Ok(()));
        assert_eq!(t.check(&Method::POST, "/users", b"not json"), Ok(()));
    }
}
