//! An OpenAPI path template (`/users/{id}`) and how well a request path matches it.

/// One template, split into segments.
pub struct RouteTemplate {
    segments: Vec<Segment>,
}

enum Segment {
    Literal(String),
    Parameter,
}

impl RouteTemplate {
    /// Splits `template` at `/`; `{name}` segments match any one segment.
    pub fn parse(template: &str) -> RouteTemplate {
        RouteTemplate {
            segments: template
                .split('/')
                .map(|s| {
                    if s.starts_with('{') && s.ends_with('}') {
                        Segment::Parameter
                    } else {
                        Segment::Literal(s.to_owned())
                    }
                })
                .collect(),
        }
    }

    /// `Some(literal segments)` when `path` fits (one trailing slash ignored, as the
    /// router does); more literals is a better match (`/users/roles` over `/users/{id}`).
    pub fn score(&self, path: &str) -> Option<usize> {
        let path = path
            .strip_suffix('/')
            .filter(|p| !p.is_empty())
            .unwrap_or(path);
        let parts: Vec<&str> = path.split('/').collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut literals = 0;
        for (segment, part) in self.segments.iter().zip(&parts) {
            match segment {
                Segment::Literal(l) if l == part => literals += 1,
                Segment::Parameter if !part.is_empty() => {}
                _ => return None,
            }
        }
        Some(literals)
    }
}

/// The best-matching entry of `routes` for `path`.
pub fn best_match<'a, T>(routes: &'a [(RouteTemplate, T)], path: &str) -> Option<&'a T> {
    routes
        .iter()
        .filter_map(|(template, value)| template.score(path).map(|score| (score, value)))
        .max_by_key(|(score, _)| *score)
        .map(|(_, value)| value)
}
