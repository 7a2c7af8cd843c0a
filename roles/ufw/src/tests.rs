//! Unit tests of the ufw role: plans against synthetic facts, no SSH.

use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use rampart_core::facts::{FactRequest, Facts, FileState, PackageState, SshConnection};
use rampart_core::hostplan::PlannedRole;
use rampart_core::plan::{Change, Risk};
use rampart_core::resource::{Resource, Ufw, UfwPolicy};
use rampart_core::testing::{
    applies, assert_converges, blank_facts, lab_host, plan_checked, text_file,
};

use super::*;

fn cfg(v: serde_json::Value) -> Config {
    let c: Config = rampart_core::role::configure_typed(v).expect("valid config");
    c.validate().expect("valid config");
    c
}

fn request(c: &Config) -> FactRequest {
    let mut req = FactRequest::new();
    c.facts(&mut req);
    req
}

/// A fresh lab host: ufw installed by the package, never configured (deny incoming, IPv6 on,
/// disabled, no rules), the way the lab's Debian root has it.
fn fresh(c: &Config) -> Facts {
    let mut f = blank_facts(&request(c), lab_host());
    f.packages.insert(
        "ufw".into(),
        PackageState {
            installed: true,
            version: "0.36.2-1".into(),
            status: "ii".into(),
        },
    );
    f.files.insert(UFW_BIN.into(), FileState::Other);
    let pristine = Ufw {
        incoming: UfwPolicy::Deny,
        outgoing: UfwPolicy::Allow,
        routed: UfwPolicy::Deny,
        rules: Vec::new(),
        ipv6: true,
        logging: "low".into(),
        enabled: false,
    };
    Resource::Ufw(pristine).simulate(&mut f);
    f
}

fn plan(c: &Config, f: &Facts) -> PlannedRole {
    plan_checked(c, f, &BTreeMap::new(), "root")
}

fn try_plan(c: &Config, f: &Facts) -> Result<RolePlan, RoleError> {
    rampart_core::testing::try_plan(c, f, &BTreeMap::new(), "root")
}

/// The scripts of the changes, by resource id.
fn changes(p: &PlannedRole) -> BTreeMap<String, String> {
    applies(p)
        .into_iter()
        .map(|(id, a)| (id, a.script.as_str().to_owned()))
        .collect()
}

fn ufw_script(c: &Config, f: &Facts) -> String {
    changes(&plan(c, f)).remove("ufw").unwrap_or_default()
}

/// Edits one of ufw's files in the facts.
fn edit(f: &mut Facts, path: &str, map: impl Fn(&str) -> String) {
    let text = f.files[path].text().unwrap_or_default().to_owned();
    f.files
        .insert(path.into(), text_file(&map(&text), 0o640, "root"));
}

#[test]
fn fresh_host_gets_ssh_and_tailscale_before_enable_and_converges() {
    let c = Config::default();
    let f = fresh(&c);
    let p = plan(&c, &f);
    let s = ufw_script(&c, &f);
    let ssh = s
        .find("ufw allow proto tcp from any to any port 22 comment SSH")
        .expect(&s);
    let ts = s
        .find("ufw allow proto udp from any to any port 41641 comment Tailscale")
        .expect(&s);
    let enable = s.find("ufw --force enable").expect(&s);
    assert!(ssh < enable && ts < enable, "{s}");
    assert!(!s.contains("reset"), "never ufw reset: {s}");
    let risk = p
        .items
        .iter()
        .find(|i| i.resource.id() == "ufw")
        .and_then(|i| match &i.change {
            Ok(Change::Apply(a)) => Some(a.risk),
            _ => None,
        });
    assert_eq!(risk, Some(Risk::Access));
    assert_eq!(
        changes(&p).keys().collect::<Vec<_>>(),
        ["ufw"],
        "ufw is installed: only the firewall changes"
    );
    assert_converges(&c, f, &BTreeMap::new(), "root");
}

#[test]
fn the_ssh_port_in_use_is_allowed_not_the_service_name() {
    let c = Config::default();
    let mut f = fresh(&c);
    f.host.ssh_connection = Some(SshConnection {
        client_ip: "203.0.113.9".into(),
        server_ip: "198.51.100.2".into(),
        server_port: 2222,
    });
    let s = ufw_script(&c, &f);
    assert!(s.contains("port 2222 comment SSH"), "{s}");
    assert!(
        !s.contains("port 22 "),
        "22 is not in use and not configured: {s}"
    );
    // The configured sshd port is added to the one in use (a port move in progress).
    let c = cfg(serde_json::json!({"ssh_ports": [22]}));
    let s = ufw_script(&c, &f);
    assert!(
        s.contains("port 2222 comment SSH") && s.contains("port 22 comment SSH"),
        "{s}"
    );
    assert_converges(&c, f, &BTreeMap::new(), "root");
}

#[test]
fn extra_rules_sources_ranges_and_no_tailscale() {
    let c = cfg(serde_json::json!({
        "tailscale": false,
        "allow": [
            {"port": 443},
            {"port": "60000:61000", "proto": "udp", "comment": "mosh"},
            {"port": 9100, "from": "10.0.0.0/8"},
            {"port": 9100, "from": "2001:db8::/32"},
            {"port": 5432, "from": "192.0.2.7/32"},
            {"port": 53, "proto": "any"},
        ]
    }));
    let f = fresh(&c);
    let s = ufw_script(&c, &f);
    for want in [
        "ufw allow proto tcp from any to any port 443\n",
        "ufw allow proto udp from any to any port 60000:61000 comment mosh",
        "ufw allow proto tcp from 10.0.0.0/8 to any port 9100",
        "ufw allow proto tcp from 2001:db8::/32 to any port 9100",
        // ufw stores a single address without /32: so does the role, or it would never match.
        "ufw allow proto tcp from 192.0.2.7 to any port 5432",
        "ufw allow from any to any port 53",
    ] {
        assert!(s.contains(want), "missing `{want}` in:\n{s}");
    }
    assert!(!s.contains("41641"), "{s}");
    assert_converges(&c, f, &BTreeMap::new(), "root");
}

#[test]
fn duplicate_rules_are_planned_once() {
    let c = cfg(serde_json::json!({"ssh_ports": [22], "allow": [{"port": 22}, {"port": "22"}]}));
    let s = ufw_script(&c, &fresh(&c));
    assert_eq!(s.matches("port 22").count(), 1, "{s}");
}

/// Each drift a host can have, and the command that must repair it.
#[test]
fn every_drift_is_repaired() {
    let c = Config::default();
    let converged = assert_converges(&c, fresh(&c), &BTreeMap::new(), "root");
    type Drift = (&'static str, fn(&mut Facts), &'static str);
    let drifts: &[Drift] = &[
        (
            "ufw disable (files say so)",
            |f| {
                edit(f, "/etc/ufw/ufw.conf", |t| {
                    t.replace("ENABLED=yes", "ENABLED=no")
                })
            },
            "ufw --force enable",
        ),
        (
            "chains unloaded (iptables flushed by hand)",
            |f| f.ufw_live = Some(false),
            "ufw --force enable",
        ),
        (
            "a stray rule",
            |f| {
                edit(f, "/etc/ufw/user.rules", |t| {
                    format!("{t}### tuple ### allow tcp 8080 0.0.0.0/0 any 0.0.0.0/0 in\n")
                })
            },
            "ufw delete allow proto tcp from any to any port 8080",
        ),
        (
            "a stray IPv6 rule",
            |f| {
                edit(f, "/etc/ufw/user6.rules", |t| {
                    format!("{t}### tuple ### allow tcp 3000 ::/0 any ::/0 in\n")
                })
            },
            "ufw delete allow proto tcp from any to any port 3000",
        ),
        (
            "the SSH rule deleted",
            |f| {
                edit(f, "/etc/ufw/user.rules", |t| {
                    t.lines()
                        .filter(|l| !l.contains(" 22 "))
                        .map(|l| format!("{l}\n"))
                        .collect()
                })
            },
            "ufw allow proto tcp from any to any port 22 comment SSH",
        ),
        (
            "default incoming allow",
            |f| {
                edit(f, "/etc/default/ufw", |t| {
                    t.replace(
                        "DEFAULT_INPUT_POLICY=\"DROP\"",
                        "DEFAULT_INPUT_POLICY=\"ACCEPT\"",
                    )
                })
            },
            "ufw default deny incoming",
        ),
        (
            "default routed allow",
            |f| {
                edit(f, "/etc/default/ufw", |t| {
                    t.replace(
                        "DEFAULT_FORWARD_POLICY=\"DROP\"",
                        "DEFAULT_FORWARD_POLICY=\"ACCEPT\"",
                    )
                })
            },
            "ufw default deny routed",
        ),
        (
            "logging off",
            |f| {
                edit(f, "/etc/ufw/ufw.conf", |t| {
                    t.replace("LOGLEVEL=low", "LOGLEVEL=off")
                })
            },
            "ufw logging low",
        ),
        (
            "IPv6 off",
            |f| edit(f, "/etc/default/ufw", |t| t.replace("IPV6=yes", "IPV6=no")),
            "IPV6=yes",
        ),
    ];
    for (name, inject, want) in drifts {
        let mut f = converged.clone();
        inject(&mut f);
        let s = ufw_script(&c, &f);
        assert!(s.contains(want), "{name}: expected `{want}` in:\n{s}");
        assert!(!s.contains("reset"), "{name}: {s}");
        assert_converges(&c, f, &BTreeMap::new(), "root");
    }
}

#[test]
fn a_converged_host_is_a_noop() {
    let c = Config::default();
    let converged = assert_converges(&c, fresh(&c), &BTreeMap::new(), "root");
    assert!(changes(&plan(&c, &converged)).is_empty());
}

#[test]
fn ufw_missing_is_installed_then_configured_in_the_same_run() {
    let c = Config::default();
    let f = blank_facts(&request(&c), lab_host());
    let ch = changes(&plan(&c, &f));
    assert!(ch["packages:ufw"].contains("install ufw"), "{ch:?}");
    assert!(
        ch["apt-update"].contains("apt-get"),
        "fresh images ship without lists: {ch:?}"
    );
    let boot = &ch[&format!("command:{BOOTSTRAP}")];
    let ipv6 = boot.find("IPV6=yes").expect(boot);
    let ssh = boot
        .find("ufw allow proto tcp from any to any port 22 comment SSH")
        .expect(boot);
    let deny = boot.find("ufw default deny incoming").expect(boot);
    let enable = boot.find("ufw --force enable").expect(boot);
    assert!(ipv6 < ssh && ssh < enable && deny < enable, "{boot}");
    assert!(boot.contains("ufw logging low"));
    // Where ufw was there before this run, the bootstrap is not even planned.
    let f = fresh(&c);
    assert!(
        !plan(&c, &f)
            .items
            .iter()
            .any(|i| i.resource.id().starts_with("command:"))
    );
}

#[test]
fn refuses_without_a_known_ssh_port() {
    let c = Config::default();
    let mut f = fresh(&c);
    f.host.ssh_connection = None;
    let e = try_plan(&c, &f).unwrap_err();
    assert!(e.0.contains("ssh_ports = [22]"), "{e}");
    // Naming the port is enough.
    let c = cfg(serde_json::json!({"ssh_ports": [22]}));
    assert!(try_plan(&c, &f).is_ok());
}

#[test]
fn refuses_ssh_from_that_excludes_the_controller() {
    let c = cfg(serde_json::json!({"ssh_from": ["192.0.2.0/24"]}));
    let f = fresh(&c);
    let e = try_plan(&c, &f).unwrap_err();
    assert!(
        e.0.contains("10.213.1.1") && e.0.contains("ssh_from"),
        "{e}"
    );
    // With the controller's network in the list, SSH is allowed from exactly those sources.
    let c = cfg(serde_json::json!({"ssh_from": ["192.0.2.0/24", "10.213.0.0/16"]}));
    let s = ufw_script(&c, &f);
    assert!(
        s.contains("from 192.0.2.0/24 to any port 22 comment SSH")
            && s.contains("from 10.213.0.0/16 to any port 22 comment SSH"),
        "{s}"
    );
    assert!(!s.contains("from any to any port 22"), "{s}");
    assert_converges(&c, f.clone(), &BTreeMap::new(), "root");
    // A disabled firewall cannot lock anyone out.
    let c = cfg(serde_json::json!({"ssh_from": ["192.0.2.0/24"], "enabled": false}));
    assert!(try_plan(&c, &f).is_ok());
}

#[test]
fn config_errors_name_the_field() {
    let role = role();
    let cases: &[(serde_json::Value, &str, &str)] = &[
        (
            serde_json::json!({"allow": [{"port": 0}]}),
            "allow[0].port",
            "1 to 65535",
        ),
        (
            serde_json::json!({"allow": [{"port": 70000}]}),
            "allow[0].port",
            "65535",
        ),
        (
            serde_json::json!({"allow": [{"port": "http"}]}),
            "allow[0].port",
            "invalid port",
        ),
        (
            serde_json::json!({"allow": [{"port": "9000:8000", "proto": "tcp"}]}),
            "allow[0].port",
            "lower",
        ),
        (
            serde_json::json!({"allow": [{"port": "8000:9000", "proto": "any"}]}),
            "allow[0].proto",
            "needs",
        ),
        (
            serde_json::json!({"allow": [{"port": 80, "from": "10.0.0.0/33"}]}),
            "allow[0].from",
            "prefix",
        ),
        (
            serde_json::json!({"allow": [{"port": 80, "from": "10.0.0.300"}]}),
            "allow[0].from",
            "not an IPv4",
        ),
        (
            serde_json::json!({"allow": [{"port": 80, "from": "10.1.2.3/24"}]}),
            "allow[0].from",
            "10.1.2.0/24",
        ),
        (
            serde_json::json!({"allow": [{"port": 80, "proto": "sctp"}]}),
            "allow[0].proto",
            "unknown variant",
        ),
        (
            serde_json::json!({"allow": [{"port": 80, "comment": "it's"}]}),
            "allow[0].comment",
            "quotes",
        ),
        (
            serde_json::json!({"ipv6": false, "allow": [{"port": 80, "from": "2001:db8::/32"}]}),
            "allow[0].from",
            "ipv6 = false",
        ),
        (
            serde_json::json!({"ssh_ports": [0]}),
            "ssh_ports[0]",
            "1 to 65535",
        ),
        (
            serde_json::json!({"ssh_from": ["bogus"]}),
            "ssh_from[0]",
            "invalid CIDR",
        ),
        (
            serde_json::json!({"logging": "loud"}),
            "logging",
            "unknown variant",
        ),
        (
            serde_json::json!({"default_incoming": "drop"}),
            "default_incoming",
            "unknown variant",
        ),
    ];
    for (value, path, text) in cases {
        let e = role.configure(value.clone()).unwrap_err();
        assert_eq!(
            (e.path.as_str(), e.message.contains(text)),
            (*path, true),
            "{value}: {e}"
        );
    }
    let e = role
        .configure(serde_json::json!({"tailscal": true}))
        .unwrap_err();
    assert_eq!(e.unknown_field.as_deref(), Some("tailscal"));
    assert!(e.expected.contains(&"tailscale".to_owned()));
}

#[test]
fn defaults_are_the_seeds() {
    let d = role().defaults();
    assert_eq!(d["tailscale"], true);
    assert_eq!(d["ipv6"], true);
    assert_eq!(d["logging"], "low");
    assert_eq!(
        (
            d["default_incoming"].as_str(),
            d["default_outgoing"].as_str(),
            d["default_routed"].as_str()
        ),
        (Some("deny"), Some("allow"), Some("deny"))
    );
    assert!(role().configure(d).is_ok(), "defaults round-trip");
}

#[test]
fn checks_are_named_controls() {
    let c = cfg(
        serde_json::json!({"ssh_ports": [2222], "allow": [{"port": 443}, {"port": 9100, "from": "10.0.0.0/8"}]}),
    );
    let checks = c.checks();
    let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "ufw.active",
            "ufw.default-policy",
            "ufw.routed-policy",
            "ufw.logging",
            "ufw.ipv6",
            "ufw.ssh-allowed",
            "ufw.only-allowed"
        ]
    );
    let by = |id: &str| {
        checks
            .iter()
            .find(|c| c.id == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id}"))
    };
    assert_eq!(
        by("ufw.default-policy").expect,
        Expect::Lines(vec![
            "DEFAULT_INPUT_POLICY=\"DROP\"".into(),
            "DEFAULT_OUTPUT_POLICY=\"ACCEPT\"".into()
        ])
    );
    assert_eq!(
        by("ufw.routed-policy").expect,
        Expect::Equals("DEFAULT_FORWARD_POLICY=\"DROP\"".into())
    );
    assert_eq!(
        by("ufw.logging").expect,
        Expect::Equals("LOGLEVEL=low".into())
    );
    let only = by("ufw.only-allowed").command;
    for want in [
        "allow 41641/udp from 0.0.0.0/0 in",
        "allow 41641/udp from ::/0 in",
        "allow 443/tcp from ::/0 in",
        "allow 9100/tcp from 10.0.0.0/8 in",
        "2222",
        "/etc/ufw/user6.rules",
    ] {
        assert!(only.contains(want), "missing {want} in {only}");
    }
    let off = cfg(serde_json::json!({"enabled": false, "logging": "off", "ipv6": false}));
    let ids: Vec<String> = off.checks().into_iter().map(|c| c.id).collect();
    assert!(!ids.contains(&"ufw.active".to_owned()));
    assert!(
        !off.checks()
            .iter()
            .any(|c| c.command.contains("user6.rules"))
    );
}

/// The status, policy, logging and IPv6 controls run no command (not the ~60 ms of Python
/// `ufw status verbose` is): the controller judges ufw's files and whether its chains are
/// loaded, from the facts the probe gathers, as ufw itself reads them.
#[test]
fn status_and_settings_controls_are_judged_from_facts() {
    use rampart_core::facts::{FactRequest, Facts};
    use rampart_core::testing::text_file;
    let checks: Vec<_> = cfg(serde_json::json!({}))
        .checks()
        .into_iter()
        .filter(|c| {
            c.fact.is_some() && !["ufw.ssh-allowed", "ufw.only-allowed"].contains(&c.id.as_str())
        })
        .collect();
    let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "ufw.active",
            "ufw.default-policy",
            "ufw.routed-policy",
            "ufw.logging",
            "ufw.ipv6"
        ]
    );
    let mut req = FactRequest::new();
    for c in &checks {
        c.request(&mut req);
    }
    assert!(req.commands.is_empty() && req.ufw_live);
    assert!(req.files.contains("/etc/default/ufw") && req.files.contains("/etc/ufw/ufw.conf"));
    let defaults = "# comment\nIPV6=yes\nDEFAULT_INPUT_POLICY=\"DROP\"\nDEFAULT_OUTPUT_POLICY=\"ACCEPT\"\nDEFAULT_FORWARD_POLICY=\"DROP\"\n";
    let mut f = Facts {
        ufw_live: Some(true),
        ..Facts::default()
    };
    f.files.insert(
        "/etc/default/ufw".into(),
        text_file(defaults, 0o644, "root"),
    );
    f.files.insert(
        "/etc/ufw/ufw.conf".into(),
        text_file("ENABLED=yes\nLOGLEVEL=low\n", 0o644, "root"),
    );
    for c in &checks {
        let v = c.judge_facts(&f);
        assert!(v.pass, "{v:?}");
    }
    let v = checks[1].judge_facts(&f);
    assert_eq!(
        v.evidence,
        "DEFAULT_INPUT_POLICY=\"DROP\"\nDEFAULT_OUTPUT_POLICY=\"ACCEPT\""
    );
    // drift by hand: `ufw disable`, `ufw default allow incoming`, `ufw logging off`
    f.ufw_live = Some(false);
    f.files.insert(
        "/etc/default/ufw".into(),
        text_file(
            &defaults.replace("INPUT_POLICY=\"DROP", "INPUT_POLICY=\"ACCEPT"),
            0o644,
            "root",
        ),
    );
    f.files.insert(
        "/etc/ufw/ufw.conf".into(),
        text_file("ENABLED=no\nLOGLEVEL=off\n", 0o644, "root"),
    );
    let failed: Vec<(String, String)> = checks
        .iter()
        .map(|c| c.judge_facts(&f))
        .filter(|v| !v.pass)
        .map(|v| (v.id, v.evidence))
        .collect();
    assert_eq!(
        failed,
        [
            ("ufw.active".to_owned(), "Status: inactive".to_owned()),
            (
                "ufw.default-policy".to_owned(),
                "DEFAULT_INPUT_POLICY=\"ACCEPT\"\nDEFAULT_OUTPUT_POLICY=\"ACCEPT\"\nmissing: DEFAULT_INPUT_POLICY=\"DROP\"".to_owned()
            ),
            ("ufw.logging".to_owned(), "LOGLEVEL=off".to_owned()),
        ]
    );
    // ufw not installed: its defaults file is missing
    f.files.insert(
        "/etc/default/ufw".into(),
        rampart_core::facts::FileState::Absent,
    );
    let v = checks[4].judge_facts(&f);
    assert!(
        !v.pass && v.evidence == "exit 2: grep: /etc/default/ufw: No such file or directory",
        "{v:?}"
    );
}

#[test]
fn only_allowed_check_judges_ufw_tuples() {
    // Run the check's shell against a fake root: the awk/grep pipeline is the part that can
    // silently go wrong, so exercise it for real with sh.
    let c = cfg(serde_json::json!({"allow": [{"port": 443}]}));
    let check = c
        .checks()
        .into_iter()
        .find(|c| c.id == "ufw.only-allowed")
        .expect("check");
    let dir = std::env::temp_dir().join(format!("rampart-ufw-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let user = dir.join("user.rules");
    let user6 = dir.join("user6.rules");
    let cmd = check
        .command
        .replace("/etc/ufw/user.rules", &user.display().to_string())
        .replace("/etc/ufw/user6.rules", &user6.display().to_string())
        .replace("sshd -T 2>/dev/null", "printf 'port 22\\n'");
    let run = |v4: &str, v6: &str| {
        std::fs::write(&user, v4).expect("write");
        std::fs::write(&user6, v6).expect("write");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&cmd)
            .output()
            .expect("sh");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let pass = check
            .judge(Some(&rampart_core::facts::CommandResult {
                rc: out.status.code().unwrap_or(-1),
                output: text.clone(),
            }))
            .pass;
        // The controller judges the same files and `sshd -T` from the facts: the same answer.
        let mut f = Facts::default();
        let mut sshd = rampart_core::facts::SshdEffective {
            ok: true,
            ..Default::default()
        };
        sshd.values.insert("port".into(), vec!["22".into()]);
        f.sshd = Some(sshd);
        for (path, text) in [("/etc/ufw/user.rules", v4), ("/etc/ufw/user6.rules", v6)] {
            f.files.insert(
                path.into(),
                rampart_core::testing::text_file(text, 0o640, "root"),
            );
        }
        rampart_core::testing::assert_answers_as_shell(&check, &f, &text);
        assert_eq!(check.judge_facts(&f).pass, pass);
        (pass, text)
    };
    let good4 = "### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in comment=535348\n### tuple ### allow udp 41641 0.0.0.0/0 any 0.0.0.0/0 in\n### tuple ### allow tcp 443 0.0.0.0/0 any 0.0.0.0/0 in\n";
    let good6 = "### tuple ### allow tcp 22 ::/0 any ::/0 in\n### tuple ### allow udp 41641 ::/0 any ::/0 in\n### tuple ### allow tcp 443 ::/0 any ::/0 in\n";
    let (pass, out) = run(good4, good6);
    assert!(pass, "{out}");
    assert!(
        out.contains("allowed: allow 22/tcp from 0.0.0.0/0 in"),
        "{out}"
    );
    let (pass, out) = run(
        &format!("{good4}### tuple ### allow tcp 8080 0.0.0.0/0 any 0.0.0.0/0 in\n"),
        good6,
    );
    assert!(
        !pass && out.contains("unexpected: allow 8080/tcp from 0.0.0.0/0 in"),
        "{out}"
    );
    let (pass, out) = run(
        good4,
        &format!("{good6}### tuple ### allow any 53 ::/0 any ::/0 in_eth1\n"),
    );
    assert!(
        !pass && out.contains("unexpected: allow 53/any from ::/0 in_eth1"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
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

/// `ufw.ssh-allowed` runs no command either: `sshd -T`'s ports (which the probe gathers, and
/// remembers, for the audit's other controls) against ufw's rules file, read as the shell's
/// `grep -Eq "^### tuple ### (allow|limit) (tcp|any) $p "` reads it.
#[test]
fn ssh_allowed_is_judged_from_sshd_and_the_rules_file() {
    use rampart_core::facts::{FactRequest, Facts, FileState, SshdEffective};
    use rampart_core::testing::text_file;
    let c = cfg(serde_json::json!({}))
        .checks()
        .into_iter()
        .find(|c| c.id == "ufw.ssh-allowed")
        .expect("ssh-allowed");
    let mut req = FactRequest::new();
    c.request(&mut req);
    assert!(req.commands.is_empty() && req.sshd_effective);
    assert!(req.files.contains("/etc/ufw/user.rules"));
    let mut f = Facts::default();
    assert_eq!(c.judge_facts(&f).evidence, "not run");
    let mut sshd = SshdEffective {
        ok: true,
        ..Default::default()
    };
    sshd.values
        .insert("port".into(), vec!["22".into(), "2222".into()]);
    f.sshd = Some(sshd.clone());
    let rules = "*filter\n### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n-A ufw-user-input -p tcp --dport 22 -j ACCEPT\n### tuple ### limit any 2222 0.0.0.0/0 any 10.0.0.0/8 in\n### tuple ### deny tcp 23 0.0.0.0/0 any 0.0.0.0/0 in\nCOMMIT\n";
    f.files.insert(
        "/etc/ufw/user.rules".into(),
        text_file(rules, 0o640, "root"),
    );
    let v = c.judge_facts(&f);
    assert!(v.pass, "{v:?}");
    assert_eq!(v.evidence, "ssh port 22: allowed\nssh port 2222: allowed");
    // a rule line that ends at the port is not grep's match (`$p ` wants a space after it)
    let mut ended = sshd.clone();
    ended.values.insert("port".into(), vec!["2200".into()]);
    f.sshd = Some(ended);
    let mut cut = rules.to_owned();
    cut.push_str("### tuple ### allow tcp 2200\n");
    f.files
        .insert("/etc/ufw/user.rules".into(), text_file(&cut, 0o640, "root"));
    assert_eq!(
        c.judge_facts(&f).evidence,
        "FAIL: ssh port 2200 is not allowed"
    );
    f.files.insert(
        "/etc/ufw/user.rules".into(),
        text_file(rules, 0o640, "root"),
    );
    // a port only denied, or named as a prefix of another, is not allowed
    sshd.values
        .insert("port".into(), vec!["23".into(), "222".into()]);
    f.sshd = Some(sshd.clone());
    let v = c.judge_facts(&f);
    assert!(!v.pass);
    assert_eq!(
        v.evidence,
        "FAIL: ssh port 23 is not allowed\nFAIL: ssh port 222 is not allowed"
    );
    // no rules file: nothing is allowed
    sshd.values.insert("port".into(), vec!["22".into()]);
    f.sshd = Some(sshd.clone());
    f.files
        .insert("/etc/ufw/user.rules".into(), FileState::Absent);
    assert_eq!(
        c.judge_facts(&f).evidence,
        "FAIL: ssh port 22 is not allowed"
    );
    // `sshd -T` failing names no port, as the shell's sshd_ports prints none
    sshd.ok = false;
    f.sshd = Some(sshd);
    assert_eq!(c.judge_facts(&f).evidence, "FAIL: sshd -T printed no port");
}
