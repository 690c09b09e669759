//! Names of the seed-derived record keys (crypto.md D3–D5): `encryptRecord` / `decryptRecord`
//! take `"personal"` or `"metadata"`; `encryptCollectionRecord` / `decryptCollectionRecord`
//! take a kind, an id and a version as separate arguments. Pure parsing, tested on the host.
//!
//! Why separate arguments: a name built as `"collection:" + id` from a server-supplied id lets
//! the server steer which key is used (`abc:v2` would get collection `abc`'s version 2 key,
//! `route:r1` route r1's key), and once keys are wrapped for friends that is key disclosure.
//! Ids are therefore restricted to letters, digits, `-` and `_` (never `:`), so no id of one
//! kind can spell a label of another.

/// Which derived key a record is sealed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecordKey {
    /// `"personal"`: D3.
    Personal,
    /// `"metadata"`: D4.
    Metadata,
    /// D5 of `<prefix><id>` at `version` (the label the original derives).
    Collection {
        /// The D5 id: the collection id, or `canvas:`/`route:`/`route-body:` and the id.
        label_id: String,
        /// Key version, 1 or more (only collections have versions above 1).
        version: u32,
    },
}

/// The longest id accepted.
const MAX_ID: usize = 128;

impl RecordKey {
    /// `"personal"` or `"metadata"`.
    pub(crate) fn named(name: &str) -> Result<Self, String> {
        match name {
            "personal" => Ok(RecordKey::Personal),
            "metadata" => Ok(RecordKey::Metadata),
            _ => Err(format!(
                "unknown record key {name:?}: expected \"personal\" or \"metadata\" \
                 (collection, canvas and route keys: encryptCollectionRecord / \
                 decryptCollectionRecord with the id and version as separate arguments)"
            )),
        }
    }

    /// A collection-family key: `kind` is `collection`, `canvas`, `route` or `route-body`.
    pub(crate) fn collection(kind: &str, id: &str, version: u32) -> Result<Self, String> {
        let prefix = match kind {
            "collection" => "",
            "canvas" => "canvas:",
            "route" => "route:",
            "route-body" => "route-body:",
            _ => {
                return Err(format!(
                    "unknown key kind {kind:?}: expected \"collection\", \"canvas\", \"route\" \
                     or \"route-body\""
                ))
            }
        };
        if id.is_empty()
            || id.len() > MAX_ID
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "{kind} id {id:?}: must be 1-{MAX_ID} letters, digits, '-' or '_'"
            ));
        }
        if version == 0 {
            return Err("key version must be at least 1".to_owned());
        }
        if !prefix.is_empty() && version != 1 {
            return Err(format!("{kind} keys have no versions: version must be 1"));
        }
        Ok(RecordKey::Collection {
            label_id: format!("{prefix}{id}"),
            version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collection(label_id: &str, version: u32) -> Result<RecordKey, String> {
        Ok(RecordKey::Collection {
            label_id: label_id.to_owned(),
            version,
        })
    }

    #[test]
    fn names_and_kinds() {
        assert_eq!(RecordKey::named("personal"), Ok(RecordKey::Personal));
        assert_eq!(RecordKey::named("metadata"), Ok(RecordKey::Metadata));
        assert_eq!(
            RecordKey::collection("collection", "col-1", 3),
            collection("col-1", 3)
        );
        assert_eq!(
            RecordKey::collection("canvas", "cv-1", 1),
            collection("canvas:cv-1", 1)
        );
        assert_eq!(
            RecordKey::collection("route-body", "rt_1", 1),
            collection("route-body:rt_1", 1)
        );
    }

    #[test]
    fn names_a_server_could_steer_are_refused() {
        // The old string form is gone: no collection key through encryptRecord.
        assert!(RecordKey::named("collection:abc").is_err());
        // An id can never reach another id's version or another kind's label space.
        for id in [
            "abc:v2",
            "route:r1",
            "canvas:x",
            "a b",
            "",
            "é",
            &"x".repeat(129),
        ] {
            assert!(RecordKey::collection("collection", id, 1).is_err(), "{id}");
        }
        assert!(RecordKey::collection("collection", "x", 0)
            .unwrap_err()
            .contains("at least 1"));
        assert!(RecordKey::collection("canvas", "x", 2)
            .unwrap_err()
            .contains("no versions"));
        assert!(RecordKey::collection("personal", "x", 1).is_err());
    }
}
