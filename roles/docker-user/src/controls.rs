//! The audit's built-in controls this role stands behind: the seed's checklist for hosts no
//! site gives this role (ids shared with the role's own checks, which replace them where the
//! site assigns the role).

use rampart_core::verify::{Check, Expect};

/// `docker-user.drop-last`: DOCKER-USER ends with the drop from the external interface.
const DROP_LAST: &str = include_str!("controls/drop_last.sh");

/// The audit's built-in DOCKER-USER controls, in matrix order.
pub fn builtin() -> Vec<Check> {
    vec![Check {
        fact: None,
        id: "docker-user.drop-last".into(),
        title: "DOCKER-USER ends by dropping traffic from the external interface to containers"
            .into(),
        command: DROP_LAST.into(),
        expect: Expect::Line("ok".into()),
    }]
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
    fn drop_last_needs_the_drop_from_the_default_interface_last() {
        let Some(mut sh) = Sh::new() else { return };
        sh.bare_path();
        let c = by_id("docker-user.drop-last");
        let (pass, out) = judge(&sh, &c);
        assert!(
            !pass && out.starts_with("n/a: docker is not installed"),
            "{out}"
        );

        sh.stub("docker", 0);
        sh.stub_output("ip", 0, "default via 10.213.1.1 dev eth0 proto static\n");
        sh.stub_output(
            "iptables",
            0,
            "-N DOCKER-USER\n-A DOCKER-USER -i eth0 -j DROP\n",
        );
        let (pass, out) = judge(&sh, &c);
        assert!(pass, "{out}");

        sh.stub_output("iptables", 0, "-N DOCKER-USER\n-A DOCKER-USER -j RETURN\n");
        let (pass, out) = judge(&sh, &c);
        assert!(
            !pass && out.contains("FAIL: expected -A DOCKER-USER -i eth0 -j DROP last"),
            "{out}"
        );

        sh.stub_output("ip", 0, "");
        let (pass, out) = judge(&sh, &c);
        assert!(!pass && out.contains("<no default route>"), "{out}");
    }
}
