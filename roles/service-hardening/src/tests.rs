//! Unit tests: planning against synthetic facts, drift, rendered files and config errors.

use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use rampart_core::facts::{CommandResult, FactRequest, Facts, FileState};
use rampart_core::hostplan::PlannedRole;
use rampart_core::plan::Change;
use rampart_core::role::Configured;
use rampart_core::secret::Secret;
use rampart_core::testing::{
    applies, assert_converges, fresh_lab_facts, plan_checked, text_file, try_plan,
};
use serde_json::json;

use super::*;

const DROPIN: &str = "/etc/systemd/system/clawdbot.service.d/10-rampart-hardening.conf";
const DIR: &str = "/etc/systemd/system/clawdbot.service.d";
const SUDOERS: &str = "/etc/sudoers.d/clawdbot";
const ENV: &str = "/home/clawdbot/.clawdbot/.env";

fn configure(v: serde_json::Value) -> Box<dyn Configured> {
    role()
        .configure(v)
        .unwrap_or_else(|e| panic!("config rejected: {e}"))
}

fn seed() -> Box<dyn Configured> {
    configure(json!({ "env_files": [ENV] }))
}

fn no_secrets() -> BTreeMap<String, Secret> {
    BTreeMap::new()
}

/// A lab host: sudo installed, nothing of this role, the env file exists with the wrong mode
/// (the probe's `unless` check fails).
fn fresh(c: &dyn Configured) -> Facts {
    let mut f = fresh_lab_facts(c);
    f.files.insert(
        VISUDO.into(),
        FileState::File {
            mode: 0o755,
            owner: "root".into(),
            group: "root".into(),
            size: 1,
            content: None,
            sha256: String::new(),
        },
    );
    f
}

fn changes(p: &PlannedRole) -> Vec<(String, Vec<String>, Risk)> {
    applies(p)
        .into_iter()
        .map(|(id, a)| (id, a.notify.clone(), a.risk))
        .collect()
}

fn text(f: &Facts, path: &str) -> String {
    f.files
        .get(path)
        .and_then(FileState::text)
        .unwrap_or_else(|| panic!("{path} has no text"))
        .to_owned()
}

fn converged(c: &dyn Configured) -> Facts {
    assert_converges(c, fresh(c), &no_secrets(), "root")
}

fn plan_error(c: &dyn Configured, facts: &Facts) -> String {
    match try_plan(c, facts, &no_secrets(), "root") {
        Ok(_) => panic!("expected the role to refuse"),
        Err(e) => e.0,
    }
}

#[test]
fn fresh_host_gets_dropin_sudoers_and_env_fix() {
    let c = seed();
    let p = plan_checked(c.as_ref(), &fresh(c.as_ref()), &no_secrets(), "root");
    assert_eq!(
        changes(&p),
        vec![
            (format!("directory:{DIR}"), vec![], Risk::Low),
            (
                format!("file:{DROPIN}"),
                vec![RESTART.to_owned()],
                Risk::Service
            ),
            (format!("file:{SUDOERS}"), vec![], Risk::Access),
            (format!("command:secure env file {ENV}"), vec![], Risk::Low),
        ]
    );
    let Resource::File(s) = &p.items[2].resource else {
        panic!("the sudoers file")
    };
    assert_eq!((s.mode, s.owner.as_str()), (0o440, "root"));
    assert_eq!(s.validate, Some(Validate::Temp("visudo -cf %s".into())));
    let handler = ["set -e\n", p.handlers[0].script.as_str()].concat();
    // Under dash, in `set -e` as the apply script runs handlers: restarted when running, a
    // note when stopped.
    let Some(sh) = rampart_shtest::Sh::new() else {
        return;
    };
    sh.stub("systemctl", 0);
    assert!(sh.run(&handler, &[]).ok());
    assert_eq!(
        sh.calls(),
        [
            "systemctl daemon-reload",
            "systemctl is-active --quiet clawdbot.service",
            "systemctl restart clawdbot.service"
        ]
    );
    sh.clear_calls();
    sh.stub_body("systemctl", "[ \"$1\" = is-active ] && exit 3; exit 0");
    let out = sh.run(&handler, &[]);
    assert!(out.ok(), "{out:?}");
    assert_eq!(
        out.stdout_str(),
        "clawdbot.service is not running: its sandbox applies when it starts\n"
    );
    // daemon-reload failing fails the handler.
    sh.stub("systemctl", 1);
    assert!(!sh.run(&handler, &[]).ok());
}

#[test]
fn dropin_and_sudoers_say_what_the_seed_meant() {
    let c = seed();
    let f = converged(c.as_ref());
    assert_eq!(
        text(&f, DROPIN),
        "# Managed by rampart (role service-hardening): the sandbox of clawdbot.service.\n\
         # Local changes are overwritten; configure the role instead.\n\
         [Service]\n\
         NoNewPrivileges=true\n\
         PrivateTmp=true\n\
         ProtectSystem=strict\n\
         ProtectHome=read-only\n\
         ReadWritePaths=/home/clawdbot/.clawdbot\n"
    );
    assert_eq!(
        text(&f, SUDOERS),
        "# Managed by rampart (role service-hardening): clawdbot may manage clawdbot.service and nothing else.\n\
         # Viewing commands are NOEXEC: a pager they start cannot run a shell as root.\n\
         # The argument patterns are sudo regular expressions (sudo >= 1.9.10).\n\
         Cmnd_Alias RAMPART_CLAWDBOT_MANAGE = /usr/bin/systemctl ^(start|stop|restart) clawdbot(\\.service)?$, /usr/bin/systemctl daemon-reload\n\
         Cmnd_Alias RAMPART_CLAWDBOT_VIEW = /usr/bin/systemctl ^(--no-pager )?status clawdbot(\\.service)?$, /usr/bin/journalctl ^(--no-pager )?-u clawdbot(\\.service)?( (-f|--follow|-e|-x|-b|-r|--no-pager|-n [0-9]+|--lines=[0-9]+|-o (short|short-iso|cat|json)))*$\n\
         Cmnd_Alias RAMPART_CLAWDBOT_TAILSCALE = /usr/bin/tailscale status, /usr/bin/tailscale ip, /usr/bin/tailscale netcheck, /usr/bin/tailscale up, /usr/bin/tailscale down\n\
         clawdbot ALL=(root) NOPASSWD: RAMPART_CLAWDBOT_MANAGE, RAMPART_CLAWDBOT_TAILSCALE, NOEXEC: RAMPART_CLAWDBOT_VIEW\n"
    );
}

#[test]
fn options_change_the_files() {
    let c = configure(json!({
        "service": "fleet-agent@ex_001",
        "user": "fleetclaw",
        "protect_home": "tmpfs",
        "read_write_paths": ["/var/lib/fleet", "-/var/cache/fleet"],
        "extra_directives": {"ProtectKernelTunables": "true", "RestrictSUIDSGID": "yes"},
        "tailscale_commands": [],
        "sudo_nopasswd": false,
        "restart": false,
    }));
    let f = converged(c.as_ref());
    let dropin = text(
        &f,
        "/etc/systemd/system/fleet-agent@ex_001.service.d/10-rampart-hardening.conf",
    );
    assert!(dropin.ends_with("ProtectHome=tmpfs\nReadWritePaths=/var/lib/fleet\nReadWritePaths=-/var/cache/fleet\nProtectKernelTunables=true\nRestrictSUIDSGID=yes\n"), "{dropin}");
    let sudoers = text(&f, "/etc/sudoers.d/fleet-agent@ex_001");
    assert!(!sudoers.contains("tailscale"), "{sudoers}");
    assert!(sudoers.ends_with("fleetclaw ALL=(root) RAMPART_FLEET_AGENT_EX_001_MANAGE, NOEXEC: RAMPART_FLEET_AGENT_EX_001_VIEW\n"), "{sudoers}");
    assert!(
        sudoers.contains("^(start|stop|restart) fleet-agent@ex_001(\\.service)?$"),
        "{sudoers}"
    );
    let p = plan_checked(c.as_ref(), &fresh(c.as_ref()), &no_secrets(), "root");
    assert!(
        p.handlers[0]
            .script
            .as_str()
            .starts_with("set -- fleet-agent@ex_001.service no\n"),
        "restart = false: {}",
        p.handlers[0].script.as_str()
    );

    let c = configure(json!({ "sudo": false }));
    let p = plan_checked(c.as_ref(), &fresh(c.as_ref()), &no_secrets(), "root");
    assert!(p.items.iter().all(|i| !i.resource.id().contains("sudoers")));
    let mut req = FactRequest::new();
    c.facts(&mut req);
    assert!(!req.stats.contains(VISUDO), "no sudo, no visudo needed");
}

#[test]
fn converged_host_is_a_noop() {
    let c = seed();
    let f = converged(c.as_ref());
    let p = plan_checked(c.as_ref(), &f, &no_secrets(), "root");
    assert_eq!(changes(&p), vec![]);
}

type Drift = fn(&mut Facts);
type Want = Vec<(String, Vec<String>, Risk)>;

#[test]
fn drifts_are_repaired() {
    let cases: Vec<(&str, Drift, Want)> = vec![
        (
            ".env loosened to 0644 (the probe's check fails again)",
            |f| {
                f.commands.insert(
                    format!("unless:secure env file {ENV}"),
                    CommandResult {
                        rc: 1,
                        output: String::new(),
                    },
                );
            },
            vec![(format!("command:secure env file {ENV}"), vec![], Risk::Low)],
        ),
        (
            "drop-in edited",
            |f| {
                let t = text(f, DROPIN).replace("ProtectSystem=strict", "ProtectSystem=false");
                f.files.insert(DROPIN.into(), text_file(&t, 0o644, "root"));
            },
            vec![(
                format!("file:{DROPIN}"),
                vec![RESTART.into()],
                Risk::Service,
            )],
        ),
        (
            "drop-in deleted",
            |f| {
                f.files.insert(DROPIN.into(), FileState::Absent);
            },
            vec![(
                format!("file:{DROPIN}"),
                vec![RESTART.into()],
                Risk::Service,
            )],
        ),
        (
            "sudoers widened by hand",
            |f| {
                let t = format!("{}clawdbot ALL=(ALL) NOPASSWD: ALL\n", text(f, SUDOERS));
                f.files.insert(SUDOERS.into(), text_file(&t, 0o440, "root"));
            },
            vec![(format!("file:{SUDOERS}"), vec![], Risk::Access)],
        ),
        (
            "sudoers made writable",
            |f| {
                let t = text(f, SUDOERS);
                f.files.insert(SUDOERS.into(), text_file(&t, 0o644, "root"));
            },
            vec![(format!("file:{SUDOERS}"), vec![], Risk::Access)],
        ),
    ];
    let c = seed();
    let converged = converged(c.as_ref());
    for (what, drift, want) in cases {
        let mut f = converged.clone();
        drift(&mut f);
        let p = plan_checked(c.as_ref(), &f, &no_secrets(), "root");
        assert_eq!(changes(&p), want, "{what}");
        assert_converges(c.as_ref(), f, &no_secrets(), "root");
    }
}

#[test]
fn env_files_are_fixed_without_reading_them_and_never_through_links() {
    let c = seed();
    let mut req = FactRequest::new();
    c.facts(&mut req);
    assert!(
        !req.files.contains(ENV) && !req.stats.contains(ENV),
        "rampart never fetches the service's secrets"
    );
    let guard = &req.commands[&format!("unless:secure env file {ENV}")];
    assert!(
        guard.contains("stat -c '%a %U:%G'") && guard.contains("'600 clawdbot:clawdbot'"),
        "{guard}"
    );
    let p = plan_checked(c.as_ref(), &fresh(c.as_ref()), &no_secrets(), "root");
    let Some(Ok(Change::Apply(a))) = p.items.last().map(|i| &i.change) else {
        panic!("the env file command runs")
    };
    let s = a.script.as_str();
    assert!(!s.contains("cat ") && !s.contains("base64"), "{s}");

    // The fix and its guard under dash, on real files in a temporary root (chown faked: the
    // test is not root).
    let Some(sh) = rampart_shtest::Sh::new() else {
        return;
    };
    sh.stub("chown", 0);
    let env = sh.write("home/x/.env", "TOKEN=1\n");
    let owner = String::from_utf8_lossy(
        &std::process::Command::new("id")
            .args(["-un"])
            .output()
            .expect("id")
            .stdout,
    )
    .trim()
    .to_owned();
    let group = String::from_utf8_lossy(
        &std::process::Command::new("id")
            .args(["-gn"])
            .output()
            .expect("id")
            .stdout,
    )
    .trim()
    .to_owned();
    let c = configure(json!({"user": "clawdbot", "env_files": [env]}));
    let p = plan_checked(c.as_ref(), &fresh(c.as_ref()), &no_secrets(), "root");
    let Some(Ok(Change::Apply(a))) = p.items.last().map(|i| &i.change) else {
        panic!("the env file command runs")
    };
    let fix = ["set -e\n", a.script.as_str()].concat();
    let mut req = FactRequest::new();
    c.facts(&mut req);
    let guard = req.commands[&format!("unless:secure env file {env}")].clone();
    let mode = |p: &str| {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::symlink_metadata(p)
            .expect("stat")
            .permissions()
            .mode()
            & 0o7777
    };
    std::fs::set_permissions(&env, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    assert!(!sh.run(&guard, &[]).ok(), "0644: the guard fails");
    let out = sh.run(&fix, &[]);
    assert!(out.ok(), "{out:?}");
    assert_eq!(mode(&env), 0o600);
    assert_eq!(sh.calls(), [format!("chown -h clawdbot:clawdbot {env}")]);
    // The guard with this machine's owner: right mode and owner pass.
    let guard_here = guard.replace("'600 clawdbot:clawdbot'", &format!("'600 {owner}:{group}'"));
    assert!(sh.run(&guard_here, &[]).ok(), "{guard_here}");

    // A symbolic link in its place: refused, and nothing changed through it.
    sh.clear_calls();
    let target = sh.write("etc/shadow-ish", "x\n");
    std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    std::fs::remove_file(&env).expect("rm");
    std::os::unix::fs::symlink(&target, &env).expect("symlink");
    assert!(!sh.run(&guard, &[]).ok(), "a link fails the guard");
    let out = sh.run(&fix, &[]);
    assert_eq!(out.status, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("refusing to change owner or mode through it"),
        "{out:?}"
    );
    assert_eq!(mode(&target), 0o644);
    assert!(sh.calls().is_empty(), "{:?}", sh.calls());

    // A hard link: refused.
    std::fs::remove_file(&env).expect("rm");
    std::fs::hard_link(&target, &env).expect("hard link");
    let out = sh.run(&fix, &[]);
    assert_eq!(out.status, 1, "{out:?}");
    assert!(out.stderr.contains("has other hard links"), "{out:?}");
    assert_eq!(mode(&target), 0o644);

    // A directory: not a regular file.
    std::fs::remove_file(&env).expect("rm");
    std::fs::create_dir(&env).expect("mkdir");
    let out = sh.run(&fix, &[]);
    assert_eq!(out.status, 1, "{out:?}");
    assert!(out.stderr.contains("is not a regular file"), "{out:?}");

    // Absent: nothing to do, the guard passes.
    std::fs::remove_dir(&env).expect("rmdir");
    assert!(sh.run(&guard, &[]).ok());
    assert!(sh.run(&fix, &[]).ok());
    assert!(sh.calls().is_empty(), "{:?}", sh.calls());
}

#[test]
fn missing_sudo_is_a_clear_error() {
    let c = seed();
    let mut f = fresh(c.as_ref());
    f.files.insert(VISUDO.into(), FileState::Absent);
    let e = plan_error(c.as_ref(), &f);
    assert!(
        e.contains("sudo is not installed") && e.contains("sudo = false"),
        "{e}"
    );
}

#[test]
fn checks_are_named_controls() {
    let c = seed();
    let checks = c.checks();
    let ids: Vec<&str> = checks.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "service-hardening.sandbox-configured",
            "service-hardening.sandbox-running",
            "service-hardening.env-files",
            "service-hardening.sudoers-valid",
            "service-hardening.sudoers-file",
            "service-hardening.sudo-scoped"
        ]
    );
    assert!(
        checks[0].command.starts_with(
            "set -- \"$1\" clawdbot.service 'NoNewPrivileges=yes|PrivateTmp=yes|ProtectSystem=strict|ProtectHome=read-only' "
        ),
        "{}",
        checks[0].command
    );
    let off =
        configure(json!({"sudo": false, "no_new_privileges": false, "protect_system": "full"}))
            .checks();
    let ids: Vec<&str> = off.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, ["service-hardening.sandbox-configured"]);
}

/// The sandbox judge under dash, fed `systemctl show` output as systemd 252 prints it (lab).
#[test]
fn sandbox_judge_reads_systemctl_show() {
    let c = configure(json!({"read_write_paths": ["/home/clawdbot/.clawdbot", "-/var/cache/x"]}));
    let check = c.checks().remove(0);
    let Some(sh) = rampart_shtest::Sh::new() else {
        return;
    };
    let run = |shown: &str| {
        sh.stub_output("systemctl", 0, shown);
        let shell = sh.run(&check.command, &[""]).stdout_str().trim().to_owned();
        // The controller judges the same properties from the probe's `systemctl show`.
        let mut f = rampart_core::facts::Facts::default();
        let mut u = rampart_core::facts::UnitState::default();
        for l in shown.lines() {
            let (k, v) = l.split_once('=').expect("K=V");
            u.props.insert(k.into(), v.into());
        }
        f.units.insert("clawdbot.service".into(), u);
        rampart_core::testing::assert_answers_as_shell(&check, &f, &shell);
        shell
    };
    let good = "ReadWritePaths=/home/clawdbot/.clawdbot -/var/cache/x /var/lib/extra\nPrivateTmp=yes\nProtectHome=read-only\nProtectSystem=strict\nNoNewPrivileges=yes\n";
    assert_eq!(run(good), "ok");
    assert_eq!(
        sh.calls(),
        [
            "systemctl show clawdbot.service -p NoNewPrivileges -p PrivateTmp -p ProtectSystem -p ProtectHome -p ReadWritePaths"
        ]
    );
    let unit_missing = "ReadWritePaths=\nProtectSystem=no\nNoNewPrivileges=no\n";
    assert_eq!(
        run(unit_missing),
        "NoNewPrivileges=no (want yes)\nPrivateTmp= (want yes)\nProtectSystem=no (want strict)\nProtectHome= (want read-only)\nReadWritePaths lacks /home/clawdbot/.clawdbot\nReadWritePaths lacks -/var/cache/x"
    );
}

/// The running-sandbox and env-files checks under dash.
#[test]
fn running_and_env_file_checks_under_dash() {
    let Some(sh) = rampart_shtest::Sh::new() else {
        return;
    };
    let env = sh.write("srv/.env", "A=1\n");
    let c = configure(json!({"env_files": [env, "/nonexistent/.env"]}));
    let checks = c.checks();
    let by = |id: &str| checks.iter().find(|k| k.id == id).cloned().expect(id);
    sh.stub_output("systemctl", 0, "0\n");
    let running = by("service-hardening.sandbox-running");
    assert_eq!(
        sh.run(&running.command, &[""]).stdout_str(),
        "not running\n"
    );
    // The unit's processes from its cgroup, without systemctl: the check reads the fake
    // /sys and /proc below the root (the script's absolute paths, moved there).
    let moved = running
        .command
        .replace("/sys/fs/cgroup/", &sh.path("sys/"))
        .replace("/proc/", &sh.path("proc/"));
    sh.write(
        "sys/unified/system.slice/clawdbot.service/cgroup.procs",
        "7\n9\n",
    );
    for (pid, nnp, root) in [("7", "1", "ro"), ("9", "1", "ro")] {
        sh.write(
            &format!("proc/{pid}/status"),
            format!("Name:\tclawdbot\nNoNewPrivs:\t{nnp}\nSeccomp:\t0\n"),
        );
        sh.write(
            &format!("proc/{pid}/mountinfo"),
            format!("20 1 0:64 / / {root},nosuid,relatime shared:1 - overlay overlay rw\n21 20 0:5 / /tmp rw - tmpfs tmpfs rw\n"),
        );
    }
    let before = sh.calls().len();
    assert_eq!(
        sh.run(&moved, &[""]).stdout_str(),
        "NoNewPrivs=1\nroot=ro\n",
        "one line per distinct answer"
    );
    assert_eq!(sh.calls().len(), before, "systemctl was asked");
    // A second process that escaped the sandbox is shown; one that ended is skipped.
    sh.write(
        "sys/unified/system.slice/clawdbot.service/cgroup.procs",
        "7\n9\n11\n",
    );
    sh.write("proc/9/status", "NoNewPrivs:\t0\n");
    sh.write(
        "proc/9/mountinfo",
        "20 1 0:64 / / rw,relatime - ext4 /dev/vda rw\n",
    );
    let out = sh.run(&moved, &[""]);
    assert!(out.ok(), "{out:?}");
    assert_eq!(
        out.stdout_str(),
        "NoNewPrivs=1\nroot=ro\nNoNewPrivs=0\nroot=rw\n"
    );
    let files = by("service-hardening.env-files");
    let out = sh.run(&files.command, &[""]).stdout_str();
    assert!(
        out.contains("BAD ") && out.contains("/nonexistent/.env absent"),
        "{out}"
    );
    std::fs::remove_file(&env).expect("rm");
    std::os::unix::fs::symlink("/etc/hostname", &env).expect("symlink");
    let out = sh.run(&files.command, &[""]).stdout_str();
    assert!(
        out.contains(&format!("BAD {env} is a symbolic link")),
        "{out}"
    );
}

#[test]
fn config_errors_name_the_field() {
    let cases = [
        (
            json!({"service": "claw.bot"}),
            "service",
            "sudoers.d ignores",
        ),
        (json!({"service": ""}), "service", "service names"),
        (json!({"user": "root"}), "user", "must not run as root"),
        (json!({"user": "Bad User"}), "user", "not a valid user name"),
        (json!({"group": "x y"}), "group", "not a valid group name"),
        (
            json!({"env_files": ["relative/.env"]}),
            "env_files[0]",
            "canonical absolute path",
        ),
        (
            json!({"env_files": ["/home/x/../.env"]}),
            "env_files[0]",
            "canonical absolute path",
        ),
        (
            json!({"env_files": ["/a/.env", "/a/.env"]}),
            "env_files[1]",
            "listed twice",
        ),
        (
            json!({"read_write_paths": ["/"]}),
            "read_write_paths[0]",
            "whole file system",
        ),
        (
            json!({"read_write_paths": ["~/.clawdbot"]}),
            "read_write_paths[0]",
            "absolute path",
        ),
        (
            json!({"protect_system": "yes"}),
            "protect_system",
            "one of strict",
        ),
        (
            json!({"protect_home": "ro"}),
            "protect_home",
            "one of read-only",
        ),
        (
            json!({"extra_directives": {"NoNewPrivileges": "false"}}),
            "extra_directives.NoNewPrivileges",
            "own setting",
        ),
        (
            json!({"extra_directives": {"bad-name": "x"}}),
            "extra_directives.bad-name",
            "not a systemd directive",
        ),
        (
            json!({"extra_directives": {"User": "a\nExecStartPre=/bin/sh"}}),
            "extra_directives.User",
            "one line",
        ),
        (
            json!({"tailscale_commands": ["*"]}),
            "tailscale_commands[0]",
            "no wildcards",
        ),
        (
            json!({"tailscale_commands": ["file get /etc"]}),
            "tailscale_commands[0]",
            "writes received files as root",
        ),
        (
            json!({"tailscale_commands": ["serve 80"]}),
            "tailscale_commands[0]",
            "publishes local ports",
        ),
        (
            json!({"tailscale_commands": ["up --ssh"]}),
            "tailscale_commands[0]",
            "opens SSH",
        ),
        (json!({"restart": "yes"}), "restart", "invalid type"),
    ];
    for (value, path, message) in cases {
        let e = role()
            .configure(value.clone())
            .expect_err(&format!("{value} must be refused"));
        assert_eq!(e.path, path, "{value}: {e}");
        assert!(e.message.contains(message), "{value}: {e}");
    }
    let e = role()
        .configure(json!({"env_file": []}))
        .expect_err("unknown field");
    assert_eq!(e.unknown_field.as_deref(), Some("env_file"));
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
