//! The audit's built-in controls this role stands behind: the seed's checklist for hosts no
//! site gives this role (ids shared with the role's own checks, which replace them where the
//! site assigns the role).

use rampart_core::verify::{Check, SshdRead};

use crate::effective_check;

/// The audit's built-in sshd controls, in matrix order.
pub fn builtin() -> Vec<Check> {
    vec![
        effective_check(
            "sshd.permitrootlogin",
            "root cannot log in over SSH (PermitRootLogin no)",
            "permitrootlogin",
            SshdRead::Line,
            "permitrootlogin no",
        ),
        effective_check(
            "sshd.passwordauthentication",
            "SSH logins need a key, never a password (PasswordAuthentication no)",
            "passwordauthentication",
            SshdRead::Line,
            "passwordauthentication no",
        ),
    ]
}
