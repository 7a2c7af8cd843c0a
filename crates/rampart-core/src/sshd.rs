//! How sshd takes a changed configuration, for every role that writes one (the sshd role's
//! drop-in, the baseline's): the script of their reload handler.

use crate::facts::Facts;
use crate::shell::Script;

/// A socket-activated sshd (Ubuntu 24.04's ssh.socket): regenerate and restart the socket
/// (a daemon-reload, then [`SOCKET_RESTART_SH`]).
const RELOAD_SOCKET_SH: &str = concat!(
    include_str!("sshd/reload_socket.sh"),
    include_str!("sshd/socket_restart.sh")
);
/// sshd stopped, ssh.socket restarted, sshd started on it; `$1` the service. The handler runs
/// it after its daemon-reload, the dead-man switch's restore as a function of its own.
pub(crate) const SOCKET_RESTART_SH: &str = include_str!("sshd/socket_restart.sh");
/// A plain sshd: reload, then wait until it listens again.
const RELOAD_SH: &str = include_str!("sshd/reload.sh");

/// The unit sshd runs as on this host: `ssh` (Debian, Ubuntu) or `sshd`.
pub fn unit(facts: &Facts) -> &'static str {
    if facts.units.get("ssh").is_some_and(|u| u.exists()) {
        "ssh"
    } else {
        "sshd"
    }
}

/// The script that makes sshd (unit `unit`) take its changed configuration: with ssh.socket
/// active, the socket is regenerated and restarted (a SIGHUP reload would leave sshd without
/// its socket); otherwise a reload that returns once sshd listens again (its pid file, from
/// `sshd -T`, is rewritten). Sessions survive both. Reads the units `ssh`, `sshd`,
/// `ssh.socket` and the `sshd -T` facts.
pub fn reload_script(facts: &Facts, unit: &str) -> Script {
    let service = format!("{unit}.service");
    let mut script = Script::new();
    if facts.units.get("ssh.socket").is_some_and(|u| u.is_active()) {
        script.call(RELOAD_SOCKET_SH, [service.as_str()]);
        return script;
    }
    let pidfile = facts
        .sshd
        .as_ref()
        .and_then(|e| e.get("pidfile"))
        .filter(|p| p.starts_with('/'))
        .unwrap_or("/run/sshd.pid");
    script.call(RELOAD_SH, [service.as_str(), pidfile]);
    script
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::UnitState;

    fn socket_facts(active: bool) -> Facts {
        let mut f = Facts::default();
        f.units.insert(
            "ssh.socket".into(),
            UnitState {
                active_state: if active { "active" } else { "inactive" }.into(),
                ..UnitState::default()
            },
        );
        f
    }

    /// Values reach the scripts as parameters only.
    #[test]
    fn the_unit_and_pid_file_are_parameters() {
        let s = reload_script(&socket_facts(false), "ssh");
        assert!(
            s.as_str().starts_with("set -- ssh.service /run/sshd.pid\n"),
            "{}",
            s.as_str()
        );
        let s = reload_script(&socket_facts(true), "ssh");
        assert!(
            s.as_str().starts_with("set -- ssh.service\n"),
            "{}",
            s.as_str()
        );
        assert!(s.as_str().contains("systemctl restart ssh.socket"));
    }

    /// Under dash: the socket path stops, restarts the socket and starts sshd in that order;
    /// the reload path fails when sshd never rewrites its pid file, and passes once it does.
    #[test]
    fn the_reload_scripts_under_dash() {
        let Some(sh) = rampart_shtest::Sh::new() else {
            return;
        };
        sh.stub("systemctl", 0);
        let out = sh.run(RELOAD_SOCKET_SH, &["ssh.service"]);
        assert!(out.ok(), "{out:?}");
        assert_eq!(
            sh.calls(),
            [
                "systemctl daemon-reload",
                "systemctl stop ssh.service",
                "systemctl restart ssh.socket",
                "systemctl start ssh.service"
            ]
        );
        // sshd not active: nothing to wait for
        let sh = rampart_shtest::Sh::new().unwrap();
        sh.stub("systemctl", 1);
        sh.stub("mktemp", 0);
        let out = sh.run(RELOAD_SH, &["ssh.service", &sh.path("run/sshd.pid")]);
        assert!(out.ok(), "{out:?}");
    }
}
