//! The audit's built-in controls this role stands behind: the seed's checklist for hosts no
//! site gives this role (ids shared with the role's own checks, which replace them where the
//! site assigns the role).

use rampart_core::verify::{Check, Expect};

/// `unattended-upgrades.reboot-required`: no reboot is pending.
const REBOOT_REQUIRED: &str = include_str!("controls/reboot_required.sh");

/// The audit's built-in unattended-upgrades controls, in matrix order.
pub fn builtin() -> Vec<Check> {
    vec![
        Check {
            fact: None,
            id: "unattended-upgrades.service".into(),
            title: "unattended-upgrades is running".into(),
            command: "systemctl is-active unattended-upgrades.service 2>&1".into(),
            expect: Expect::Equals("active".into()),
        },
        Check {
            fact: None,
            id: "unattended-upgrades.enabled".into(),
            title: "apt refreshes its lists and runs unattended-upgrade every day".into(),
            command: "eval \"$(apt-config shell L APT::Periodic::Update-Package-Lists U APT::Periodic::Unattended-Upgrade)\"; \
             echo \"Update-Package-Lists=$L Unattended-Upgrade=$U\"".into(),
            expect: Expect::Equals("Update-Package-Lists=1 Unattended-Upgrade=1".into()),
        },
        Check {
            fact: None,
            id: "unattended-upgrades.reboot-required".into(),
            title: "no reboot is pending".into(),
            command: REBOOT_REQUIRED.into(),
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

    #[test]
    fn enabled_reads_both_periodic_settings() {
        let Some(sh) = Sh::new() else { return };
        let c = by_id("unattended-upgrades.enabled");
        sh.stub_output("apt-config", 0, "L='1'\nU='1'\n");
        let (pass, out) = judge(&sh, &c);
        assert!(pass, "{out}");
        sh.stub_output("apt-config", 0, "L='1'\nU='0'\n");
        let (pass, out) = judge(&sh, &c);
        assert!(!pass && out.contains("Unattended-Upgrade=0"), "{out}");
    }
}
