//! Names of the seed-derived record keys, as `encryptRecord` / `decryptRecord` take them
//! (crypto.md D3–D5). Pure parsing, so it is tested on the host.

/// Which derived key a record is sealed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecordKey<'a> {
    /// `"personal"`: D3.
    Personal,
    /// `"metadata"`: D4.
    Metadata,
    /// `"collection:<id>"` (version 1) or `"collection:<id>:v<N>"`: D5. Canvas and route keys
    /// are collection keys of the ids `canvas:<id>`, `route:<id>` and `route-body:<id>`.
    Collection { id: &'a str, version: u32 },
}

const COLLECTION: &str = "collection:";

impl<'a> RecordKey<'a> {
    /// Parses a key name. A trailing `:v<digits>` is always the version, so an id that itself
    /// ends in `:v<digits>` must be written with its version (`collection:x:v2:v1`).
    pub(crate) fn parse(name: &'a str) -> Result<Self, String> {
        match name {
            "personal" => return Ok(RecordKey::Personal),
            "metadata" => return Ok(RecordKey::Metadata),
            _ => {}
        }
        let Some(rest) = name.strip_prefix(COLLECTION) else {
            return Err(format!(
                "unknown record key {name:?}: expected \"personal\", \"metadata\", \
                 \"collection:<id>\" or \"collection:<id>:v<N>\""
            ));
        };
        let (id, version) = match rest.rsplit_once(":v") {
            Some((id, digits))
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
            {
                let version = digits
                    .parse::<u32>()
                    .map_err(|_| format!("collection key version {digits} is out of range"))?;
                (id, version)
            }
            _ => (rest, 1),
        };
        if id.is_empty() {
            return Err(format!("record key {name:?} has an empty collection id"));
        }
        if version == 0 {
            return Err("collection key version must be at least 1".to_owned());
        }
        Ok(RecordKey::Collection { id, version })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(RecordKey::parse("personal"), Ok(RecordKey::Personal));
        assert_eq!(RecordKey::parse("metadata"), Ok(RecordKey::Metadata));
        assert_eq!(
            RecordKey::parse("collection:col-1"),
            Ok(RecordKey::Collection {
                id: "col-1",
                version: 1
            })
        );
        assert_eq!(
            RecordKey::parse("collection:col-1:v3"),
            Ok(RecordKey::Collection {
                id: "col-1",
                version: 3
            })
        );
        assert_eq!(
            RecordKey::parse("collection:canvas:cv-1"),
            Ok(RecordKey::Collection {
                id: "canvas:cv-1",
                version: 1
            })
        );
        assert_eq!(
            RecordKey::parse("collection:x:v2:v1"),
            Ok(RecordKey::Collection {
                id: "x:v2",
                version: 1
            })
        );
        // `:v` not followed by digits is part of the id.
        assert_eq!(
            RecordKey::parse("collection:route:vx"),
            Ok(RecordKey::Collection {
                id: "route:vx",
                version: 1
            })
        );
    }

    #[test]
    fn bad_names_say_why() {
        assert!(RecordKey::parse("Personal")
            .unwrap_err()
            .contains("unknown"));
        assert!(RecordKey::parse("collection:")
            .unwrap_err()
            .contains("empty"));
        assert!(RecordKey::parse("collection:x:v0")
            .unwrap_err()
            .contains("at least 1"));
        assert!(RecordKey::parse("collection:x:v99999999999")
            .unwrap_err()
            .contains("out of range"));
    }
}
