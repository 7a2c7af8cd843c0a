//! The audit's built-in controls this role stands behind: the seed's checklist for hosts no
//! site gives this role (ids shared with the role's own checks, which replace them where the
//! site assigns the role). Each is `n/a` on a host without Docker.

use rampart_core::verify::{Check, Expect, check_command};

/// The daemon's security options as `docker info --format "$2"` prints them.
const DOCKER_INFO: &str = include_str!("controls/docker_info.sh");

/// The audit's built-in Docker controls, in matrix order.
pub fn builtin() -> Vec<Check> {
    // the two settings the role checks too: one run of `checks/settings.sh` for both
    let setting = |id: &str, title: &str, expect: Expect| Check {
        fact: None,
        id: id.into(),
        title: title.into(),
        command: check_command(&crate::settings_script(), &[]),
        expect,
    };
    vec![
        setting(
            "docker.live-restore",
            "containers survive a daemon restart (live restore)",
            Expect::Line("Live Restore Enabled: true".into()),
        ),
        setting(
            "docker.logging-driver",
            "containers log through json-file",
            Expect::Line("Logging Driver: json-file".into()),
        ),
        Check {
            fact: None,
            id: "docker.no-new-privileges".into(),
            title: "containers cannot gain privileges (no-new-privileges)".into(),
            command: check_command(DOCKER_INFO, &["{{json .SecurityOptions}}"]),
            expect: Expect::Contains("no-new-privileges".into()),
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

    /// What the daemon's API answers (compact JSON, as dockerd sends it), cut to what matters.
    const INFO: &str = r#"{"ID":"X","Labels":["\"LoggingDriver\":\"none\""],"LoggingDriver":"json-file","CgroupDriver":"systemd","Runtimes":{"LiveRestoreEnabled":{"path":"x"}},"LiveRestoreEnabled":true,"SecurityOptions":["name=seccomp,profile=builtin"]}"#;

    #[test]
    fn not_applicable_without_docker_and_the_daemon_is_asked_once_through_its_socket() {
        let Some(mut sh) = Sh::new() else { return };
        sh.bare_path();
        // curl answers (perl finds no daemon's socket there)
        let nowhere = sh.path("no-docker.sock");
        sh.env("rampart_docker_sock", &nowhere);
        let c = by_id("docker.live-restore");
        let (pass, out) = judge(&sh, &c);
        assert!(
            !pass && out.starts_with("n/a: docker is not installed"),
            "{out}"
        );

        // curl answers from the socket: docker's CLI is never started, and a label that
        // spells a key inside a string cannot stand in for it.
        sh.stub("docker", 0);
        sh.stub_output("curl", 0, INFO);
        let (pass, out) = judge(&sh, &c);
        assert!(pass, "{out}");
        assert_eq!(
            out.trim(),
            "Logging Driver: json-file\nLive Restore Enabled: true"
        );
        assert!(judge(&sh, &by_id("docker.logging-driver")).0);
        assert_eq!(
            sh.calls()[0],
            "curl -sf --max-time 10 --unix-socket /var/run/docker.sock http://localhost/info"
        );
        assert!(sh.calls().iter().all(|c| c.starts_with("curl ")));
        // both controls run the same code, so the probe runs it once for the two
        assert_eq!(
            by_id("docker.live-restore").command,
            by_id("docker.logging-driver").command
        );
        sh.stub_output(
            "curl",
            0,
            &INFO.replace(
                "\"LiveRestoreEnabled\":true",
                "\"LiveRestoreEnabled\":false",
            ),
        );
        assert!(!judge(&sh, &c).0);
        // A label holding a comma and forged keys, a glob in a value: none stands in.
        sh.stub_output(
            "curl",
            0,
            &INFO.replace(
                r#""Labels":["#,
                r#""Name":"*","Labels":["a,\"LiveRestoreEnabled\":false,\"LoggingDriver\":\"none\"","#,
            ),
        );
        let (pass, out) = judge(&sh, &c);
        assert!(pass, "{out}");
        assert_eq!(
            out.trim(),
            "Logging Driver: json-file\nLive Restore Enabled: true"
        );

        // The socket does not answer (curl fails, or says nothing we know): docker info
        // answers, and its error is the evidence.
        for (rc, body) in [(7, ""), (0, "{}")] {
            sh.clear_calls();
            sh.stub_output("curl", rc, body);
            sh.stub_output(
                "docker",
                0,
                "Logging Driver: json-file\nLive Restore Enabled: true\n",
            );
            assert!(judge(&sh, &c).0);
            assert_eq!(
                sh.calls().last().map(String::as_str),
                Some(
                    "docker info --format Logging Driver: {{.LoggingDriver}}{{println}}Live Restore Enabled: {{.LiveRestoreEnabled}}"
                )
            );
        }
        sh.stub_output("docker", 1, "Cannot connect to the Docker daemon\n");
        let (pass, out) = judge(&sh, &c);
        assert!(!pass && out.contains("Cannot connect"), "{out}");
    }

    #[test]
    fn no_new_privileges_reaches_docker_info_intact() {
        let Some(mut sh) = Sh::new() else { return };
        sh.bare_path();
        let c = by_id("docker.no-new-privileges");
        sh.stub_output("docker", 0, "[\"name=seccomp,profile=builtin\"]\n");
        assert!(!judge(&sh, &c).0);
        assert_eq!(
            sh.calls(),
            ["docker info --format {{json .SecurityOptions}}"]
        );
        sh.stub_output(
            "docker",
            0,
            "[\"name=seccomp,profile=builtin\",\"name=no-new-privileges\"]\n",
        );
        assert!(judge(&sh, &c).0);
        // The daemon down: docker's error is the evidence, and the control fails.
        sh.stub_output("docker", 1, "Cannot connect to the Docker daemon\n");
        assert!(!judge(&sh, &c).0);
    }
}
