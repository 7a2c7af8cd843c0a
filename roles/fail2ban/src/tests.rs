//! Planning the fail2ban role against synthetic hosts.

use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use rampart_core::Change;
use rampart_core::facts::{CommandResult, FileState, PackageState, SshConnection, UnitState};
use rampart_core::hostplan::PlannedRole;
use rampart_core::testing::{applies, assert_converges, fresh_lab_facts, plan_checked, text_file};
use serde_json::json;

use super::*;

fn configure(v: serde_json::Value) -> Config {
    let c: Config = rampart_core::role::configure_typed(v).expect("valid config");
    c.validate().expect("valid config");
    c
}

fn installed() -> PackageState {
    PackageState {
        installed: true,
        version: "1.0.2-2".into(),
        status: "ii".into(),
    }
}

/// A fresh lab host: fail2ban installed (it is in the lab image) and failed at boot, because
/// the packaged jail wants /var/log/auth.log, which does not exist.
fn fresh(c: &Config) -> Facts {
    let mut f = fresh_lab_facts(c);
    f.packages.insert("fail2ban".into(), installed());
    f.packages.insert("python3-systemd".into(), installed());
    f.units.insert(
        "fail2ban".into(),
        UnitState {
            load_state: "loaded".into(),
            active_state: "failed".into(),
            unit_file_state: "enabled".into(),
            ..UnitState::default()
        },
    );
    f
}

fn secrets() -> BTreeMap<String, rampart_core::Secret> {
    BTreeMap::new()
}

fn changes(p: &PlannedRole) -> Vec<String> {
    applies(p).into_iter().map(|(id, _)| id).collect()
}

fn jail(f: &Facts) -> String {
    f.files
        .get(JAIL_LOCAL)
        .and_then(FileState::text)
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn fresh_lab_host_gets_a_journal_jail_that_ignores_the_controller() {
    let c = Config::default();
    let p = plan_checked(&c, &fresh(&c), &secrets(), "root");
    // The unit is enabled but failed: it is started (with the new file) and waited for.
    assert_eq!(
        changes(&p),
        ["file:/etc/fail2ban/jail.local", "command:start fail2ban"]
    );
    let after = assert_converges(&c, fresh(&c), &secrets(), "root");
    assert_eq!(
        jail(&after),
        "# Managed by rampart (role fail2ban): local changes are overwritten on the next run.

[DEFAULT]
bantime = 1h
findtime = 10m
maxretry = 5
# Never banned: loopback, the controller rampart runs from (10.213.1.1) and the
# configured networks.
ignoreip = 127.0.0.1/8 ::1 10.213.1.1

[sshd]
enabled = true
port = 22
filter = sshd
# /var/log/auth.log does not exist on this host (no rsyslog): read sshd's messages from the
# journal instead (the seed's logpath makes fail2ban fail at start here).
backend = systemd
maxretry = 3
bantime = 24h
"
    );
    let file = p
        .items
        .iter()
        .find(|i| i.resource.id() == "file:/etc/fail2ban/jail.local")
        .expect("jail.local");
    let Ok(Change::Apply(a)) = &file.change else {
        panic!("jail.local changes")
    };
    assert_eq!(a.notify, [HANDLER]);
    assert!(
        a.script.as_str().contains("fail2ban-client --test")
            && a.script.as_str().contains("previous file restored")
    );
    // fail2ban was down: the start reads the new file, the handler only waits for it.
    let h = p.handlers[0].script.as_str();
    assert!(
        !h.contains("restart") && h.contains("until fail2ban-client status sshd"),
        "{h}"
    );
    let start = p
        .items
        .iter()
        .find(|i| i.resource.id() == "command:start fail2ban")
        .expect("start");
    let Ok(Change::Apply(a)) = &start.change else {
        panic!("fail2ban is started")
    };
    assert!(
        a.script.as_str().starts_with(
            "systemctl start fail2ban.service\ni=0; until fail2ban-client status sshd"
        )
    );
}

#[test]
fn a_running_fail2ban_is_restarted_and_waited_for_when_the_jail_changes() {
    let c = Config::default();
    let mut f = fresh(&c);
    f.units.insert(
        "fail2ban".into(),
        UnitState {
            load_state: "loaded".into(),
            active_state: "active".into(),
            unit_file_state: "enabled".into(),
            ..UnitState::default()
        },
    );
    let p = plan_checked(&c, &f, &secrets(), "root");
    assert_eq!(changes(&p), ["file:/etc/fail2ban/jail.local"]);
    let h = p.handlers[0].script.as_str();
    assert!(h.starts_with("systemctl restart fail2ban.service\ni=0; until fail2ban-client status sshd >/dev/null 2>&1; do"), "{h}");
    assert!(h.contains("did not answer within 30 s"));
    let c = configure(json!({"sshd": {"enabled": false}}));
    let p = plan_checked(&c, &f, &secrets(), "root");
    assert!(
        p.handlers[0]
            .script
            .as_str()
            .contains("until fail2ban-client ping")
    );
}

#[test]
fn with_auth_log_the_seeds_logpath_is_kept() {
    let c = configure(
        json!({"ignoreip": ["192.0.2.0/24", "2001:db8::/32"], "ignore_controller": false}),
    );
    let mut f = fresh(&c);
    f.host.has_auth_log = true;
    let after = assert_converges(&c, f, &secrets(), "root");
    let j = jail(&after);
    assert!(
        j.contains("logpath = /var/log/auth.log\n") && !j.contains("backend"),
        "{j}"
    );
    assert!(
        j.contains("ignoreip = 127.0.0.1/8 ::1 192.0.2.0/24 2001:db8::/32\n"),
        "{j}"
    );
    let c = configure(json!({"backend": "polling"}));
    let mut f = fresh(&c);
    f.host.has_auth_log = true;
    let after = assert_converges(&c, f, &secrets(), "root");
    assert!(jail(&after).contains("backend = polling\nlogpath = /var/log/auth.log\n"));
}

#[test]
fn port_follows_the_ssh_connection_or_the_config() {
    let c = Config::default();
    let mut f = fresh(&c);
    f.host.ssh_connection = Some(SshConnection {
        client_ip: "::ffff:203.0.113.9".into(),
        server_ip: "10.0.0.2".into(),
        server_port: 2222,
    });
    let after = assert_converges(&c, f, &secrets(), "root");
    assert!(jail(&after).contains("port = 2222\n"));
    assert!(
        jail(&after).contains("ignoreip = 127.0.0.1/8 ::1 203.0.113.9\n"),
        "a v4-mapped address is written as v4"
    );
    let c = configure(json!({"sshd": {"port": 2200}}));
    let after = assert_converges(&c, fresh(&c), &secrets(), "root");
    assert!(jail(&after).contains("port = 2200\n"));
}

#[test]
fn missing_packages_are_installed_after_an_apt_refresh() {
    let c = Config::default();
    let mut f = fresh(&c);
    f.packages.insert("fail2ban".into(), PackageState::absent());
    f.packages
        .insert("python3-systemd".into(), PackageState::absent());
    let p = plan_checked(&c, &f, &secrets(), "root");
    assert_eq!(
        changes(&p)[..2],
        [
            "apt-update".to_owned(),
            "packages:fail2ban,python3-systemd".to_owned()
        ]
    );
    assert_converges(&c, f, &secrets(), "root");
}

#[test]
fn drifts_are_repaired() {
    let c = Config::default();
    let converged = assert_converges(&c, fresh(&c), &secrets(), "root");
    // jail.local edited by hand.
    let mut f = converged.clone();
    f.files.insert(
        JAIL_LOCAL.into(),
        text_file(
            &jail(&converged).replace("maxretry = 3", "maxretry = 30"),
            0o644,
            "root",
        ),
    );
    let p = plan_checked(&c, &f, &secrets(), "root");
    assert_eq!(changes(&p), ["file:/etc/fail2ban/jail.local"]);
    assert_converges(&c, f, &secrets(), "root");
    // fail2ban stopped and disabled.
    let mut f = converged.clone();
    f.units.insert(
        "fail2ban".into(),
        UnitState {
            load_state: "loaded".into(),
            active_state: "inactive".into(),
            unit_file_state: "disabled".into(),
            ..UnitState::default()
        },
    );
    // (a fresh probe: nothing of the simulated run is left)
    f.commands.remove("done:start fail2ban");
    let p = plan_checked(&c, &f, &secrets(), "root");
    assert_eq!(changes(&p), ["service:fail2ban", "command:start fail2ban"]);
    let Some(Ok(Change::Apply(a))) = p
        .items
        .iter()
        .find(|i| i.resource.id() == "service:fail2ban")
        .map(|i| &i.change)
    else {
        panic!()
    };
    assert_eq!(a.script.as_str(), "systemctl enable --quiet fail2ban\n");
    assert_converges(&c, f, &secrets(), "root");
    // The controller moved: its new address replaces the old one.
    let mut f = converged;
    if let Some(conn) = f.host.ssh_connection.as_mut() {
        conn.client_ip = "10.213.1.7".into();
    }
    let after = assert_converges(&c, f, &secrets(), "root");
    assert!(jail(&after).contains("ignoreip = 127.0.0.1/8 ::1 10.213.1.7\n"));
}

#[test]
fn checks_prove_the_jail_and_the_controller_exemption() {
    let checks = Config::default().checks();
    let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "fail2ban.service",
            "fail2ban.sshd-jail",
            "fail2ban.sshd-policy",
            "fail2ban.ignores-controller"
        ]
    );
    assert_eq!(
        checks[2].expect,
        Expect::Line("maxretry 3 findtime 600 bantime 86400".into())
    );
    let ignore = &checks[3];
    let out = "These IP addresses/networks are ignored:\n|- 127.0.0.0/8\n|- ::1\n`- 10.213.5.1\ncontroller 10.213.5.1 is never banned";
    assert!(
        ignore
            .judge(Some(&CommandResult {
                rc: 0,
                output: out.into()
            }))
            .pass
    );
    let out = "These IP addresses/networks are ignored:\n|- 127.0.0.0/8\n`- ::1\ncontroller 10.213.5.1 is NOT in ignoreip";
    assert!(
        !ignore
            .judge(Some(&CommandResult {
                rc: 0,
                output: out.into()
            }))
            .pass
    );
    let c = configure(json!({"ignore_controller": false, "sshd": {"enabled": false}}));
    assert_eq!(c.checks().len(), 1);
}

#[test]
fn config_errors_have_paths() {
    let r = role();
    for (v, path) in [
        (json!({"bantime": "1 hour"}), "bantime"),
        (
            json!({"sshd": {"bantime": "24h\nenabled = false"}}),
            "sshd.bantime",
        ),
        (json!({"ignoreip": ["10.0.0.0/33"]}), "ignoreip[0]"),
        (json!({"maxretry": 0}), "maxretry"),
        (json!({"backend": "gamin"}), "backend"),
        (json!({"sshd": {"port": 70000}}), "sshd.port"),
    ] {
        let e = r.configure(v.clone()).map(|_| ()).unwrap_err();
        assert_eq!(e.path, path, "{v}: {e}");
    }
    assert_eq!(r.defaults()["sshd"]["bantime"], json!("24h"));
    assert_eq!(r.defaults()["ignoreip"], json!([]));
}

/// The data fixtures in this role's `fixtures/`: facts in, changes and scripts out (one
/// generic runner, `rampart_core::testing::fixtures`).
#[test]
fn fixtures() {
    rampart_core::testing::fixtures::run_fixtures(
        role().as_ref(),
        concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"),
    );
}

/// The three jail checks share one command, which asks one fail2ban-client session.
#[test]
fn the_jail_checks_ask_one_interactive_session() {
    let Some(sh) = rampart_shtest::Sh::new() else {
        return;
    };
    let checks = Config::default().checks();
    let jail: Vec<&Check> = checks.iter().skip(1).collect();
    assert!(jail.iter().all(|c| c.command == jail[0].command));
    // fail2ban-client -i as 1.0 and 1.1 answer: a banner, then each answer after the prompt.
    let fake = |ignored: &str| {
        sh.stub_body(
            "fail2ban-client",
            &format!(
                "[ \"$1\" = -i ] || exit 9\nprintf 'Fail2Ban v1.0.2 reads log file\\n\\n'\n\
                 while read -r c j k; do case $c/$k in\n\
                 status/) printf 'fail2ban> Status for the jail: sshd\\n|- Filter\\n`- Actions\\n' ;;\n\
                 get/maxretry) echo 'fail2ban> 3' ;; get/findtime) echo 'fail2ban> 600' ;;\n\
                 get/bantime) echo 'fail2ban> 86400' ;;\n\
                 get/ignoreip) printf 'fail2ban> These IP addresses/networks are ignored:\\n|- 127.0.0.0/8\\n`- {ignored}\\n' ;;\n\
                 *) printf 'fail2ban> '; exit 0 ;; esac; done"
            ),
        );
    };
    let judge = |conn: &str| -> Vec<bool> {
        sh.clear_calls();
        let out = sh.run(&jail[0].command, &[conn]);
        assert_eq!(sh.calls(), ["fail2ban-client -i"]);
        let r = CommandResult {
            rc: out.status,
            output: out.stdout_str(),
        };
        jail.iter().map(|c| c.judge(Some(&r)).pass).collect()
    };
    fake("10.213.5.1");
    assert_eq!(judge("10.213.5.1 50000 10.213.5.2 22"), [true, true, true]);
    assert_eq!(
        judge("10.213.5.10 50000 10.213.5.2 22"),
        [true, true, false],
        "no prefix match"
    );
    assert_eq!(judge(""), [true, true, false], "the controller is unknown");
    // A server that does not answer: every jail check fails.
    sh.stub_body(
        "fail2ban-client",
        "echo 'ERROR  Failed to access socket path' >&2; exit 255",
    );
    assert_eq!(
        judge("10.213.5.1 50000 10.213.5.2 22"),
        [false, false, false]
    );
}

/// The jail checks' own client of fail2ban's socket (`checks/jail_client.pl`, perl without
/// modules) against a stand-in server speaking fail2ban's protocol (pickled commands and
/// answers, each ended by `<F2B_END_COMMAND>`; addresses as `str` reductions, as fail2ban
/// 1.0 sends them): the checks judge its answers as they judge `fail2ban-client -i`'s, without
/// starting fail2ban-client; an error answer falls back to fail2ban-client.
#[test]
fn the_jail_checks_ask_the_socket_first() {
    let Some(sh) = rampart_shtest::Sh::new() else {
        return;
    };
    // The stand-in server is Python's own pickle, so that the client reads real pickles.
    if !rampart_shtest::perl()
        || std::process::Command::new("python3")
            .arg("-c")
            .arg("1")
            .status()
            .map_or(true, |s| !s.success())
    {
        eprintln!("SKIPPED: needs perl and python3 (the stand-in fail2ban server)");
        return;
    }
    let sock = sh.root().join("f2b.sock");
    let server = sh.write(
        "server.py",
        r#"import io, os, pickle, socket, sys
END = b"<F2B_END_COMMAND>"
class Addr(str):
    def __reduce__(self):
        return (str, (str(self),))
answers = {
    ("status", "sshd"): [("Filter", [("Currently failed", 0), ("Total failed", 2), ("Journal matches", ["_SYSTEMD_UNIT=sshd.service", "+", "_COMM=sshd"])]), ("Actions", [("Currently banned", 0), ("Total banned", 0), ("Banned IP list", [])])],
    ("get", "sshd", "maxretry"): 3, ("get", "sshd", "findtime"): 600, ("get", "sshd", "bantime"): 86400,
    ("get", "sshd", "ignoreip"): [Addr("127.0.0.0/8"), Addr("10.213.5.1")],
}
mode = sys.argv[2]
fail = mode == "fail"
proto = pickle.HIGHEST_PROTOCOL if fail else int(mode)
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(1)
open(sys.argv[1] + ".ready", "w").close()
c, _ = s.accept()
buf = b""
while True:
    d = c.recv(65536)
    if not d:
        break
    buf += d
    while END in buf:
        msg, buf = buf.split(END, 1)
        cmd = tuple(pickle.loads(msg))
        reply = (1, "boom") if fail else (0, answers[cmd])
        if mode == "0" and cmd[0] == "status":
            reply = (0, [("Filter", 1.5)])  # a type the client does not know
        c.sendall(pickle.dumps(reply, proto) + END)
"#,
    );
    let checks = Config::default().checks();
    let jail: Vec<&Check> = checks.iter().skip(1).collect();
    sh.stub_body(
        "fail2ban-client",
        "echo 'ERROR  Failed to access socket path' >&2; exit 255",
    );
    // fail2ban pickles with Python's highest protocol (5 on Python 3.8+); protocol 2 has
    // other opcodes (BINPUT, BINUNICODE, GLOBAL); "0" answers a float, "fail" an error.
    let highest = "5".to_owned();
    for mode in [highest.as_str(), "2", "0", "fail"] {
        let fail = mode == "0" || mode == "fail";
        let _ = std::fs::remove_file(&sock);
        let ready = format!("{}.ready", sock.display());
        let _ = std::fs::remove_file(&ready);
        let mut srv = std::process::Command::new("python3");
        srv.arg(&server).arg(&sock).arg(mode);
        let mut child = srv.spawn().expect("python3");
        for _ in 0..200 {
            if std::path::Path::new(&ready).exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        sh.clear_calls();
        let command = jail[0].command.replace(
            "/var/run/fail2ban/fail2ban.sock",
            &sock.display().to_string(),
        );
        let out = sh.run(&command, &["10.213.5.1 50000 10.213.5.2 22"]);
        let _ = child.kill();
        let _ = child.wait();
        let r = CommandResult {
            rc: out.status,
            output: out.stdout_str(),
        };
        let verdicts: Vec<bool> = jail.iter().map(|c| c.judge(Some(&r)).pass).collect();
        if fail {
            assert_eq!(
                sh.calls(),
                ["fail2ban-client -i"],
                "{mode}: an error answer falls back"
            );
            assert_eq!(verdicts, [false, false, false]);
        } else {
            assert!(sh.calls().is_empty(), "protocol {mode}: {:?}", sh.calls());
            assert_eq!(verdicts, [true, true, true], "{}", r.output);
            assert!(
                r.output.starts_with(
                    "Status for the jail: sshd\n|- Filter\n|  |- Currently failed:\t0\n"
                ) && r
                    .output
                    .contains("`- Journal matches:\t_SYSTEMD_UNIT=sshd.service + _COMM=sshd\n")
                    && r.output.contains("maxretry 3 findtime 600 bantime 86400\n")
                    && r.output.contains(
                        "|- 127.0.0.0/8\n`- 10.213.5.1\ncontroller 10.213.5.1 is never banned"
                    ),
                "{}",
                r.output
            );
        }
    }
}
