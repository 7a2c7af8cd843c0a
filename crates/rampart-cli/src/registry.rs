//! The roles this binary knows, in the order `rampart roles` lists them and the audit's
//! built-in controls take their columns (ufw's before sshd's, as the seed's checklist has them).
//! The list is this crate's `rampart-role-*` dependencies in its Cargo.toml, in that order
//! (build.rs writes it): adding a role is one dependency line there.

use rampart_core::role::Role;

/// Every role, by name.
pub fn roles() -> Vec<Box<dyn Role>> {
    include!(concat!(env!("OUT_DIR"), "/roles.rs"))
}
