//! The audit's built-in controls: the seeds' verification checklist as read-only checks, for
//! hosts (or whole fleets) that no site configures, plus host-wide controls no role owns.
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

use rampart_core::verify::{Check, Expect};

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

fn builtin(
    role: Option<&'static str>,
    id: &str,
    title: &str,
    command: &str,
    expect: Expect,
) -> BuiltIn {
    BuiltIn {
        role,
        check: Check {
            id: id.into(),
            title: title.into(),
            command: command.into(),
            expect,
        },
    }
}

/// `n/a` unless docker is installed; shared prefix of the Docker controls.
const NEEDS_DOCKER: &str =
    "command -v docker >/dev/null 2>&1 || { echo 'n/a: docker is not installed'; exit 0; }; ";

/// The ports sshd listens on, one per line (empty when sshd -T cannot run).
const SSHD_PORTS: &str = "sshd -T 2>/dev/null | sed -n 's/^port //p'";

/// Every built-in control, in matrix order.
pub fn catalogue() -> Vec<BuiltIn> {
    let mut out = vec![
        builtin(
            Some("ufw"),
            "ufw.active",
            "the ufw firewall is active",
            "if command -v ufw >/dev/null 2>&1; then ufw status verbose 2>&1; else echo 'ufw is not installed'; fi",
            Expect::Contains("Status: active".into()),
        ),
        builtin(
            Some("ufw"),
            "ufw.only-allowed",
            "ufw lets in only SSH and Tailscale (41641/udp)",
            &format!(
                "command -v ufw >/dev/null 2>&1 || {{ echo 'FAIL: ufw is not installed'; exit 0; }}; \
                 s=$(ufw status 2>&1); \
                 printf '%s\\n' \"$s\" | grep -q '^Status: active' || {{ echo \"FAIL: ufw is not active ($s)\"; exit 0; }}; \
                 ssh=$({SSHD_PORTS}); bad=0; \
                 rules=$(printf '%s\\n' \"$s\" | sed '1,/^--/d'); \
                 while IFS= read -r l; do [ -n \"$l\" ] || continue; \
                   case \"$l\" in *' DENY'*|*' REJECT'*) echo \"deny: $l\"; continue;; esac; \
                   to=${{l%%  *}}; to=${{to% (v6)}}; ok=0; \
                   case \"$to\" in 41641/udp|OpenSSH) ok=1;; esac; \
                   for p in $ssh; do case \"$to\" in \"$p\"|\"$p/tcp\") ok=1;; esac; done; \
                   if [ $ok = 1 ]; then echo \"allowed: $l\"; else echo \"FAIL unexpected: $l\"; bad=1; fi; \
                 done <<EOF\n$rules\nEOF\n\
                 [ $bad = 1 ] || echo ok"
            ),
            Expect::Line("ok".into()),
        ),
        builtin(
            Some("sshd"),
            "sshd.permitrootlogin",
            "root cannot log in over SSH (PermitRootLogin no)",
            "out=$(sshd -T 2>&1); printf '%s\\n' \"$out\" | grep -E '^permitrootlogin ' || printf '%s\\n' \"$out\" | tail -n 3",
            Expect::Line("permitrootlogin no".into()),
        ),
        builtin(
            Some("sshd"),
            "sshd.passwordauthentication",
            "SSH logins need a key, never a password (PasswordAuthentication no)",
            "out=$(sshd -T 2>&1); printf '%s\\n' \"$out\" | grep -E '^passwordauthentication ' || printf '%s\\n' \"$out\" | tail -n 3",
            Expect::Line("passwordauthentication no".into()),
        ),
        builtin(
            Some("fail2ban"),
            "fail2ban.sshd-jail",
            "fail2ban's sshd jail is active",
            "if command -v fail2ban-client >/dev/null 2>&1; then fail2ban-client status sshd 2>&1; else echo 'fail2ban is not installed'; fi",
            Expect::Contains("Status for the jail: sshd".into()),
        ),
        builtin(
            Some("unattended-upgrades"),
            "unattended-upgrades.service",
            "unattended-upgrades is running",
            "systemctl is-active unattended-upgrades.service 2>&1",
            Expect::Equals("active".into()),
        ),
        builtin(
            Some("unattended-upgrades"),
            "unattended-upgrades.enabled",
            "apt refreshes its lists and runs unattended-upgrade every day",
            "eval \"$(apt-config shell L APT::Periodic::Update-Package-Lists U APT::Periodic::Unattended-Upgrade)\"; \
             echo \"Update-Package-Lists=$L Unattended-Upgrade=$U\"",
            Expect::Equals("Update-Package-Lists=1 Unattended-Upgrade=1".into()),
        ),
        builtin(
            Some("unattended-upgrades"),
            "unattended-upgrades.reboot-required",
            "no reboot is pending",
            "if [ -e /var/run/reboot-required ]; then \
             p=$(sort -u /var/run/reboot-required.pkgs 2>/dev/null | paste -sd' ' -); \
             echo \"FAIL: reboot required by: ${p:-(packages not recorded)}\"; else echo 'no reboot required'; echo ok; fi",
            Expect::Line("ok".into()),
        ),
        builtin(
            Some("docker"),
            "docker.live-restore",
            "containers survive a daemon restart (live restore)",
            &format!(
                "{NEEDS_DOCKER}docker info --format 'Live Restore Enabled: {{{{.LiveRestoreEnabled}}}}' 2>&1"
            ),
            Expect::Line("Live Restore Enabled: true".into()),
        ),
        builtin(
            Some("docker"),
            "docker.logging-driver",
            "containers log through json-file",
            &format!(
                "{NEEDS_DOCKER}docker info --format 'Logging Driver: {{{{.LoggingDriver}}}}' 2>&1"
            ),
            Expect::Line("Logging Driver: json-file".into()),
        ),
        builtin(
            Some("docker"),
            "docker.no-new-privileges",
            "containers cannot gain privileges (no-new-privileges)",
            &format!("{NEEDS_DOCKER}docker info --format '{{{{json .SecurityOptions}}}}' 2>&1"),
            Expect::Contains("no-new-privileges".into()),
        ),
        builtin(
            Some("docker-user"),
            "docker-user.drop-last",
            "DOCKER-USER ends by dropping traffic from the external interface to containers",
            &format!(
                "{NEEDS_DOCKER}i=$(ip -4 route show default 2>/dev/null | awk '{{for (k = 1; k < NF; k++) if ($k == \"dev\") {{ print $(k + 1); exit }}}}'); \
                 last=$(iptables -w -S DOCKER-USER 2>&1 | tail -n 1); echo \"last rule: $last\"; \
                 if [ -n \"$i\" ] && [ \"$last\" = \"-A DOCKER-USER -i $i -j DROP\" ]; then echo ok; \
                 else echo \"FAIL: expected -A DOCKER-USER -i ${{i:-<no default route>}} -j DROP last\"; fi"
            ),
            Expect::Line("ok".into()),
        ),
        builtin(
            Some("swap-sysctl"),
            "swap.active",
            "swap is on",
            "if systemd-detect-virt -cq 2>/dev/null; then echo \"n/a: in a container ($(systemd-detect-virt -c)), the kernel refuses swap\"; \
             elif [ -n \"$(swapon --show=NAME --noheadings 2>/dev/null)\" ]; then swapon --show 2>&1; echo ok; \
             else echo 'FAIL: no swap is active'; fi",
            Expect::Line("ok".into()),
        ),
    ];
    // The seed's kernel parameters, as bounds: more connections or files than the seed asks
    // for is as good, a lower swappiness too. The swap-sysctl role checks its exact values.
    for (key, op, value, title) in [
        (
            "vm.swappiness",
            "<=",
            10,
            "the kernel prefers RAM to swap (vm.swappiness at most 10)",
        ),
        (
            "net.core.somaxconn",
            ">=",
            1024,
            "listen queues hold at least 1024 connections (net.core.somaxconn)",
        ),
        (
            "net.ipv4.tcp_max_syn_backlog",
            ">=",
            1024,
            "at least 1024 half-open connections are queued (net.ipv4.tcp_max_syn_backlog)",
        ),
        (
            "fs.file-max",
            ">=",
            100_000,
            "the kernel allows at least 100000 open files (fs.file-max)",
        ),
    ] {
        out.push(builtin(
            Some("swap-sysctl"),
            &format!("sysctl.{key}"),
            title,
            &format!(
                "v=$(sysctl -n {key} 2>&1); echo \"{key} = $v\"; \
                 case \"$v\" in ''|*[!0-9]*) echo 'FAIL: not a number';; *) [ \"$v\" -{} {value} ] && echo ok || echo 'FAIL: want {op} {value}';; esac",
                if op == "<=" { "le" } else { "ge" }
            ),
            Expect::Line("ok".into()),
        ));
    }
    out.extend([
        builtin(
            None,
            "host.listeners-local",
            "only sshd listens on addresses other than loopback",
            &format!(
                "out=$(ss -Hltn 2>&1) || {{ echo \"FAIL: ss: $out\"; exit 0; }}; ssh=$({SSHD_PORTS}); \
                 printf '%s\\n' \"$out\" | awk -v ssh=\" $(echo $ssh) \" 'NF >= 4 {{ a = $4; p = a; sub(/.*:/, \"\", p); h = substr(a, 1, length(a) - length(p) - 1); \
                   if (h ~ /^(127\\.|\\[::1\\]$|::1$|\\[::ffff:127\\.)/) next; \
                   if (index(ssh, \" \" p \" \")) print \"ssh: \" a; else {{ print \"FAIL exposed: \" a; bad = 1 }} }} \
                   END {{ if (!bad) print \"ok\" }}'"
            ),
            Expect::Line("ok".into()),
        ),
        builtin(
            None,
            "host.container-ports-local",
            "published container ports are bound to 127.0.0.1",
            &format!(
                "{NEEDS_DOCKER}out=$(docker ps --format '{{{{.Names}}}} {{{{.Ports}}}}' 2>&1) || {{ echo \"FAIL: docker ps: $out\"; exit 0; }}; \
                 printf '%s\\n' \"$out\" | awk 'NF {{ if ($0 ~ /(^| |,)(0\\.0\\.0\\.0|::|\\[::\\]|:::):[0-9]/) {{ print \"FAIL exposed: \" $0; bad = 1 }} else print $0 }} \
                   END {{ if (!bad) print \"ok\" }}'"
            ),
            Expect::Line("ok".into()),
        ),
        builtin(
            None,
            "host.env-files",
            ".env files are mode 600 (no access for group or others)",
            "find /home /root /opt /srv -xdev -maxdepth 5 -name .env -type f -exec stat -c '%a %U:%G %n' {} + 2>/dev/null | \
             awk '{ n++; if ($1 ~ /(^0$|00$)/) print; else { print \"FAIL \" $0; bad = 1 } } \
               END { if (!n) print \"no .env file under /home /root /opt /srv\"; if (!bad) print \"ok\" }'",
            Expect::Line("ok".into()),
        ),
    ]);
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
