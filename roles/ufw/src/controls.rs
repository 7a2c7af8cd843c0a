//! The role's shell checks, as `.sh` files in `controls/`, and the audit's built-in controls
//! it stands behind: the seed's checklist for hosts no site gives this role (ids shared with
//! the role's own checks, which replace them where the site assigns the role).

use rampart_core::verify::{Check, Expect, SSHD_PORTS_FN};

/// `ufw.ssh-allowed`: every port sshd listens on has an allow rule (after [`SSHD_PORTS_FN`]).
pub(crate) const SSH_ALLOWED: &str = include_str!("controls/ssh_allowed.sh");
/// `ufw.only-allowed`: nothing allowed beyond the configuration (after [`SSHD_PORTS_FN`]).
pub(crate) const ONLY_ALLOWED: &str = include_str!("controls/only_allowed.sh");
/// The built-in `ufw.only-allowed`: only SSH and Tailscale (after [`SSHD_PORTS_FN`]).
const ONLY_ALLOWED_SEED: &str = include_str!("controls/only_allowed_seed.sh");

/// The audit's built-in ufw controls, in matrix order.
pub fn builtin() -> Vec<Check> {
    vec![
        Check {
            fact: None,
            id: "ufw.active".into(),
            title: "the ufw firewall is active".into(),
            command: "if command -v ufw >/dev/null 2>&1; then ufw status verbose 2>&1; else echo 'ufw is not installed'; fi".into(),
            expect: Expect::Contains("Status: active".into()),
        },
        Check {
            fact: None,
            id: "ufw.only-allowed".into(),
            title: "ufw lets in only SSH and Tailscale (41641/udp)".into(),
            command: [SSHD_PORTS_FN, ONLY_ALLOWED_SEED].concat(),
            expect: Expect::Line("ok".into()),
        },
    ]
}

#[cfg(test)]
mod tests {
    //! The scripts' branches, run under dash with fake commands (rampart-shtest).

    use super::*;
    use rampart_core::testing::{check_by_id, judged};
    use rampart_shtest::Sh;

    /// Runs a check as the probe does (SSH_CONNECTION as $1) and judges it.
    fn judge(sh: &Sh, c: &Check) -> (bool, String) {
        let out = sh.run_check(&c.command);
        let text = out.stdout_str();
        (judged(c, out.status, &text), text)
    }

    fn by_id(id: &str) -> Check {
        check_by_id(builtin(), id)
    }

    const STATUS: &str = "Status: active\n\nTo                         Action      From\n--                         ------      ----\n22/tcp                     ALLOW       Anywhere\n41641/udp                  ALLOW       Anywhere\n22/tcp (v6)                ALLOW       Anywhere (v6)\n";

    #[test]
    fn seed_only_allowed_fails_without_ufw_inactive_or_with_another_rule() {
        let Some(mut sh) = Sh::new() else { return };
        sh.bare_path();
        let c = by_id("ufw.only-allowed");
        let (pass, out) = judge(&sh, &c);
        assert!(!pass && out.contains("FAIL: ufw is not installed"), "{out}");

        sh.stub_output("sshd", 0, "port 22\nport 2222\n");
        sh.stub_output("ufw", 0, "Status: inactive\n");
        let (pass, out) = judge(&sh, &c);
        assert!(!pass && out.contains("FAIL: ufw is not active"), "{out}");

        sh.stub_output("ufw", 0, STATUS);
        let (pass, out) = judge(&sh, &c);
        assert!(pass, "{out}");
        assert!(out.contains("allowed: 22/tcp (v6)"), "{out}");

        sh.stub_output(
            "ufw",
            0,
            &format!("{STATUS}2222                       ALLOW       Anywhere\n8080/tcp                   ALLOW       Anywhere\n23/tcp                     DENY        Anywhere\n"),
        );
        let (pass, out) = judge(&sh, &c);
        assert!(!pass, "{out}");
        assert!(out.contains("FAIL unexpected: 8080/tcp"), "{out}");
        assert!(out.contains("allowed: 2222 "), "sshd's second port: {out}");
        assert!(out.contains("deny: 23/tcp"), "{out}");
    }

    #[test]
    fn ssh_allowed_fails_when_sshd_names_no_port() {
        let Some(sh) = Sh::new() else { return };
        sh.stub_output("sshd", 255, "");
        let c = Check {
            fact: None,
            id: "ufw.ssh-allowed".into(),
            title: String::new(),
            command: [SSHD_PORTS_FN, SSH_ALLOWED].concat(),
            expect: Expect::Lacks(vec!["FAIL".into()]),
        };
        let (pass, out) = judge(&sh, &c);
        assert!(
            !pass && out.contains("FAIL: sshd -T printed no port"),
            "{out}"
        );
        assert_eq!(sh.calls(), ["sshd -T"]);
    }
}
