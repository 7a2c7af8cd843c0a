//! The audit's built-in controls this role stands behind: the seed's checklist for hosts no
//! site gives this role (ids shared with the role's own checks, which replace them where the
//! site assigns the role).

use rampart_core::verify::{Check, Expect, check_command};

/// The role's own `swap.active`: its swap file is in use.
pub(crate) const SWAP_FILE_ACTIVE: &str = include_str!("controls/swap_file_active.sh");
/// `swap.active`: swap is on (`n/a` in a container).
const SWAP_ACTIVE: &str = include_str!("controls/swap_active.sh");
/// The role's own `sysctl.KEY`: a parameter it sets has its value (the machine's, passing,
/// for a kernel-wide key in a container).
pub(crate) const SYSCTL_IS: &str = concat!(
    include_str!("controls/machine_kernel.sh"),
    include_str!("controls/sysctl_is.sh")
);
/// `sysctl.KEY`: a kernel parameter within a bound.
const SYSCTL_BOUND: &str = concat!(
    include_str!("controls/machine_kernel.sh"),
    include_str!("controls/sysctl_bound.sh")
);

/// The audit's built-in swap and kernel-parameter controls, in matrix order.
pub fn builtin() -> Vec<Check> {
    let mut out = vec![Check {
        fact: None,
        id: "swap.active".into(),
        title: "swap is on".into(),
        command: SWAP_ACTIVE.into(),
        expect: Expect::Line("ok".into()),
    }];
    // The seed's kernel parameters, as bounds: more connections or files than the seed asks
    // for is as good, a lower swappiness too. The role's own checks want its exact values.
    for (key, op, value, title) in [
        (
            "vm.swappiness",
            "<=",
            "10",
            "the kernel prefers RAM to swap (vm.swappiness at most 10)",
        ),
        (
            "net.core.somaxconn",
            ">=",
            "1024",
            "listen queues hold at least 1024 connections (net.core.somaxconn)",
        ),
        (
            "net.ipv4.tcp_max_syn_backlog",
            ">=",
            "1024",
            "at least 1024 half-open connections are queued (net.ipv4.tcp_max_syn_backlog)",
        ),
        (
            "fs.file-max",
            ">=",
            "100000",
            "the kernel allows at least 100000 open files (fs.file-max)",
        ),
    ] {
        let test = if op == "<=" { "le" } else { "ge" };
        out.push(Check {
            fact: None,
            id: format!("sysctl.{key}"),
            title: title.into(),
            command: check_command(SYSCTL_BOUND, &[key, test, value, op]),
            expect: Expect::Line("ok".into()),
        });
    }
    out
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
    fn sysctl_bounds_fail_on_the_wrong_side_and_on_no_number() {
        let Some(sh) = Sh::new() else { return };
        let swappiness = by_id("sysctl.vm.swappiness");
        let somaxconn = by_id("sysctl.net.core.somaxconn");
        sh.stub("systemd-detect-virt", 1);
        for (c, value, want) in [
            (&swappiness, "10", true),
            (&swappiness, "1", true),
            (&swappiness, "60", false),
            (&somaxconn, "4096", true),
            (&somaxconn, "1024", true),
            (&somaxconn, "128", false),
            (&somaxconn, "", false),
            (&somaxconn, "sysctl: cannot stat /proc/sys/x", false),
        ] {
            sh.stub_output("sysctl", 0, &format!("{value}\n"));
            let (pass, out) = judge(&sh, c);
            assert_eq!(pass, want, "{} = {value:?}: {out}", c.id);
        }
        sh.stub_output("sysctl", 0, "60\n");
        let (_, out) = judge(&sh, &swappiness);
        assert!(
            out.contains("vm.swappiness = 60\nFAIL: want <= 10"),
            "{out}"
        );
        sh.stub_output("sysctl", 0, "x\n");
        let (_, out) = judge(&sh, &swappiness);
        assert!(out.contains("FAIL: not a number"), "{out}");
        assert!(
            sh.calls()
                .iter()
                .filter(|c| !c.starts_with("systemd-detect-virt"))
                .all(|c| c == "sysctl -n vm.swappiness" || c == "sysctl -n net.core.somaxconn"),
            "{:?}",
            sh.calls()
        );
    }

    #[test]
    fn swap_is_not_applicable_in_a_container_and_fails_when_off() {
        let Some(sh) = Sh::new() else { return };
        let c = by_id("swap.active");
        sh.stub_body(
            "systemd-detect-virt",
            "[ \"$1\" = -cq ] && exit 0; echo systemd-nspawn",
        );
        let (_, out) = judge(&sh, &c);
        assert!(
            out.starts_with("n/a: in a container (systemd-nspawn)"),
            "{out}"
        );

        sh.stub("systemd-detect-virt", 1);
        sh.stub_output("swapon", 0, "");
        let (pass, out) = judge(&sh, &c);
        assert!(!pass && out.contains("FAIL: no swap is active"), "{out}");

        sh.stub_output("swapon", 0, "/swapfile\n");
        assert!(judge(&sh, &c).0);
    }

    #[test]
    fn kernel_wide_bounds_are_not_applicable_in_a_container_net_keys_still_count() {
        let Some(sh) = Sh::new() else { return };
        sh.stub_body(
            "systemd-detect-virt",
            "[ \"$1\" = -cq ] && exit 0; echo systemd-nspawn",
        );
        sh.stub_output("sysctl", 0, "60\n");
        let (_, out) = judge(&sh, &by_id("sysctl.vm.swappiness"));
        assert!(
            out.starts_with(
                "n/a: in a container (systemd-nspawn), vm.swappiness is the machine's kernel's"
            ),
            "{out}"
        );
        sh.stub_output("sysctl", 0, "128\n");
        let (pass, out) = judge(&sh, &by_id("sysctl.net.core.somaxconn"));
        assert!(!pass && out.contains("FAIL: want >= 1024"), "{out}");
    }

    /// The role's own sysctl checks: the script and the fact answer agree on every branch.
    #[test]
    fn the_roles_sysctl_check_script_and_fact_answer_agree() {
        use rampart_core::facts::Facts;
        use rampart_core::role::Configured;
        let Some(sh) = Sh::new() else { return };
        let checks = crate::Config::default().checks();
        let by = |id: &str| checks.iter().find(|c| c.id == id).cloned().expect(id);
        let (vm, net) = (by("sysctl.vm.swappiness"), by("sysctl.net.core.somaxconn"));
        // (check, container?, live value or None for a missing key, pass)
        for (c, container, value, want) in [
            (&vm, false, Some("10"), true),
            (&vm, false, Some("60"), false),
            (&vm, false, None, false),
            (&vm, true, Some("60"), true),
            (&net, true, Some("1024"), true),
            (&net, true, Some("4096"), false),
        ] {
            if container {
                sh.stub_body(
                    "systemd-detect-virt",
                    "[ \"$1\" = -cq ] && exit 0; echo systemd-nspawn",
                );
            } else {
                sh.stub("systemd-detect-virt", 1);
            }
            match value {
                Some(v) => {
                    sh.stub_output("sysctl", 0, &format!("{v}\n"));
                }
                None => {
                    sh.stub("sysctl", 255);
                }
            }
            let (pass, out) = judge(&sh, c);
            assert_eq!(pass, want, "{} {container} {value:?}: {out}", c.id);
            let mut facts = Facts::default();
            facts.host.virt = if container { "systemd-nspawn" } else { "none" }.into();
            let key = c.id.trim_start_matches("sysctl.");
            facts.sysctls.insert(key.into(), value.map(str::to_owned));
            let v = c.judge_facts(&facts);
            assert_eq!(
                v.pass, want,
                "facts: {} {container} {value:?}: {}",
                c.id, v.evidence
            );
            assert_eq!(
                v.evidence.trim(),
                out.trim(),
                "{} {container} {value:?}",
                c.id
            );
        }
    }
}
