//! Unit tests of the docker role: plans against synthetic facts, no SSH.

use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use rampart_core::facts::{Facts, PackageState, UnitState};
use rampart_core::hostplan::PlannedRole;
use rampart_core::resource::apt_refresh_script;
use rampart_core::testing::{applies, assert_converges, fresh_lab_facts, plan_checked, text_file};

use super::*;

/// A key made for these tests (rsa2048, `gpg --quick-gen-key`), and its fingerprint.
const KEY: &str = include_str!("../testdata/rsa2048.asc");
const KEY_FPR: &str = "900EBB8E9583D51587287703E832B19B3349C818";

fn cfg(v: serde_json::Value) -> Config {
    let c: Config = rampart_core::role::configure_typed(v).expect("valid config");
    c.validate().expect("valid config");
    c
}

fn distro() -> Config {
    cfg(json!({"source": "distro", "daemon": {"nofile": {"soft": 20000, "hard": 20000}}}))
}

/// A fresh lab host: no Docker, lists never updated, users root and lab.
fn fresh(c: &Config) -> Facts {
    fresh_lab_facts(c)
}

/// A real fresh Debian host has no `docker` group until the package creates it.
fn fresh_without_group(c: &Config) -> Facts {
    let mut f = fresh(c);
    if let Some(a) = f.accounts.as_mut() {
        a.groups.remove("docker");
    }
    f
}

fn plan(c: &Config, f: &Facts) -> PlannedRole {
    plan_checked(c, f, &BTreeMap::new(), "root")
}

fn try_plan(c: &Config, f: &Facts) -> Result<RolePlan, RoleError> {
    rampart_core::testing::try_plan(c, f, &BTreeMap::new(), "root")
}

/// (id, script, notified handlers) of each change, in order.
fn changes(p: &PlannedRole) -> Vec<(String, String, Vec<String>)> {
    applies(p)
        .into_iter()
        .map(|(id, a)| (id, a.script.as_str().to_owned(), a.notify.clone()))
        .collect()
}

fn ids(p: &PlannedRole) -> Vec<String> {
    changes(p).into_iter().map(|c| c.0).collect()
}

fn script<'a>(ch: &'a [(String, String, Vec<String>)], id: &str) -> &'a str {
    ch.iter()
        .find(|c| c.0 == id)
        .map(|c| c.1.as_str())
        .unwrap_or_else(|| {
            panic!(
                "no change {id} in {:?}",
                ch.iter().map(|c| &c.0).collect::<Vec<_>>()
            )
        })
}

#[test]
fn daemon_json_is_the_seeds_plus_userland_proxy_and_ip6tables_canonical() {
    let text = Daemon::default().render();
    assert_eq!(
        text,
        r#"{
  "default-ulimits": {
    "nofile": {
      "Hard": 65536,
      "Name": "nofile",
      "Soft": 65536
    }
  },
  "ip6tables": false,
  "live-restore": true,
  "log-driver": "json-file",
  "log-opts": {
    "max-file": "3",
    "max-size": "10m"
  },
  "no-new-privileges": true,
  "userland-proxy": false
}
"#
    );
    // Semantically the seed's file, plus the two additions.
    let seed: Value = serde_json::from_str(
        r#"{"log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"}, "live-restore": true,
            "default-ulimits": {"nofile": {"Name": "nofile", "Hard": 65536, "Soft": 65536}}, "no-new-privileges": true}"#,
    )
    .expect("seed json");
    let mut ours: Value = serde_json::from_str(&text).expect("valid json");
    let obj = ours.as_object_mut().expect("object");
    assert_eq!(obj.remove("userland-proxy"), Some(json!(false)));
    assert_eq!(obj.remove("ip6tables"), Some(json!(false)));
    assert_eq!(ours, seed);
}

#[test]
fn daemon_variants_render_what_dockerd_accepts() {
    let d = cfg(json!({"daemon": {"nofile": null, "log_driver": "journald", "extra": {"icc": false, "log-level": "warn", "default-address-pools": [{"size": 24, "base": "172.30.0.0/16"}]}}})).daemon;
    let v: Value = serde_json::from_str(&d.render()).expect("json");
    assert!(v.get("default-ulimits").is_none());
    assert!(
        v.get("log-opts").is_none(),
        "max-size is a json-file/local option: journald would refuse it"
    );
    assert_eq!(v["icc"], json!(false));
    // Nested maps from the configuration are sorted too.
    assert!(
        d.render()
            .contains("\"base\": \"172.30.0.0/16\",\n      \"size\": 24"),
        "{}",
        d.render()
    );
}

#[test]
fn fresh_lab_host_distro_installs_configures_and_converges() {
    let c = distro();
    let f = fresh(&c);
    let p = plan(&c, &f);
    assert_eq!(
        ids(&p),
        [
            "apt-update",
            "packages:docker.io",
            "command:the docker client",
            "file:/etc/docker/daemon.json",
            "service:docker",
            "user:fleetclaw"
        ]
    );
    let ch = changes(&p);
    assert!(script(&ch, "packages:docker.io").contains("install docker.io"));
    // Debian 13's client is its own package; where docker.io brought it, nothing is installed.
    let cli = script(&ch, "command:the docker client");
    assert!(
        cli.contains("command -v docker >/dev/null 2>&1 || ") && cli.contains("docker-cli"),
        "{cli}"
    );
    let daemon = ch
        .iter()
        .find(|c| c.0 == "file:/etc/docker/daemon.json")
        .expect("daemon.json");
    assert_eq!(daemon.2, ["restart docker"]);
    assert!(daemon.1.contains("if dockerd --help 2>/dev/null | grep -q -- --validate; then dockerd --validate --config-file \"$PWD/$t\" ; fi"), "{}", daemon.1);
    assert!(
        script(&ch, "user:fleetclaw")
            .contains("useradd --create-home --shell /bin/bash --groups docker -- fleetclaw")
    );
    assert_eq!(p.handlers.len(), 1);
    assert!(
        p.handlers[0]
            .script
            .as_str()
            .contains("systemctl restart docker.service")
    );
    let after = assert_converges(&c, f, &BTreeMap::new(), "root");
    assert!(
        changes(&plan(&c, &after)).is_empty(),
        "converged: nothing notifies the restart"
    );
}

#[test]
fn official_source_with_a_pinned_key() {
    let c = cfg(json!({"repo_key": KEY, "repo_key_fingerprint": KEY_FPR}));
    let f = fresh(&c);
    let p = plan(&c, &f);
    assert_eq!(
        ids(&p),
        [
            "apt-update",
            "packages:ca-certificates",
            "directory:/etc/apt/keyrings",
            "file:/etc/apt/keyrings/docker.asc",
            "file:/etc/apt/sources.list.d/docker.sources",
            "packages:docker-ce,docker-ce-cli,containerd.io,docker-buildx-plugin,docker-compose-plugin",
            "file:/etc/docker/daemon.json",
            "service:docker",
            "user:fleetclaw",
        ]
    );
    let after = assert_converges(&c, f, &BTreeMap::new(), "root");
    assert_eq!(
        after.files[SOURCES].text(),
        Some(
            "# Managed by rampart (role docker): Docker's official apt repository, DEB822 format.\nTypes: deb\nURIs: https://download.docker.com/linux/debian\nSuites: bookworm\nComponents: stable\nSigned-By: /etc/apt/keyrings/docker.asc\n"
        )
    );
    assert_eq!(
        after.files[KEYRING]
            .text()
            .map(|t| t.ends_with("-----END PGP PUBLIC KEY BLOCK-----\n")),
        Some(true)
    );
    let ch = changes(&p);
    assert!(
        script(&ch, "file:/etc/apt/sources.list.d/docker.sources")
            .ends_with(apt_refresh_script().as_str()),
        "a new source refreshes the lists"
    );
}

#[test]
fn official_source_on_ubuntu_fetches_the_key_on_the_host_once() {
    let c = Config::default();
    let mut f = fresh(&c);
    f.host.os_id = "ubuntu".into();
    f.host.os_codename = "noble".into();
    let p = plan(&c, &f);
    let ch = changes(&p);
    let fetch = script(&ch, "command:fetch Docker's apt key");
    // The URL, fingerprint and paths reach the script as its parameters.
    assert!(
        fetch.starts_with(&format!(
            "set -- https://download.docker.com/linux/ubuntu/gpg {DOCKER_KEY_FINGERPRINT} /etc/apt/keyrings /etc/apt/keyrings/docker.asc\n"
        )),
        "{fetch}"
    );
    assert!(
        fetch.contains(
            "curl -fsSL --proto '=https' --proto-redir '=https' --retry 2 \"$url\" -o \"$t\""
        ),
        "{fetch}"
    );
    assert!(
        fetch.contains(crate::openpgp::fingerprint_script()) && !fetch.contains("gpg --"),
        "the fingerprint is computed without gpg: {fetch}"
    );
    assert!(
        fetch.contains("[ \"$f\" = \"$want\" ]") && fetch.contains("mv -f \"$t\" \"$keyring\""),
        "{fetch}"
    );
    assert!(script(&ch, "packages:ca-certificates,curl").contains("install ca-certificates curl"));
    let after = assert_converges(&c, f.clone(), &BTreeMap::new(), "root");
    assert!(after.files[SOURCES].text().is_some_and(|t| {
        t.contains("URIs: https://download.docker.com/linux/ubuntu\nSuites: noble\n")
    }));
    // Once the keyring exists, nothing is fetched again.
    f.files
        .insert(KEYRING.into(), text_file(KEY, 0o644, "root"));
    assert!(!ids(&plan(&c, &f)).iter().any(|i| i.starts_with("command:")));
    // A mirror and an explicit suite.
    let m = cfg(
        json!({"repo_url": "https://mirror.example/docker/", "suite": "bookworm", "repo_key_url": "https://mirror.example/key.asc"}),
    );
    let ch = changes(&plan(&m, &f));
    assert!(script(&ch, "file:/etc/apt/sources.list.d/docker.sources").contains("base64"));
    let after = assert_converges(&m, fresh(&m), &BTreeMap::new(), "root");
    assert!(
        after.files[SOURCES]
            .text()
            .is_some_and(|t| t.contains("URIs: https://mirror.example/docker\nSuites: bookworm\n"))
    );
}

#[test]
fn a_docker_group_created_by_this_run_gets_its_users() {
    let c = distro();
    let f = fresh_without_group(&c);
    let p = plan(&c, &f);
    let names = ids(&p);
    let pkg = names
        .iter()
        .position(|i| i == "packages:docker.io")
        .expect("install");
    let add = names
        .iter()
        .position(|i| i == "command:add fleetclaw to the docker group")
        .expect("group command");
    assert!(pkg < add, "the package creates the group first: {names:?}");
    let ch = changes(&p);
    let s = script(&ch, "command:add fleetclaw to the docker group");
    assert!(s.starts_with("set -- fleetclaw\n"), "{s}");
    assert!(
        s.contains("usermod --append --groups docker -- \"$1\""),
        "{s}"
    );
    // Under dash: a missing user is created, then put in the group; an existing one only
    // gets the group.
    if let Some(sh) = rampart_shtest::Sh::new() {
        sh.stub("id", 1).stub("useradd", 0).stub("usermod", 0);
        assert!(sh.run(s, &[]).ok());
        assert_eq!(
            sh.calls(),
            [
                "id fleetclaw",
                "useradd --create-home --shell /bin/bash -- fleetclaw",
                "usermod --append --groups docker -- fleetclaw"
            ]
        );
        sh.clear_calls();
        sh.stub("id", 0).stub("usermod", 1);
        assert!(
            !sh.run(&["set -e\n", s].concat(), &[]).ok(),
            "a failed usermod fails the step"
        );
        assert_eq!(
            sh.calls(),
            [
                "id fleetclaw",
                "usermod --append --groups docker -- fleetclaw"
            ]
        );
    }
    assert_converges(&c, f, &BTreeMap::new(), "root");
}

#[test]
fn an_existing_user_only_gets_the_group() {
    let c = cfg(json!({"source": "distro", "users": ["lab"]}));
    let mut f = fresh(&c);
    if let Some(u) = f.accounts.as_mut().and_then(|a| a.users.get_mut("lab")) {
        u.shell = "/bin/zsh".into();
    }
    let ch = changes(&plan(&c, &f));
    assert_eq!(
        script(&ch, "user:lab"),
        "usermod --append --groups docker -- lab\n",
        "the shell is left as the host has it"
    );
    assert_converges(&c, f, &BTreeMap::new(), "root");
}

#[test]
fn every_drift_is_repaired_and_only_daemon_json_restarts_docker() {
    let c = distro();
    let converged = assert_converges(&c, fresh(&c), &BTreeMap::new(), "root");
    type Drift = (&'static str, fn(&mut Facts), &'static str, bool);
    let drifts: &[Drift] = &[
        (
            "daemon.json edited",
            |f| {
                drop(f.files.insert(
                    DAEMON_JSON.into(),
                    text_file("{\"live-restore\": false}\n", 0o644, "root"),
                ))
            },
            "file:/etc/docker/daemon.json",
            true,
        ),
        (
            "daemon.json removed",
            |f| {
                drop(
                    f.files
                        .insert(DAEMON_JSON.into(), rampart_core::facts::FileState::Absent),
                )
            },
            "file:/etc/docker/daemon.json",
            true,
        ),
        (
            "docker stopped",
            |f| {
                drop(f.units.insert(
                    "docker".into(),
                    UnitState {
                        load_state: "loaded".into(),
                        active_state: "inactive".into(),
                        unit_file_state: "enabled".into(),
                        ..UnitState::default()
                    },
                ))
            },
            "service:docker",
            false,
        ),
        (
            "docker.io removed",
            |f| {
                drop(
                    f.packages
                        .insert("docker.io".into(), PackageState::absent()),
                )
            },
            "packages:docker.io",
            false,
        ),
        (
            "user taken out of the group",
            |f| {
                if let Some(g) = f.accounts.as_mut().and_then(|a| a.groups.get_mut("docker")) {
                    g.members.clear();
                }
            },
            "user:fleetclaw",
            false,
        ),
    ];
    for (name, inject, id, restarts) in drifts {
        let mut f = converged.clone();
        inject(&mut f);
        let ch = changes(&plan(&c, &f));
        assert_eq!(
            ch.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
            [*id],
            "{name}"
        );
        assert_eq!(!ch[0].2.is_empty(), *restarts, "{name}: restart notified?");
        assert_converges(&c, f, &BTreeMap::new(), "root");
    }
}

#[test]
fn mixing_distro_and_official_packages_is_refused() {
    let c = cfg(json!({"repo_key": KEY, "repo_key_fingerprint": KEY_FPR}));
    let mut f = fresh(&c);
    f.packages.insert(
        "docker.io".into(),
        PackageState {
            installed: true,
            version: "20.10.24".into(),
            status: "ii".into(),
        },
    );
    let e = try_plan(&c, &f).unwrap_err();
    assert!(
        e.0.contains("docker.io installed") && e.0.contains("apt-get remove docker.io"),
        "{e}"
    );
    let d = distro();
    let mut f = fresh(&d);
    f.packages.insert(
        "docker-ce".into(),
        PackageState {
            installed: true,
            version: "5:27.0".into(),
            status: "ii".into(),
        },
    );
    let e = try_plan(&d, &f).unwrap_err();
    assert!(
        e.0.contains("docker-ce installed") && e.0.contains("source = \"official\""),
        "{e}"
    );
}

#[test]
fn unknown_distributions_need_a_repo_url_or_distro() {
    let c = Config::default();
    let mut f = fresh(&c);
    f.host.os_id = "fedora".into();
    assert!(try_plan(&c, &f).unwrap_err().0.contains("repo_url"));
    f.host.os_id = "debian".into();
    f.host.os_codename = String::new();
    assert!(try_plan(&c, &f).unwrap_err().0.contains("suite"));
    let mut f = fresh(&distro());
    f.host.os_id = "fedora".into();
    assert!(
        try_plan(&distro(), &f).is_ok(),
        "distro needs no repository"
    );
}

#[test]
fn config_errors_name_the_field() {
    let role = role();
    let cases: &[(Value, &str, &str)] = &[
        (
            json!({"daemon": {"extra": {"live-restor": true}}}),
            "daemon.extra.live-restor",
            "did you mean `live-restore`? set it with daemon.live_restore",
        ),
        (
            json!({"daemon": {"extra": {"icc2": true}}}),
            "daemon.extra.icc2",
            "unknown daemon.json key",
        ),
        (
            json!({"daemon": {"extra": {"live-restore": false}}}),
            "daemon.extra.live-restore",
            "daemon.live_restore",
        ),
        (
            json!({"daemon": {"extra": {"hosts": ["tcp://0.0.0.0:2375"]}}}),
            "daemon.extra.hosts",
            "-H fd://",
        ),
        (
            json!({"daemon": {"log_max_size": "10 MB"}}),
            "daemon.log_max_size",
            "invalid size",
        ),
        (
            json!({"daemon": {"log_max_file": 0}}),
            "daemon.log_max_file",
            "at least 1",
        ),
        (
            json!({"daemon": {"nofile": {"soft": 70000, "hard": 65536}}}),
            "daemon.nofile",
            "soft",
        ),
        (
            json!({"daemon": {"nofile": {"soft": 1}}}),
            "daemon.nofile",
            "missing field `hard`",
        ),
        (
            json!({"daemon": {"live_restor": true}}),
            "daemon.live_restor",
            "unknown field `live_restor`",
        ),
        (json!({"users": ["Bad User"]}), "users[0]", "invalid user"),
        (json!({"repo_key": "AAAA"}), "repo_key", "ASCII-armored"),
        (json!({"repo_url": "ftp://x"}), "repo_url", "invalid URL"),
        (
            json!({"repo_url": "http://mirror.example/docker"}),
            "repo_url",
            "plain http",
        ),
        (
            json!({"repo_key_url": "HTTP://mirror.example/gpg"}),
            "repo_key_url",
            "use its https:// address",
        ),
        (
            json!({"repo_key": KEY}),
            "repo_key",
            "the key's fingerprint is 900EBB8E9583D51587287703E832B19B3349C818, but repo_key_fingerprint is 9DC858229FC7DD38854AE2D88D81803C0EBFCD88",
        ),
        (
            json!({"repo_key": KEY.replace("mQENBGsQ", "mQENBGsR"), "repo_key_fingerprint": KEY_FPR}),
            "repo_key",
            "checksum",
        ),
        (
            json!({"repo_key_url": "https://x/a b"}),
            "repo_key_url",
            "invalid URL",
        ),
        (
            json!({"repo_key_fingerprint": "1234"}),
            "repo_key_fingerprint",
            "40-digit",
        ),
        (json!({"source": "snap"}), "source", "unknown variant"),
        (json!({"suite": "book worm"}), "suite", "invalid suite"),
    ];
    for (value, path, text) in cases {
        let e = role.configure(value.clone()).unwrap_err();
        assert_eq!(
            (e.path.as_str(), e.message.contains(text)),
            (*path, true),
            "{value}: {e}"
        );
    }
}

#[test]
fn defaults_are_the_seeds() {
    let d = role().defaults();
    assert_eq!(d["source"], "official");
    assert_eq!(d["users"], json!(["fleetclaw"]));
    assert_eq!(d["daemon"]["nofile"], json!({"soft": 65536, "hard": 65536}));
    assert!(role().configure(d).is_ok());
}

#[test]
fn checks_are_named_controls() {
    let c = distro();
    let checks = c.checks();
    let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "docker.service",
            "docker.daemon-json",
            "docker.logging-driver",
            "docker.live-restore",
            "docker.config-loaded",
            "docker.group.fleetclaw"
        ]
    );
    assert_eq!(checks[1].expect, Expect::Equals(c.daemon.render()));
    assert_eq!(
        checks[2].expect,
        Expect::Line("Logging Driver: json-file".into())
    );
    assert_eq!(
        checks[3].expect,
        Expect::Line("Live Restore Enabled: true".into())
    );
    // The config-loaded check, run with fake tools: dockerd started 100 s ago.
    let loaded = &checks[4];
    // The facts of a dockerd whose main process is `pid`, started at @999900 (`None`: no
    // start time), and of a daemon.json last changed at `mtime`.
    let facts = |pid: &str, started: Option<&str>, mtime: i64| {
        let mut f = rampart_core::facts::Facts::default();
        let mut u = rampart_core::facts::UnitState::default();
        u.props.insert("MainPID".into(), pid.into());
        if let Some(t) = started {
            u.props.insert("ExecMainStartTimestamp".into(), t.into());
        }
        f.units.insert("docker.service".into(), u);
        f.mtimes.insert(DAEMON_JSON.into(), mtime);
        f
    };
    let run = |mtime: u64| {
        let fakes = format!(
            "systemctl() {{ echo 4242; }}\nps() {{ echo 100; }}\ndate() {{ echo 1000000; }}\nstat() {{ echo {mtime}; }}\n"
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{fakes}{}", loaded.command))
            .output()
            .expect("sh");
        let output = String::from_utf8_lossy(&out.stdout).into_owned();
        // The controller judges the unit's start and the file's mtime from the facts.
        let f = facts("4242", Some("@999900"), mtime as i64);
        rampart_core::testing::assert_answers_as_shell(loaded, &f, &output);
        loaded
            .judge(Some(&rampart_core::facts::CommandResult { rc: 0, output }))
            .pass
    };
    assert!(run(999_000), "file older than the daemon");
    assert!(run(999_900), "file written in the daemon's first second");
    assert!(!run(999_950), "file changed after the daemon started");
    // Not running: no main process, or no start time.
    for f in [facts("0", Some("@999900"), 1), facts("4242", None, 1)] {
        let v = loaded.judge_facts(&f);
        assert!(
            !v.pass && v.evidence == "FAIL: dockerd is not running",
            "{v:?}"
        );
    }
    let mut req = rampart_core::facts::FactRequest::new();
    loaded.request(&mut req);
    assert!(req.commands.is_empty() && req.stats.contains(DAEMON_JSON));
    assert!(req.unit_props["docker.service"].contains("ExecMainStartTimestamp"));
    let off =
        cfg(json!({"daemon": {"live_restore": false, "no_new_privileges": false}, "users": []}));
    assert_eq!(off.checks().len(), 4);
}

/// The host's whole download step, run here with a stand-in for curl: a key with the expected
/// fingerprint lands in the keyring; any other download fails naming both fingerprints and
/// leaves neither a keyring nor a temp file.
#[cfg(unix)]
#[test]
fn the_fetched_key_is_installed_only_with_the_expected_fingerprint() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let curl = bin.join("curl");
    std::fs::write(
        &curl,
        "#!/bin/sh\nwhile [ $# -gt 0 ]; do [ \"$1\" = -o ] && out=$2; shift; done\ncat \"$SERVED\" >\"$out\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&curl, std::fs::Permissions::from_mode(0o755)).unwrap();
    let keyrings = dir.path().join("keyrings");
    let other = include_str!("../testdata/ed25519.asc");
    for (served, ok) in [(KEY, true), (other, false), ("<html>moved</html>\n", false)] {
        let _ = std::fs::remove_dir_all(&keyrings);
        std::fs::create_dir(&keyrings).unwrap();
        let page = dir.path().join("served");
        std::fs::write(&page, served).unwrap();
        let c = cfg(json!({"repo_key_fingerprint": KEY_FPR}));
        let run = c
            .fetch_key("https://mirror.example/gpg")
            .run
            .replace(KEYRINGS, keyrings.to_str().unwrap());
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&run)
            .env("SERVED", &page)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let installed: Vec<String> = std::fs::read_dir(&keyrings)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        if ok {
            assert!(out.status.success(), "{stderr}");
            assert_eq!(installed, ["docker.asc"]);
            assert_eq!(
                std::fs::read_to_string(keyrings.join("docker.asc")).unwrap(),
                KEY
            );
        } else {
            assert!(!out.status.success());
            assert!(installed.is_empty(), "{installed:?}");
            assert!(stderr.contains("https://mirror.example/gpg"), "{stderr}");
            if served == other {
                assert!(
                    stderr.contains("has fingerprint 50A69C1162CA85F1706E39BC17A4D598D78D1A0E")
                        && stderr.contains(&format!("expected {KEY_FPR}")),
                    "{stderr}"
                );
            } else {
                assert!(stderr.contains("did not return"), "{stderr}");
            }
        }
    }
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

/// The distribution's docker client step and the daemon.json check (`scripts/distro_cli.sh`,
/// `checks/daemon_json.sh`) under dash, each branch.
#[test]
fn distro_cli_installs_only_without_a_client_and_fails_with_apt() {
    let Some(mut sh) = rampart_shtest::Sh::new() else {
        return;
    };
    sh.bare_path();
    let run = Config::distro_cli().run;
    // A client on PATH: nothing installed.
    sh.stub("docker", 0).stub("apt-get", 0);
    assert!(sh.run(&run, &[]).ok());
    assert_eq!(sh.calls(), Vec::<String>::new());
    // No client: the package is installed; apt-get's failure is the step's.
    if ["/usr/bin/docker", "/bin/docker"]
        .iter()
        .any(|p| std::path::Path::new(p).exists())
    {
        eprintln!("SKIPPED: this machine has a docker client in /usr/bin or /bin");
        return;
    }
    std::fs::remove_file(std::path::Path::new(&sh.bin()).join("docker")).expect("rm stub");
    assert!(sh.run(&run, &[]).ok());
    assert_eq!(
        sh.calls(),
        ["apt-get -q -o DPkg::Lock::Timeout=120 install -y --no-install-recommends docker-cli"]
    );
    sh.stub("apt-get", 100);
    assert_eq!(sh.run(&run, &[]).status, 100);
}

#[test]
fn the_daemon_json_check_reads_the_file_on_the_host() {
    let Some(sh) = rampart_shtest::Sh::new() else {
        return;
    };
    let c = cfg(json!({}));
    let check = c
        .checks()
        .into_iter()
        .find(|k| k.id == "docker.daemon-json")
        .expect("check");
    let path = sh.path(DAEMON_JSON);
    let command = check.command.replace(DAEMON_JSON, &path);
    let judge = |out: rampart_shtest::Out| {
        check
            .judge(Some(&rampart_core::facts::CommandResult {
                rc: out.status,
                output: out.stdout_str(),
            }))
            .pass
    };
    // Missing: cat fails, the check fails.
    let out = sh.run_check(&command);
    assert!(!out.ok() && out.stderr.contains("No such file"), "{out:?}");
    assert!(!judge(out));
    sh.write(DAEMON_JSON, "{}\n");
    assert!(!judge(sh.run_check(&command)));
    sh.write(DAEMON_JSON, c.daemon.render());
    assert!(judge(sh.run_check(&command)));
}
