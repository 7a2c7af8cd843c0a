//! Unit tests: planning against synthetic facts, secrets handling, drift and config errors.

use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use rampart_core::facts::{CommandResult, FactRequest, Facts, FileState};
use rampart_core::hostplan::{self, PlannedRole};
use rampart_core::plan::{Change, Diff};
use rampart_core::role::Configured;
use rampart_core::secret::{Redactor, Secret};
use rampart_core::template::Templates;
use rampart_core::testing::{
    applies, assert_converges, fresh_lab_facts, plan_checked, text_file, try_plan,
};
use rampart_core::verify::Check;
use serde_json::json;

use super::*;

/// Every secret value starts with this: it must never show up in any output.
const CANARY: &str = "CANARY-7f3a9c-do-not-print";
const CONF: &str =
    "bind 127.0.0.1 -::1\nport 6379\n# aclfile /etc/redis/users.acl\n# requirepass foobared\n";
const ACL: &str = "/etc/redis/users.acl";
const AUTH: &str = "/etc/rampart/redis-acl.auth";
const REDIS_CONF: &str = "/etc/redis/redis.conf";

fn configure(v: serde_json::Value) -> Box<dyn Configured> {
    role()
        .configure(v)
        .unwrap_or_else(|e| panic!("config rejected: {e}"))
}

fn fleet() -> Box<dyn Configured> {
    configure(json!({ "assets": ["ex_001", "DZ-001"] }))
}

fn secret_of(user: &str) -> String {
    format!("{CANARY}-{user}")
}

fn secrets(users: &[&str]) -> BTreeMap<String, Secret> {
    users
        .iter()
        .map(|u| (format!("redis/{u}"), Secret::new(secret_of(u))))
        .collect()
}

fn all_secrets() -> BTreeMap<String, Secret> {
    secrets(&["admin", "monitor", "coordinator", "ex_001", "DZ-001"])
}

/// A lab host as the probe sees it: redis-server installed (its stock redis.conf), nothing
/// of this role yet.
fn fresh(c: &dyn Configured) -> Facts {
    let mut f = fresh_lab_facts(c);
    f.files
        .insert(REDIS_CONF.into(), text_file(CONF, 0o640, "redis"));
    f
}

fn plan_error(c: &dyn Configured, facts: &Facts, secrets: &BTreeMap<String, Secret>) -> String {
    match try_plan(c, facts, secrets, "root") {
        Ok(_) => panic!("expected the role to refuse"),
        Err(e) => e.0,
    }
}

/// (resource id, handlers notified) of every change.
fn changes(p: &PlannedRole) -> Vec<(String, Vec<String>)> {
    applies(p)
        .into_iter()
        .map(|(id, a)| (id, a.notify.clone()))
        .collect()
}

fn text(f: &Facts, path: &str) -> String {
    f.files
        .get(path)
        .and_then(FileState::text)
        .unwrap_or_else(|| panic!("{path} has no text"))
        .to_owned()
}

/// The fact the live-ACL drift guard reads (the live controls' one session, which the audit
/// and verify read too) and a host's answer there when its live ACL is the file's.
fn live_session(c: &dyn Configured) -> (String, CommandResult) {
    let mut req = FactRequest::new();
    c.facts(&mut req);
    let id = req
        .commands
        .keys()
        .find(|k| k.starts_with("shared:"))
        .expect("the live session")
        .clone();
    let users = c
        .checks()
        .into_iter()
        .find_map(|k| match k.expect {
            Expect::Equals(u) if k.id == "redis-acl.live-users" => Some(u),
            _ => None,
        })
        .expect("the live-users control");
    let output =
        format!("ping: NOAUTH Authentication required.\nisolation: ok\nmonitor: ok\n{users}");
    (id, CommandResult { rc: 0, output })
}

/// A host's live ACL changed by hand (`ACL SETUSER intruder on`): the session sees a user the
/// file does not have.
fn live_drift(f: &mut Facts) {
    for (id, r) in f.commands.iter_mut() {
        if id.starts_with("shared:") {
            let kept = r.output.lines().filter(|l| !l.starts_with("users: "));
            let lines: Vec<&str> = kept.chain(["users: admin default intruder"]).collect();
            r.output = lines.join("\n");
        }
    }
}

/// Applies a plan to the facts the way the host changes, handlers included: the simulation
/// knows files, but not that the `load redis ACL` handler makes the live ACL match them, so
/// that is set here (the guard's check then passes on the host).
fn apply(c: &dyn Configured, facts: Facts, secrets: &BTreeMap<String, Secret>) -> Facts {
    let p = plan_checked(c, &facts, secrets, "root");
    let mut after = hostplan::predicted(&p, &facts);
    let notified = p
        .items
        .iter()
        .any(|i| matches!(&i.change, Ok(Change::Apply(a)) if !a.notify.is_empty()));
    if notified {
        let (id, live) = live_session(c);
        after.commands.insert(id, live);
    }
    after
}

/// A fresh host after one apply; asserts a second plan is a no-op.
fn converge(c: &dyn Configured, secrets: &BTreeMap<String, Secret>) -> Facts {
    let f = apply(c, fresh(c), secrets);
    assert_converges(c, f, secrets, "root")
}

fn converged() -> (Box<dyn Configured>, Facts) {
    let c = fleet();
    let f = converge(c.as_ref(), &all_secrets());
    (c, f)
}

#[test]
fn fresh_host_gets_acl_file_credential_and_aclfile_line() {
    let c = fleet();
    let p = plan_checked(c.as_ref(), &fresh(c.as_ref()), &all_secrets(), "root");
    assert_eq!(
        changes(&p),
        vec![
            ("directory:/etc/rampart".to_owned(), vec![]),
            (format!("file:{AUTH}"), vec![]),
            (format!("file:{ACL}"), vec![LOAD.to_owned()]),
            (
                format!("edit:{REDIS_CONF}#aclfile"),
                vec![RESTART.to_owned()]
            ),
        ]
    );
    // Restart before load: ACL LOAD needs a Redis that knows its aclfile.
    let names: Vec<&str> = p.handlers.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, [RESTART, LOAD]);
    assert_eq!(p.risk(), Risk::Service);
    let Resource::File(acl) = &p.items[2].resource else {
        panic!("third resource is the ACL file")
    };
    assert_eq!(
        (acl.mode, acl.owner.as_str(), acl.group.as_str()),
        (0o600, "redis", "redis")
    );
    assert!(
        matches!(acl.validate, Some(Validate::Temp(ref v)) if v.contains("redis-server -") && v.contains("port 0"))
    );
}

#[test]
fn acl_file_has_one_confined_user_per_asset_and_only_hashes() {
    let (_, f) = converged();
    let acl = text(&f, ACL);
    let h = |u: &str| sha256_hex(secret_of(u).as_bytes());
    let lines: Vec<&str> = acl.lines().collect();
    assert_eq!(
        lines,
        vec![
            "user default off resetpass resetkeys resetchannels -@all".to_owned(),
            format!(
                "user admin on resetpass #{} resetkeys ~* resetchannels &* +@all",
                h("admin")
            ),
            format!(
                "user rampart on resetpass #{} resetkeys resetchannels -@all +ping +acl|dryrun +acl|load +acl|users",
                sha256_hex(text(&f, AUTH).trim_end().as_bytes())
            ),
            format!(
                "user monitor on resetpass #{} resetkeys resetchannels {MONITOR_COMMANDS}",
                h("monitor")
            ),
            format!(
                "user coordinator on resetpass #{} resetkeys ~fleet:* resetchannels &fleet:* {CLIENT_COMMANDS}",
                h("coordinator")
            ),
            format!(
                "user ex_001 on resetpass #{} resetkeys ~fleet:inbox:ex_001 ~fleet:outbox:ex_001 resetchannels &fleet:events:ex_001 {CLIENT_COMMANDS}",
                h("ex_001")
            ),
            format!(
                "user DZ-001 on resetpass #{} resetkeys ~fleet:inbox:DZ-001 ~fleet:outbox:DZ-001 resetchannels &fleet:events:DZ-001 {CLIENT_COMMANDS}",
                h("DZ-001")
            ),
        ]
    );
    // Redis 7.0 aborts its startup on a comment line in the ACL file (seen in the lab).
    assert!(
        acl.ends_with('\n') && !acl.lines().any(|l| l.starts_with('#') || l.is_empty()),
        "{acl}"
    );
    let rc = text(&f, REDIS_CONF);
    assert!(
        rc.lines()
            .filter(|l| l.starts_with("aclfile "))
            .eq(["aclfile /etc/redis/users.acl"]),
        "{rc}"
    );
    assert!(
        rc.contains("# aclfile /etc/redis/users.acl\n"),
        "the commented default stays"
    );
    let FileState::File { mode, owner, .. } = &f.files[AUTH] else {
        panic!()
    };
    assert_eq!((*mode, owner.as_str()), (0o600, "root"));
    assert_eq!(
        text(&f, AUTH).trim_end().len(),
        64,
        "the maintenance password is a derived hex digest"
    );
}

#[test]
fn secrets_never_appear_in_any_output() {
    let c = fleet();
    let facts = fresh(c.as_ref());
    let s = all_secrets();
    let p = plan_checked(c.as_ref(), &facts, &s, "root");
    let after = converge(c.as_ref(), &s);
    let maintenance = text(&after, AUTH).trim_end().to_owned();
    let mut outputs = vec![
        format!(
            "{:?}",
            p.items.iter().map(|i| &i.resource).collect::<Vec<_>>()
        ),
        serde_json::to_string(&p.items.iter().map(|i| &i.resource).collect::<Vec<_>>())
            .unwrap_or_default(),
        format!("{:?}", p.outcomes(&Redactor::new())),
        format!("{:?}", p.handlers),
        format!("{:?}", c),
        serde_json::to_string(&c.checks()).unwrap_or_default(),
        text(&after, ACL),
    ];
    for i in &p.items {
        if let Ok(Change::Apply(a)) = &i.change {
            outputs.push(a.diff.render());
            outputs.push(serde_json::to_string(a).unwrap_or_default());
        }
    }
    for h in &p.handlers {
        outputs.push(h.script.as_str().to_owned());
    }
    for o in &outputs {
        assert!(!o.contains(CANARY), "a secret leaked into: {o}");
        assert!(
            !o.contains(&maintenance),
            "the maintenance password leaked into: {o}"
        );
    }
    // Diffs of both secret-bearing files are redacted.
    for path in [ACL, AUTH] {
        let item = p
            .items
            .iter()
            .find(|i| i.resource.id() == format!("file:{path}"))
            .unwrap_or_else(|| panic!("no {path}"));
        let Ok(Change::Apply(a)) = &item.change else {
            panic!("{path} must change")
        };
        assert_eq!(a.diff, Diff::Redacted { path: path.into() });
    }
}

#[test]
fn passwords_never_travel_in_argv() {
    let (c, _) = converged();
    let p = plan_checked(c.as_ref(), &fresh(c.as_ref()), &all_secrets(), "root");
    let load = &p.handlers[1].script;
    let mut scripts = vec![load.as_str().to_owned()];
    scripts.extend(c.checks().into_iter().map(|k| k.command));
    for s in &scripts {
        for bad in [
            "-a ",
            "--pass",
            "--askpass",
            "REDISCLI_AUTH",
            "redis://",
            "-u ",
        ] {
            assert!(
                !s.contains(bad),
                "`{bad}` puts a password where ps can see it: {s}"
            );
        }
    }
    assert!(
        load.as_str()
            .contains("'/etc/rampart/redis-acl.auth' rampart")
            || load
                .as_str()
                .contains(" /etc/rampart/redis-acl.auth rampart"),
        "{}",
        load.as_str()
    );
}

/// A fake redis-cli for the session scripts: `PING` (an argument) answers `$PING`; a session
/// (commands on stdin) saves its stdin to `stdin` and answers `$REPLIES`.
fn fake_redis(sh: &rampart_shtest::Sh, ping: &str, replies: &str) {
    sh.write("ping.out", ping);
    sh.write("replies.out", replies);
    sh.stub_body(
        "redis-cli",
        "if [ \"$5\" = PING ]; then cat ping.out; exit 0; fi\ncat > stdin\ncat replies.out",
    );
}

/// The `load acl` handler under dash (in `set -e`, as the apply script runs handlers): the
/// password travels from the root-only file through the shell's builtins into redis-cli's
/// stdin, never in an argv; each way it can end.
#[test]
fn load_handler_branches_under_dash() {
    let Some(sh) = rampart_shtest::Sh::new() else {
        return;
    };
    let auth = sh.write("auth", "maint-PW-canary\n");
    let c = configure(json!({ "assets": ["ex_001"], "maintenance_auth_file": auth }));
    let p = plan_checked(c.as_ref(), &fresh(c.as_ref()), &all_secrets(), "root");
    let load = ["set -e\n", p.handlers[1].script.as_str()].concat();
    sh.stub("systemctl", 0);
    sh.stub("sleep", 0);

    // Reloaded: AUTH as the maintenance user, then ACL LOAD, both on stdin.
    fake_redis(&sh, "NOAUTH Authentication required.\n", "OK\nOK\n");
    let out = sh.run(&load, &[]);
    assert!(out.ok(), "{out:?}");
    assert!(
        out.stdout_str()
            .contains("ACL reloaded from /etc/redis/users.acl"),
        "{out:?}"
    );
    assert_eq!(
        sh.read("stdin").as_deref(),
        Some("AUTH rampart maint-PW-canary\nACL LOAD\n")
    );
    for call in sh.calls() {
        assert!(!call.contains("maint-PW"), "a password in an argv: {call}");
    }
    assert!(
        sh.calls()
            .contains(&"redis-cli -h 127.0.0.1 -p 6379 PING".to_owned()),
        "{:?}",
        sh.calls()
    );

    // The running Redis does not know the maintenance user yet: restart to load the file.
    sh.clear_calls();
    fake_redis(&sh, "PONG\n", "WRONGPASS invalid username-password pair\n");
    let out = sh.run(&load, &[]);
    assert!(out.ok(), "{out:?}");
    assert!(
        sh.calls()
            .contains(&"systemctl restart redis-server".to_owned()),
        "{:?}",
        sh.calls()
    );

    // ACL LOAD refused: the handler fails with Redis's answer.
    fake_redis(&sh, "PONG\n", "OK\nERR Error loading the ACL file\n");
    let out = sh.run(&load, &[]);
    assert_eq!(out.status, 1, "{out:?}");
    assert!(
        out.stderr.contains("ACL LOAD failed: ERR Error loading"),
        "{out:?}"
    );

    // Redis never answers: 50 tries, then a failure that says where.
    fake_redis(
        &sh,
        "Could not connect to Redis at 127.0.0.1:6379: Connection refused\n",
        "",
    );
    let out = sh.run(&load, &[]);
    assert_eq!(out.status, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("redis at 127.0.0.1:6379 does not answer"),
        "{out:?}"
    );

    // The credential file unreadable: no AUTH, so a restart.
    std::fs::remove_file(&auth).expect("rm auth");
    sh.clear_calls();
    fake_redis(&sh, "PONG\n", "OK\nOK\n");
    let out = sh.run(&load, &[]);
    assert!(out.ok(), "{out:?}");
    assert!(
        sh.calls()
            .contains(&"systemctl restart redis-server".to_owned()),
        "{:?}",
        sh.calls()
    );

    // Redis not running: nothing to load, it reads the file when it starts.
    sh.clear_calls();
    sh.stub("systemctl", 3);
    let out = sh.run(&load, &[]);
    assert!(
        out.ok() && out.stdout_str().contains("redis-server is not running"),
        "{out:?}"
    );
    assert_eq!(sh.calls(), ["systemctl is-active --quiet redis-server"]);
}

#[test]
fn converged_host_is_a_noop() {
    let (c, f) = converged();
    let p = plan_checked(c.as_ref(), &f, &all_secrets(), "root");
    assert_eq!(changes(&p), vec![]);
}

type Drift = fn(&mut Facts);
type Want = Vec<(String, Vec<String>)>;

#[test]
fn drifts_are_repaired() {
    let cases: Vec<(&str, Drift, Want)> = vec![
        (
            "ACL file edited by hand",
            |f| {
                let t = format!("{}user intruder on nopass ~* &* +@all\n", text(f, ACL));
                f.files.insert(ACL.into(), text_file(&t, 0o600, "redis"));
            },
            vec![(format!("file:{ACL}"), vec![LOAD.into()])],
        ),
        (
            "ACL file loosened to 0644",
            |f| {
                let t = text(f, ACL);
                f.files.insert(ACL.into(), text_file(&t, 0o644, "redis"));
            },
            vec![(format!("file:{ACL}"), vec![LOAD.into()])],
        ),
        (
            "ACL file deleted",
            |f| {
                f.files.insert(ACL.into(), FileState::Absent);
            },
            vec![(format!("file:{ACL}"), vec![LOAD.into()])],
        ),
        (
            "aclfile line removed from redis.conf",
            |f| {
                f.files
                    .insert(REDIS_CONF.into(), text_file(CONF, 0o640, "redis"));
            },
            vec![(format!("edit:{REDIS_CONF}#aclfile"), vec![RESTART.into()])],
        ),
        (
            "aclfile pointed elsewhere",
            |f| {
                let t = format!("{CONF}aclfile /tmp/evil.acl\n");
                f.files
                    .insert(REDIS_CONF.into(), text_file(&t, 0o640, "redis"));
            },
            vec![(format!("edit:{REDIS_CONF}#aclfile"), vec![RESTART.into()])],
        ),
        (
            "maintenance credential deleted",
            |f| {
                f.files.insert(AUTH.into(), FileState::Absent);
            },
            vec![(format!("file:{AUTH}"), vec![])],
        ),
        (
            "live ACL changed by hand (ACL SETUSER ex_001 ~*), the file untouched",
            live_drift,
            vec![(format!("command:{RELOAD_DRIFTED}"), vec![])],
        ),
    ];
    let (c, converged) = converged();
    for (what, drift, want) in cases {
        let mut f = converged.clone();
        drift(&mut f);
        let p = plan_checked(c.as_ref(), &f, &all_secrets(), "root");
        assert_eq!(changes(&p), want, "{what}");
        assert_converges(c.as_ref(), f, &all_secrets(), "root");
    }
}

#[test]
fn rotated_secrets_rewrite_the_acl_file() {
    let (c, f) = converged();
    let mut s = all_secrets();
    s.insert(
        "redis/DZ-001".into(),
        Secret::new(format!("{CANARY}-rotated")),
    );
    let p = plan_checked(c.as_ref(), &f, &s, "root");
    assert_eq!(
        changes(&p),
        vec![(format!("file:{ACL}"), vec![LOAD.to_owned()])]
    );
    // A new admin secret also changes the derived maintenance credential.
    let mut s = all_secrets();
    s.insert(
        "redis/admin".into(),
        Secret::new(format!("{CANARY}-new-admin")),
    );
    let p = plan_checked(c.as_ref(), &f, &s, "root");
    assert_eq!(
        changes(&p),
        vec![
            (format!("file:{AUTH}"), vec![]),
            (format!("file:{ACL}"), vec![LOAD.to_owned()])
        ]
    );
}

#[test]
fn missing_or_weak_secrets_are_named() {
    let c = fleet();
    let f = fresh(c.as_ref());
    let e = plan_error(
        c.as_ref(),
        &f,
        &secrets(&["admin", "monitor", "coordinator", "ex_001"]),
    );
    assert!(
        e.contains("missing secret redis/DZ-001") && e.contains("rampart secrets edit"),
        "{e}"
    );
    let e = plan_error(c.as_ref(), &f, &BTreeMap::new());
    assert!(
        e.contains("redis/admin, redis/monitor, redis/coordinator, redis/ex_001, redis/DZ-001"),
        "{e}"
    );
    let mut s = all_secrets();
    s.insert("redis/monitor".into(), Secret::new("short".into()));
    let e = plan_error(c.as_ref(), &f, &s);
    assert!(e.contains("redis/monitor is shorter than 16"), "{e}");
    assert!(
        !e.contains("short\""),
        "the weak value itself is not shown: {e}"
    );
    let c = configure(json!({ "assets": ["ex_001"], "secret_prefix": "fleet/redis-" }));
    let e = plan_error(c.as_ref(), &fresh(c.as_ref()), &all_secrets());
    assert!(e.contains("fleet/redis-admin"), "{e}");
}

#[test]
fn host_states_the_role_refuses() {
    let c = fleet();
    let mut f = fresh(c.as_ref());
    f.files.insert(REDIS_CONF.into(), FileState::Absent);
    let e = plan_error(c.as_ref(), &f, &all_secrets());
    assert!(
        e.contains("/etc/redis/redis.conf does not exist") && e.contains("install redis-server"),
        "{e}"
    );
    f.files.insert(
        REDIS_CONF.into(),
        text_file(&format!("{CONF}user old on >pw ~* +@all\n"), 0o640, "redis"),
    );
    let e = plan_error(c.as_ref(), &f, &all_secrets());
    assert!(e.contains("defines user `old`"), "{e}");
}

#[test]
fn config_errors_name_the_field() {
    let cases = [
        (json!({}), "assets", "no assets"),
        (json!({"assets": ["ex_*"]}), "assets[0]", "asset ids are"),
        (json!({"assets": ["a:b"]}), "assets[0]", "asset ids are"),
        (json!({"assets": ["a", "a"]}), "assets[1]", "listed twice"),
        (
            json!({"assets": ["monitor"]}),
            "monitor.user",
            "already an asset",
        ),
        (
            json!({"assets": ["a"], "admin_user": "default"}),
            "admin_user",
            "anonymous user",
        ),
        (
            json!({"assets": ["a"], "asset_keys": []}),
            "asset_keys",
            "at least one key pattern",
        ),
        (
            json!({"assets": ["a"], "asset_keys": ["fleet:*"]}),
            "asset_keys[0]",
            "breaks asset isolation",
        ),
        (
            json!({"assets": ["a"], "asset_keys": ["fleet:{asset}*"]}),
            "asset_keys[0]",
            "wildcard right after",
        ),
        (
            json!({"assets": ["a"], "asset_keys": ["fleet:{asset} x"]}),
            "asset_keys[0]",
            "no spaces",
        ),
        (
            json!({"assets": ["a"], "asset_keys": ["%X~fleet:{asset}"]}),
            "asset_keys[0]",
            "permission prefix",
        ),
        (
            json!({"assets": ["a"], "asset_channels": ["events"]}),
            "asset_channels[0]",
            "breaks asset isolation",
        ),
        (
            json!({"assets": ["a"], "coordinator": {"keys": ["fleet:{asset}"]}}),
            "coordinator.keys[0]",
            "only means something",
        ),
        (
            json!({"assets": ["a"], "asset_commands": "+@all >secret"}),
            "asset_commands",
            "not a command rule",
        ),
        (
            json!({"assets": ["a"], "monitor": {"commands": "nopass"}}),
            "monitor.commands",
            "not a command rule",
        ),
        (
            json!({"assets": ["a"], "monitor": {"commands": " "}}),
            "monitor.commands",
            "no command rules",
        ),
        (
            json!({"assets": ["a"], "acl_file": "users.acl"}),
            "acl_file",
            "absolute",
        ),
        (
            json!({"assets": ["a"], "redis_conf": "/etc/redis/../x"}),
            "redis_conf",
            "absolute",
        ),
        (
            json!({"assets": ["a"], "service": "redis; reboot"}),
            "service",
            "unit name",
        ),
        (json!({"assets": ["a"], "port": 0}), "port", "invalid port"),
        (
            json!({"assets": ["a"], "port": 70000}),
            "port",
            "invalid value",
        ),
    ];
    for (value, path, message) in cases {
        let e = role()
            .configure(value.clone())
            .expect_err(&format!("{value} must be refused"));
        assert_eq!(e.path, path, "{value}: {e}");
        assert!(e.message.contains(message), "{value}: {e}");
    }
    let e = role()
        .configure(json!({"assets": ["a"], "asset": []}))
        .expect_err("unknown field");
    assert_eq!(e.unknown_field.as_deref(), Some("asset"));
    assert!(e.expected.contains(&"assets".to_owned()));
}

#[test]
fn key_permission_prefixes_and_channel_ampersands_are_rendered() {
    let c = configure(json!({
        "assets": ["ex_001"],
        "asset_keys": ["%R~fleet:config:{asset}", "%W~fleet:outbox:{asset}", "~fleet:state:{asset}:*"],
        "asset_channels": ["&fleet:events:{asset}"],
    }));
    let f = converge(
        c.as_ref(),
        &secrets(&["admin", "monitor", "coordinator", "ex_001"]),
    );
    let acl = text(&f, ACL);
    assert!(
        acl.contains("resetkeys %R~fleet:config:ex_001 %W~fleet:outbox:ex_001 ~fleet:state:ex_001:* resetchannels &fleet:events:ex_001 "),
        "{acl}"
    );
}

#[test]
fn checks_are_named_controls_that_probe_the_live_acl() {
    let c = fleet();
    let checks = c.checks();
    let ids: Vec<&str> = checks.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "redis-acl.default-user-off",
            "redis-acl.asset-isolation",
            "redis-acl.monitor-read-only",
            "redis-acl.live-users",
            "redis-acl.acl-file-mode",
            "redis-acl.no-clear-passwords",
            "redis-acl.aclfile-configured"
        ]
    );
    let iso = &checks[1].command;
    // The seed's own test, as a dry run that needs no asset password.
    assert!(
        iso.contains("'ACL DRYRUN ex_001 GET fleet:inbox:DZ-001'"),
        "{iso}"
    );
    assert!(
        iso.contains("'ACL DRYRUN ex_001 GET fleet:inbox:ex_001'"),
        "{iso}"
    );
    assert!(
        iso.contains("'ACL DRYRUN DZ-001 GET fleet:inbox:ex_001'"),
        "{iso}"
    );
    assert!(
        iso.contains("'ACL DRYRUN ex_001 PUBLISH fleet:events:DZ-001 x'"),
        "{iso}"
    );
    assert!(iso.contains(" +-+---+-+--- "), "{iso}");
    // A one-asset fleet still proves isolation, against an id no asset has.
    let one = configure(json!({"assets": ["ex_001"]})).checks();
    assert!(
        one[1]
            .command
            .contains("'ACL DRYRUN ex_001 GET fleet:inbox:ex_001-rampart-probe'"),
        "{}",
        one[1].command
    );
}

/// The DRYRUN checks under dash, fed redis-cli replies as the lab's Redis 7.0 gives them.
#[test]
fn dryrun_judge_reads_redis_replies() {
    let Some(sh) = rampart_shtest::Sh::new() else {
        return;
    };
    let auth = sh.write("auth", "maint-PW\n");
    let c = configure(json!({"assets": ["ex_001", "DZ-001"], "maintenance_auth_file": auth}));
    let checks = c.checks();
    let check = &checks[2]; // monitor: + + - - - -
    let run = |replies: &str| {
        fake_redis(&sh, "", replies);
        let out = sh.run(&check.command, &["10.213.1.1 50000 10.213.1.2 22"]);
        out.stdout_str().trim().to_owned()
    };
    let denied = "This user has no permissions to run the 'get' command";
    let good = format!("OK\nOK\nOK\n{denied}\n{denied}\n{denied}\n{denied}\n");
    assert_eq!(run(&good), "monitor: ok");
    assert_eq!(
        sh.read("stdin").as_deref(),
        Some(
            "AUTH rampart maint-PW\nACL DRYRUN monitor PING\nACL DRYRUN monitor INFO\nACL DRYRUN monitor GET fleet:inbox:ex_001\nACL DRYRUN monitor SET fleet:inbox:ex_001 x\nACL DRYRUN monitor CONFIG GET requirepass\nACL DRYRUN monitor FLUSHALL\n"
        )
    );
    let leaky = format!("OK\nOK\nOK\nOK\n{denied}\n{denied}\n{denied}\n");
    assert_eq!(
        run(&leaky),
        "monitor: allowed but must be denied: monitor GET fleet:inbox:ex_001"
    );
    assert_eq!(
        run("WRONGPASS invalid username-password pair or user is disabled.\n\n"),
        "monitor: cannot authenticate as rampart: WRONGPASS invalid username-password pair or user is disabled."
    );
    assert_eq!(run("OK\nOK\n"), "monitor: got 1 replies for 6 probes");
    assert_eq!(
        run("OK\nERR unknown subcommand 'dryrun'\n\nOK\nNO\nNO\nNO\nNO\n"),
        "monitor: denied but must be allowed: monitor PING (ERR unknown subcommand 'dryrun')"
    );
    std::fs::remove_file(&auth).expect("rm auth");
    assert_eq!(run(&good), format!("monitor: cannot read {auth}"));
}

/// The live-users check under dash: the sorted names.
#[test]
fn live_users_under_dash() {
    let Some(sh) = rampart_shtest::Sh::new() else {
        return;
    };
    let auth = sh.write("auth", "maint-PW\n");
    let c = configure(json!({"assets": ["ex_001"], "maintenance_auth_file": auth}));
    let live = c
        .checks()
        .into_iter()
        .find(|k| k.id == "redis-acl.live-users")
        .expect("live-users");
    fake_redis(&sh, "", "OK\nrampart\nadmin\ndefault\n");
    let out = sh.run(&live.command, &[""]);
    assert_eq!(out.stdout_str(), "users: admin default rampart");
}

/// The audit's one session for the four live controls, under dash: PING before AUTH, the
/// isolation and monitor probes, ACL USERS; each control judged from its tagged lines of the
/// one output as the audit judges it, passing and failing.
#[test]
fn live_controls_share_one_session() {
    let Some(sh) = rampart_shtest::Sh::new() else {
        return;
    };
    let auth = sh.write("auth", "maint-PW\n");
    let c = configure(json!({"assets": ["ex_001"], "maintenance_auth_file": auth}));
    let checks: Vec<Check> = c.checks().into_iter().take(4).collect();
    let mut req = FactRequest::new();
    for k in &checks {
        k.request(&mut req);
    }
    assert_eq!(
        req.commands.len(),
        1,
        "one shared command: {:?}",
        req.commands
    );
    let (id, shared) = req.commands.iter().next().expect("the shared command");
    assert_eq!(shared.matches("redis-cli").count(), 1, "{shared}");
    let judge = |replies: &str| -> Vec<(bool, String)> {
        fake_redis(&sh, "", replies);
        let out = sh.run(shared, &["10.213.1.1 50000 10.213.1.2 22"]);
        let mut f = Facts::default();
        f.commands.insert(
            id.clone(),
            CommandResult {
                rc: 0,
                output: out.stdout_str().trim_end().to_owned(),
            },
        );
        checks
            .iter()
            .map(|k| {
                let v = k.judge_facts(&f);
                (v.pass, v.evidence)
            })
            .collect()
    };
    let no = "NOPERM";
    // ex_001: GET own (+), GET other (-), SUBSCRIBE own (+), PUBLISH other (-), FLUSHALL (-),
    // CONFIG (-); monitor: PING (+), INFO (+), GET (-), SET (-), CONFIG (-), FLUSHALL (-)
    let iso = format!("OK\n{no}\nOK\n{no}\n{no}\n{no}\n");
    let mon = format!("OK\nOK\n{no}\n{no}\n{no}\n{no}\n");
    let users = "rampart\nadmin\ncoordinator\ndefault\nex_001\nmonitor\n";
    let good = format!("NOAUTH Authentication required.\nOK\n{iso}{mon}{users}");
    let all = judge(&good);
    assert!(all.iter().all(|(pass, _)| *pass), "{all:?}");
    let stdin = sh.read("stdin").expect("stdin");
    assert!(
        stdin.starts_with("PING\nAUTH rampart maint-PW\nACL DRYRUN ex_001 GET ")
            && stdin.ends_with("ACL DRYRUN monitor FLUSHALL\nACL USERS\n"),
        "{stdin}"
    );
    // The default user on, an asset reaching another's inbox, an extra user: those fail.
    let bad = format!("PONG\nOK\nOK\nOK\nOK\n{no}\n{no}\n{no}\n{mon}{users}intruder\n");
    let v = judge(&bad);
    assert_eq!(
        v.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        [false, false, true, false],
        "{v:?}"
    );
    assert!(
        v[1].1
            .contains("allowed but must be denied: ex_001 GET fleet:inbox:ex_001-rampart-probe"),
        "{v:?}"
    );
    assert!(v[3].1.contains("intruder"), "{v:?}");
    // AUTH refused: every authenticated control says so; the probes cut short are counted.
    let v = judge("NOAUTH Authentication required.\nWRONGPASS invalid username-password pair\n");
    assert!(v[0].0, "{v:?}");
    for (pass, ev) in &v[1..] {
        assert!(
            !pass && ev.contains("cannot authenticate as rampart: WRONGPASS"),
            "{v:?}"
        );
    }
    let v = judge(&format!("NOAUTH x\nOK\n{iso}OK\n"));
    assert!(v[2].1.contains("got 1 replies for 6 probes"), "{v:?}");
    assert!(v[3].1.contains("no reply to ACL USERS"), "{v:?}");
    // No password file: PING is still asked; the others name the file.
    std::fs::remove_file(&auth).expect("rm auth");
    let v = judge("NOAUTH Authentication required.\n");
    assert!(v[0].0, "{v:?}");
    assert_eq!(sh.read("stdin").as_deref(), Some("PING\n"));
    for (pass, ev) in &v[1..] {
        assert!(
            !pass && ev.contains(&format!("cannot read {auth}")),
            "{v:?}"
        );
    }
}

#[test]
fn template_renders_only_user_lines() {
    let t = Templates::embedded();
    let out = t
        .render(
            TEMPLATE,
            json!({"users": [{"name": "a", "state": "on", "hashes": ["ab"], "keys": ["~k"], "channels": [], "commands": "-@all"}]}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out,
        "user a on resetpass #ab resetkeys ~k resetchannels -@all\n"
    );
}

#[test]
fn live_drift_is_reloaded_only_when_the_files_are_right() {
    let (c, f) = converged();
    let (id, ok) = live_session(c.as_ref());
    let mut req = FactRequest::new();
    c.facts(&mut req);
    let guard = &req.commands[&id];
    assert!(
        guard.contains("'ACL USERS'") && guard.matches("redis-cli").count() == 1,
        "{guard}"
    );
    assert!(
        guard.contains("'ACL DRYRUN ex_001 GET fleet:inbox:DZ-001'"),
        "{guard}"
    );
    let reloads = |output: &str| {
        let mut g = f.clone();
        g.commands.insert(
            id.clone(),
            CommandResult {
                rc: 0,
                output: output.into(),
            },
        );
        let p = plan_checked(c.as_ref(), &g, &all_secrets(), "root");
        p.items.iter().any(|i| {
            i.resource.id() == format!("command:{RELOAD_DRIFTED}")
                && matches!(i.change, Ok(Change::Apply(_)))
        })
    };
    assert!(!reloads(&ok.output), "the live ACL is the file's");
    // The ping and monitor lines are other controls' business, not the guard's.
    let others = ok
        .output
        .replace("monitor: ok", "monitor: allowed but must be denied: x");
    assert!(!reloads(&others.replace("ping: NOAUTH", "ping: PONG")));
    let users = |l: &str| l.starts_with("users: ");
    let line = ok
        .output
        .lines()
        .find(|l| users(l))
        .expect("users line")
        .to_owned();
    for drift in [
        ok.output.replace("isolation: ok", "isolation: allowed but must be denied: ex_001 GET x"),
        ok.output.replace(&line, &format!("{line} intruder")),
        ok.output.replace(&line, "users: admin default"),
        ok.output.replace(&line, ""),
        "isolation: cannot authenticate as rampart: WRONGPASS\nusers: cannot authenticate as rampart: WRONGPASS".into(),
        String::new(),
    ] {
        assert!(reloads(&drift), "{drift}");
    }
    let mut drifted = f.clone();
    live_drift(&mut drifted);
    let p = plan_checked(c.as_ref(), &drifted, &all_secrets(), "root");
    let Some(Ok(Change::Apply(a))) = p.items.last().map(|i| &i.change) else {
        panic!("the reload runs")
    };
    assert_eq!(
        a.script.as_str().trim_end(),
        p.handlers[1].script.as_str().trim_end(),
        "the same script as the load handler"
    );
    assert_eq!(a.risk, Risk::Service);
    // While a file changes, its handler reloads: no second reload.
    drifted.files.insert(ACL.into(), FileState::Absent);
    let p = plan_checked(c.as_ref(), &drifted, &all_secrets(), "root");
    assert!(
        p.items
            .iter()
            .all(|i| i.resource.id() != format!("command:{RELOAD_DRIFTED}"))
    );
}

#[test]
fn the_derived_maintenance_password_is_known_to_the_redactor() {
    let c = fleet();
    let s = all_secrets();
    let after = converge(c.as_ref(), &s);
    let maintenance = text(&after, AUTH).trim_end().to_owned();
    let derived = c.derived_secrets(&s);
    assert_eq!(derived.len(), 1);
    assert_eq!(derived[0].expose(), maintenance);
    let mut r = Redactor::new();
    for d in &derived {
        r.add(d);
    }
    // A host echoing the credential file back (an error, a check's evidence) is scrubbed.
    let echoed = format!("cat: {AUTH}: {maintenance}\n");
    assert!(!r.redact(&echoed).contains(&maintenance));
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
