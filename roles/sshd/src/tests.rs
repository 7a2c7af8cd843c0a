//! Planning the sshd role against synthetic hosts: fresh, converged, drifted, locked out.

use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use rampart_core::Change;
use rampart_core::facts::{Accounts, FileState, GroupEntry, UnitState, UserEntry};
use rampart_core::hostplan::PlannedRole;
use rampart_core::role::HostContext;
use rampart_core::template::Templates;
use rampart_core::testing::{applies, assert_converges, fresh_lab_facts, plan_checked, text_file};
use serde_json::json;

use super::*;

/// Debian 12's sshd_config, as the package ships it (comments trimmed).
const DEBIAN_MAIN: &str = "\n# This is the sshd server system-wide configuration file.  See\n# sshd_config(5) for more information.\n\nInclude /etc/ssh/sshd_config.d/*.conf\n\n#Port 22\n#PermitRootLogin prohibit-password\nKbdInteractiveAuthentication no\nUsePAM yes\nX11Forwarding yes\nPrintMotd no\nAcceptEnv LANG LC_*\nSubsystem\tsftp\t/usr/lib/openssh/sftp-server\n";

fn configure(v: serde_json::Value) -> Config {
    let c: Config = rampart_core::role::configure_typed(v).expect("valid config");
    c.validate().expect("valid config");
    c
}

/// What the lab tests use: root may log in with a key, rampart's users are allowed.
fn lab_config() -> Config {
    configure(
        json!({"permit_root_login": "prohibit-password", "allow_users": ["root", "lab", "fleetclaw"]}),
    )
}

fn unit(active: bool) -> UnitState {
    UnitState {
        load_state: "loaded".into(),
        active_state: if active { "active" } else { "inactive" }.into(),
        sub_state: if active { "running" } else { "dead" }.into(),
        unit_file_state: if active { "enabled" } else { "disabled" }.into(),
        ..UnitState::default()
    }
}

/// A fresh lab host (Debian 12): the packaged sshd_config, no drop-in, ssh.service running.
fn fresh(c: &Config) -> Facts {
    let mut f = fresh_lab_facts(c);
    f.files
        .insert(MAIN.into(), text_file(DEBIAN_MAIN, 0o644, "root"));
    f.units.insert("ssh".into(), unit(true));
    f.units.insert("ssh.socket".into(), unit(false));
    f
}

fn no_secrets() -> BTreeMap<String, rampart_core::Secret> {
    BTreeMap::new()
}

fn changes(p: &PlannedRole) -> Vec<String> {
    applies(p)
        .into_iter()
        .map(|(id, a)| format!("{id}: {}", a.summary))
        .collect()
}

fn plan_err(c: &Config, facts: &Facts, user: &str) -> String {
    let templates = Templates::embedded();
    let vars = json!({});
    let secrets = no_secrets();
    let ctx = HostContext {
        host: "h5",
        facts,
        vars: &vars,
        templates: &templates,
        secrets: &secrets,
        connect_user: user,
    };
    c.plan(&ctx).expect_err("the plan must be refused").0
}

fn dropin_text(p: &PlannedRole) -> String {
    p.items
        .iter()
        .find_map(|i| match (&i.resource, &i.change) {
            (Resource::File(f), Ok(Change::Apply(a))) if f.path == DROPIN => match &a.diff {
                rampart_core::Diff::Text { after, .. } => Some(after.clone()),
                _ => None,
            },
            _ => None,
        })
        .expect("the drop-in changes")
}

#[test]
fn fresh_host_gets_the_seed_settings_as_a_validated_drop_in() {
    let c = lab_config();
    let p = plan_checked(&c, &fresh(&c), &no_secrets(), "root");
    assert_eq!(
        changes(&p),
        [
            "file:/etc/ssh/sshd_config.d/00-rampart.conf: create /etc/ssh/sshd_config.d/00-rampart.conf"
        ]
    );
    let text = dropin_text(&p);
    let directives: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    assert_eq!(
        directives,
        [
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "PubkeyAuthentication yes",
            "KbdInteractiveAuthentication no",
            "AllowUsers root lab fleetclaw",
            "PermitEmptyPasswords no",
            "X11Forwarding no",
            "LoginGraceTime 30",
            "MaxAuthTries 3",
            "Port 22",
        ]
    );
    let Some(Ok(Change::Apply(a))) = p.items.first().map(|i| &i.change) else {
        panic!("no change")
    };
    assert_eq!(a.risk, Risk::Access);
    assert_eq!(a.notify, [HANDLER]);
    let script = a.script.as_str();
    assert!(
        script.contains("mkdir -p -m 0755 /run/sshd && sshd -t"),
        "{script}"
    );
    assert!(
        script.contains("previous file restored"),
        "validated in place with restore: {script}"
    );
    // A reload, not a restart, of the Debian unit name, that waits for sshd to listen again.
    assert_eq!(p.handlers.len(), 1);
    let h = p.handlers[0].script.as_str();
    assert!(h.starts_with("set -- ssh.service /run/sshd.pid\n"), "{h}");
    assert!(
        h.contains("systemctl try-reload-or-restart \"$1\"\n"),
        "{h}"
    );
    assert!(
        h.contains("until [ -n \"$(find \"$2\" -newer \"$m\" 2>/dev/null)\" ]"),
        "{h}"
    );
}

#[test]
fn converged_host_is_a_noop() {
    let c = lab_config();
    let after = assert_converges(&c, fresh(&c), &no_secrets(), "root");
    assert!(
        after.files[DROPIN]
            .text()
            .is_some_and(|t| t.contains("PasswordAuthentication no"))
    );
    let p = plan_checked(&c, &after, &no_secrets(), "root");
    assert!(changes(&p).is_empty());
}

#[test]
fn strict_profile_and_extra_directives() {
    let c = configure(json!({
        "permit_root_login": "prohibit-password",
        "allow_users": ["root"],
        "strict": true,
        "extra": {"ClientAliveInterval": "120", "Banner": "/etc/issue.net"}
    }));
    let p = plan_checked(&c, &fresh(&c), &no_secrets(), "root");
    let text = dropin_text(&p);
    for line in [
        "ClientAliveInterval 120",
        "ClientAliveCountMax 2",
        "AllowTcpForwarding no",
        "AllowAgentForwarding no",
        "LogLevel VERBOSE",
        "MaxStartups 10:30:60",
        "Banner /etc/issue.net",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in\n{text}"
        );
    }
    assert!(
        !text.contains("ClientAliveInterval 300"),
        "extra replaces the profile's value in place"
    );
    let ids: Vec<String> = c.checks().into_iter().map(|c| c.id).collect();
    assert!(
        ids.contains(&"sshd.maxstartups".to_owned()) && ids.contains(&"sshd.loglevel".to_owned()),
        "{ids:?}"
    );
    assert!(
        !ids.contains(&"sshd.clientaliveinterval".to_owned()),
        "an extra value is not checked against a guessed form"
    );
    assert_converges(&c, fresh(&c), &no_secrets(), "root");
}

#[test]
fn drift_in_the_drop_in_is_repaired() {
    let c = lab_config();
    let mut f = assert_converges(&c, fresh(&c), &no_secrets(), "root");
    let text = f.files[DROPIN]
        .text()
        .unwrap_or_default()
        .replace("PasswordAuthentication no", "PasswordAuthentication yes");
    f.files
        .insert(DROPIN.into(), text_file(&text, 0o644, "root"));
    let p = plan_checked(&c, &f, &no_secrets(), "root");
    assert_eq!(
        changes(&p),
        [
            "file:/etc/ssh/sshd_config.d/00-rampart.conf: update /etc/ssh/sshd_config.d/00-rampart.conf"
        ]
    );
    assert_converges(&c, f, &no_secrets(), "root");
}

#[test]
fn password_authentication_appended_to_sshd_config_or_a_cloud_init_drop_in_loses() {
    // Both come after the drop-in in sshd's reading order: the first value (ours) stays in
    // force, so there is nothing to repair; the verify check proves it with sshd -T.
    let c = lab_config();
    let mut f = assert_converges(&c, fresh(&c), &no_secrets(), "root");
    f.files.insert(
        MAIN.into(),
        text_file(
            &format!("{DEBIAN_MAIN}PasswordAuthentication yes\n"),
            0o644,
            "root",
        ),
    );
    f.files.insert(
        "/etc/ssh/sshd_config.d/50-cloud-init.conf".into(),
        text_file("PasswordAuthentication yes\n", 0o600, "root"),
    );
    let p = plan_checked(&c, &f, &no_secrets(), "root");
    assert!(changes(&p).is_empty(), "{:?}", changes(&p));
}

#[test]
fn a_directive_above_the_include_is_repaired_by_moving_the_include_up() {
    let c = lab_config();
    let mut f = assert_converges(&c, fresh(&c), &no_secrets(), "root");
    f.files.insert(
        MAIN.into(),
        text_file(
            &format!("PasswordAuthentication yes\n{DEBIAN_MAIN}"),
            0o644,
            "root",
        ),
    );
    let p = plan_checked(&c, &f, &no_secrets(), "root");
    assert_eq!(
        changes(&p),
        ["file:/etc/ssh/sshd_config: update /etc/ssh/sshd_config"]
    );
    let Some(Ok(Change::Apply(a))) = p.items.get(1).map(|i| &i.change) else {
        panic!("the main file changes")
    };
    assert_eq!(
        (a.risk, a.notify.as_slice()),
        (Risk::Access, [HANDLER.to_owned()].as_slice())
    );
    assert!(a.script.as_str().contains("sshd -t"));
    let after = assert_converges(&c, f, &no_secrets(), "root");
    let main = after.files[MAIN].text().unwrap_or_default().to_owned();
    let first = main.lines().find(|l| main_config::keyword(l).is_some());
    assert_eq!(first, Some(main_config::INCLUDE_LINE));
    assert!(
        main.contains("PasswordAuthentication yes\n"),
        "the host's own lines stay"
    );
}

#[test]
fn a_main_file_without_include_gets_one() {
    let c = lab_config();
    let mut f = fresh(&c);
    f.files.insert(
        MAIN.into(),
        text_file("UsePAM yes\nPasswordAuthentication yes\n", 0o644, "root"),
    );
    let p = plan_checked(&c, &f, &no_secrets(), "root");
    assert_eq!(changes(&p).len(), 2, "{:?}", changes(&p));
    assert_converges(&c, f, &no_secrets(), "root");
}

#[test]
fn a_port_move_in_two_runs_keeps_the_current_port() {
    let c = configure(json!({"allow_users": [], "port": 2222, "extra_ports": [22]}));
    let p = plan_checked(&c, &fresh(&c), &no_secrets(), "lab");
    let text = dropin_text(&p);
    assert!(text.contains("Port 2222\nPort 22\n"), "{text}");
    let checks = c.checks();
    let port = checks
        .iter()
        .find(|c| c.id == "sshd.port")
        .expect("port check");
    assert_eq!(port.expect, Expect::Line("2222 22".into()));
    assert!(
        checks.iter().any(|c| c.id == "sshd.listening-2222")
            && checks.iter().any(|c| c.id == "sshd.listening-22")
    );
}

#[test]
fn socket_activated_ubuntu_regenerates_and_restarts_the_socket() {
    let c = lab_config();
    let mut f = fresh(&c);
    f.host.os_id = "ubuntu".into();
    f.host.os_codename = "noble".into();
    f.units.insert("ssh.socket".into(), unit(true));
    let p = plan_checked(&c, &f, &no_secrets(), "root");
    assert_eq!(
        p.handlers[0].script.as_str(),
        "set -- ssh.service\nsystemctl daemon-reload\nsystemctl stop \"$1\"\nsystemctl restart ssh.socket\nsystemctl start \"$1\"\n"
    );
}

#[test]
fn rhel_style_hosts_reload_sshd() {
    let c = lab_config();
    let mut f = fresh(&c);
    f.units.insert(
        "ssh".into(),
        UnitState {
            load_state: "not-found".into(),
            ..UnitState::default()
        },
    );
    f.units.insert("sshd".into(), unit(true));
    let p = plan_checked(&c, &f, &no_secrets(), "root");
    assert!(
        p.handlers[0]
            .script
            .as_str()
            .starts_with("set -- sshd.service ")
    );
    f.units.insert(
        "sshd".into(),
        UnitState {
            load_state: "not-found".into(),
            ..UnitState::default()
        },
    );
    assert!(plan_err(&c, &f, "root").contains("openssh-server"));
}

#[test]
fn seed_defaults_refuse_to_lock_out_root() {
    let c = Config::default();
    let e = plan_err(&c, &fresh(&c), "root");
    assert!(
        e.contains("PermitRootLogin no would lock rampart out: it connects to h5 as root"),
        "{e}"
    );
    assert!(
        e.contains("Connect as `fleetclaw` with become = true"),
        "{e}"
    );
    assert!(
        e.contains("sshd.permit_root_login = \"prohibit-password\""),
        "{e}"
    );
    assert!(
        e.contains("AllowUsers fleetclaw ubuntu would lock rampart out"),
        "{e}"
    );
}

#[test]
fn seed_defaults_plan_when_connected_as_an_allowed_user() {
    let c = Config::default();
    let p = plan_checked(&c, &fresh(&c), &no_secrets(), "fleetclaw");
    assert_eq!(changes(&p).len(), 1);
}

#[test]
fn allow_users_must_admit_the_connecting_user() {
    let c = configure(json!({"allow_users": ["fleetclaw"]}));
    let e = plan_err(&c, &fresh(&c), "lab");
    assert!(e.contains("AllowUsers fleetclaw would lock rampart out: it connects to h5 as `lab`. Add `lab` to sshd.allow_users"), "{e}");
    // Patterns and user@address entries are understood.
    for entry in ["l*", "lab@10.213.1.0/24", "lab@10.213.1.*"] {
        let c = configure(json!({"allow_users": [entry]}));
        plan_checked(&c, &fresh(&c), &no_secrets(), "lab");
    }
    let c = configure(json!({"allow_users": ["lab@192.0.2.1"]}));
    assert!(plan_err(&c, &fresh(&c), "lab").contains("AllowUsers lab@192.0.2.1"));
}

#[test]
fn allow_groups_must_admit_the_connecting_user() {
    let c = configure(json!({"allow_users": [], "allow_groups": ["sshusers"]}));
    let mut f = fresh(&c);
    let e = plan_err(&c, &f, "lab");
    assert!(
        e.contains("AllowGroups sshusers would lock rampart out: `lab`"),
        "{e}"
    );
    let acc = f.accounts.get_or_insert_with(Accounts::default);
    acc.users.entry("lab".into()).or_insert(UserEntry {
        uid: 1000,
        gid: 1000,
        home: "/home/lab".into(),
        shell: "/bin/bash".into(),
    });
    acc.groups.insert(
        "sshusers".into(),
        GroupEntry {
            gid: 1500,
            members: vec!["lab".into()],
        },
    );
    plan_checked(&c, &f, &no_secrets(), "lab");
}

#[test]
fn a_port_move_in_one_run_is_planned_for_the_engine_to_confirm() {
    let c = configure(json!({"allow_users": [], "port": 2222}));
    let p = plan_checked(&c, &fresh(&c), &no_secrets(), "lab");
    let text = dropin_text(&p);
    assert!(
        text.contains("Port 2222\n") && !text.contains("Port 22\n"),
        "{text}"
    );
}

#[test]
fn other_lockouts_are_refused_and_allow_lockout_overrides() {
    let cases = [
        (
            json!({"allow_users": [], "pubkey_authentication": false}),
            "PubkeyAuthentication no",
        ),
        (
            json!({"allow_users": [], "extra": {"AuthenticationMethods": "publickey,password"}}),
            "AuthenticationMethods publickey,password",
        ),
        (
            json!({"allow_users": [], "extra": {"DenyUsers": "lab"}}),
            "DenyUsers lab",
        ),
        (
            json!({"allow_users": [], "permit_root_login": "forced-commands-only"}),
            "PermitRootLogin forced-commands-only",
        ),
        (
            json!({"allow_users": [], "extra": {"PermitRootLogin": "no"}}),
            "PermitRootLogin no",
        ),
    ];
    for (v, want) in cases {
        let user = if want.starts_with("PermitRootLogin") {
            "root"
        } else {
            "lab"
        };
        let c = configure(v.clone());
        let e = plan_err(&c, &fresh(&c), user);
        assert!(e.contains(want), "{v}: {e}");
        let mut v = v;
        v["allow_lockout"] = json!(true);
        let c = configure(v);
        plan_checked(&c, &fresh(&c), &no_secrets(), user);
    }
}

#[test]
fn a_broken_sshd_config_elsewhere_is_reported() {
    let c = lab_config();
    let mut f = assert_converges(&c, fresh(&c), &no_secrets(), "root");
    if let Some(s) = f.sshd.as_mut() {
        s.ok = false;
        s.error =
            Some("/etc/ssh/sshd_config.d/60-x.conf line 1: Bad configuration option: Foo".into());
    }
    assert!(plan_err(&c, &f, "root").contains("Bad configuration option: Foo"));
    // A missing /run/sshd (socket-activated, ssh.service not running) is not an error.
    if let Some(s) = f.sshd.as_mut() {
        s.error = Some("Missing privilege separation directory: /run/sshd".into());
    }
    plan_checked(&c, &f, &no_secrets(), "root");
}

#[test]
fn a_symlinked_or_missing_main_file_is_refused() {
    let c = lab_config();
    let mut f = fresh(&c);
    f.files.insert(MAIN.into(), FileState::Absent);
    assert!(plan_err(&c, &f, "root").contains("reinstall openssh-server"));
}

#[test]
fn checks_assert_effective_values_and_name_the_overriding_file() {
    let checks = lab_config().checks();
    let find = |id: &str| {
        checks
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no check {id}"))
    };
    assert_eq!(
        find("sshd.permitrootlogin").expect,
        Expect::Line("permitrootlogin without-password".into())
    );
    assert_eq!(
        find("sshd.passwordauthentication").expect,
        Expect::Line("passwordauthentication no".into())
    );
    assert_eq!(
        find("sshd.allowusers").expect,
        Expect::Line("fleetclaw lab root".into())
    );
    assert_eq!(find("sshd.port").expect, Expect::Line("22".into()));
    assert_eq!(
        find("sshd.listening").expect,
        Expect::Contains(":22 ".into())
    );
    let cmd = &find("sshd.passwordauthentication").command;
    assert!(
        cmd.starts_with("set -- \"$1\" passwordauthentication line 'passwordauthentication no' /etc/ssh/sshd_config /etc/ssh/sshd_config.d\n"),
        "{cmd}"
    );
    // Judging real sshd -T output through the same command shape.
    let pass = rampart_core::facts::CommandResult {
        rc: 0,
        output: "passwordauthentication no\n".into(),
    };
    assert!(find("sshd.passwordauthentication").judge(Some(&pass)).pass);
    let fail = rampart_core::facts::CommandResult {
        rc: 0,
        output: "passwordauthentication yes\nset in /etc/ssh/sshd_config.d/0-early.conf:1:PasswordAuthentication yes".into(),
    };
    let v = find("sshd.passwordauthentication").judge(Some(&fail));
    assert!(!v.pass && v.evidence.contains("0-early.conf"), "{v:?}");
    let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
    for id in [
        "sshd.pubkeyauthentication",
        "sshd.permitemptypasswords",
        "sshd.x11forwarding",
        "sshd.logingracetime",
        "sshd.maxauthtries",
        "sshd.kbdinteractiveauthentication",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
}

#[test]
fn config_errors_have_paths() {
    let r = role();
    let e = r.configure(json!({"allow_user": ["x"]})).unwrap_err();
    assert_eq!(e.unknown_field.as_deref(), Some("allow_user"));
    let e = r
        .configure(json!({"permit_root_login": "maybe"}))
        .unwrap_err();
    assert_eq!(e.path, "permit_root_login");
    let e = r.configure(json!({"port": 0})).unwrap_err();
    assert_eq!(e.path, "port");
    let e = r.configure(json!({"allow_users": ["a b"]})).unwrap_err();
    assert_eq!(e.path, "allow_users[0]");
    let e = r
        .configure(json!({"extra": {"Match": "User x"}}))
        .unwrap_err();
    assert_eq!(e.path, "extra.Match");
    let e = r
        .configure(json!({"extra": {"Banner": "x\nPermitRootLogin yes"}}))
        .unwrap_err();
    assert_eq!(e.path, "extra.Banner");
    let e = r.configure(json!({"max_auth_tries": 0})).unwrap_err();
    assert_eq!(e.path, "max_auth_tries");
    assert_eq!(r.configure(json!({})).map(|_| ()), Ok(()));
    assert_eq!(r.defaults()["allow_users"], json!(["fleetclaw", "ubuntu"]));
    assert_eq!(r.defaults()["permit_root_login"], json!("no"));
    assert_eq!(r.defaults()["port"], json!(22));
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

/// The checks' scripts (`checks/*.sh`) under dash, a fake `sshd -T` and `ss`: each branch.
mod check_scripts {
    use super::*;
    use pretty_assertions::assert_eq;
    use rampart_shtest::Sh;

    /// The check `id`, its files below the harness's root; run and judged.
    fn run(sh: &Sh, checks: &[Check], id: &str) -> (bool, String, i32) {
        let k = checks.iter().find(|c| c.id == id).expect(id);
        let command = k
            .command
            .replace(" /etc/ssh/", &format!(" {}/etc/ssh/", sh.root().display()));
        let out = sh.run_check(&command);
        let text = out.stdout_str();
        let r = rampart_core::facts::CommandResult {
            rc: out.status,
            output: text.clone(),
        };
        (k.judge(Some(&r)).pass, text, out.status)
    }

    /// sshd_config including the drop-ins, and rampart's drop-in turning passwords off.
    fn write_main_and_dropin(sh: &Sh) {
        sh.write(
            "etc/ssh/sshd_config",
            "Include /etc/ssh/sshd_config.d/*.conf\n",
        );
        sh.write(
            "etc/ssh/sshd_config.d/00-rampart.conf",
            "PasswordAuthentication no\n",
        );
    }

    const T: &str = "port 22\nport 2222\npermitrootlogin without-password\npasswordauthentication no\nallowusers root\nallowusers lab\nallowusers fleetclaw\nallowusers lab\n";

    #[test]
    fn effective_values_pass_and_a_wrong_one_names_the_file() {
        let Some(sh) = Sh::new() else { return };
        let checks = lab_config().checks();
        write_main_and_dropin(&sh);
        sh.stub_output("sshd", 0, T);
        let (pass, out, _) = run(&sh, &checks, "sshd.passwordauthentication");
        assert!(pass && out == "passwordauthentication no\n", "{out}");
        // allowusers: sorted, unique, one line.
        let (pass, out, _) = run(&sh, &checks, "sshd.allowusers");
        assert!(pass && out == "fleetclaw lab root\n", "{out}");
        // port: in order, one line (the lab config wants 22 alone).
        let (pass, out, _) = run(&sh, &checks, "sshd.port");
        assert!(!pass && out.starts_with("22 2222\n"), "{out}");
        // A wrong value: the lines that set the keyword, in the main file and the drop-ins.
        sh.write(
            "etc/ssh/sshd_config.d/0-early.conf",
            "# x\nPasswordAuthentication yes\n",
        );
        sh.stub_output(
            "sshd",
            0,
            &T.replace("passwordauthentication no", "passwordauthentication yes"),
        );
        let (pass, out, rc) = run(&sh, &checks, "sshd.passwordauthentication");
        assert!(!pass && rc == 0, "{out}");
        assert!(
            out.starts_with("passwordauthentication yes\nset in ")
                && out.contains("0-early.conf:2:PasswordAuthentication yes")
                && out.contains("00-rampart.conf:1:PasswordAuthentication no"),
            "{out}"
        );
        // sshd -T fails: its last lines and exit 1.
        sh.stub_output(
            "sshd",
            255,
            "a\nb\nc\n/etc/ssh/sshd_config line 3: Bad configuration option: Foo\n",
        );
        let (pass, out, rc) = run(&sh, &checks, "sshd.passwordauthentication");
        assert!(!pass && rc == 1, "{out}");
        assert_eq!(
            out,
            "b\nc\n/etc/ssh/sshd_config line 3: Bad configuration option: Foo\n"
        );
    }

    /// The controller judges the sshd checks from the probe's `sshd -T` facts, with no
    /// command per check: its answers are the shell equivalent's, run here on the same files
    /// and the same `sshd -T`, for passing, failing and broken configurations.
    #[test]
    fn judged_from_facts_as_the_shell_equivalent_answers() {
        use rampart_core::facts::{CommandResult, Facts, SshdEffective};
        use rampart_core::verify::{SSHD_SOURCES, SSHD_SOURCES_ID};
        let Some(sh) = Sh::new() else { return };
        let checks = lab_config().checks();
        write_main_and_dropin(&sh);
        sh.write(
            "etc/ssh/sshd_config.d/0-early.conf",
            "# x\nPasswordAuthentication yes\n",
        );
        let root = sh.root().display().to_string();
        let sources = sh.run(
            &SSHD_SOURCES.replace(" /etc/ssh/", &format!(" {root}/etc/ssh/")),
            &[],
        );
        for (sshd_t, rc) in [
            (T.to_owned(), 0),
            (
                T.replace("passwordauthentication no", "passwordauthentication yes"),
                0,
            ),
            (
                "b\nc\n/etc/ssh/sshd_config line 3: Bad configuration option: Foo\n".to_owned(),
                255,
            ),
        ] {
            sh.stub_output("sshd", rc, &sshd_t);
            let mut f = Facts::default();
            let mut e = SshdEffective {
                ok: rc == 0,
                ..Default::default()
            };
            if rc == 0 {
                for l in sshd_t.lines() {
                    let (k, v) = l.split_once(' ').unwrap();
                    e.values.entry(k.into()).or_default().push(v.into());
                }
            } else {
                e.error = Some(sshd_t.trim().into());
            }
            f.sshd = Some(e);
            f.commands.insert(
                SSHD_SOURCES_ID.into(),
                CommandResult {
                    rc: 0,
                    output: sources.stdout_str(),
                },
            );
            for id in [
                "sshd.passwordauthentication",
                "sshd.allowusers",
                "sshd.port",
            ] {
                let k = checks.iter().find(|c| c.id == id).unwrap();
                assert!(k.fact.is_some(), "{id}");
                let (pass, out, rc) = run(&sh, &checks, id);
                let v = k.judge_facts(&f);
                assert_eq!(v.pass, pass, "{id}: {v:?} / {out}");
                let shell = k.judge(Some(&CommandResult {
                    rc,
                    output: out.clone(),
                }));
                assert_eq!(v.evidence, shell.evidence, "{id}");
            }
        }
    }

    #[test]
    fn listening_asks_ss_for_the_port() {
        let Some(sh) = Sh::new() else { return };
        let checks = lab_config().checks();
        sh.stub_output("ss", 0, "LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\n");
        let (pass, out, _) = run(&sh, &checks, "sshd.listening");
        assert!(pass, "{out}");
        assert_eq!(sh.calls(), ["ss -Hltn sport = :22"]);
        sh.stub_output("ss", 0, "");
        assert!(!run(&sh, &checks, "sshd.listening").0);
        sh.stub("ss", 1);
        assert!(!run(&sh, &checks, "sshd.listening").0);
    }
}
