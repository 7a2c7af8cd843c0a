//! The audit's built-in controls this role stands behind: the seed's checklist for hosts no
//! site gives this role (ids shared with the role's own checks, which replace them where the
//! site assigns the role).

use rampart_core::verify::{Check, Expect};

/// The audit's built-in fail2ban controls, in matrix order.
pub fn builtin() -> Vec<Check> {
    vec![Check {
        fact: None,
        id: "fail2ban.sshd-jail".into(),
        title: "fail2ban's sshd jail is active".into(),
        command: "if command -v fail2ban-client >/dev/null 2>&1; then fail2ban-client status sshd 2>&1; else echo 'fail2ban is not installed'; fi".into(),
        expect: Expect::Contains("Status for the jail: sshd".into()),
    }]
}
