//! The audit's built-in controls: the seeds' verification checklist as read-only checks, for
//! hosts (or whole fleets) that no site configures, plus host-wide controls no role owns.
//! Each role keeps its own built-ins in its folder (`roles/NAME/src/controls.rs`,
//! [`rampart_core::role::Role::builtin_checks`]); this module collects them from the registry and adds the
//! `host.*` set.
//!
//! A built-in control carries the id of the role control it stands in for (`ufw.active`,
//! `sshd.permitrootlogin`, ...), so a matrix column means the same thing whether a site assigns
//! the role or not. When the site assigns that role to a host, the role's own, configuration-
//! aware checks replace the built-ins of that role on that host (the site may, say, allow a
//! port the seed does not). Controls no role owns are `host.*`.
//!
//! Every command here is read-only, runs as root in `sh` (dash), and ends its output with a
//! verdict of its own (`ok`, a `FAIL` line, or an expected value) rather than relying on its
//! exit status. A command may print `n/a: why` alone when the control does not apply to the host
//! (no Docker installed): the audit then leaves that cell empty instead of passing it.

use rampart_core::verify::{Check, DOCKER_API_FN, Expect, FactQuery, SSHD_PORTS_FN};

use crate::registry;

/// The output that marks a built-in control as not applicable on a host.
pub const NOT_APPLICABLE: &str = "n/a:";

/// A built-in control and the role whose own checks replace it.
#[derive(Debug, Clone)]
pub struct BuiltIn {
    /// The role that supersedes this control on hosts it is assigned to (None: no role does).
    pub role: Option<&'static str>,
    /// The check.
    pub check: Check,
}

/// The controls no role owns, `host.*`, as `.sh` files in `host/`.
mod host {
    /// `host.listeners-local` (after `SSHD_PORTS_FN`).
    pub const LISTENERS_LOCAL: &str = include_str!("host/listeners_local.sh");
    /// `host.container-ports-local`.
    pub const CONTAINER_PORTS_LOCAL: &str = include_str!("host/container_ports_local.sh");
    /// `host.env-files`.
    pub const ENV_FILES: &str = include_str!("host/env_files.sh");
}

/// The host-wide controls no role owns, in matrix order.
pub fn host_controls() -> Vec<Check> {
    vec![
        Check::from_fact(
            "host.listeners-local",
            "only sshd listens on addresses other than loopback",
            &[SSHD_PORTS_FN, host::LISTENERS_LOCAL].concat(),
            FactQuery::ExposedListeners,
            Expect::Line("ok".into()),
        ),
        Check {
            fact: None,
            id: "host.container-ports-local".into(),
            title: "published container ports are bound to 127.0.0.1".into(),
            command: [DOCKER_API_FN, host::CONTAINER_PORTS_LOCAL].concat(),
            expect: Expect::Line("ok".into()),
        },
        Check {
            fact: None,
            id: "host.env-files".into(),
            title: ".env files are mode 600 (no access for group or others)".into(),
            command: host::ENV_FILES.into(),
            expect: Expect::Line("ok".into()),
        },
    ]
}

/// Every built-in control, in matrix order: each role's ([`rampart_core::role::Role::builtin_checks`], in the
/// registry's order), then the host-wide ones.
pub fn catalogue() -> Vec<BuiltIn> {
    let mut out: Vec<BuiltIn> = registry::roles()
        .iter()
        .flat_map(|r| {
            let role = r.name();
            r.builtin_checks().into_iter().map(move |check| BuiltIn {
                role: Some(role),
                check,
            })
        })
        .collect();
    out.extend(
        host_controls()
            .into_iter()
            .map(|check| BuiltIn { role: None, check }),
    );
    out
}

/// The built-in checks for a host the site gives `roles`: those no assigned role supersedes.
pub fn for_host(roles: &[&str]) -> Vec<Check> {
    catalogue()
        .into_iter()
        .filter(|b| b.role.is_none_or(|r| !roles.contains(&r)))
        .map(|b| b.check)
        .collect()
}

/// True when a verdict's output says the control does not apply to the host.
pub fn not_applicable(evidence: &str) -> bool {
    evidence.trim_start().starts_with(NOT_APPLICABLE)
}

/// Which controls run: `--control` (only these) and `--skip-control` (not these), as globs
/// where `*` matches any run of characters.
#[derive(Debug, Clone, Default)]
pub struct ControlFilter {
    /// Only ids matching one of these (empty: all).
    pub only: Vec<String>,
    /// Never ids matching one of these.
    pub skip: Vec<String>,
}

impl ControlFilter {
    /// Whether a control id is selected.
    pub fn selects(&self, id: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|g| glob(g, id)))
            && !self.skip.iter().any(|g| glob(g, id))
    }
}

/// Matches `text` against a pattern where `*` is any run of characters (no other magic).
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_core::facts::CommandResult;

    fn judge(id: &str, out: &str) -> bool {
        let c = catalogue()
            .into_iter()
            .find(|b| b.check.id == id)
            .unwrap_or_else(|| panic!("no built-in {id}"));
        c.check
            .judge(Some(&CommandResult {
                rc: 0,
                output: out.into(),
            }))
            .pass
    }

    #[test]
    fn the_catalogue_keeps_its_ids_titles_and_order() {
        // Collected from the roles' folders through the registry: the matrix's columns for
        // hosts no site configures stay those of the seed's checklist, in its order.
        let got: Vec<(String, String)> = catalogue()
            .into_iter()
            .map(|b| (b.check.id, b.check.title))
            .collect();
        let want = [
            ("ufw.active", "the ufw firewall is active"),
            (
                "ufw.only-allowed",
                "ufw lets in only SSH and Tailscale (41641/udp)",
            ),
            (
                "sshd.permitrootlogin",
                "root cannot log in over SSH (PermitRootLogin no)",
            ),
            (
                "sshd.passwordauthentication",
                "SSH logins need a key, never a password (PasswordAuthentication no)",
            ),
            ("fail2ban.sshd-jail", "fail2ban's sshd jail is active"),
            (
                "unattended-upgrades.service",
                "unattended-upgrades is running",
            ),
            (
                "unattended-upgrades.enabled",
                "apt refreshes its lists and runs unattended-upgrade every day",
            ),
            (
                "unattended-upgrades.reboot-required",
                "no reboot is pending",
            ),
            (
                "docker.live-restore",
                "containers survive a daemon restart (live restore)",
            ),
            ("docker.logging-driver", "containers log through json-file"),
            (
                "docker.no-new-privileges",
                "containers cannot gain privileges (no-new-privileges)",
            ),
            (
                "docker-user.drop-last",
                "DOCKER-USER ends by dropping traffic from the external interface to containers",
            ),
            ("swap.active", "swap is on"),
            (
                "sysctl.vm.swappiness",
                "the kernel prefers RAM to swap (vm.swappiness at most 10)",
            ),
            (
                "sysctl.net.core.somaxconn",
                "listen queues hold at least 1024 connections (net.core.somaxconn)",
            ),
            (
                "sysctl.net.ipv4.tcp_max_syn_backlog",
                "at least 1024 half-open connections are queued (net.ipv4.tcp_max_syn_backlog)",
            ),
            (
                "sysctl.fs.file-max",
                "the kernel allows at least 100000 open files (fs.file-max)",
            ),
            (
                "host.listeners-local",
                "only sshd listens on addresses other than loopback",
            ),
            (
                "host.container-ports-local",
                "published container ports are bound to 127.0.0.1",
            ),
            (
                "host.env-files",
                ".env files are mode 600 (no access for group or others)",
            ),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(i, t)| ((*i).to_owned(), (*t).to_owned()))
            .collect();
        assert_eq!(got, want);
    }

    /// Runs a host control under dash with fake commands and judges it.
    fn run_host(sh: &rampart_shtest::Sh, id: &str) -> (bool, String) {
        let c = host_controls()
            .into_iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("{id}"));
        let out = sh.run(&c.command, &["10.213.1.1 50000 10.213.1.2 22"]);
        let text = out.stdout_str();
        let pass = c
            .judge(Some(&CommandResult {
                rc: out.status,
                output: text.clone(),
            }))
            .pass;
        (pass, text)
    }

    #[test]
    fn listeners_local_passes_loopback_and_sshd_only() {
        let Some(sh) = rampart_shtest::Sh::new() else {
            return;
        };
        sh.stub_output("sshd", 0, "port 22\nport 2222\n");
        let ok = "LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\nLISTEN 0 128 [::]:2222 [::]:*\nLISTEN 0 511 127.0.0.1:6379 0.0.0.0:*\nLISTEN 0 511 [::1]:6379 [::]:*\n";
        sh.stub_output("ss", 0, ok);
        let (pass, out) = run_host(&sh, "host.listeners-local");
        assert!(pass, "{out}");
        assert!(out.contains("ssh: [::]:2222"), "{out}");
        sh.stub_output(
            "ss",
            0,
            &format!("{ok}LISTEN 0 511 0.0.0.0:8080 0.0.0.0:*\n"),
        );
        let (pass, out) = run_host(&sh, "host.listeners-local");
        assert!(!pass && out.contains("FAIL exposed: 0.0.0.0:8080"), "{out}");
        sh.stub_output("ss", 1, "ss: netlink failure\n");
        let (pass, out) = run_host(&sh, "host.listeners-local");
        assert!(
            !pass && out.contains("FAIL: ss: ss: netlink failure"),
            "{out}"
        );
    }

    #[test]
    fn container_ports_local_fails_on_a_wildcard_binding() {
        let Some(mut sh) = rampart_shtest::Sh::new() else {
            return;
        };
        sh.bare_path();
        // curl answers (perl finds no daemon's socket there)
        let nowhere = sh.path("no-docker.sock");
        sh.env("rampart_docker_sock", &nowhere);
        // No running or paused container (the API's counters): passes without docker's CLI.
        sh.stub("docker", 0);
        let info = r#"{"ID":"X","Containers":2,"ContainersRunning":0,"ContainersPaused":0,"ContainersStopped":2,"Labels":["a,\"ContainersRunning\":0,"]}"#;
        sh.stub_output("curl", 0, info);
        let (pass, out) = run_host(&sh, "host.container-ports-local");
        assert!(pass && out.starts_with("no running container"), "{out}");
        assert_eq!(
            sh.calls(),
            ["curl -sf --max-time 10 --unix-socket /var/run/docker.sock http://localhost/info"]
        );
        // Containers run, or one is paused (or the socket does not answer, or a label forges
        // the counter): docker ps says what they publish.
        sh.stub_output("docker", 0, "web 127.0.0.1:8080->80/tcp\ndb \n");
        for body in [
            info.replace("\"ContainersRunning\":0,", "\"ContainersRunning\":1,"),
            info.replace("\"ContainersPaused\":0,", "\"ContainersPaused\":1,"),
            info.replace("\"ContainersRunning\":0,\"", "\"ContainersRunning\":1,\""),
        ] {
            sh.clear_calls();
            sh.stub_output("curl", 0, &body);
            let (pass, out) = run_host(&sh, "host.container-ports-local");
            assert!(pass && out.starts_with("web 127.0.0.1"), "{body}: {out}");
            assert!(sh.calls().iter().any(|c| c.starts_with("docker ps")));
        }
        sh.stub("curl", 7);
        let (pass, out) = run_host(&sh, "host.container-ports-local");
        assert!(pass, "{out}");
        sh.stub_output("docker", 0, "web 0.0.0.0:8080->80/tcp, :::8080->80/tcp\n");
        let (pass, out) = run_host(&sh, "host.container-ports-local");
        assert!(!pass && out.contains("FAIL exposed: web"), "{out}");
        sh.stub_output("docker", 1, "Cannot connect to the Docker daemon\n");
        let (pass, out) = run_host(&sh, "host.container-ports-local");
        assert!(!pass && out.contains("FAIL: docker ps"), "{out}");
    }

    #[test]
    fn ids_are_unique_and_named_like_role_controls() {
        let all = catalogue();
        let mut ids: Vec<&str> = all.iter().map(|b| b.check.id.as_str()).collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate built-in ids");
        for b in &all {
            let group = b.check.id.split('.').next().unwrap_or_default();
            assert!(
                !group.is_empty() && b.check.id.contains('.'),
                "{}",
                b.check.id
            );
            assert!(!b.check.title.is_empty());
        }
    }

    #[test]
    fn an_assigned_role_supersedes_its_built_ins() {
        let none = for_host(&[]);
        assert!(none.iter().any(|c| c.id == "ufw.active"));
        assert!(none.iter().any(|c| c.id == "sysctl.vm.swappiness"));
        let with = for_host(&["ufw", "swap-sysctl"]);
        assert!(!with.iter().any(|c| c.id.starts_with("ufw.")));
        assert!(
            !with
                .iter()
                .any(|c| c.id.starts_with("sysctl.") || c.id.starts_with("swap."))
        );
        assert!(with.iter().any(|c| c.id == "sshd.permitrootlogin"));
        assert!(
            with.iter().any(|c| c.id == "host.env-files"),
            "host controls stay"
        );
    }

    #[test]
    fn verdicts_do_not_depend_on_the_exit_status() {
        assert!(judge("ufw.active", "Status: active\nLogging: on (low)"));
        assert!(!judge("ufw.active", "Status: inactive"));
        assert!(judge("sshd.permitrootlogin", "permitrootlogin no"));
        assert!(!judge(
            "sshd.permitrootlogin",
            "permitrootlogin without-password"
        ));
        assert!(!judge("host.env-files", "FAIL /home/a/.env 644 a:a"));
        assert!(judge("host.env-files", "/home/a/.env 600 a:a\nok"));
        assert!(not_applicable("n/a: docker is not installed"));
        assert!(!not_applicable("Live Restore Enabled: false"));
    }

    #[test]
    fn globs_match_ids() {
        assert!(glob("ports.*", "ports.only-ssh"));
        assert!(glob("*", "x"));
        assert!(glob("sysctl.*swap*", "sysctl.vm.swappiness"));
        assert!(glob("ufw.active", "ufw.active"));
        assert!(!glob("ufw.active", "ufw.active2"));
        assert!(!glob("ufw.*", "sshd.port"));
        assert!(!glob("a*a", "a"));
        let f = ControlFilter {
            only: vec![],
            skip: vec!["host.*".into(), "sysctl.*".into()],
        };
        assert!(f.selects("ufw.active") && !f.selects("host.env-files"));
        let g = ControlFilter {
            only: vec!["ufw.*".into()],
            skip: vec!["ufw.logging".into()],
        };
        assert!(g.selects("ufw.active") && !g.selects("ufw.logging") && !g.selects("sshd.port"));
    }
}
