//! The audit's built-in controls this role stands behind: the seed's checklist for hosts no
//! site gives this role (ids shared with the role's own checks, which replace them where the
//! site assigns the role). Each is `n/a` on a host without Docker.

use rampart_core::verify::{Check, Expect, check_command};

/// A daemon setting as `docker info --format "$2"` prints it.
const DOCKER_INFO: &str = include_str!("controls/docker_info.sh");

/// The audit's built-in Docker controls, in matrix order.
pub fn builtin() -> Vec<Check> {
    let info = |id: &str, title: &str, format: &str, expect: Expect| Check {
        fact: None,
        id: id.into(),
        title: title.into(),
        command: check_command(DOCKER_INFO, &[format]),
        expect,
    };
    vec![
        info(
            "docker.live-restore",
            "containers survive a daemon restart (live restore)",
            "Live Restore Enabled: {{.LiveRestoreEnabled}}",
            Expect::Line("Live Restore Enabled: true".into()),
        ),
        info(
            "docker.logging-driver",
            "containers log through json-file",
            "Logging Driver: {{.LoggingDriver}}",
            Expect::Line("Logging Driver: json-file".into()),
        ),
        info(
            "docker.no-new-privileges",
            "containers cannot gain privileges (no-new-privileges)",
            "{{json .SecurityOptions}}",
            Expect::Contains("no-new-privileges".into()),
        ),
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
    fn not_applicable_without_docker_and_the_format_reaches_docker_intact() {
        let Some(mut sh) = Sh::new() else { return };
        sh.bare_path();
        let c = by_id("docker.live-restore");
        let (pass, out) = judge(&sh, &c);
        assert!(
            !pass && out.starts_with("n/a: docker is not installed"),
            "{out}"
        );

        sh.stub_output("docker", 0, "Live Restore Enabled: false\n");
        let (pass, out) = judge(&sh, &c);
        assert!(!pass, "{out}");
        assert_eq!(
            sh.calls(),
            ["docker info --format Live Restore Enabled: {{.LiveRestoreEnabled}}"]
        );
        sh.stub_output("docker", 0, "Live Restore Enabled: true\n");
        assert!(judge(&sh, &c).0);
        // The daemon down: docker's error is the evidence, and the control fails.
        sh.stub_output("docker", 1, "Cannot connect to the Docker daemon\n");
        assert!(!judge(&sh, &by_id("docker.no-new-privileges")).0);
    }
}
