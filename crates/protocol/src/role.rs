//! Roles: what a user may do at one site — the roles table of `docs/enrolment.md`. It is
//! enforced where a user cannot reach: the broker's ACL (`acl.rs`) lets each role write
//! only the command classes the table gives it, and a site keeps its own copy of the
//! table, refuses what a user's role does not allow, and publishes each user's role
//! (`…/roles/{user}`, [`RoleGrant`]) so that a device shows the role that holds. The core
//! checks the same table before anything is sent (`control.rs`), only to say no sooner.

use serde::{Deserialize, Serialize};

/// What a manager's role on a site allows: see the roles table in `docs/enrolment.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

/// Something a user can ask of a site (not to be confused with `control::Action`, the
/// verb of one command), for the permission check the core makes before
/// anything is sent (the broker's ACL enforces the coarse part of the same table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Switch an output of this kind.
    Output(crate::OutputKind),
    Acknowledge,
    ArmOrDisarm,
}

impl Role {
    /// The roles table of `docs/enrolment.md`: viewers only look; operators also sound the
    /// siren, switch the light and acknowledge alerts; admins also lock and unlock, switch
    /// relays and arm or disarm.
    pub fn may(self, permission: Permission) -> bool {
        use crate::OutputKind::{Light, Lock, Relay, Siren};
        match (self, permission) {
            (Role::Viewer, _) => false,
            (Role::Operator, Permission::Output(Siren | Light) | Permission::Acknowledge) => true,
            (Role::Operator, Permission::Output(Lock | Relay) | Permission::ArmOrDisarm) => false,
            (Role::Admin, _) => true,
        }
    }
}

/// `…/sites/{site}/roles/{user}`: the role a site gives a user, as the site enforces it.
/// Retained, QoS 1, published by the site; cleared (an empty payload) when the user has
/// none there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleGrant {
    pub v: u32,
    pub role: Role,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            _ => Err(format!("unknown role `{s}` (viewer, operator or admin)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_roles_table() {
        use crate::OutputKind::*;
        let all = [
            Permission::Output(Siren),
            Permission::Output(Light),
            Permission::Output(Lock),
            Permission::Output(Relay),
            Permission::Acknowledge,
            Permission::ArmOrDisarm,
        ];
        let allowed = |role: Role| all.iter().map(|a| role.may(*a)).collect::<Vec<_>>();
        assert_eq!(allowed(Role::Viewer), [false; 6]);
        assert_eq!(allowed(Role::Operator), [true, true, false, false, true, false]);
        assert_eq!(allowed(Role::Admin), [true; 6]);
    }
}
