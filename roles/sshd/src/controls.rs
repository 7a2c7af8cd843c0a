//! The audit's built-in controls this role stands behind: the seed's checklist for hosts no
//! site gives this role (ids shared with the role's own checks, which replace them where the
//! site assigns the role).

use rampart_core::verify::{Check, Expect};

/// The audit's built-in sshd controls, in matrix order.
pub fn builtin() -> Vec<Check> {
    vec![
        Check {
            fact: None,
            id: "sshd.permitrootlogin".into(),
            title: "root cannot log in over SSH (PermitRootLogin no)".into(),
            command: "out=$(sshd -T 2>&1); printf '%s\\n' \"$out\" | grep -E '^permitrootlogin ' || printf '%s\\n' \"$out\" | tail -n 3".into(),
            expect: Expect::Line("permitrootlogin no".into()),
        },
        Check {
            fact: None,
            id: "sshd.passwordauthentication".into(),
            title: "SSH logins need a key, never a password (PasswordAuthentication no)".into(),
            command: "out=$(sshd -T 2>&1); printf '%s\\n' \"$out\" | grep -E '^passwordauthentication ' || printf '%s\\n' \"$out\" | tail -n 3".into(),
            expect: Expect::Line("passwordauthentication no".into()),
        },
    ]
}
