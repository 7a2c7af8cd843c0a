//! Unit tests: the catalogue loads, every control has a fixture and every fixture holds
//! (facts in -> changes out, then converged), aggregation, waivers, profiles.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use pretty_assertions::assert_eq;
use rampart_core::facts::{FactRequest, Facts, FileState, HostInfo, PackageState, UnitState};
use rampart_core::plan::Change;
use rampart_core::resource::Resource;
use rampart_core::testing::{blank_facts, lab_host, text_file};
use serde::Deserialize;

use super::*;
use crate::build::{MODPROBE_FILE, SSHD_FILE, SYSCTL_FILE};
use crate::waiver::glob_match;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFile {
    #[serde(default)]
    fixture: Vec<Fixture>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    control: String,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    vars: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    deep: bool,
    /// `systemd-detect-virt -c`: "none" (a VM or metal, the default) or a container type.
    #[serde(default)]
    virt: Option<String>,
    #[serde(default)]
    facts: FixtureFacts,
    expect_changes: Vec<String>,
}

/// The facts keys of a fixture (documented in README.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFacts {
    #[serde(default)]
    sysctl: BTreeMap<String, String>,
    #[serde(default)]
    sysctl_missing: Vec<String>,
    #[serde(default)]
    files: BTreeMap<String, FixtureFile1>,
    #[serde(default)]
    packages: BTreeMap<String, bool>,
    #[serde(default)]
    units: BTreeMap<String, FixtureUnit>,
    #[serde(default)]
    commands: BTreeMap<String, i32>,
    #[serde(default)]
    stamps: Vec<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FixtureFile1 {
    Text(String),
    State(FixtureFileState),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFileState {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    absent: bool,
    #[serde(default)]
    dir: bool,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    group: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureUnit {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    active: bool,
    #[serde(default)]
    masked: bool,
}

fn host_for(os: Os) -> HostInfo {
    let mut h = lab_host();
    match os {
        Os::Ubuntu2404 => {
            h.os_id = "ubuntu".into();
            h.os_version_id = "24.04".into();
            h.os_codename = "noble".into();
        }
        Os::Debian12 => {}
        Os::Debian13 => {
            h.os_version_id = "13".into();
            h.os_codename = "trixie".into();
        }
    }
    h
}

fn overlay(f: &mut Facts, x: &FixtureFacts, control: &Control) {
    for (k, v) in &x.sysctl {
        f.sysctls.insert(k.clone(), Some(v.clone()));
    }
    for k in &x.sysctl_missing {
        f.sysctls.insert(k.clone(), None);
    }
    for (p, st) in &x.files {
        let state = match st {
            FixtureFile1::Text(t) => text_file(t, 0o644, "root"),
            FixtureFile1::State(s) if s.absent => FileState::Absent,
            FixtureFile1::State(s) => {
                let mode = s.mode.as_deref().and_then(catalogue::parse_mode);
                let owner = s.owner.clone().unwrap_or_else(|| "root".into());
                let group = s.group.clone().unwrap_or_else(|| owner.clone());
                if s.dir {
                    FileState::Dir {
                        mode: mode.unwrap_or(0o755),
                        owner,
                        group,
                    }
                } else {
                    let t = s.content.clone().unwrap_or_default();
                    match text_file(&t, mode.unwrap_or(0o644), &owner) {
                        FileState::File {
                            mode,
                            owner,
                            size,
                            content,
                            sha256,
                            ..
                        } => FileState::File {
                            mode,
                            owner,
                            group,
                            size,
                            content,
                            sha256,
                        },
                        other => other,
                    }
                }
            }
        };
        f.files.insert(p.clone(), state);
    }
    for (n, installed) in &x.packages {
        f.packages.insert(
            n.clone(),
            if *installed {
                PackageState {
                    installed: true,
                    version: "1.0".into(),
                    status: "install ok installed".into(),
                }
            } else {
                PackageState::absent()
            },
        );
    }
    for (n, u) in &x.units {
        f.units.insert(
            n.clone(),
            UnitState {
                load_state: if u.masked { "masked" } else { "loaded" }.into(),
                active_state: if u.active { "active" } else { "inactive" }.into(),
                sub_state: if u.active { "running" } else { "dead" }.into(),
                unit_file_state: if u.masked {
                    "masked"
                } else if u.enabled {
                    "enabled"
                } else {
                    "disabled"
                }
                .into(),
                need_daemon_reload: false,
                props: Default::default(),
            },
        );
    }
    for (i, rc) in &x.commands {
        let i: usize = i.parse().expect("commands keys are command indexes: \"0\"");
        f.commands.insert(
            format!("unless:{}", build::command_name(&control.id, i)),
            rampart_core::facts::CommandResult {
                rc: *rc,
                output: String::new(),
            },
        );
    }
    for i in &x.stamps {
        f.files
            .insert(build::stamp(&control.id, *i), FileState::Other);
    }
}

/// A change as fixtures name it: the resource id with its kind separated by a space.
fn label(r: &Resource) -> String {
    r.id().replacen(':', " ", 1)
}

fn plan_labels(resources: &[Resource], facts: &Facts) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for r in resources {
        match r.plan(facts) {
            Ok(Change::Apply(_)) => out.push(label(r)),
            Ok(_) => {}
            Err(e) => return Err(format!("{}: {e}", label(r))),
        }
    }
    Ok(out)
}

/// Runs one fixture: facts in, changes out, then the converged plan is empty.
fn run_fixture(file: &str, fx: &Fixture) -> Result<(), String> {
    let cat = catalogue();
    let c = cat
        .control(&fx.control)
        .ok_or_else(|| format!("unknown control `{}`", fx.control))?;
    let os = match &fx.os {
        Some(o) => Os::parse(o).ok_or_else(|| format!("unknown os `{o}`"))?,
        None => Os::Debian12,
    };
    if !c.applies_to(os) {
        return Err(format!("the control does not apply to {os}"));
    }
    let vars = merge_vars(&fx.vars).map_err(|e| e.to_string())?;
    let templates = rampart_core::template::Templates::embedded();
    let opts = build::Options {
        vars: &vars,
        deep: fx.deep,
        templates: &templates,
    };
    let all = build::build(&[c], &opts, None)?;
    let mut req = FactRequest::new();
    build::facts(&all, &mut req);
    build::condition_facts(&[c], &mut req);
    let mut host = host_for(os);
    host.virt = fx.virt.clone().unwrap_or_else(|| "none".into());
    let mut facts = blank_facts(&req, host);
    overlay(&mut facts, &fx.facts, c);
    // As the role plans: a control that does not apply inside a container plans nothing there.
    let picked: Vec<&Control> =
        if (facts.host.in_container() && !c.container) || !c.conditions_hold(&facts) {
            Vec::new()
        } else {
            vec![c]
        };
    let built = build::build(&picked, &opts, Some(&facts))?;
    // Every fact a resource reads was declared from the configuration alone.
    let mut used = FactRequest::new();
    for r in &built.resources {
        r.facts(&mut used);
    }
    for p in used.files.iter().chain(&used.stats) {
        if !req.files.contains(p) && !req.stats.contains(p) {
            return Err(format!("{p} read but not declared"));
        }
    }
    let mut got = plan_labels(&built.resources, &facts)?;
    let mut want = fx.expect_changes.clone();
    got.sort();
    want.sort();
    if got != want {
        return Err(format!(
            "{file}: expected changes {want:?}, planned {got:?}"
        ));
    }
    for r in &built.resources {
        if let Ok(Change::Apply(_)) = r.plan(&facts) {
            r.simulate(&mut facts);
        }
    }
    let again = plan_labels(&built.resources, &facts)?;
    if !again.is_empty() {
        return Err(format!("not converged after its changes: {again:?}"));
    }
    Ok(())
}

fn fixtures() -> Vec<(String, Fixture)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&f).unwrap();
        let parsed: FixtureFile =
            toml::from_str(&text).unwrap_or_else(|e| panic!("fixtures/{name}: {e}"));
        out.extend(parsed.fixture.into_iter().map(|x| (name.clone(), x)));
    }
    out
}

#[test]
fn the_embedded_catalogue_is_valid() {
    if let Err(errors) = catalogue::load(catalogue::SECTIONS, catalogue::DEFAULTS) {
        panic!("{}", errors.join("\n"));
    }
    assert!(!catalogue().controls.is_empty());
}

#[test]
fn every_fixture_holds_and_every_control_has_one() {
    let mut failures = Vec::new();
    let mut covered = BTreeSet::new();
    for (file, fx) in fixtures() {
        covered.insert(fx.control.clone());
        if let Err(e) = run_fixture(&file, &fx) {
            failures.push(format!("fixtures/{file}: control {}: {e}", fx.control));
        }
    }
    for c in &catalogue().controls {
        if !covered.contains(&c.id) {
            failures.push(format!(
                "control {} ({}) has no fixture in roles/baseline/fixtures/",
                c.id, c.section
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn loader_errors_name_the_file_and_control() {
    let sec = "[section]\nid = \"x\"\ntitle = \"X\"\n";
    let ok_control = "[[control]]\nid = \"a.b\"\ntitle = \"t\"\nrationale = \"r\"\nlevels = [\"l1-server\"]\nsysctl = { \"net.ipv4.ip_forward\" = \"0\" }\n";
    let defaults = "banner = \"x\"\n";
    let cases: Vec<(String, &str)> = vec![
        (
            format!("{sec}{ok_control}{ok_control}"),
            "control a.b: the id is also used in 01-x.toml",
        ),
        (
            format!(
                "{sec}[[control]]\nid = \"A_b\"\ntitle = \"t\"\nrationale = \"r\"\nlevels = [\"l1-server\"]\nmodprobe = [\"x\"]\n"
            ),
            "the id must be lowercase",
        ),
        (
            format!(
                "{sec}[[control]]\nid = \"a\"\ntitle = \"t\"\nrationale = \"r\"\nlevels = [\"l3-server\"]\nmodprobe = [\"x\"]\n"
            ),
            "unknown variant `l3-server`",
        ),
        (
            format!(
                "{sec}[[control]]\nid = \"a\"\ntitle = \"t\"\nrationale = \"r\"\nlevels = [\"l1-server\"]\nos = [\"debian-11\"]\nmodprobe = [\"x\"]\n"
            ),
            "unknown variant `debian-11`",
        ),
        (
            format!(
                "{sec}[[control]]\nid = \"a\"\ntitle = \"t\"\nrationale = \"r\"\nlevels = [\"l1-server\"]\nfrobnicate = [\"x\"]\n"
            ),
            "unknown field `frobnicate`",
        ),
        (
            format!(
                "{sec}[[control]]\nid = \"a\"\ntitle = \"t\"\nrationale = \"r\"\nlevels = [\"l1-server\"]\n"
            ),
            "no desired state",
        ),
        (
            format!(
                "{sec}[[control]]\nid = \"a\"\ntitle = \"t\"\nrationale = \"r\"\nlevels = [\"l1-server\"]\ncommand = {{ check = \"true\", cost = \"\" }}\n"
            ),
            "`cost` is mandatory",
        ),
        (
            format!(
                "{sec}[[control]]\nid = \"a\"\ntitle = \"t\"\nrationale = \"r\"\nlevels = [\"l1-server\"]\nline = {{ path = \"/etc/x\", match = \"A\", line = \"A {{{{ nope }}}}\" }}\n"
            ),
            "uses `{{ nope }}`, which defaults.toml does not define",
        ),
        (
            format!(
                "{sec}[[control]]\nid = \"a\"\ntitle = \"t\"\nrationale = \"r\"\nlevels = [\"l1-server\"]\nperms = {{ path = \"etc/x\", mode = \"0999\" }}\n"
            ),
            "invalid mode `0999`",
        ),
        (
            format!(
                "{sec}{ok_control}[[control]]\nid = \"c\"\ntitle = \"t\"\nrationale = \"r\"\nlevels = [\"l1-server\"]\nsysctl = {{ \"net.ipv4.ip_forward\" = \"1\" }}\n"
            ),
            "sets net.ipv4.ip_forward = 1, but control a.b sets 0",
        ),
        (
            format!(
                "{sec}[[control]]\nid = \"a\"\ntitle = \"t\"\nrationale = \"r\"\nlevels = [\"l1-server\"]\ncis = {{ rhel9 = \"1\" }}\nmodprobe = [\"x\"]\n"
            ),
            "unknown `cis` key `rhel9`",
        ),
    ];
    for (text, want) in cases {
        let err = catalogue::load(&[("01-x.toml", &text)], defaults)
            .expect_err(&format!("should fail: {want}"))
            .join("\n");
        assert!(err.contains(want), "expected `{want}` in:\n{err}");
        assert!(err.starts_with("01-x.toml"), "{err}");
    }
}

fn sample(text: &str) -> Catalogue {
    catalogue::load(&[("03-network.toml", text)], catalogue::DEFAULTS).unwrap()
}

#[test]
fn aggregation_writes_one_file_per_kind_sorted_and_drops_waived_lines() {
    let cat = catalogue();
    let templates = rampart_core::template::Templates::embedded();
    let vars = merge_vars(&serde_json::Map::new()).unwrap();
    let opts = build::Options {
        vars: &vars,
        deep: false,
        templates: &templates,
    };
    let picked: Vec<&Control> = ["net.ipv4.tcp-syncookies", "net.ipv4.send-redirects"]
        .iter()
        .map(|id| cat.control(id).unwrap())
        .collect();
    let b = build::build(&picked, &opts, None).unwrap();
    let ids: Vec<String> = b.resources.iter().map(Resource::id).collect();
    assert_eq!(
        ids,
        vec![
            format!("file:{SYSCTL_FILE}"),
            "sysctl:net.ipv4.conf.all.send_redirects".into(),
            "sysctl:net.ipv4.conf.default.send_redirects".into(),
            "sysctl:net.ipv4.tcp_syncookies".into(),
            format!("file:{MODPROBE_FILE}"),
            format!("file:{SSHD_FILE}"),
        ]
    );
    let Resource::File(f) = &b.resources[0] else {
        panic!()
    };
    assert_eq!(
        f.content,
        Some(rampart_core::resource::Content::Text(
            "# Managed by rampart (role baseline): local changes are overwritten.\nnet.ipv4.conf.all.send_redirects = 0\nnet.ipv4.conf.default.send_redirects = 0\nnet.ipv4.tcp_syncookies = 1\n".into()
        ))
    );
    // No module control: the drop-in must not exist; no sshd control: neither.
    let Resource::File(m) = &b.resources[4] else {
        panic!()
    };
    assert_eq!(m.content, None);
    let Resource::File(s) = &b.resources[5] else {
        panic!()
    };
    assert_eq!(s.risk, rampart_core::plan::Risk::Access);
    assert_eq!(s.content, None);
    // Modules: allowed_modules removes entries; sshd: validated, risk Access.
    let cat2 = sample(
        "[section]\nid = \"network\"\ntitle = \"N\"\n[[control]]\nid = \"m\"\ntitle = \"t\"\nrationale = \"r\"\nlevels = [\"l1-server\"]\nmodprobe = [\"sctp\", \"dccp\"]\nsshd = { LogLevel = \"VERBOSE\", DisableForwarding = \"{{ 'no' if ssh_allow_forwarding else 'yes' }}\" }\n",
    );
    let mut v = serde_json::Map::new();
    v.insert("allowed_modules".into(), serde_json::json!(["sctp"]));
    v.insert("ssh_allow_forwarding".into(), serde_json::json!(true));
    let vars = merge_vars(&v).unwrap();
    let opts = build::Options {
        vars: &vars,
        deep: false,
        templates: &templates,
    };
    let b = build::build(&[&cat2.controls[0]], &opts, None).unwrap();
    let text = |path: &str| {
        b.resources
            .iter()
            .find_map(|r| match r {
                Resource::File(f) if f.path == path => match &f.content {
                    Some(rampart_core::resource::Content::Text(t)) => Some(t.clone()),
                    _ => None,
                },
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(
        text(MODPROBE_FILE),
        "# Managed by rampart (role baseline): local changes are overwritten.\ninstall dccp /bin/false\nblacklist dccp\n"
    );
    assert_eq!(
        text(SSHD_FILE),
        "# Managed by rampart (role baseline): local changes are overwritten.\nDisableForwarding no\nLogLevel VERBOSE\n"
    );
}

#[test]
fn waiver_globs_and_expiry() {
    assert!(glob_match("net.*", "net.ipv4.rp-filter"));
    assert!(glob_match("*.rp-filter", "net.ipv4.rp-filter"));
    assert!(glob_match("net.ipv4.rp-filter", "net.ipv4.rp-filter"));
    assert!(!glob_match("net.ipv4", "net.ipv4.rp-filter"));
    assert!(glob_match("n*t.*v4*", "net.ipv4.x"));
    let w = Waiver {
        control: "net.ipv4.*".into(),
        reason: "router".into(),
        expires: "2027-03-01".into(),
        by: "ops@example.com".into(),
    };
    assert!(!w.expired_on(Date::parse("2027-03-01").unwrap()));
    assert!(w.expired_on(Date::parse("2027-03-02").unwrap()));
    assert_eq!(Date::from_unix_days(0).to_string(), "1970-01-01");
    assert_eq!(Date::from_unix_days(20_454).to_string(), "2026-01-01");
    for bad in [
        "2027-02-29",
        "2027-3-01",
        "27-03-01",
        "2027-13-01",
        "tomorrow",
    ] {
        assert!(Date::parse(bad).is_err(), "{bad}");
    }
    assert!(Date::parse("2028-02-29").is_ok());
    let cfg = |w: serde_json::Value| {
        RoleImpl
            .configure(serde_json::json!({"profile": "cis-l1-server", "waivers": [w], "today": "2027-06-01"}))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        cfg(serde_json::json!({"control": "net.ipv4.send-redirect", "reason": "r", "expires": "2027-01-01", "by": "me"})),
        Err("waivers[0].control: no baseline control matches `net.ipv4.send-redirect` (did you mean `net.ipv4.send-redirects`?): `rampart baseline list` shows the ids".into())
    );
    assert_eq!(
        cfg(
            serde_json::json!({"control": "net.*", "reason": "r", "expires": "2027-02-30", "by": "me"})
        ),
        Err("waivers[0].expires: invalid date `2027-02-30`: there is no such day".into())
    );
    // A waived control is not applied; its check passes with the reason, or fails expired.
    let b = Baseline::new(Config {
        waivers: vec![w.clone()],
        today: Some("2027-06-01".into()),
        ..Config::default()
    })
    .unwrap();
    assert!(
        b.applied(Some(Os::Debian12))
            .iter()
            .all(|c| !c.id.starts_with("net.ipv4."))
    );
    let checks = b.checks();
    let c = checks
        .iter()
        .find(|c| c.id == "net.ipv4.rp-filter")
        .unwrap();
    assert!(c.title.ends_with("[waived]"));
    if let Some(sh) = rampart_shtest::Sh::new() {
        let out = sh.run_check(&c.command);
        assert_eq!(out.status, 1, "{out:?}");
        assert_eq!(
            out.stdout_str(),
            "waiver EXPIRED on 2027-03-01: router (by ops@example.com)\n"
        );
        assert!(!rampart_core::testing::judged(
            c,
            out.status,
            &out.stdout_str()
        ));
    }
    let fresh = Baseline::new(Config {
        waivers: vec![w],
        today: Some("2027-01-01".into()),
        ..Config::default()
    })
    .unwrap();
    let c = fresh
        .checks()
        .into_iter()
        .find(|c| c.id == "net.ipv4.rp-filter")
        .unwrap();
    assert!(
        c.command
            .starts_with("set -- \"$1\" router ops@example.com 2027-03-01\n"),
        "{}",
        c.command
    );
    if let Some(sh) = rampart_shtest::Sh::new() {
        let out = sh.run_check(&c.command);
        assert!(out.ok(), "{out:?}");
        assert_eq!(
            out.stdout_str(),
            "waived: router (by ops@example.com, expires 2027-03-01)\n"
        );
    }
}

#[test]
fn profiles_select_levels_and_releases() {
    let l1 = Profile::named("cis-l1-server").unwrap();
    let l2 = Profile::named("cis-l2-server").unwrap();
    let cat = catalogue();
    let n1 = cat.select(l1, Some(Os::Debian12)).len();
    let n2 = cat.select(l2, Some(Os::Debian12)).len();
    assert!(n2 > n1, "l2 adds controls: {n1} vs {n2}");
    assert!(
        cat.select(l1, None)
            .iter()
            .all(|c| c.levels.contains(&Level::L1Server))
    );
    assert!(
        cat.select(l1, None)
            .iter()
            .all(|c| c.id != "net.protocol.dccp")
    );
    assert!(
        cat.select(l2, None)
            .iter()
            .any(|c| c.id == "net.protocol.dccp")
    );
    assert_eq!(Os::from_release("ubuntu", "24.04"), Some(Os::Ubuntu2404));
    assert_eq!(Os::from_release("debian", "12"), Some(Os::Debian12));
    assert_eq!(Os::from_release("debian", "13"), Some(Os::Debian13));
    assert_eq!(Os::from_release("debian", "11"), None);
    let e = RoleImpl
        .configure(serde_json::json!({"profile": "cis-l3-server"}))
        .unwrap_err();
    assert_eq!(e.path, "profile");
    let e = RoleImpl
        .configure(serde_json::json!({"vars": {"pass_max_dayz": 90}}))
        .unwrap_err();
    assert_eq!(e.path, "vars.pass_max_dayz");
    assert_eq!(e.unknown_field.as_deref(), Some("pass_max_dayz"));
    let e = RoleImpl
        .configure(serde_json::json!({"vars": {"pass_max_days": "90"}}))
        .unwrap_err();
    assert_eq!(
        e.message,
        "`pass_max_days` must be a number (like 365), not a string"
    );
}

#[test]
fn a_whole_profile_plans_and_converges_on_each_release() {
    let b = Baseline::new(Config {
        profile: "cis-l2-server".into(),
        ..Config::default()
    })
    .unwrap();
    for os in Os::ALL {
        let mut req = FactRequest::new();
        b.facts(&mut req);
        let facts = blank_facts(&req, host_for(os));
        rampart_core::testing::assert_converges(&b, facts, &BTreeMap::new(), "lab");
    }
    let mut other = host_for(Os::Debian12);
    other.os_version_id = "11".into();
    let mut req = FactRequest::new();
    b.facts(&mut req);
    let facts = blank_facts(&req, other);
    let e = rampart_core::testing::try_plan(&b, &facts, &BTreeMap::new(), "lab").unwrap_err();
    assert!(e.0.contains("debian 11"), "{e}");
}

#[test]
fn command_controls_stay_out_of_a_rerun_probe_unless_deep() {
    let cat = sample(
        "[section]\nid = \"network\"\ntitle = \"N\"\n[[control]]\nid = \"fs.world-writable\"\ntitle = \"t\"\nrationale = \"r\"\nlevels = [\"l1-server\"]\ncommand = { check = \"! find /etc -xdev -perm -0002 -type f | grep -q .\", fix = \"find /etc -xdev -perm -0002 -type f -exec chmod o-w {} +\", cost = \"one find over /etc\" }\n",
    );
    let templates = rampart_core::template::Templates::embedded();
    let vars = merge_vars(&serde_json::Map::new()).unwrap();
    for deep in [false, true] {
        let opts = build::Options {
            vars: &vars,
            deep,
            templates: &templates,
        };
        let b = build::build(&[&cat.controls[0]], &opts, None).unwrap();
        let mut req = FactRequest::new();
        build::facts(&b, &mut req);
        assert_eq!(req.commands.is_empty(), !deep, "deep = {deep}");
        if !deep {
            assert!(req.stats.contains(&build::stamp("fs.world-writable", 0)));
            let mut facts = blank_facts(&req, lab_host());
            let first = plan_labels(&b.resources, &facts).unwrap();
            assert_eq!(first, vec!["command baseline fs.world-writable #0"]);
            facts
                .files
                .insert(build::stamp("fs.world-writable", 0), FileState::Other);
            assert!(plan_labels(&b.resources, &facts).unwrap().is_empty());
        }
    }
    // Its audit check is the command's check, passed as it is written.
    let vars = merge_vars(&serde_json::Map::new()).unwrap();
    let opts = build::Options {
        vars: &vars,
        deep: false,
        templates: &templates,
    };
    let c = audit::check(&cat.controls[0], &opts);
    assert!(
        c.command
            .contains("\nbaseline_command '! find /etc -xdev -perm -0002 -type f | grep -q .'\n"),
        "{}",
        c.command
    );
}

#[test]
fn audit_checks_cover_each_kind_and_the_release() {
    let cat = sample(
        "[section]\nid = \"network\"\ntitle = \"N\"\n[[control]]\nid = \"k\"\ntitle = \"t\"\nrationale = \"r\"\nlevels = [\"l1-server\"]\nos = [\"ubuntu-24.04\"]\nsysctl = { \"kernel.randomize_va_space\" = \"2\" }\nperms = { path = \"/etc/shadow\", max_mode = \"0640\", group = \"shadow\" }\npackages = { absent = [\"telnet\"] }\nservice = { name = \"auditd\", enabled = true, running = true }\n",
    );
    let templates = rampart_core::template::Templates::embedded();
    let vars = merge_vars(&serde_json::Map::new()).unwrap();
    let opts = build::Options {
        vars: &vars,
        deep: false,
        templates: &templates,
    };
    let c = audit::check(&cat.controls[0], &opts);
    for want in [
        "\nbaseline_os ubuntu-24.04\n",
        "\nbaseline_sysctl kernel.randomize_va_space 2 /proc/sys/kernel/randomize_va_space kernel /etc/sysctl.d/60-rampart-baseline.conf\n",
        "\nbaseline_perms /etc/shadow '' 640 '' shadow\n",
        "\nbaseline_not_installed telnet\n",
        "\nbaseline_unit_is auditd enabled yes\nbaseline_active auditd yes\n",
    ] {
        assert!(c.command.contains(want), "{want} not in:\n{}", c.command);
    }
    assert_eq!(c.id, "k");
}

#[test]
fn in_a_container_kernel_wide_parameters_are_persisted_only() {
    let cat = sample(
        "[section]\nid = \"network\"\ntitle = \"N\"\n[[control]]\nid = \"k\"\ntitle = \"t\"\nrationale = \"r\"\nlevels = [\"l1-server\"]\nsysctl = { \"kernel.randomize_va_space\" = \"2\", \"net.ipv4.tcp_syncookies\" = \"1\" }\n",
    );
    let templates = rampart_core::template::Templates::embedded();
    let vars = merge_vars(&serde_json::Map::new()).unwrap();
    let opts = build::Options {
        vars: &vars,
        deep: false,
        templates: &templates,
    };
    let mut req = FactRequest::new();
    build::facts(
        &build::build(&[&cat.controls[0]], &opts, None).unwrap(),
        &mut req,
    );
    let container = blank_facts(&req, lab_host());
    let b = build::build(&[&cat.controls[0]], &opts, Some(&container)).unwrap();
    let ids: Vec<String> = b.resources.iter().map(Resource::id).collect();
    assert!(ids.contains(&"sysctl:net.ipv4.tcp_syncookies".to_owned()));
    assert!(!ids.contains(&"sysctl:kernel.randomize_va_space".to_owned()));
    let mut vm = lab_host();
    vm.virt = "none".into();
    let b = build::build(&[&cat.controls[0]], &opts, Some(&blank_facts(&req, vm))).unwrap();
    assert!(
        b.resources
            .iter()
            .any(|r| r.id() == "sysctl:kernel.randomize_va_space")
    );
}

#[test]
fn packages_refresh_the_lists_only_when_one_is_missing_and_container_false_controls_skip_containers()
 {
    let cat = sample(
        "[section]\nid = \"network\"\ntitle = \"N\"\n[[control]]\nid = \"audit.auditd\"\ntitle = \"t\"\nrationale = \"r\"\nlevels = [\"l1-server\"]\ncontainer = false\npackages = { present = [\"auditd\"], absent = [\"telnet\"] }\nservice = { name = \"auditd\", enabled = true, running = true }\n",
    );
    let c = &cat.controls[0];
    let templates = rampart_core::template::Templates::embedded();
    let vars = merge_vars(&serde_json::Map::new()).unwrap();
    let opts = build::Options {
        vars: &vars,
        deep: false,
        templates: &templates,
    };
    let mut req = FactRequest::new();
    build::facts(&build::build(&[c], &opts, None).unwrap(), &mut req);
    assert!(req.apt, "the lists' age is a fact of the single probe");
    let mut vm = lab_host();
    vm.virt = "none".into();
    let mut facts = blank_facts(&req, vm);
    let b = build::build(&[c], &opts, Some(&facts)).unwrap();
    assert_eq!(
        plan_labels(&b.resources, &facts).unwrap(),
        vec!["apt-update", "packages auditd", "service auditd"]
    );
    facts.packages.insert(
        "auditd".into(),
        PackageState {
            installed: true,
            version: "1".into(),
            status: "install ok installed".into(),
        },
    );
    let b = build::build(&[c], &opts, Some(&facts)).unwrap();
    assert!(b.resources.iter().all(|r| r.id() != "apt-update"));
    // Inside a container the role leaves it out, and its check says it does not apply.
    let role = Baseline::new(Config::default()).unwrap();
    let check = audit::check(c, &opts);
    assert!(check.command.starts_with("f=0\nif v=$(systemd-detect-virt -c 2>/dev/null); then echo \"not applicable in a container ($v)\"; echo ok; exit 0; fi\n"), "{}", check.command);
    if let Some(sh) = rampart_shtest::Sh::new() {
        sh.stub_output("systemd-detect-virt", 0, "lxc\n");
        let out = sh.run_check(&check.command);
        assert_eq!(
            out.stdout_str(),
            "not applicable in a container (lxc)\nok\n",
            "{out:?}"
        );
        assert!(rampart_core::testing::judged(
            &check,
            out.status,
            &out.stdout_str()
        ));
    }
    assert!(
        role.applied(None)
            .iter()
            .all(|x| x.container || x.id != c.id)
    );
}

#[test]
fn files_that_decide_who_gets_in_are_risk_access() {
    let cat = sample(
        "[section]\nid = \"network\"\ntitle = \"N\"\n[[control]]\nid = \"pam\"\ntitle = \"t\"\nrationale = \"r\"\nlevels = [\"l1-server\"]\nline = [{ path = \"/etc/security/faillock.conf\", match = \"deny\", line = \"deny = 5\" }, { path = \"/etc/login.defs\", match = \"UMASK\", line = \"UMASK {{ umask }}\" }]\nfile = { path = \"/etc/sudoers.d/50-baseline\", content = \"Defaults use_pty\\n\", mode = \"0440\", validate = \"visudo -cf %s\" }\n",
    );
    let templates = rampart_core::template::Templates::embedded();
    let vars = merge_vars(&serde_json::Map::new()).unwrap();
    let opts = build::Options {
        vars: &vars,
        deep: false,
        templates: &templates,
    };
    let b = build::build(&[&cat.controls[0]], &opts, None).unwrap();
    let risk = |id: &str| {
        b.resources
            .iter()
            .find(|r| r.id() == id)
            .map(|r| match r {
                Resource::Edit(e) => e.risk,
                Resource::File(f) => f.risk,
                _ => panic!(),
            })
            .unwrap()
    };
    use rampart_core::plan::Risk;
    assert_eq!(risk("edit:/etc/security/faillock.conf#pam.0"), Risk::Access);
    assert_eq!(risk("edit:/etc/login.defs#pam.1"), Risk::Low);
    assert_eq!(risk("file:/etc/sudoers.d/50-baseline"), Risk::Access);
}

#[test]
fn a_conflicting_sysctl_conf_is_refused_with_the_fix() {
    let b = Baseline::new(Config::default()).unwrap();
    let mut req = FactRequest::new();
    b.facts(&mut req);
    assert!(req.files.contains(build::SYSCTL_CONF));
    let mut facts = blank_facts(&req, lab_host());
    facts.files.insert(
        build::SYSCTL_CONF.into(),
        text_file(
            "#net.ipv4.tcp_syncookies=1\nnet.ipv4.tcp_syncookies = 0\nnet.ipv4.conf.all.rp_filter=1\n",
            0o644,
            "root",
        ),
    );
    let e = rampart_core::testing::try_plan(&b, &facts, &BTreeMap::new(), "lab").unwrap_err();
    assert_eq!(
        e.0,
        "baseline: /etc/sysctl.conf sets net.ipv4.tcp_syncookies = 0 (the baseline sets 1), and at boot it is read after /etc/sysctl.d/60-rampart-baseline.conf, so the baseline would not survive a reboot. Fix: remove those lines from /etc/sysctl.conf"
    );
}

#[test]
fn conditions_on_packages_and_paths_come_from_the_same_probe() {
    let cat = sample(
        "[section]\nid = \"network\"\ntitle = \"N\"\n[[control]]\nid = \"log.rsyslog-perms\"\ntitle = \"t\"\nrationale = \"r\"\nlevels = [\"l1-server\"]\nif_installed = [\"rsyslog\"]\nif_exists = [\"/etc/rsyslog.conf\"]\nline = { path = \"/etc/rsyslog.conf\", match = \"$FileCreateMode\", line = \"$FileCreateMode 0640\" }\n",
    );
    let c = &cat.controls[0];
    let mut req = FactRequest::new();
    build::condition_facts(&[c], &mut req);
    assert!(req.packages.contains("rsyslog") && req.stats.contains("/etc/rsyslog.conf"));
    let mut facts = blank_facts(&req, lab_host());
    assert!(!c.conditions_hold(&facts));
    facts.packages.insert(
        "rsyslog".into(),
        PackageState {
            installed: true,
            version: "1".into(),
            status: "install ok installed".into(),
        },
    );
    assert!(!c.conditions_hold(&facts));
    facts
        .files
        .insert("/etc/rsyslog.conf".into(), text_file("", 0o644, "root"));
    assert!(c.conditions_hold(&facts));
    let templates = rampart_core::template::Templates::embedded();
    let vars = merge_vars(&serde_json::Map::new()).unwrap();
    let opts = build::Options {
        vars: &vars,
        deep: false,
        templates: &templates,
    };
    let check = audit::check(c, &opts);
    assert!(
        check.command.contains("\nbaseline_if_installed rsyslog\n")
            && check
                .command
                .contains("\nbaseline_if_exists /etc/rsyslog.conf\n"),
        "{}",
        check.command
    );
    if let Some(sh) = rampart_shtest::Sh::new() {
        sh.stub("dpkg-query", 1);
        let out = sh.run_check(&check.command);
        assert_eq!(
            out.stdout_str(),
            "not applicable: rsyslog is not installed\nok\n",
            "{out:?}"
        );
    }
}

/// Resources as a role, to plan them the way the engine does.
#[derive(Debug)]
struct Fixed(Vec<Resource>);

impl rampart_core::role::Configured for Fixed {
    fn facts(&self, req: &mut FactRequest) {
        for r in &self.0 {
            r.facts(req);
        }
    }
    fn plan(
        &self,
        _ctx: &rampart_core::role::HostContext<'_>,
    ) -> Result<rampart_core::role::RolePlan, rampart_core::role::RoleError> {
        Ok(rampart_core::role::RolePlan {
            resources: self.0.clone(),
            handlers: Vec::new(),
        })
    }
}

#[test]
fn the_preflight_refuses_an_sshd_drop_in_that_cuts_the_operator_off() {
    let cat = sample(
        "[section]\nid = \"network\"\ntitle = \"N\"\n[[control]]\nid = \"ssh.allow\"\ntitle = \"t\"\nrationale = \"r\"\nlevels = [\"l1-server\"]\nsshd = { AllowUsers = \"nobody\" }\n",
    );
    let templates = rampart_core::template::Templates::embedded();
    let vars = merge_vars(&serde_json::Map::new()).unwrap();
    let opts = build::Options {
        vars: &vars,
        deep: false,
        templates: &templates,
    };
    let built = build::build(&[&cat.controls[0]], &opts, None).unwrap();
    let mut req = FactRequest::new();
    build::facts(&built, &mut req);
    assert!(req.sshd_effective);
    req.accounts = true;
    let facts = blank_facts(&req, lab_host());
    let role = Fixed(built.resources);
    let planned = rampart_core::testing::plan_checked(&role, &facts, &BTreeMap::new(), "lab");
    let cuts = rampart_core::preflight::check(
        &[planned],
        &facts,
        &rampart_core::preflight::AccessPath {
            user: "lab".into(),
            client_ip: Some("10.213.1.1".into()),
            port: 22,
        },
    );
    assert_eq!(cuts.len(), 1, "{cuts:?}");
    assert_eq!(cuts[0].setting, "sshd AllowUsers");
}

#[test]
fn a_reload_is_one_handler_notified_by_every_file_that_needs_it() {
    let cat = sample(
        "[section]\nid = \"network\"\ntitle = \"N\"\n[[control]]\nid = \"log.journald\"\ntitle = \"t\"\nrationale = \"r\"\nlevels = [\"l1-server\"]\nline = [{ path = \"/etc/systemd/journald.conf\", match = \"Storage=\", line = \"Storage=persistent\", reload = \"systemctl restart systemd-journald\" }, { path = \"/etc/systemd/journald.conf\", match = \"SystemMaxUse=\", line = \"SystemMaxUse={{ journald_system_max_use }}\", reload = \"systemctl restart systemd-journald\" }]\n",
    );
    let templates = rampart_core::template::Templates::embedded();
    let vars = merge_vars(&serde_json::Map::new()).unwrap();
    let opts = build::Options {
        vars: &vars,
        deep: false,
        templates: &templates,
    };
    let b = build::build(&[&cat.controls[0]], &opts, None).unwrap();
    assert_eq!(
        b.reloads,
        vec![(
            "baseline: systemctl restart systemd-journald".to_owned(),
            "systemctl restart systemd-journald".to_owned()
        )]
    );
    for r in &b.resources {
        if let Resource::Edit(e) = r {
            assert_eq!(
                e.notify,
                vec!["baseline: systemctl restart systemd-journald"]
            );
            assert_eq!(e.risk, rampart_core::plan::Risk::Service);
        }
    }
    let handlers = b.handlers(&Facts::default());
    assert_eq!(handlers.len(), 2);
    assert_eq!(
        handlers[1].script.as_str(),
        "systemctl restart systemd-journald\n"
    );
}

/// The examples of the shared format note (the lead's baseline-schema.md) stay valid.
#[test]
fn the_schema_notes_examples_load() {
    let text = r#"
[section]
id = "network"
title = "Network parameters"
cis = "3"

[[control]]
id = "net.ipv4.send-redirects"
title = "Packet redirect sending is disabled"
rationale = "A host that is not a router has no reason to send ICMP redirects."
levels = ["l1-server"]
os = ["ubuntu-24.04", "debian-12", "debian-13"]
cis = { ubuntu2404 = "3.3.1", debian12 = "3.3.1" }
devsec = ["sysctl-08"]
sysctl = { "net.ipv4.conf.all.send_redirects" = "0", "net.ipv4.conf.default.send_redirects" = "0" }

[[control]]
id = "all.kinds"
title = "t"
rationale = "r"
levels = ["l1-server", "l2-server"]
modprobe = ["cramfs", "dccp"]
sshd = { LogLevel = "VERBOSE", KexAlgorithms = "sntrup761x25519-sha512@openssh.com,curve25519-sha256" }
line = [{ path = "/etc/login.defs", match = "PASS_MAX_DAYS", line = "PASS_MAX_DAYS {{ pass_max_days }}" }]
block = [{ path = "/etc/x.conf", name = "x", body = "a\nb" }]
file = [{ path = "/etc/issue", content = "{{ banner }}", mode = "0644", owner = "root", group = "root", validate = "test -s %s" }, { path = "/etc/motd", absent = true }]
perms = [{ path = "/etc/shadow", mode = "0640", owner = "root", group = "shadow" }, { path = "/etc/gshadow", max_mode = "0640" }]
packages = { present = ["auditd"], absent = ["telnet", "rsh-client"] }
service = [{ name = "auditd", enabled = true, running = true, masked = false }]
command = [{ check = "true", fix = "true", cost = "bounded: one find over /etc", rerun = false }]
"#;
    let cat = catalogue::load(&[("03-network.toml", text)], catalogue::DEFAULTS)
        .unwrap_or_else(|e| panic!("{}", e.join("\n")));
    assert_eq!(cat.controls[1].kinds().len(), 9);
    let fixture: FixtureFile = toml::from_str(
        r#"
[[fixture]]
control = "net.ipv4.send-redirects"
os = "debian-12"
facts = { sysctl = { "net.ipv4.conf.all.send_redirects" = "1" }, files = { "/etc/sysctl.d/60-rampart-baseline.conf" = "" } }
expect_changes = ["sysctl net.ipv4.conf.all.send_redirects", "file /etc/sysctl.d/60-rampart-baseline.conf"]
"#,
    )
    .unwrap();
    run_fixture("schema", &fixture.fixture[0]).unwrap();
}

#[test]
fn the_access_part_holds_only_the_access_changes_and_no_checks() {
    let cfg = |part: &str| {
        let mut c = serde_json::to_value(Config {
            profile: "cis-l2-server".into(),
            ..Config::default()
        })
        .unwrap();
        c["part"] = serde_json::json!(part);
        Baseline::new(serde_json::from_value(c).unwrap()).unwrap()
    };
    let (all, main, access) = (cfg("all"), cfg("main"), cfg("access"));
    let mut req = FactRequest::new();
    all.facts(&mut req);
    let facts = blank_facts(&req, lab_host());
    let plan = |b: &Baseline| {
        rampart_core::testing::try_plan(b, &facts, &BTreeMap::new(), "lab")
            .unwrap()
            .resources
    };
    let (a, m, x) = (plan(&all), plan(&main), plan(&access));
    assert_eq!(a.len(), m.len() + x.len());
    assert!(
        x.iter()
            .all(|r| risk_of(r) == rampart_core::plan::Risk::Access)
    );
    assert!(
        m.iter()
            .all(|r| risk_of(r) != rampart_core::plan::Risk::Access)
    );
    assert!(x.iter().any(|r| r.id() == format!("file:{SSHD_FILE}")));
    assert!(access.checks().is_empty());
    assert_eq!(main.checks().len(), all.checks().len());
}

#[test]
fn a_run_once_fix_runs_unless_its_check_passes_then_leaves_its_stamp() {
    let Some(sh) = rampart_shtest::Sh::new() else {
        return;
    };
    let dir = sh.path("var/lib/rampart/baseline");
    let stamp = format!("{dir}/fs.x.0.done");
    // As the apply script runs a change: in a `set -e` subshell.
    let step = |check: &str, fix: &str| {
        let s = build::fix_once(check, fix, &dir, &stamp);
        sh.clear_calls();
        sh.run(&format!("(\nset -e\n{}) </dev/null\n", s.as_str()), &[])
    };
    let stamped = || std::path::Path::new(&stamp).exists();
    sh.stub("fixit", 0).stub("checkit", 1);
    // The check passes: no fix, the stamp.
    let out = step("true", "fixit");
    assert!(out.ok() && stamped(), "{out:?}");
    assert!(sh.calls().is_empty(), "{:?}", sh.calls());
    std::fs::remove_file(&stamp).unwrap();
    // The check fails: the fix runs as written (the check's output is not shown), the stamp.
    let out = step("echo noise; checkit 'a  b'", "fixit 'c  d'");
    assert!(out.ok() && stamped(), "{out:?}");
    assert_eq!(out.stdout_str(), "");
    assert_eq!(sh.calls(), ["checkit a  b", "fixit c  d"]);
    std::fs::remove_file(&stamp).unwrap();
    // A failing command of the fix stops the step: no stamp, so the next run tries again.
    sh.stub("fixit", 1);
    let out = step("false", "fixit\necho after");
    assert!(!out.ok() && !stamped(), "{out:?}");
    assert_eq!(out.stdout_str(), "");
    // ... but not a failing `a && b`, as for any code of the step (the fix is spliced as
    // written, not run through eval or a function, which would stop there).
    let out = step("false", "fixit && echo no; echo after");
    assert!(out.ok() && stamped(), "{out:?}");
    assert_eq!(out.stdout_str(), "after\n");
    // The stamp cannot be written (a file where its directory goes): the step fails.
    std::fs::remove_dir_all(&dir).unwrap();
    sh.write("var/lib/rampart/baseline", "");
    let out = step("true", "fixit");
    assert!(!out.ok(), "{out:?}");
}
