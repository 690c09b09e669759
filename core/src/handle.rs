//! Federated handles `alias@domain` (federation.md §1).

use std::cmp::Ordering;
use std::fmt;

use crate::canonical::cmp_utf16;

/// Errors of handle parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    /// Not exactly one `@`.
    #[error("handle must have the form alias@domain")]
    Shape,
    /// Alias outside `[A-Za-z0-9_]{3,30}`.
    #[error("alias must be 3–30 characters of A–Z, a–z, 0–9 and _")]
    Alias,
    /// Domain not a host name with an optional port.
    #[error("domain must be a host name with an optional :port")]
    Domain,
}

/// A parsed, validated handle.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Handle {
    alias: String,
    domain: String,
}

/// True if `alias` matches `^[A-Za-z0-9_]{3,30}$`.
pub fn is_valid_alias(alias: &str) -> bool {
    (3..=30).contains(&alias.len())
        && alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// True if `domain` matches `^[a-zA-Z0-9][a-zA-Z0-9.-]*[a-zA-Z0-9](:\d+)?$`.
pub fn is_valid_domain(domain: &str) -> bool {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    let bytes = host.as_bytes();
    bytes.len() >= 2
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'-')
}

impl Handle {
    /// Parses and validates `alias@domain`.
    pub fn parse(text: &str) -> Result<Self, HandleError> {
        let mut parts = text.split('@');
        let (Some(alias), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(HandleError::Shape);
        };
        if !is_valid_alias(alias) {
            return Err(HandleError::Alias);
        }
        if !is_valid_domain(domain) {
            return Err(HandleError::Domain);
        }
        Ok(Self {
            alias: alias.to_owned(),
            domain: domain.to_owned(),
        })
    }

    /// The alias.
    pub fn alias(&self) -> &str {
        &self.alias
    }

    /// The domain (`host[:port]`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// True if the handle's domain is `server_id`, compared case-insensitively (host names are).
    pub fn is_on(&self, server_id: &str) -> bool {
        self.domain.eq_ignore_ascii_case(server_id)
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.alias, self.domain)
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle({self})")
    }
}

/// The relationship id of two handles: `min::max` in JS string order (UTF-16 code units).
pub fn relationship_id(a: &str, b: &str) -> String {
    match cmp_utf16(a, b) {
        Ordering::Greater => format!("{b}::{a}"),
        _ => format!("{a}::{b}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_handles() {
        let h = Handle::parse("alice@a.example").unwrap();
        assert_eq!((h.alias(), h.domain()), ("alice", "a.example"));
        assert!(Handle::parse("bob_1@localhost:5099").is_ok());
        assert_eq!(Handle::parse("al@a.example"), Err(HandleError::Alias));
        assert_eq!(Handle::parse("alice@-a.example"), Err(HandleError::Domain));
        assert_eq!(Handle::parse("alice@a@b"), Err(HandleError::Shape));
        assert_eq!(Handle::parse("alice@a.example:"), Err(HandleError::Domain));
        assert!(Handle::parse("alice@A.Example").unwrap().is_on("a.example"));
    }

    #[test]
    fn relationship_ids_are_ordered() {
        assert_eq!(
            relationship_id("bob@b.example", "alice@a.example"),
            "alice@a.example::bob@b.example"
        );
    }
}
