//! Roles and permissions are defined in code (api.md §2); the database only stores which
//! roles a user holds.

use std::collections::BTreeSet;

pub struct Permission {
    pub id: &'static str,
    pub name: &'static str,
}

pub struct Role {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// `None` means every permission.
    pub permissions: Option<&'static [&'static str]>,
    /// A role whose permissions this one also grants (premium ⊃ basic, alpha ⊃ premium).
    pub inherits: Option<&'static str>,
}

pub const USERS_READ: &str = "users:read";
pub const USERS_CREATE: &str = "users:create";
pub const USERS_UPDATE: &str = "users:update";
pub const ROLES_READ: &str = "roles:read";
pub const PERMISSIONS_READ: &str = "permissions:read";
pub const LIBRARY_READ: &str = "library:read";
pub const LIBRARY_WRITE: &str = "library:write";
pub const SOCIAL_READ: &str = "social:read";
pub const SOCIAL_WRITE: &str = "social:write";
pub const LOCATION_SHARING: &str = "location:sharing";

pub const ADMIN: &str = "admin";
pub const USER: &str = "user";

pub const PERMISSIONS: &[Permission] = &[
    Permission {
        id: "users:read",
        name: "View all users",
    },
    Permission {
        id: "users:create",
        name: "Invite new user",
    },
    Permission {
        id: "users:update",
        name: "Update users",
    },
    Permission {
        id: "users:delete",
        name: "Delete users",
    },
    Permission {
        id: "roles:read",
        name: "View roles",
    },
    Permission {
        id: "roles:create",
        name: "Create roles",
    },
    Permission {
        id: "roles:write",
        name: "Edit roles",
    },
    Permission {
        id: "roles:delete",
        name: "Delete roles",
    },
    Permission {
        id: "permissions:read",
        name: "Read user permissions",
    },
    Permission {
        id: "system:read",
        name: "View system information",
    },
    Permission {
        id: "integrations:read:user",
        name: "View own integrations",
    },
    Permission {
        id: "integrations:write:user",
        name: "Manage own integrations",
    },
    Permission {
        id: "integrations:read:system",
        name: "View system integrations",
    },
    Permission {
        id: "integrations:write:system",
        name: "Manage system integrations",
    },
    Permission {
        id: "layers:read",
        name: "View layers",
    },
    Permission {
        id: "layers:write",
        name: "Edit layers",
    },
    Permission {
        id: "layers:delete",
        name: "Delete layers",
    },
    Permission {
        id: "search:auto_refresh",
        name: "Auto-refresh search",
    },
    Permission {
        id: "premium:data_providers",
        name: "Premium data providers",
    },
    Permission {
        id: "premium:layers",
        name: "Premium layers",
    },
    Permission {
        id: "premium:custom_maps",
        name: "Custom maps",
    },
    Permission {
        id: "premium:navigation",
        name: "Navigation",
    },
    Permission {
        id: "premium:location_sharing",
        name: "Premium location sharing",
    },
    Permission {
        id: "library:read",
        name: "Read library",
    },
    Permission {
        id: "library:write",
        name: "Edit library",
    },
    Permission {
        id: "social:read",
        name: "View friends",
    },
    Permission {
        id: "social:write",
        name: "Manage friends",
    },
    Permission {
        id: "sharing:read",
        name: "View shares",
    },
    Permission {
        id: "sharing:write",
        name: "Share",
    },
    Permission {
        id: "location:sharing",
        name: "Share location",
    },
    Permission {
        id: "notes:write",
        name: "Write notes",
    },
];

const BASIC: &[&str] = &[
    "library:read",
    "library:write",
    "social:read",
    "social:write",
    "sharing:read",
    "sharing:write",
    "location:sharing",
    "notes:write",
    "integrations:read:user",
    "integrations:write:user",
    "layers:read",
    "layers:write",
];

/// What premium adds to basic.
const PREMIUM: &[&str] = &[
    "layers:delete",
    "search:auto_refresh",
    "premium:data_providers",
    "premium:layers",
    "premium:custom_maps",
    "premium:navigation",
    "premium:location_sharing",
];

/// What alpha adds to premium.
const ALPHA: &[&str] = &[
    "users:read",
    "roles:read",
    "permissions:read",
    "integrations:read:system",
    "system:read",
    "users:create",
];

pub const ROLES: &[Role] = &[
    // The original grants `user` only the layer permissions yet lets it use blobs and
    // friends through routes it checks loosely; here every route is checked, so `user`
    // holds what its description promises: the basic set (own data, social features).
    Role {
        id: "user",
        name: "User",
        description: "Own data and social features",
        permissions: Some(BASIC),
        inherits: None,
    },
    Role {
        id: "basic",
        name: "Basic",
        description: "Library, sharing and social features",
        permissions: Some(BASIC),
        inherits: None,
    },
    Role {
        id: "premium",
        name: "Premium",
        description: "Basic plus premium features",
        permissions: Some(PREMIUM),
        inherits: Some("basic"),
    },
    Role {
        id: "alpha",
        name: "Alpha tester",
        description: "Premium plus read access to administration",
        permissions: Some(ALPHA),
        inherits: Some("premium"),
    },
    Role {
        id: "admin",
        name: "Administrator",
        description: "Every permission",
        permissions: None,
        inherits: None,
    },
];

pub fn role(id: &str) -> Option<&'static Role> {
    ROLES.iter().find(|r| r.id == id)
}

/// The union of the permissions of `roles` (unknown role ids grant nothing).
pub fn permissions_of<S: AsRef<str>>(roles: &[S]) -> BTreeSet<&'static str> {
    let mut set = BTreeSet::new();
    for role in roles.iter().filter_map(|r| role(r.as_ref())) {
        grant(role, &mut set);
    }
    set
}

fn grant(granted: &Role, set: &mut BTreeSet<&'static str>) {
    match granted.permissions {
        None => set.extend(PERMISSIONS.iter().map(|p| p.id)),
        Some(list) => set.extend(list.iter().copied()),
    }
    if let Some(parent) = granted.inherits.and_then(role) {
        grant(parent, set);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_permission_exists() {
        for role in ROLES {
            for p in role.permissions.unwrap_or_default() {
                assert!(PERMISSIONS.iter().any(|q| q.id == *p), "{p}");
            }
        }
        assert_eq!(PERMISSIONS.len(), 31);
        assert_eq!(permissions_of(&["admin"]).len(), 31);
        assert!(!permissions_of(&["user"]).contains(USERS_READ));
        assert!(permissions_of(&["alpha"]).contains(USERS_CREATE));
        // The api.md table: basic 12, premium = basic + 7, alpha = premium + 6.
        assert_eq!(permissions_of(&["basic"]).len(), 12);
        assert_eq!(permissions_of(&["premium"]).len(), 19);
        assert_eq!(permissions_of(&["alpha"]).len(), 25);
        assert!(permissions_of(&["alpha"]).contains("library:write"));
    }
}
