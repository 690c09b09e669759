//! The methods each API path answers, read from the OpenAPI document once: a request with
//! another method gets 405 and an `Allow` header naming them (RFC 9110 §15.5.6).

use poem::http::Method;

use crate::route_template::{best_match, RouteTemplate};

/// Path templates and the methods the document gives them.
pub struct AllowedMethods {
    routes: Vec<(RouteTemplate, Route)>,
}

/// One documented path: its template as written (`/users/{id}`) and its methods.
struct Route {
    template: String,
    methods: Vec<Method>,
}

impl AllowedMethods {
    /// From an OpenAPI document (JSON text); an unreadable one gives an empty table.
    pub fn from_spec(spec: &str) -> AllowedMethods {
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let mut routes = Vec::new();
        if let Some(paths) = doc["paths"].as_object() {
            for (template, operations) in paths {
                let mut methods: Vec<Method> = operations
                    .as_object()
                    .map(|ops| {
                        ops.keys()
                            .filter_map(|m| {
                                Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok()
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if methods.contains(&Method::GET) {
                    methods.push(Method::HEAD);
                }
                routes.push((
                    RouteTemplate::parse(template),
                    Route {
                        template: template.clone(),
                        methods,
                    },
                ));
            }
        }
        AllowedMethods { routes }
    }

    /// The methods `path` answers, `Allow`-formatted; `None` when no route has this path.
    pub fn allow(&self, path: &str) -> Option<String> {
        best_match(&self.routes, path).map(|route| {
            route
                .methods
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
    }
}

impl AllowedMethods {
    /// The documented template `path` falls under (`/users/{id}` for `/users/abc`): a label
    /// with a bounded set of values, for metrics.
    pub fn template(&self, path: &str) -> Option<&str> {
        best_match(&self.routes, path).map(|route| route.template.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_and_literals_win() {
        let table = AllowedMethods::from_spec(
            r#"{"paths": {
                "/users": {"get": {}, "post": {}},
                "/users/{id}": {"delete": {}},
                "/users/roles": {"get": {}}
            }}"#,
        );
        assert_eq!(table.allow("/users").as_deref(), Some("GET, POST, HEAD"));
        assert_eq!(table.allow("/users/").as_deref(), Some("GET, POST, HEAD"));
        assert_eq!(table.allow("/users/abc").as_deref(), Some("DELETE"));
        assert_eq!(table.allow("/users/roles").as_deref(), Some("GET, HEAD"));
        assert_eq!(table.allow("/nothing"), None);
        assert_eq!(table.template("/users/abc"), Some("/users/{id}"));
        assert_eq!(table.template("/nothing"), None);
    }
}
