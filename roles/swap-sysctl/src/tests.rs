//! Unit tests of the swap-sysctl role: plans against synthetic facts, no SSH.

use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use rampart_core::facts::{FactRequest, Facts, FileState, SwapArea};
use rampart_core::hostplan::PlannedRole;
use rampart_core::testing::{applies, assert_converges, fresh_lab_facts, plan_checked, text_file};

use super::*;

fn cfg(v: serde_json::Value) -> Config {
    let c: Config = rampart_core::role::configure_typed(v).expect("valid config");
    c.validate().expect("valid config");
    c
}

/// A fresh lab host (a container): no swap file, Debian's fstab and sysctl.conf, kernel
/// defaults for the four parameters.
fn fresh(c: &Config) -> Facts {
    let mut f = fresh_lab_facts(c);
    f.files.insert(
        "/etc/fstab".into(),
        text_file("# UNCONFIGURED FSTAB FOR BASE SYSTEM\n", 0o644, "root"),
    );
    f.files.insert(
        SYSCTL_CONF.into(),
        text_file(
            "#kernel.domainname = example.com\n#vm.swappiness=60\n",
            0o644,
            "root",
        ),
    );
    for (k, v) in [
        ("vm.swappiness", "60"),
        ("net.core.somaxconn", "4096"),
        ("net.ipv4.tcp_max_syn_backlog", "512"),
        ("fs.file-max", "9223372036854775807"),
    ] {
        if f.sysctls.contains_key(k) {
            f.sysctls.insert(k.into(), Some(v.into()));
        }
    }
    f
}

/// The same host as a VM: swapon works.
fn fresh_vm(c: &Config) -> Facts {
    let mut f = fresh(c);
    f.host.virt = "none".into();
    f
}

fn plan(c: &Config, f: &Facts) -> PlannedRole {
    plan_checked(c, f, &BTreeMap::new(), "root")
}

fn changes(p: &PlannedRole) -> BTreeMap<String, String> {
    applies(p)
        .into_iter()
        .map(|(id, a)| (id, a.script.as_str().to_owned()))
        .collect()
}

/// Each key has a change that writes its value to /proc/sys live (core's sysctl step, its
/// value as a positional parameter).
fn assert_set_live(ch: &BTreeMap<String, String>, keys: &[(&str, &str)]) {
    for (k, v) in keys {
        let s = &ch[&format!("sysctl:{k}")];
        assert!(
            s.contains(&format!("set -- /proc/sys/{} {v}\n", k.replace('.', "/"))),
            "{k} is set live: {s}"
        );
    }
}

fn try_plan(c: &Config, f: &Facts) -> Result<RolePlan, RoleError> {
    rampart_core::testing::try_plan(c, f, &BTreeMap::new(), "root")
}

#[test]
fn fresh_container_gets_file_fstab_and_sysctls_but_no_swapon_nor_kernel_wide_live_values() {
    let c = Config::default();
    let f = fresh(&c);
    let ch = changes(&plan(&c, &f));
    let swap = &ch["swapfile:/swapfile"];
    // The swap step's values are its positional parameters (core's resource/swap/swap.sh,
    // whose failure branches are tested under dash there): create 4 GiB, no swapon.
    assert!(
        swap.contains("\nset -- / '' root root /swapfile swapfile create 4294967296 4096 ''\n"),
        "the kernel refuses swapon in a container: {swap}"
    );
    assert!(ch.contains_key("edit:/etc/fstab#swap"));
    let file = &ch["file:/etc/sysctl.d/99-fleetclaw.conf"];
    assert!(file.contains("base64 -d"), "{file}");
    assert_set_live(
        &ch,
        &[
            ("net.core.somaxconn", "1024"),
            ("net.ipv4.tcp_max_syn_backlog", "1024"),
        ],
    );
    // vm.* and fs.* are the machine's kernel, which every container on it shares: the file
    // persists them, the live value is left alone (core's settable_here).
    for k in ["vm.swappiness", "fs.file-max"] {
        assert!(!ch.contains_key(&format!("sysctl:{k}")), "{k}: {ch:?}");
    }
    let after = assert_converges(&c, f.clone(), &BTreeMap::new(), "root");
    assert_eq!(after.sysctls["vm.swappiness"].as_deref(), Some("60"));
    assert_eq!(
        after.files["/etc/fstab"].text(),
        Some("# UNCONFIGURED FSTAB FOR BASE SYSTEM\n/swapfile none swap sw 0 0\n")
    );
    assert_eq!(
        after.files["/etc/sysctl.d/99-fleetclaw.conf"].text(),
        Some(
            "# Managed by rampart (role swap-sysctl): local changes are overwritten.\nfs.file-max = 100000\nnet.core.somaxconn = 1024\nnet.ipv4.tcp_max_syn_backlog = 1024\nvm.swappiness = 10\n"
        )
    );
}

#[test]
fn on_a_vm_the_swap_file_is_enabled() {
    let c = cfg(serde_json::json!({"swap_size": "8G"}));
    let f = fresh_vm(&c);
    let ch = changes(&plan(&c, &f));
    let swap = &ch["swapfile:/swapfile"];
    assert!(
        swap.contains("\nset -- / '' root root /swapfile swapfile create 8589934592 8192 on\n"),
        "{swap}"
    );
    // on a VM every key is set live
    assert_set_live(
        &ch,
        &[
            ("vm.swappiness", "10"),
            ("net.core.somaxconn", "1024"),
            ("net.ipv4.tcp_max_syn_backlog", "1024"),
            ("fs.file-max", "100000"),
        ],
    );
    let after = assert_converges(&c, f, &BTreeMap::new(), "root");
    assert_eq!(
        after.swaps,
        Some(vec![SwapArea {
            path: "/swapfile".into(),
            size_kib: 8 * 1024 * 1024
        }])
    );
}

#[test]
fn every_drift_is_repaired() {
    let c = Config::default();
    let converged = assert_converges(&c, fresh_vm(&c), &BTreeMap::new(), "root");
    assert!(
        changes(&plan(&c, &converged)).is_empty(),
        "converged host is a no-op"
    );
    type Drift = (&'static str, fn(&mut Facts), &'static str, &'static str);
    let drifts: &[Drift] = &[
        (
            "fstab line duplicated (the seed's tee -a, run twice)",
            |f| {
                let t = f.files["/etc/fstab"].text().unwrap_or_default().to_owned();
                f.files.insert(
                    "/etc/fstab".into(),
                    text_file(&format!("{t}/swapfile none swap sw 0 0\n"), 0o644, "root"),
                );
            },
            "edit:/etc/fstab#swap",
            "base64 -d",
        ),
        (
            "fstab line edited",
            |f| {
                let t = f.files["/etc/fstab"]
                    .text()
                    .unwrap_or_default()
                    .replace("sw 0 0", "defaults 0 0");
                f.files
                    .insert("/etc/fstab".into(), text_file(&t, 0o644, "root"));
            },
            "edit:/etc/fstab#swap",
            "base64 -d",
        ),
        (
            "a sysctl changed live",
            |f| {
                drop(
                    f.sysctls
                        .insert("net.core.somaxconn".into(), Some("4096".into())),
                )
            },
            "sysctl:net.core.somaxconn",
            "set -- /proc/sys/net/core/somaxconn 1024\n",
        ),
        (
            "swappiness changed live",
            |f| drop(f.sysctls.insert("vm.swappiness".into(), Some("60".into()))),
            "sysctl:vm.swappiness",
            "set -- /proc/sys/vm/swappiness 10\n",
        ),
        (
            "the drop-in edited",
            |f| {
                drop(f.files.insert(
                    "/etc/sysctl.d/99-fleetclaw.conf".into(),
                    text_file("vm.swappiness = 60\n", 0o644, "root"),
                ))
            },
            "file:/etc/sysctl.d/99-fleetclaw.conf",
            "mv -f",
        ),
        (
            "swap file world-readable",
            |f| {
                drop(f.files.insert(
                    "/swapfile".into(),
                    FileState::File {
                        mode: 0o644,
                        owner: "root".into(),
                        group: "root".into(),
                        size: 4 << 30,
                        content: None,
                        sha256: String::new(),
                    },
                ))
            },
            "swapfile:/swapfile",
            " /swapfile swapfile attrs ",
        ),
        (
            "swapoff by hand",
            |f| f.swaps = Some(Vec::new()),
            "swapfile:/swapfile",
            " /swapfile swapfile '' 4294967296 4096 on\n",
        ),
    ];
    for (name, inject, id, want) in drifts {
        let mut f = converged.clone();
        inject(&mut f);
        let ch = changes(&plan(&c, &f));
        assert_eq!(
            ch.keys().map(String::as_str).collect::<Vec<_>>(),
            [*id],
            "{name}: only {id} changes"
        );
        assert!(
            ch[*id].contains(want),
            "{name}: expected `{want}` in {}",
            ch[*id]
        );
        let after = assert_converges(&c, f, &BTreeMap::new(), "root");
        assert_eq!(
            after.files["/etc/fstab"]
                .text()
                .map(|t| t.matches("/swapfile ").count()),
            Some(1),
            "{name}"
        );
    }
}

#[test]
fn an_active_swap_file_of_another_size_is_refused_not_resized() {
    let c = Config::default();
    let mut f = fresh_vm(&c);
    f.files.insert(
        "/swapfile".into(),
        FileState::File {
            mode: 0o600,
            owner: "root".into(),
            group: "root".into(),
            size: 1 << 30,
            content: None,
            sha256: String::new(),
        },
    );
    f.swaps = Some(vec![SwapArea {
        path: "/swapfile".into(),
        size_kib: 1 << 20,
    }]);
    let templates = rampart_core::template::Templates::embedded();
    let vars = serde_json::json!({});
    let secrets = BTreeMap::new();
    let ctx = HostContext {
        host: "h7",
        facts: &f,
        vars: &vars,
        templates: &templates,
        secrets: &secrets,
        connect_user: "root",
    };
    let p = rampart_core::hostplan::plan_role("swap-sysctl", &c, &ctx);
    let err = p
        .items
        .iter()
        .find(|i| i.resource.id() == "swapfile:/swapfile")
        .and_then(|i| i.change.as_ref().err().map(ToString::to_string));
    assert!(err.is_some_and(|e| e.contains("swapoff")));
}

#[test]
fn swap_and_sysctls_can_be_turned_off_and_changed() {
    let c = cfg(
        serde_json::json!({"swap": false, "sysctls": {"net.core.somaxconn": 4096, "net.ipv4.tcp_rmem": "4096\t131072   6291456"}}),
    );
    let mut req = FactRequest::new();
    c.facts(&mut req);
    assert!(!req.swaps && !req.stats.contains("/swapfile"));
    let f = fresh(&c);
    let ch = changes(&plan(&c, &f));
    assert!(!ch.keys().any(|k| k.contains("swap")), "{ch:?}");
    assert!(ch["sysctl:net.ipv4.tcp_rmem"].contains("'4096 131072 6291456'"));
    assert_converges(&c, f, &BTreeMap::new(), "root");
    let none = cfg(serde_json::json!({"swap": false, "sysctls": {}}));
    assert!(none.resources().is_empty() && none.checks().is_empty());
}

#[test]
fn a_conflicting_sysctl_conf_is_refused() {
    let c = Config::default();
    let mut f = fresh(&c);
    f.files.insert(
        SYSCTL_CONF.into(),
        text_file("vm.swappiness=60\n", 0o644, "root"),
    );
    let e = try_plan(&c, &f).unwrap_err();
    assert!(
        e.0.contains("/etc/sysctl.conf sets vm.swappiness = 60") && e.0.contains("Fix"),
        "{e}"
    );
    // The same value there is harmless; so is a file sorting after 99-sysctl.conf.
    f.files.insert(
        SYSCTL_CONF.into(),
        text_file("vm.swappiness = 10\n", 0o644, "root"),
    );
    assert!(try_plan(&c, &f).is_ok());
    let late = cfg(serde_json::json!({"sysctl_file": "/etc/sysctl.d/99-zz-fleetclaw.conf"}));
    f.files.insert(
        SYSCTL_CONF.into(),
        text_file("vm.swappiness=60\n", 0o644, "root"),
    );
    assert!(try_plan(&late, &f).is_ok());
}

#[test]
fn config_errors_name_the_field() {
    let role = role();
    let cases: &[(serde_json::Value, &str, &str)] = &[
        (
            serde_json::json!({"swap_size": "4T"}),
            "swap_size",
            "invalid size",
        ),
        (
            serde_json::json!({"swap_size": "lots"}),
            "swap_size",
            "invalid size",
        ),
        (
            serde_json::json!({"swap_size": 0}),
            "swap_size",
            "16M to 1024G",
        ),
        (
            serde_json::json!({"swap_size": -4}),
            "swap_size",
            "negative",
        ),
        (
            serde_json::json!({"swapfile": "swapfile"}),
            "swapfile",
            "absolute",
        ),
        (
            serde_json::json!({"swapfile": "/swap file"}),
            "swapfile",
            "absolute",
        ),
        (
            serde_json::json!({"swapfile": "/dev/sda2"}),
            "swapfile",
            "absolute",
        ),
        (
            serde_json::json!({"sysctl_file": "/etc/sysctl.conf"}),
            "sysctl_file",
            "/etc/sysctl.d",
        ),
        (
            serde_json::json!({"sysctls": {"swappiness": 10}}),
            "sysctls.swappiness",
            "dotted",
        ),
        (
            serde_json::json!({"sysctls": {"vm.swappiness": "1\n2"}}),
            "sysctls.vm.swappiness",
            "one line",
        ),
        (
            serde_json::json!({"sysctls": {"vm.swappiness": "1\u{7}"}}),
            "sysctls.vm.swappiness",
            "one line",
        ),
        (
            serde_json::json!({"sysctls": {"vm.swappiness": true}}),
            "sysctls.vm.swappiness",
            "number or a string",
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
        .configure(serde_json::json!({"swap_sise": "4G"}))
        .unwrap_err();
    assert_eq!(e.unknown_field.as_deref(), Some("swap_sise"));
}

#[test]
fn sizes_parse_and_print() {
    for (input, mib, shown) in [
        ("4G", 4096, "4G"),
        ("512M", 512, "512M"),
        ("1GiB", 1024, "1G"),
        ("1536", 1536, "1536M"),
    ] {
        let s = Size::parse(input).expect(input);
        assert_eq!((s.get(), s.to_string()), (mib, shown.to_owned()));
    }
    let d = role().defaults();
    assert_eq!(d["swap_size"], "4G");
    assert_eq!(d["sysctls"]["vm.swappiness"], 10);
    assert!(role().configure(d).is_ok());
}

#[test]
fn checks_are_named_controls() {
    let c = Config::default();
    let checks = c.checks();
    let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "swap.file",
            "swap.fstab",
            "swap.active",
            "sysctl.fs.file-max",
            "sysctl.net.core.somaxconn",
            "sysctl.net.ipv4.tcp_max_syn_backlog",
            "sysctl.vm.swappiness",
            "sysctl.persisted"
        ]
    );
    assert_eq!(
        checks[0].expect,
        Expect::Equals("600 root 4294967296".into())
    );
    assert_eq!(
        checks[1].expect,
        Expect::Equals("/swapfile none swap sw 0 0".into())
    );
    let persisted = checks
        .iter()
        .find(|c| c.id == "sysctl.persisted")
        .map(|c| c.expect.clone());
    let after = assert_converges(&c, fresh(&c), &BTreeMap::new(), "root");
    assert_eq!(
        persisted,
        Some(Expect::Equals(
            after.files["/etc/sysctl.d/99-fleetclaw.conf"]
                .text()
                .unwrap_or_default()
                .to_owned()
        ))
    );
    // The fstab check sees a duplicate: two lines are not Equal to one.
    let dup = rampart_core::facts::CommandResult {
        rc: 0,
        output: "/swapfile none swap sw 0 0\n/swapfile none swap sw 0 0\n".into(),
    };
    assert!(!checks[1].judge(Some(&dup)).pass);
    // Under dash: a tab-separated value reads as the configured one.
    let rmem = cfg(serde_json::json!({"sysctls": {"net.ipv4.tcp_rmem": "4096 87380 6291456"}}));
    let tabbed = rmem
        .checks()
        .into_iter()
        .find(|c| c.id == "sysctl.net.ipv4.tcp_rmem")
        .map(|c| c.command);
    let Some(sh) = rampart_shtest::Sh::new() else {
        return;
    };
    sh.stub("systemd-detect-virt", 1);
    sh.stub_output("sysctl", 0, "4096\t87380\t6291456\n");
    let out = sh.run(&tabbed.expect("the rmem check"), &[""]);
    assert_eq!(
        out.stdout_str(),
        "net.ipv4.tcp_rmem = 4096 87380 6291456\nok\n"
    );
    assert_eq!(sh.calls(), ["sysctl -n net.ipv4.tcp_rmem"]);
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
