//! The roles this binary knows, in the order `rampart roles` lists them and the audit's
//! built-in controls take their columns (ufw's before sshd's, as the seed's checklist has them).
//! Adding a role is one line here.

use rampart_core::role::Role;

/// Every role, by name.
pub fn roles() -> Vec<Box<dyn Role>> {
    vec![
        rampart_role_base::role(),
        rampart_role_ufw::role(),
        rampart_role_sshd::role(),
        rampart_role_fail2ban::role(),
        rampart_role_unattended_upgrades::role(),
        rampart_role_docker::role(),
        rampart_role_docker_user::role(),
        rampart_role_swap_sysctl::role(),
        rampart_role_redis_acl::role(),
        rampart_role_service_hardening::role(),
        rampart_role_custom::role(),
        rampart_role_baseline::role(),
    ]
}
