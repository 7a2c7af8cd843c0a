//! Unit tests: every kind of entry planned, converged, drifted and misconfigured.

use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use rampart_core::facts::{CommandResult, FactRequest, Facts, FileState as Fs, UnitState};
use rampart_core::hostplan::{self, PlannedRole};
use rampart_core::plan::{Change, Diff};
use rampart_core::role::{Configured, HostContext};
use rampart_core::secret::{Redactor, Secret};
use rampart_core::template::Templates;
use rampart_core::testing::{
    applies, assert_converges, blank_facts, fresh_lab_facts, lab_host, plan_checked, text_file,
};
use serde_json::json;

use super::*;

const CANARY: &str = "CANARY-custom-4b1d-secret";

fn configure(v: serde_json::Value) -> Box<dyn Configured> {
    role()
        .configure(v)
        .unwrap_or_else(|e| panic!("config rejected: {e}"))
}

fn no_secrets() -> BTreeMap<String, Secret> {
    BTreeMap::new()
}

/// One of everything, as an operator would write it in TOML (modes both ways).
fn everything() -> serde_json::Value {
    json!({
        "packages": ["htop", "tmux"],
        "absent_packages": ["telnet"],
        "directories": [{"path": "/opt/fleet", "mode": "0750", "owner": "lab", "group": "lab"}],
        "files": [
            {"path": "/opt/fleet/app.conf", "content": "a = 1\n", "mode": 640, "owner": "lab", "group": "lab", "restart": ["fleet"]},
            {"path": "/etc/systemd/system/fleet.service", "content": "[Service]\nExecStart=/bin/sleep infinity\n"},
            {"path": "/etc/sudoers.d/ops", "content": "lab ALL=(root) /usr/bin/true\n", "mode": "0440", "validate": "visudo -cf %s"},
            {"path": "/etc/cron.d/old", "state": "absent"}
        ],
        "lines": [{"path": "/etc/hosts", "match": "127.0.1.1 ", "line": "127.0.1.1 h1.fleet h1"}],
        "sysctls": {"net.core.somaxconn": 1024, "net.ipv4.tcp_rmem": "4096\t131072  6291456"},
        "commands": [{"name": "init fleet db", "run": "touch /opt/fleet/db", "creates": "/opt/fleet/db"}],
        "services": [{"name": "fleet", "enabled": true, "state": "started"}]
    })
}

fn fresh(c: &dyn Configured) -> Facts {
    let mut f = fresh_lab_facts(c);
    f.files.insert(
        "/etc/hosts".into(),
        text_file("127.0.0.1 localhost\n127.0.1.1 h1\n", 0o644, "root"),
    );
    f.packages.insert(
        "telnet".into(),
        rampart_core::facts::PackageState {
            installed: true,
            version: "1".into(),
            status: "ii".into(),
        },
    );
    f
}

fn changes(p: &PlannedRole) -> Vec<(String, Vec<String>)> {
    applies(p)
        .into_iter()
        .map(|(id, a)| (id, a.notify.clone()))
        .collect()
}

fn ctx_plan(
    c: &dyn Configured,
    facts: &Facts,
    templates: &Templates,
    secrets: &BTreeMap<String, Secret>,
) -> PlannedRole {
    let vars = json!({"fleet_name": "north", "site": {"region": "eu"}});
    let ctx = HostContext {
        host: "h9",
        facts,
        vars: &vars,
        templates,
        secrets,
        connect_user: "root",
    };
    hostplan::plan_role("custom", c, &ctx)
}

#[test]
fn a_repository_added_by_the_role_is_indexed_before_its_packages_install() {
    let c = configure(json!({
        "packages": ["busybox-static"],
        "directories": [{"path": "/opt/x", "mode": "0755"}],
        "files": [
            {"path": "/opt/x/y.conf", "content": "y\n"},
            {"path": "/etc/apt/sources.list.d/lab.list", "content": "deb [trusted=yes] file:/srv/lab-repo ./\n"},
        ],
    }));
    let p = plan_checked(c.as_ref(), &fresh(c.as_ref()), &no_secrets(), "root");
    let ids: Vec<String> = applies(&p).into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        ids,
        [
            "file:/etc/apt/sources.list.d/lab.list",
            "apt-update",
            "packages:busybox-static",
            "directory:/opt/x",
            "file:/opt/x/y.conf",
        ]
    );
    let (_, source) = applies(&p).into_iter().next().unwrap();
    assert!(
        source
            .script
            .as_str()
            .ends_with(rampart_core::resource::apt_refresh_script().as_str())
    );
    assert_converges(c.as_ref(), fresh(c.as_ref()), &no_secrets(), "root");
}

#[test]
fn fresh_host_converges_everything_in_order() {
    let c = configure(everything());
    let p = plan_checked(c.as_ref(), &fresh(c.as_ref()), &no_secrets(), "root");
    let s = |x: &str| x.to_owned();
    assert_eq!(
        changes(&p),
        vec![
            (s("apt-update"), vec![]),
            (s("packages:htop,tmux"), vec![]),
            (s("packages:telnet"), vec![]),
            (s("directory:/opt/fleet"), vec![]),
            (s("file:/opt/fleet/app.conf"), vec![s("restart fleet")]),
            (
                s("file:/etc/systemd/system/fleet.service"),
                vec![s(DAEMON_RELOAD)]
            ),
            (s("file:/etc/sudoers.d/ops"), vec![]),
            (s("edit:/etc/hosts#127.0.1.1 "), vec![]),
            (s("file:/etc/sysctl.d/90-rampart.conf"), vec![]),
            (s("sysctl:net.core.somaxconn"), vec![]),
            (s("sysctl:net.ipv4.tcp_rmem"), vec![]),
            (s("command:init fleet db"), vec![]),
            (s("service:fleet"), vec![]),
        ]
    );
    let handlers: Vec<(&str, &str)> = p
        .handlers
        .iter()
        .map(|h| (h.name.as_str(), h.script.as_str()))
        .collect();
    assert_eq!(
        handlers,
        [
            (DAEMON_RELOAD, "systemctl daemon-reload\n"),
            ("restart fleet", "systemctl try-restart fleet\n")
        ]
    );
    let after = assert_converges(c.as_ref(), fresh(c.as_ref()), &no_secrets(), "root");
    assert!(
        matches!(&after.files["/opt/fleet/app.conf"], Fs::File { mode: 0o640, owner, .. } if owner == "lab")
    );
    assert!(matches!(
        &after.files["/etc/sudoers.d/ops"],
        Fs::File { mode: 0o440, .. }
    ));
    assert_eq!(
        after.files["/etc/hosts"].text(),
        Some("127.0.0.1 localhost\n127.0.1.1 h1.fleet h1\n")
    );
    assert_eq!(
        after.files["/etc/sysctl.d/90-rampart.conf"].text(),
        Some(
            "# Managed by rampart (role custom).\nnet.core.somaxconn = 1024\nnet.ipv4.tcp_rmem = 4096 131072 6291456\n"
        )
    );
    let Some(Resource::File(sudo)) = p
        .items
        .iter()
        .map(|i| &i.resource)
        .find(|r| r.id() == "file:/etc/sudoers.d/ops")
    else {
        panic!()
    };
    assert_eq!(sudo.validate, Some(Validate::Temp("visudo -cf %s".into())));
}

#[test]
fn empty_config_does_nothing() {
    let c = configure(json!({}));
    let mut req = FactRequest::new();
    c.facts(&mut req);
    assert_eq!(req, FactRequest::new());
    let p = plan_checked(
        c.as_ref(),
        &blank_facts(&req, lab_host()),
        &no_secrets(),
        "root",
    );
    assert!(p.items.is_empty() && p.handlers.is_empty());
    assert!(c.checks().is_empty());
}

type Drift = fn(&mut Facts);
type Want = Vec<(&'static str, Vec<&'static str>)>;

#[test]
fn drifts_are_repaired() {
    let cases: Vec<(&str, Drift, Want)> = vec![
        (
            "file content edited",
            |f| {
                f.files.insert(
                    "/opt/fleet/app.conf".into(),
                    text_file("a = 2\n", 0o640, "lab"),
                );
            },
            vec![("file:/opt/fleet/app.conf", vec!["restart fleet"])],
        ),
        (
            "file mode loosened",
            |f| {
                f.files.insert(
                    "/opt/fleet/app.conf".into(),
                    text_file("a = 1\n", 0o644, "lab"),
                );
            },
            vec![("file:/opt/fleet/app.conf", vec!["restart fleet"])],
        ),
        (
            "directory opened up",
            |f| {
                f.files.insert(
                    "/opt/fleet".into(),
                    Fs::Dir {
                        mode: 0o777,
                        owner: "lab".into(),
                        group: "lab".into(),
                    },
                );
            },
            vec![("directory:/opt/fleet", vec![])],
        ),
        (
            "absent file reappeared",
            |f| {
                f.files.insert(
                    "/etc/cron.d/old".into(),
                    text_file("* * * * * root x\n", 0o644, "root"),
                );
            },
            vec![("file:/etc/cron.d/old", vec![])],
        ),
        (
            "managed line changed",
            |f| {
                f.files.insert(
                    "/etc/hosts".into(),
                    text_file(
                        "127.0.0.1 localhost\n127.0.1.1 other\n127.0.1.1 h1\n",
                        0o644,
                        "root",
                    ),
                );
            },
            vec![("edit:/etc/hosts#127.0.1.1 ", vec![])],
        ),
        (
            "live sysctl reset",
            |f| {
                f.sysctls
                    .insert("net.core.somaxconn".into(), Some("4096".into()));
            },
            vec![("sysctl:net.core.somaxconn", vec![])],
        ),
        (
            "service stopped",
            |f| {
                if let Some(u) = f.units.get_mut("fleet") {
                    u.active_state = "inactive".into();
                }
            },
            vec![("service:fleet", vec![])],
        ),
        (
            "package removed",
            |f| {
                f.packages
                    .insert("tmux".into(), rampart_core::facts::PackageState::absent());
            },
            vec![("packages:htop,tmux", vec![])],
        ),
        (
            "command's product deleted",
            |f| {
                f.files.insert("/opt/fleet/db".into(), Fs::Absent);
            },
            vec![("command:init fleet db", vec![])],
        ),
    ];
    let c = configure(everything());
    let converged = assert_converges(c.as_ref(), fresh(c.as_ref()), &no_secrets(), "root");
    assert_eq!(
        changes(&plan_checked(c.as_ref(), &converged, &no_secrets(), "root")),
        vec![]
    );
    for (what, drift, want) in cases {
        let mut f = converged.clone();
        drift(&mut f);
        let p = plan_checked(c.as_ref(), &f, &no_secrets(), "root");
        let want: Vec<(String, Vec<String>)> = want
            .into_iter()
            .map(|(id, n)| (id.to_owned(), n.into_iter().map(str::to_owned).collect()))
            .collect();
        assert_eq!(changes(&p), want, "{what}");
        assert_converges(c.as_ref(), f, &no_secrets(), "root");
    }
}

#[test]
fn unless_guard_decides() {
    let c = configure(
        json!({"commands": [{"name": "hostname", "run": "hostname web1", "unless": "[ \"$(hostname)\" = web1 ]"}]}),
    );
    let mut req = FactRequest::new();
    c.facts(&mut req);
    assert_eq!(
        req.commands["unless:hostname"],
        "[ \"$(hostname)\" = web1 ]"
    );
    let mut f = blank_facts(&req, lab_host());
    assert_eq!(
        changes(&plan_checked(c.as_ref(), &f, &no_secrets(), "root")).len(),
        1
    );
    f.commands.insert(
        "unless:hostname".into(),
        CommandResult {
            rc: 0,
            output: String::new(),
        },
    );
    assert_eq!(
        changes(&plan_checked(c.as_ref(), &f, &no_secrets(), "root")),
        vec![]
    );
}

#[test]
fn templates_see_host_vars_facts_and_entry_vars() {
    let c = configure(
        json!({"files": [{"path": "/etc/motd", "template": "motd.j2", "vars": {"greeting": "Hi"}}]}),
    );
    let mut t = Templates::embedded();
    t.add_user("motd.j2", "{{ greeting }} {{ inventory_hostname }} ({{ host.os_codename }}) {{ fleet_name }}/{{ site.region }}\n".into(), "site/templates/motd.j2")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut req = FactRequest::new();
    c.facts(&mut req);
    let facts = blank_facts(&req, lab_host());
    let p = ctx_plan(c.as_ref(), &facts, &t, &no_secrets());
    let after = hostplan::predicted(&p, &facts);
    assert_eq!(
        after.files["/etc/motd"].text(),
        Some("Hi h9 (bookworm) north/eu\n")
    );

    // A template error names the entry, the file and the line.
    let mut t = Templates::embedded();
    t.add_user(
        "motd.j2",
        "ok\n{{ nope }}\n".into(),
        "site/templates/motd.j2",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let p = ctx_plan(c.as_ref(), &facts, &t, &no_secrets());
    let e = p.error.unwrap_or_default();
    assert!(
        e.contains("files[0] (/etc/motd)") && e.contains("site/templates/motd.j2:2"),
        "{e}"
    );
    // A missing template is an error too, not an empty file.
    let p = ctx_plan(c.as_ref(), &facts, &Templates::embedded(), &no_secrets());
    assert!(p.error.unwrap_or_default().contains("motd.j2"));
}

#[test]
fn sensitive_files_get_secrets_and_never_show_them() {
    let c = configure(json!({"files": [
        {"path": "/etc/fleet/token", "template": "token.j2", "mode": "0600", "sensitive": true},
        {"path": "/etc/fleet/public", "template": "token.j2"}
    ]}));
    let mut t = Templates::embedded();
    t.add_user(
        "token.j2",
        "TOKEN={{ secrets['fleet/token'] }}\n".into(),
        "token.j2",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let secrets: BTreeMap<String, Secret> =
        [("fleet/token".to_owned(), Secret::new(CANARY.into()))].into();
    let mut req = FactRequest::new();
    c.facts(&mut req);
    let facts = blank_facts(&req, lab_host());
    let p = ctx_plan(c.as_ref(), &facts, &t, &secrets);
    // Only sensitive files see secrets: the public one fails to render instead of leaking.
    let e = p.error.clone().unwrap_or_default();
    assert!(
        e.contains("files[1] (/etc/fleet/public)") && e.contains("undefined"),
        "{e}"
    );
    assert!(!e.contains(CANARY));

    let c = configure(
        json!({"files": [{"path": "/etc/fleet/token", "template": "token.j2", "mode": "0600", "sensitive": true}]}),
    );
    let p = ctx_plan(c.as_ref(), &facts, &t, &secrets);
    assert!(p.error.is_none(), "{:?}", p.error);
    let Ok(Change::Apply(a)) = &p.items[0].change else {
        panic!("the token file is written")
    };
    assert_eq!(
        a.diff,
        Diff::Redacted {
            path: "/etc/fleet/token".into()
        }
    );
    let resources: Vec<&Resource> = p.items.iter().map(|i| &i.resource).collect();
    for out in [
        format!("{resources:?}"),
        serde_json::to_string(&resources).unwrap_or_default(),
        a.diff.render(),
        format!("{:?}", p.outcomes(&Redactor::new())),
        serde_json::to_string(&c.checks()).unwrap_or_default(),
    ] {
        assert!(!out.contains(CANARY), "secret leaked: {out}");
    }
    assert_eq!(
        hostplan::predicted(&p, &facts).files["/etc/fleet/token"].text(),
        Some(format!("TOKEN={CANARY}\n").as_str())
    );
}

#[test]
fn checks_describe_the_intended_state() {
    let c = configure(everything());
    let checks = c.checks();
    let ids: Vec<&str> = checks.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "custom.paths",
            "custom.lines",
            "custom.sysctls",
            "custom.services"
        ]
    );
    assert_eq!(
        checks[0].expect,
        Expect::Equals(
            "/opt/fleet/app.conf 640 lab:lab\n/etc/systemd/system/fleet.service 644 root:root\n/etc/sudoers.d/ops 440 root:root\n/etc/cron.d/old absent\n/opt/fleet 750 lab:lab"
                .into()
        )
    );
    assert_eq!(
        checks[2].expect,
        Expect::Equals("net.core.somaxconn = 1024\nnet.ipv4.tcp_rmem = 4096 131072 6291456".into())
    );
    assert!(
        checks[2]
            .command
            .contains(" net.core.somaxconn /proc/sys/net/core/somaxconn "),
        "{}",
        checks[2].command
    );
    assert_eq!(
        checks[3].expect,
        Expect::Equals("fleet enabled\nfleet started".into())
    );
    // Judge the paths check with the shell, on this machine's real files.
    let c = configure(
        json!({"files": [{"path": "/etc/passwd", "content": "x"}, {"path": "/nonexistent/x", "state": "absent"}]}),
    );
    let k = c.checks().remove(0);
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&k.command)
        .output()
        .expect("run sh");
    let r = CommandResult {
        rc: out.status.code().unwrap_or(-1),
        output: String::from_utf8_lossy(&out.stdout).into_owned(),
    };
    assert_eq!(
        r.output,
        "/etc/passwd 644 root:root\n/nonexistent/x absent\n"
    );
    assert!(k.judge(Some(&r)).pass);
}

#[test]
fn units_written_by_the_role_are_reloaded_before_they_start() {
    let c = configure(everything());
    let mut f = fresh(c.as_ref());
    f.units.insert(
        "fleet".into(),
        UnitState {
            load_state: "not-found".into(),
            ..UnitState::default()
        },
    );
    let p = plan_checked(c.as_ref(), &f, &no_secrets(), "root");
    let Some(Ok(Change::Apply(a))) = p.items.last().map(|i| &i.change) else {
        panic!("service starts")
    };
    assert!(
        a.script.as_str().starts_with("systemctl daemon-reload\n"),
        "{}",
        a.script.as_str()
    );
}

#[test]
fn config_errors_name_the_field() {
    let f = |extra: serde_json::Value| {
        let mut base = json!({"path": "/etc/x", "content": "x"});
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                if v.is_null() {
                    b.remove(k);
                } else {
                    b.insert(k.clone(), v.clone());
                }
            }
        }
        json!({"files": [base]})
    };
    let cases = [
        (
            f(json!({"path": "etc/x"})),
            "files[0].path",
            "absolute path",
        ),
        (
            f(json!({"path": "/etc/../x"})),
            "files[0].path",
            "absolute path",
        ),
        (
            f(json!({"path": "/etc/x/"})),
            "files[0].path",
            "absolute path",
        ),
        (
            f(json!({"mode": "rw-r--r--"})),
            "files[0].mode",
            "invalid mode",
        ),
        (f(json!({"mode": 420})), "files[0].mode", "quote the mode"),
        (f(json!({"mode": 493})), "files[0].mode", "not octal digits"),
        (
            f(json!({"mode": "0o17777"})),
            "files[0].mode",
            "invalid mode",
        ),
        (f(json!({"mode": -1})), "files[0].mode", "invalid mode"),
        (f(json!({"template": "x.j2"})), "files[0]", "not both"),
        (
            f(json!({"content": null})),
            "files[0]",
            "give `content` or `template`",
        ),
        (f(json!({"state": "absent"})), "files[0]", "an absent file"),
        (
            f(json!({"state": "gone"})),
            "files[0].state",
            "unknown variant",
        ),
        (
            f(json!({"vars": {"a": 1}})),
            "files[0].vars",
            "only feed a `template`",
        ),
        (
            f(json!({"content": null, "template": "../x.j2"})),
            "files[0].template",
            "relative to the templates",
        ),
        (
            f(json!({"owner": "bad user"})),
            "files[0].owner",
            "not a user or group",
        ),
        (
            f(json!({"validate": "visudo -c"})),
            "files[0].validate",
            "must contain `%s`",
        ),
        (
            f(json!({"restart": ["a b"]})),
            "files[0].restart[0]",
            "not a systemd unit",
        ),
        (
            f(json!({"contents": "x"})),
            "files[0].contents",
            "unknown field",
        ),
        (
            json!({"files": [{"path": "/a", "content": ""}, {"path": "/a", "content": ""}]}),
            "files[1].path",
            "already managed by files[0]",
        ),
        (
            json!({"directories": [{"path": "/a", "mode": 1023}]}),
            "directories[0].mode",
            "suspicious",
        ),
        (
            json!({"directories": [{"path": "relative"}]}),
            "directories[0].path",
            "absolute path",
        ),
        (
            json!({"files": [{"path": "/etc/hosts", "content": ""}], "lines": [{"path": "/etc/hosts", "match": "a", "line": "a"}]}),
            "lines[0].path",
            "whole file",
        ),
        (
            json!({"lines": [{"path": "/etc/hosts", "match": "", "line": "a"}]}),
            "lines[0].match",
            "every line",
        ),
        (
            json!({"lines": [{"path": "/etc/hosts", "match": "a", "line": "a\nb"}]}),
            "lines[0].line",
            "single line",
        ),
        (
            json!({"sysctls": {"vm swappiness": 10}}),
            "sysctls.vm swappiness",
            "not a sysctl key",
        ),
        (
            json!({"sysctls": {"kernel/../x": 1}}),
            "sysctls.kernel/../x",
            "not a sysctl key",
        ),
        (
            json!({"sysctls": {"vm.swappiness": 1.5}}),
            "sysctls.vm.swappiness",
            "string or an integer",
        ),
        (
            json!({"sysctls": {"vm.swappiness": "1\n2"}}),
            "sysctls.vm.swappiness",
            "single line",
        ),
        (
            json!({"sysctls": {"vm.swappiness": 1}, "sysctl_file": "/etc/sysctl.d/90-x"}),
            "sysctl_file",
            "*.conf",
        ),
        (
            json!({"sysctls": {"vm.swappiness": 1}, "sysctl_file": "/etc/sysctl.conf"}),
            "sysctl_file",
            "*.conf",
        ),
        (
            json!({"packages": ["Bad_Name"]}),
            "packages[0]",
            "not a Debian package",
        ),
        (
            json!({"packages": ["telnet"], "absent_packages": ["telnet"]}),
            "absent_packages[0]",
            "also in `packages`",
        ),
        (
            json!({"services": [{"name": "x"}]}),
            "services[0]",
            "`enabled` and/or `state`",
        ),
        (
            json!({"services": [{"name": "x", "state": "running"}]}),
            "services[0].state",
            "unknown variant",
        ),
        (
            json!({"services": [{"name": "x", "enabled": true}, {"name": "x", "enabled": true}]}),
            "services[1].name",
            "twice",
        ),
        (
            json!({"commands": [{"name": "x", "run": "true"}]}),
            "commands[0]",
            "unguarded",
        ),
        (
            json!({"commands": [{"name": "x", "run": " ", "unless": "true"}]}),
            "commands[0].run",
            "nothing to run",
        ),
        (
            json!({"commands": [{"name": "x", "run": "a", "creates": "rel"}]}),
            "commands[0].creates",
            "absolute path",
        ),
        (
            json!({"commands": [{"name": "x", "run": "a", "unless": "b"}, {"name": "x", "run": "a", "unless": "b"}]}),
            "commands[1].name",
            "twice",
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
        .configure(json!({"file": []}))
        .expect_err("unknown field");
    assert_eq!(e.unknown_field.as_deref(), Some("file"));
}

/// The lines check, run by the shell on real files: exactly one matching line, and it is the
/// managed one.
#[test]
fn lines_check_counts_matches() {
    let dir = std::env::temp_dir().join(format!("rampart-custom-lines-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let hosts = dir.join("hosts");
    let path = hosts.to_str().expect("utf-8").to_owned();
    let c = configure(
        json!({"lines": [{"path": path, "match": "127.0.1.1 ", "line": "127.0.1.1 a\\b"}]}),
    );
    let k = c.checks().remove(0);
    let judge = |content: Option<&str>| {
        match content {
            Some(t) => std::fs::write(&hosts, t).expect("write"),
            None => {
                let _ = std::fs::remove_file(&hosts);
            }
        }
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&k.command)
            .output()
            .expect("run sh");
        let r = CommandResult {
            rc: out.status.code().unwrap_or(-1),
            output: String::from_utf8_lossy(&out.stdout).into_owned(),
        };
        (k.judge(Some(&r)).pass, r.output.trim().to_owned())
    };
    assert_eq!(
        judge(Some("127.0.0.1 localhost\n127.0.1.1 a\\b\n")),
        (true, format!("{path}: present"))
    );
    let (pass, out) = judge(Some("127.0.1.1 a\\b\n127.0.1.1 h9\n"));
    assert!(
        !pass && out.ends_with("2 line(s) match, the managed one is there"),
        "{out}"
    );
    let (pass, out) = judge(Some("127.0.1.1 h9\n"));
    assert!(
        !pass && out.ends_with("1 line(s) match, the managed one is missing"),
        "{out}"
    );
    let (pass, out) = judge(None);
    assert!(!pass, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 18, finding 7: a custom path with `$(...)` or backticks is data in the apply script
/// (the validation's error message included), quoted once by `shell::quote`; a newline is
/// refused when the site is loaded.
#[test]
fn a_path_with_shell_syntax_is_quoted_in_the_script() {
    for path in [
        "/etc/a $(touch /tmp/pwned) b",
        "/etc/c `touch /tmp/pwned` d",
    ] {
        let c = configure(json!({"files": [
            {"path": path, "content": "x\n", "validate": "visudo -cf %s"}
        ]}));
        let p = plan_checked(c.as_ref(), &fresh(c.as_ref()), &no_secrets(), "root");
        let (_, a) = applies(&p).into_iter().next().expect("one change");
        let s = a.script.as_str();
        let name = path.rsplit_once('/').unwrap().1;
        // The path and the command are positional parameters of core's write step (whose
        // message and rename are tested under dash there), quoted once.
        assert!(
            s.contains(&format!(
                " '{path}' '{name}' absent 0644 root:root temp 'visudo -cf \"$PWD/$t\"' 'visudo -cf %s'\n"
            )),
            "{s}"
        );
        // Every occurrence of the path is inside single quotes.
        for (i, _) in s.match_indices("touch /tmp/pwned") {
            let before = &s[..i];
            let line_start = before.rfind('\n').map_or(0, |n| n + 1);
            let quotes = before[line_start..].matches('\'').count();
            assert_eq!(quotes % 2, 1, "unquoted at byte {i}: {s}");
        }
    }
    let bad = role().configure(json!({"files": [
        {"path": "/etc/a\n$(touch /tmp/pwned)", "content": "x\n"}
    ]}));
    assert!(bad.is_err());
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

/// The checks' scripts (`checks/*.sh`) under dash with fake commands: each branch.
mod check_scripts {
    use super::*;
    use pretty_assertions::assert_eq;
    use rampart_shtest::Sh;

    fn judge(sh: &Sh, k: &Check) -> (bool, String, i32) {
        let out = sh.run_check(&k.command);
        let text = out.stdout_str();
        let r = CommandResult {
            rc: out.status,
            output: text.clone(),
        };
        (k.judge(Some(&r)).pass, text, out.status)
    }

    fn check(c: &dyn Configured, id: &str) -> Check {
        c.checks().into_iter().find(|k| k.id == id).expect(id)
    }

    #[test]
    fn paths_reports_mode_owner_or_presence() {
        let Some(sh) = Sh::new() else { return };
        let conf = sh.write("etc/app.conf", "x");
        let gone = sh.path("etc/gone");
        let link = sh.path("etc/dangling");
        std::os::unix::fs::symlink(sh.path("nowhere"), &link).expect("symlink");
        let c = configure(json!({"files": [
            {"path": "/etc/app.conf", "content": "x", "mode": "0640"},
            {"path": "/etc/gone", "state": "absent"},
            {"path": "/etc/dangling", "state": "absent"},
            {"path": "/etc/missing", "content": "x"},
        ]}));
        let k = check(c.as_ref(), "custom.paths");
        let k = Check {
            fact: None,
            command: k
                .command
                .replace(" /etc/", &format!(" {}/etc/", sh.root().display())),
            ..k
        };
        // stat's own answer is replaced by a fake to pin the owner.
        sh.stub_body(
            "stat",
            "shift 3; [ -e \"$1\" ] || exit 1; printf '%s 640 root:root\\n' \"$1\"",
        );
        let (pass, out, rc) = judge(&sh, &k);
        assert_eq!(
            out,
            format!(
                "{conf} 640 root:root\n{gone} absent\n{link} present\n{} absent\n",
                sh.path("etc/missing")
            )
        );
        assert!(!pass && rc == 0, "{out}");
    }

    #[test]
    fn lines_counts_the_matches_and_keeps_awk_s_status() {
        let Some(sh) = Sh::new() else { return };
        sh.write("etc/a.conf", "PermitRootLogin no\nX=1\n");
        sh.write("etc/b.conf", "MaxAuthTries 3\nMaxAuthTries 4\n");
        let c = configure(json!({"lines": [
            {"path": "/etc/a.conf", "match": "PermitRootLogin ", "line": "PermitRootLogin no"},
            {"path": "/etc/b.conf", "match": "MaxAuthTries ", "line": "MaxAuthTries 3"},
        ]}));
        let k = check(c.as_ref(), "custom.lines");
        let rooted = |k: &Check| Check {
            fact: None,
            command: k
                .command
                .replace(" /etc/", &format!(" {}/etc/", sh.root().display())),
            ..k.clone()
        };
        let (pass, out, rc) = judge(&sh, &rooted(&k));
        assert!(!pass && rc == 0, "{out}");
        assert!(out.contains("a.conf: present\n"), "{out}");
        assert!(
            out.contains("b.conf: 2 line(s) match, the managed one is there"),
            "{out}"
        );
        sh.write("etc/b.conf", "MaxAuthTries 3\n");
        assert!(judge(&sh, &rooted(&k)).0);
        // A missing file: awk's error and status (the last file's) fail the check.
        std::fs::remove_file(sh.path("etc/b.conf")).expect("rm");
        let (pass, out, rc) = judge(&sh, &rooted(&k));
        assert!(!pass && rc != 0 && out.contains("b.conf"), "{out}");
    }

    #[test]
    fn sysctls_prints_each_value_squeezed() {
        let Some(sh) = Sh::new() else { return };
        let c = configure(
            json!({"sysctls": {"net.core.somaxconn": 1024, "net.ipv4.tcp_rmem": "4096 131072 6291456"}}),
        );
        let k = check(c.as_ref(), "custom.sysctls");
        let k = Check {
            fact: None,
            command: k
                .command
                .replace(" /proc/", &format!(" {}/proc/", sh.root().display())),
            ..k
        };
        sh.write("proc/sys/net/core/somaxconn", "1024\n");
        sh.write("proc/sys/net/ipv4/tcp_rmem", "4096\t131072\t6291456\n");
        let (pass, out, _) = judge(&sh, &k);
        assert!(pass, "{out}");
        sh.write("proc/sys/net/core/somaxconn", "4096\n");
        assert!(!judge(&sh, &k).0);
        // A missing key: an empty value and the shell's complaint.
        std::fs::remove_file(sh.path("proc/sys/net/core/somaxconn")).expect("rm");
        let out = sh.run_check(&k.command);
        assert!(
            out.stdout_str().starts_with("net.core.somaxconn = \n") && !out.stderr.is_empty(),
            "{out:?}"
        );
    }

    #[test]
    fn services_reads_systemctl() {
        let Some(sh) = Sh::new() else { return };
        let c = configure(json!({"services": [
            {"name": "fleet", "enabled": true, "state": "started"},
            {"name": "old", "enabled": false, "state": "stopped"},
        ]}));
        let k = check(c.as_ref(), "custom.services");
        sh.stub_body(
            "systemctl",
            "case \"$1 $2 $3\" in 'is-enabled fleet '*) echo enabled-runtime ;; 'is-enabled old '*) echo masked ;; 'is-active --quiet fleet') exit 0 ;; *) exit 3 ;; esac",
        );
        let (pass, out, _) = judge(&sh, &k);
        assert!(pass, "{out}");
        assert_eq!(
            out,
            "fleet enabled\nfleet started\nold disabled\nold stopped\n"
        );
        sh.stub("systemctl", 1);
        let (pass, out, _) = judge(&sh, &k);
        assert!(!pass, "{out}");
        assert_eq!(
            out,
            "fleet disabled\nfleet stopped\nold disabled\nold stopped\n"
        );
    }
}
