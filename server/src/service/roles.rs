//! Roles and permissions are defined in code (api.md §2); the database only stores which
//! roles a user holds.

use std::collections::BTreeSet;

/// A permission a role can grant.
pub struct Permission {
    /// e.g. `users:read`.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
}

impl Permission {
    /// The permission `id`, shown as `name`.
    pub const fn new(id: &'static str, name: &'static str) -> Self {
        Permission { id, name }
    }
}

/// A built-in role.
pub struct Role {
    /// e.g. `user`.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// What the role is for.
    pub description: &'static str,
    /// `None` means every permission.
    pub permissions: Option<&'static [&'static str]>,
    /// A role whose permissions this one also grants (premium ⊃ basic, alpha ⊃ premium).
    pub inherits: Option<&'static str>,
}

/// List users.
pub const USERS_READ: &str = "users:read";
/// Create (invite) users.
pub const USERS_CREATE: &str = "users:create";
/// Give new users roles other than `user` that the inviter does not hold.
pub const USERS_UPDATE: &str = "users:update";
/// List the roles.
pub const ROLES_READ: &str = "roles:read";
/// List the permissions.
pub const PERMISSIONS_READ: &str = "permissions:read";
/// Read one's own blobs and collections.
pub const LIBRARY_READ: &str = "library:read";
/// Write one's own blobs and collections.
pub const LIBRARY_WRITE: &str = "library:write";
/// See one's friends, invitations, outbox and push events; look users up.
pub const SOCIAL_READ: &str = "social:read";
/// Invite, answer, remove and message friends.
pub const SOCIAL_WRITE: &str = "social:write";
/// Share one's live location with friends and see theirs.
pub const LOCATION_SHARING: &str = "location:sharing";
/// See what friends shared (`/sharing/incoming`).
pub const SHARING_READ: &str = "sharing:read";
/// Accept, decline or remove what friends shared.
pub const SHARING_WRITE: &str = "sharing:write";

/// The role with every permission.
pub const ADMIN: &str = "admin";
/// The role a new user gets when none is named.
pub const USER: &str = "user";

/// Every permission there is.
pub const PERMISSIONS: &[Permission] = &[
    Permission::new("users:read", "View all users"),
    Permission::new("users:create", "Invite new user"),
    Permission::new("users:update", "Update users"),
    Permission::new("users:delete", "Delete users"),
    Permission::new("roles:read", "View roles"),
    Permission::new("roles:create", "Create roles"),
    Permission::new("roles:write", "Edit roles"),
    Permission::new("roles:delete", "Delete roles"),
    Permission::new("permissions:read", "Read user permissions"),
    Permission::new("system:read", "View system information"),
    Permission::new("integrations:read:user", "View own integrations"),
    Permission::new("integrations:write:user", "Manage own integrations"),
    Permission::new("integrations:read:system", "View system integrations"),
    Permission::new("integrations:write:system", "Manage system integrations"),
    Permission::new("layers:read", "View layers"),
    Permission::new("layers:write", "Edit layers"),
    Permission::new("layers:delete", "Delete layers"),
    Permission::new("search:auto_refresh", "Auto-refresh search"),
    Permission::new("premium:data_providers", "Premium data providers"),
    Permission::new("premium:layers", "Premium layers"),
    Permission::new("premium:custom_maps", "Custom maps"),
    Permission::new("premium:navigation", "Navigation"),
    Permission::new("premium:location_sharing", "Premium location sharing"),
    Permission::new("library:read", "Read library"),
    Permission::new("library:write", "Edit library"),
    Permission::new("social:read", "View friends"),
    Permission::new("social:write", "Manage friends"),
    Permission::new("sharing:read", "View shares"),
    Permission::new("sharing:write", "Share"),
    Permission::new("location:sharing", "Share location"),
    Permission::new("notes:write", "Write notes"),
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

/// Every role there is.
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

/// The role with this id.
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
