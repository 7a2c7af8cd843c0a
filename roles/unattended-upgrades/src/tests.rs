//! Planning the unattended-upgrades role against synthetic Debian and Ubuntu hosts.

use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use rampart_core::Change;
use rampart_core::facts::{CommandResult, FileState, PackageState, UnitState};
use rampart_core::hostplan::PlannedRole;
use rampart_core::template::Templates;
use rampart_core::testing::{applies, assert_converges, fresh_lab_facts, plan_checked, text_file};
use serde_json::json;

use super::*;

fn configure(v: serde_json::Value) -> Config {
    let c: Config = rampart_core::role::configure_typed(v).expect("valid config");
    c.validate().expect("valid config");
    c
}

fn unit(state: &str, file: &str) -> UnitState {
    UnitState {
        load_state: "loaded".into(),
        active_state: state.into(),
        unit_file_state: file.into(),
        ..UnitState::default()
    }
}

/// A fresh lab host: the package installed with Debian's files, the service running, and
/// the apt timers masked (the lab masks them to keep hosts quiet).
fn fresh(c: &Config) -> Facts {
    let mut f = fresh_lab_facts(c);
    f.packages.insert(
        "unattended-upgrades".into(),
        PackageState {
            installed: true,
            version: "2.9.1+nmu3".into(),
            status: "ii".into(),
        },
    );
    f.files.insert(
        UNATTENDED.into(),
        text_file(
            "// Debian's packaged file\nUnattended-Upgrade::Origins-Pattern {\n};\n",
            0o644,
            "root",
        ),
    );
    f.files
        .insert(AUTO.into(), text_file(AUTO_CONTENT, 0o644, "root"));
    f.units
        .insert("unattended-upgrades".into(), unit("active", "enabled"));
    for t in TIMERS {
        f.units.insert(
            t.into(),
            UnitState {
                load_state: "masked".into(),
                active_state: "inactive".into(),
                unit_file_state: "masked".into(),
                ..UnitState::default()
            },
        );
    }
    f
}

/// A change made to a host behind rampart's back.
type Drift = Box<dyn Fn(&mut Facts)>;

fn secrets() -> BTreeMap<String, rampart_core::Secret> {
    BTreeMap::new()
}

fn changes(p: &PlannedRole) -> Vec<String> {
    applies(p).into_iter().map(|(id, _)| id).collect()
}

fn text(f: &Facts, path: &str) -> String {
    f.files
        .get(path)
        .and_then(FileState::text)
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn fresh_debian_host_gets_debian_origins_and_running_timers() {
    let c = Config::default();
    let p = plan_checked(&c, &fresh(&c), &secrets(), "root");
    assert_eq!(
        changes(&p),
        [
            "file:/etc/apt/apt.conf.d/50unattended-upgrades",
            "service:apt-daily.timer",
            "service:apt-daily-upgrade.timer"
        ]
    );
    let timer = p
        .items
        .iter()
        .find(|i| i.resource.id() == "service:apt-daily-upgrade.timer")
        .expect("timer");
    let Ok(Change::Apply(a)) = &timer.change else {
        panic!("the timer changes")
    };
    assert_eq!(
        a.script.as_str(),
        "systemctl unmask apt-daily-upgrade.timer\nsystemctl enable --quiet apt-daily-upgrade.timer\nsystemctl start apt-daily-upgrade.timer\n"
    );
    let file = p
        .items
        .iter()
        .find(|i| i.resource.id().ends_with("50unattended-upgrades"))
        .expect("file");
    let Ok(Change::Apply(a)) = &file.change else {
        panic!("the file changes")
    };
    assert!(
        a.script
            .as_str()
            .contains("apt-config -c \"$PWD/$t\" dump >/dev/null"),
        "validated before the rename"
    );
    let after = assert_converges(&c, fresh(&c), &secrets(), "root");
    assert_eq!(
        text(&after, UNATTENDED),
        r#"// Managed by rampart (role unattended-upgrades): local changes are overwritten on the next run.
// Origins: the defaults for debian.

Unattended-Upgrade::Origins-Pattern {
    "origin=Debian,codename=${distro_codename},label=Debian";
    "origin=Debian,codename=${distro_codename},label=Debian-Security";
    "origin=Debian,codename=${distro_codename}-security,label=Debian-Security";
};

// Never upgraded automatically (regular expressions): upgrading Docker restarts every container.
Unattended-Upgrade::Package-Blacklist {
    "docker-ce";
    "docker-ce-cli";
    "containerd.io";
};

// Pending reboots are reported by rampart's unattended-upgrades.reboot-required check.
Unattended-Upgrade::Automatic-Reboot "false";
"#
    );
    assert_eq!(
        text(&after, AUTO),
        "APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";\n"
    );
}

#[test]
fn ubuntu_gets_the_seeds_allowed_origins() {
    let c = configure(
        json!({"extra_package_blacklist": ["redis-server", "docker-ce"], "automatic_reboot": true, "automatic_reboot_time": "03:30"}),
    );
    let mut f = fresh(&c);
    f.host.os_id = "ubuntu".into();
    f.host.os_codename = "noble".into();
    let after = assert_converges(&c, f, &secrets(), "root");
    let t = text(&after, UNATTENDED);
    assert!(t.contains("Unattended-Upgrade::Allowed-Origins {\n    \"${distro_id}:${distro_codename}\";\n    \"${distro_id}:${distro_codename}-security\";\n    \"${distro_id}ESMApps:${distro_codename}-apps-security\";\n    \"${distro_id}ESM:${distro_codename}-infra-security\";\n};\n"), "{t}");
    assert!(!t.contains("Origins-Pattern"), "{t}");
    assert!(
        t.contains("    \"containerd.io\";\n    \"redis-server\";\n};"),
        "extra entries are added once: {t}"
    );
    assert!(
        t.contains(
            "Automatic-Reboot \"true\";\nUnattended-Upgrade::Automatic-Reboot-Time \"03:30\";"
        ),
        "{t}"
    );
}

#[test]
fn other_oses_need_explicit_origins() {
    let c = Config::default();
    let mut f = fresh(&c);
    f.host.os_id = "raspbian".into();
    let templates = Templates::embedded();
    let vars = json!({});
    let s = secrets();
    let ctx = HostContext {
        host: "h5",
        facts: &f,
        vars: &vars,
        templates: &templates,
        secrets: &s,
        connect_user: "root",
    };
    assert!(
        c.plan(&ctx)
            .expect_err("refused")
            .0
            .contains("set unattended-upgrades.allowed_origins")
    );
    let c = configure(
        json!({"origins_pattern": ["origin=Raspbian,codename=${distro_codename},label=Raspbian"]}),
    );
    let mut f = fresh(&c);
    f.host.os_id = "raspbian".into();
    let after = assert_converges(&c, f, &secrets(), "root");
    assert!(text(&after, UNATTENDED).contains(
        "Origins: as configured.\n\nUnattended-Upgrade::Origins-Pattern {\n    \"origin=Raspbian"
    ));
}

#[test]
fn missing_package_is_installed_after_an_apt_refresh() {
    let c = Config::default();
    let mut f = fresh(&c);
    f.packages
        .insert("unattended-upgrades".into(), PackageState::absent());
    f.files.insert(UNATTENDED.into(), FileState::Absent);
    f.files.insert(AUTO.into(), FileState::Absent);
    f.units.insert(
        "unattended-upgrades".into(),
        UnitState {
            load_state: "not-found".into(),
            ..UnitState::default()
        },
    );
    let p = plan_checked(&c, &f, &secrets(), "root");
    assert_eq!(
        changes(&p)[..5],
        [
            "apt-update".to_owned(),
            "packages:unattended-upgrades".to_owned(),
            "file:/etc/apt/apt.conf.d/50unattended-upgrades".to_owned(),
            "file:/etc/apt/apt.conf.d/20auto-upgrades".to_owned(),
            "service:unattended-upgrades".to_owned(),
        ]
    );
    assert_converges(&c, f, &secrets(), "root");
}

#[test]
fn drifts_are_repaired() {
    let c = Config::default();
    let converged = assert_converges(&c, fresh(&c), &secrets(), "root");
    let cases: Vec<(&str, Drift, Vec<&str>)> = vec![
        (
            "50unattended-upgrades edited",
            Box::new(|f| {
                let t = text(f, UNATTENDED).replace("    \"docker-ce\";\n", "");
                f.files
                    .insert(UNATTENDED.into(), text_file(&t, 0o644, "root"));
            }),
            vec!["file:/etc/apt/apt.conf.d/50unattended-upgrades"],
        ),
        (
            "automatic updates switched off (dpkg-reconfigure: no)",
            Box::new(|f| {
                f.files.insert(AUTO.into(), text_file("APT::Periodic::Update-Package-Lists \"0\";\nAPT::Periodic::Unattended-Upgrade \"0\";\n", 0o644, "root"));
            }),
            vec!["file:/etc/apt/apt.conf.d/20auto-upgrades"],
        ),
        (
            "service stopped",
            Box::new(|f| {
                f.units
                    .insert("unattended-upgrades".into(), unit("inactive", "enabled"));
            }),
            vec!["service:unattended-upgrades"],
        ),
        (
            "timer masked again",
            Box::new(|f| {
                f.units.insert(
                    "apt-daily.timer".into(),
                    UnitState {
                        load_state: "masked".into(),
                        active_state: "inactive".into(),
                        unit_file_state: "masked".into(),
                        ..UnitState::default()
                    },
                );
            }),
            vec!["service:apt-daily.timer"],
        ),
    ];
    for (what, drift, want) in cases {
        let mut f = converged.clone();
        drift(&mut f);
        let p = plan_checked(&c, &f, &secrets(), "root");
        assert_eq!(changes(&p), want, "{what}");
        assert_converges(&c, f, &secrets(), "root");
    }
}

#[test]
fn timers_can_be_left_alone() {
    let c = configure(json!({"manage_timers": false}));
    let p = plan_checked(&c, &fresh(&c), &secrets(), "root");
    assert!(!changes(&p).iter().any(|i| i.contains("timer")));
    assert!(
        !c.checks()
            .iter()
            .any(|c| c.id == "unattended-upgrades.timers")
    );
}

#[test]
fn apt_facts_are_declared_for_the_pending_reboot() {
    let mut req = FactRequest::new();
    Config::default().facts(&mut req);
    assert!(req.apt);
}

#[test]
fn reboot_required_check_lists_the_packages() {
    let checks = Config::default().checks();
    let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "unattended-upgrades.service",
            "unattended-upgrades.timers",
            "unattended-upgrades.enabled",
            "unattended-upgrades.security-origins",
            "unattended-upgrades.blacklist",
            "unattended-upgrades.automatic-reboot",
            "unattended-upgrades.reboot-required",
        ]
    );
    let reboot = checks
        .iter()
        .find(|c| c.id == "unattended-upgrades.reboot-required")
        .expect("check");
    // Run the check's shell against a stand-in root: /var/run is replaced by a temp dir.
    let dir = std::env::temp_dir().join(format!("rampart-uu-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cmd = reboot
        .command
        .replace("/var/run", &dir.display().to_string());
    let run = || {
        let out = std::process::Command::new("sh")
            .args(["-c", &cmd])
            .output()
            .expect("sh");
        CommandResult {
            rc: out.status.code().unwrap_or(-1),
            output: String::from_utf8_lossy(&out.stdout).into_owned(),
        }
    };
    let v = reboot.judge(Some(&run()));
    assert!(v.pass && v.evidence == "no reboot required", "{v:?}");
    std::fs::write(
        dir.join("reboot-required"),
        "*** System restart required ***\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("reboot-required.pkgs"),
        "linux-image-6.1.0-40-amd64\nlibc6\nlibc6\n",
    )
    .expect("write");
    let v = reboot.judge(Some(&run()));
    assert!(
        !v.pass && v.evidence == "exit 1: reboot required by: libc6 linux-image-6.1.0-40-amd64",
        "{v:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The four checks of apt's configuration share one `apt-config dump` per probe; the
/// controller picks each one's lines from its real output format, and an apt-config that
/// fails fails them all with its error.
#[test]
fn the_apt_config_checks_share_one_dump() {
    let checks: Vec<Check> = Config::default()
        .checks()
        .into_iter()
        .filter(|c| {
            [
                "unattended-upgrades.enabled",
                "unattended-upgrades.security-origins",
                "unattended-upgrades.blacklist",
                "unattended-upgrades.automatic-reboot",
            ]
            .contains(&c.id.as_str())
        })
        .collect();
    assert_eq!(checks.len(), 4);
    let mut req = rampart_core::facts::FactRequest::new();
    for c in &checks {
        c.request(&mut req);
    }
    assert_eq!(
        req.commands.values().collect::<Vec<_>>(),
        ["apt-config dump"],
        "one run for the four"
    );
    let id = req.commands.keys().next().unwrap().clone();
    let dump = "APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";\nUnattended-Upgrade \"\";\nUnattended-Upgrade::Origins-Pattern \"\";\nUnattended-Upgrade::Origins-Pattern:: \"origin=Debian,codename=bookworm,label=Debian\";\nUnattended-Upgrade::Origins-Pattern:: \"origin=Debian,codename=bookworm,label=Debian-Security\";\nUnattended-Upgrade::Package-Blacklist \"\";\nUnattended-Upgrade::Package-Blacklist:: \"docker-ce\";\nUnattended-Upgrade::Package-Blacklist:: \"containerd.io\";\nUnattended-Upgrade::Package-Blacklist:: \"docker-ce-cli\";\nUnattended-Upgrade::Automatic-Reboot \"false\";\n";
    let mut f = rampart_core::facts::Facts::default();
    let mut answer = |rc: i32, output: &str| {
        f.commands.insert(
            id.clone(),
            CommandResult {
                rc,
                output: output.into(),
            },
        );
        checks.iter().map(|c| c.judge_facts(&f)).collect::<Vec<_>>()
    };
    for v in answer(0, dump) {
        assert!(v.pass, "{v:?}");
    }
    // Hand edits: the lists no longer refreshed, docker-ce-cli upgradable, reboots on, the
    // security origin gone.
    let drifted = dump
        .replace("Update-Package-Lists \"1\"", "Update-Package-Lists \"0\"")
        .replace(
            "Unattended-Upgrade::Package-Blacklist:: \"docker-ce-cli\";\n",
            "",
        )
        .replace("Automatic-Reboot \"false\"", "Automatic-Reboot \"true\"")
        .replace(",label=Debian-Security", "");
    let v = answer(0, &drifted);
    assert!(v.iter().all(|v| !v.pass), "{v:?}");
    assert!(
        v[0].evidence
            .ends_with("missing: APT::Periodic::Update-Package-Lists \"1\";"),
        "{:?}",
        v[0]
    );
    assert!(
        v[2].evidence
            .ends_with("\nmissing: Unattended-Upgrade::Package-Blacklist:: \"docker-ce-cli\";"),
        "{:?}",
        v[2]
    );
    assert_eq!(
        v[3].evidence, "Unattended-Upgrade::Automatic-Reboot \"true\";",
        "{v:#?}"
    );
    for v in answer(100, "E: Syntax error /etc/apt/apt.conf.d/50x:3") {
        assert!(
            !v.pass && v.evidence == "exit 100: E: Syntax error /etc/apt/apt.conf.d/50x:3",
            "{v:?}"
        );
    }
}

#[test]
fn config_errors_have_paths() {
    let r = role();
    for (v, path) in [
        (
            json!({"package_blacklist": ["docker\"; evil"]}),
            "package_blacklist[0]",
        ),
        (
            json!({"extra_package_blacklist": ["a\nb"]}),
            "extra_package_blacklist[0]",
        ),
        (json!({"allowed_origins": []}), "allowed_origins"),
        (
            json!({"automatic_reboot_time": "25:00"}),
            "automatic_reboot_time",
        ),
        (json!({"automatic_reboot": "yes"}), "automatic_reboot"),
    ] {
        let e = r.configure(v.clone()).map(|_| ()).unwrap_err();
        assert_eq!(e.path, path, "{v}: {e}");
    }
    let e = r
        .configure(json!({"blacklist": []}))
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.unknown_field.as_deref(), Some("blacklist"));
    assert_eq!(
        r.defaults()["package_blacklist"],
        json!(["docker-ce", "docker-ce-cli", "containerd.io"])
    );
    assert_eq!(r.defaults()["automatic_reboot"], json!(false));
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

/// The checks' scripts (`checks/*.sh`) under dash with fake commands: the failure branches.
mod check_scripts {
    use super::*;
    use pretty_assertions::assert_eq;
    use rampart_shtest::Sh;

    fn check(id: &str) -> Check {
        Config::default()
            .checks()
            .into_iter()
            .find(|c| c.id == id)
            .expect(id)
    }

    fn judge(k: &Check, out: &rampart_shtest::Out) -> bool {
        k.judge(Some(&CommandResult {
            rc: out.status,
            output: out.stdout_str(),
        }))
        .pass
    }

    #[test]
    fn timers_are_systemctl_s_states() {
        let Some(sh) = Sh::new() else { return };
        let k = check("unattended-upgrades.timers");
        sh.stub_output("systemctl", 0, "active\nactive\n");
        let out = sh.run_check(&k.command);
        assert!(judge(&k, &out), "{out:?}");
        assert_eq!(
            sh.calls(),
            ["systemctl is-active apt-daily.timer apt-daily-upgrade.timer"]
        );
        sh.stub_output("systemctl", 3, "active\ninactive\n");
        let out = sh.run_check(&k.command);
        assert!(out.status == 3 && !judge(&k, &out), "{out:?}");
    }
}
