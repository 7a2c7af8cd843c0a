//! One host can harm only itself (issue 18): a hostile host cannot plant facts another host is
//! then planned with (the fact cache), and one host whose plan would cut rampart off stops the
//! fleet only as long as the operator wants it to (`--exclude-refused`). Hosts h39 and h40
//! (tests/util/HOSTS.md); both tests use both, so they take turns.

mod util;

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use util::{Lab, host, rampart_bin};

/// Both tests own h39 and h40: one at a time.
static HOSTS: Mutex<()> = Mutex::new(());

/// The lab's ed25519 key of a host, as `type base64`.
fn host_key(lab: &Lab, h: &str) -> String {
    let key = lab.sh(h, "cat /etc/ssh/ssh_host_ed25519_key.pub");
    key.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// `rampart ARGS --json` with the fact cache in `cache`: (exit code, report).
fn run(cache: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(rampart_bin())
        .args(args)
        .arg("--json")
        .env("NO_COLOR", "1")
        .env("RAMPART_CACHE_DIR", cache)
        .output()
        .expect("run rampart");
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "rampart {args:?}: no JSON ({e}); exit {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), doc)
}

/// Every `sshd` fingerprint remembered in the cache directory.
fn cached_sshd_fps(cache: &Path) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(fp) = m.get("sshd").and_then(|s| s["fp"].as_str()) {
                    out.push(fp.to_owned());
                }
                m.values().for_each(|v| walk(v, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(cache.join("facts")).expect("the fact cache exists") {
        let text = std::fs::read(e.expect("entry").path()).expect("read cache file");
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&text) {
            walk(&v, &mut out);
        }
    }
    out
}

/// sshd settings that need no AllowUsers line of the role's own, so the preflight reads the
/// host's effective AllowUsers (from `sshd -T`, the cached answer), and that keep root in.
const SSHD_OPEN: &str = r#"
[[play]]
hosts = "lab"
roles = ["sshd"]

[roles.sshd]
allow_users = []
permit_root_login = "prohibit-password"
"#;

/// Finding 4: two inventory hosts at the same address (127.0.0.1, each behind its own bastion:
/// h39 and h40). The hostile one (h40) answers the probe with the victim's stat fingerprint and
/// a forged `sshd -T` (`allowusers nobody`). Were the cache keyed by address, the victim would
/// answer `@cached` to that forged answer and its apply would be refused for an AllowUsers it
/// does not have; keyed by name, route and verified host key, the victim is planned with its
/// own answer and applies.
#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn a_hostile_host_cannot_plant_cached_facts_for_another_host_at_the_same_address() {
    let _turn = HOSTS.lock().unwrap_or_else(|p| p.into_inner());
    let lab = Lab::get();
    lab.reset(&["h39", "h40"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("cache");
    let kh = dir.path().join("known_hosts");
    let lab_kh = std::fs::read_to_string(lab.dir.join("known_hosts")).expect("lab known_hosts");
    std::fs::write(
        &kh,
        format!(
            "{lab_kh}127.0.0.1 {}\n127.0.0.1 {}\n",
            host_key(&lab, "h39"),
            host_key(&lab, "h40")
        ),
    )
    .expect("write known_hosts");
    let inv = dir.path().join("inventory.toml");
    std::fs::write(
        &inv,
        format!(
            "[defaults]\nuser = \"root\"\nport = 22\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n\n\
             [hosts.victim]\naddress = \"127.0.0.1\"\nbastion = \"root@{}\"\n\n\
             [hosts.hostile]\naddress = \"127.0.0.1\"\nbastion = \"root@{}\"\n\n\
             [groups.lab]\nhosts = [\"victim\", \"hostile\"]\n",
            lab.dir.join("id_lab").display(),
            kh.display(),
            lab.address("h39"),
            lab.address("h40"),
        ),
    )
    .expect("write inventory");
    let site = dir.path().join("site.toml");
    std::fs::write(&site, SSHD_OPEN).expect("write site");
    let (i, s) = (inv.to_str().expect("utf-8"), site.to_str().expect("utf-8"));

    // The victim is probed first: its genuine answer and fingerprint are remembered.
    let (code, doc) = run(&cache, &["check", "-i", i, s, "--limit", "victim"]);
    assert_eq!(code, 5, "{}", util::brief(&doc));
    let fps = cached_sshd_fps(&cache);
    assert_eq!(fps.len(), 1, "one remembered sshd answer: {fps:?}");
    let victim_fp = &fps[0];

    // h40 turns hostile: every command's output passes a filter that gives its sshd section
    // the victim's fingerprint and an AllowUsers the victim does not have.
    let esc = victim_fp
        .replace('\\', "\\\\")
        .replace('#', "\\#")
        .replace('&', "\\&");
    std::fs::write(
        dir.path().join("hostile.sed"),
        format!(
            "s#^@fp .*/usr/sbin/sshd.*$#@fp {esc}#\ns#^permitrootlogin .*$#allowusers nobody\\n&#\n"
        ),
    )
    .expect("write sed script");
    let sed = std::fs::read_to_string(dir.path().join("hostile.sed")).expect("read");
    lab.sh(
        "h40",
        &format!(
            "cat >/usr/local/lib/hostile.sed <<'EOF'\n{sed}EOF\n\
             printf '#!/bin/sh\\nsh -c \"$SSH_ORIGINAL_COMMAND\" | sed -f /usr/local/lib/hostile.sed\\n' >/usr/local/bin/hostile\n\
             chmod 755 /usr/local/bin/hostile\n\
             echo 'ForceCommand /usr/local/bin/hostile' >>/etc/ssh/sshd_config\n\
             systemctl reload ssh"
        ),
    );
    let (code, doc) = run(&cache, &["check", "-i", i, s, "--limit", "hostile"]);
    assert!(
        code == 0 || code == 5,
        "the hostile host answers: {}",
        util::brief(&doc)
    );
    let planted = std::fs::read_dir(cache.join("facts"))
        .expect("cache dir")
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .any(|t| t.contains(victim_fp.as_str()) && t.contains("allowusers nobody"));
    assert!(planted, "the hostile host's forged answer was remembered");

    // The victim again: it must be planned with its own answer, not the planted one.
    let before = lab.state_hash("h39");
    let (code, doc) = run(
        &cache,
        &[
            "apply",
            "-i",
            i,
            s,
            "--limit",
            "victim",
            "--confirm-timeout",
            "30",
        ],
    );
    let r = host(&doc, "victim");
    assert_eq!(
        code, 0,
        "the victim was planned with the hostile host's forged facts: {}",
        r["error"]
    );
    assert!(r["changed"].as_u64().unwrap_or(0) > 0, "{r}");
    assert_ne!(before, lab.state_hash("h39"), "the victim was hardened");
    let (_, allow) = lab.exec("h39", "sshd -T | grep -i '^allowusers' || true");
    assert_eq!(allow.trim(), "", "the victim never had an AllowUsers");
}

/// Finding 11: one host whose plan would cut rampart off refuses the run by default, and every
/// host's error names that host and why on one line; `--exclude-refused` leaves that host alone
/// (reported failed with its reason, exit 3) and hardens the other.
#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn one_cut_host_refuses_the_run_unless_excluded() {
    let _turn = HOSTS.lock().unwrap_or_else(|p| p.into_inner());
    let lab = Lab::get();
    let (cut, healthy) = ("h39", "h40");
    lab.reset(&[cut, healthy]);
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("cache");
    let inv = lab.inventory(dir.path(), &[cut, healthy], "root");
    let mut text = std::fs::read_to_string(&inv).expect("read inventory");
    // h39's settings would shut out root, the user rampart logs in as.
    text.push_str(&format!(
        "\n[hosts.{cut}.vars.sshd]\nallow_users = [\"fleetclaw\"]\nallow_lockout = true\n"
    ));
    std::fs::write(&inv, text).expect("write inventory");
    let site = dir.path().join("site.toml");
    std::fs::write(&site, SSHD_OPEN).expect("write site");
    let (i, s) = (inv.to_str().expect("utf-8"), site.to_str().expect("utf-8"));

    let before = [lab.state_hash(cut), lab.state_hash(healthy)];
    let (code, doc) = run(&cache, &["apply", "-i", i, s, "--confirm-timeout", "30"]);
    assert_eq!(code, 3, "{}", util::brief(&doc));
    let err = host(&doc, cut)["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.contains("preflight refused")
            && first.contains("AllowUsers")
            && first.contains("`root`"),
        "the cut host's first line says why: {err}"
    );
    let other = host(&doc, healthy)["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(other.lines().count(), 1, "one line: {other}");
    assert!(
        other.contains(cut) && other.contains("AllowUsers") && other.contains("--exclude-refused"),
        "the other host's line names the cut host, why, and the way out: {other}"
    );
    for h in [cut, healthy] {
        assert_eq!(host(&doc, h)["changed"], 0, "{}", util::brief(&doc));
    }
    assert_eq!(
        before,
        [lab.state_hash(cut), lab.state_hash(healthy)],
        "nothing changes on any host by default"
    );

    let (code, doc) = run(
        &cache,
        &[
            "apply",
            "-i",
            i,
            s,
            "--exclude-refused",
            "--confirm-timeout",
            "30",
        ],
    );
    assert_eq!(
        code,
        3,
        "the excluded host is a failure: {}",
        util::brief(&doc)
    );
    let r = host(&doc, cut);
    let err = r["error"].as_str().unwrap_or_default();
    assert!(
        err.lines()
            .next()
            .unwrap_or_default()
            .contains("AllowUsers")
            && err.contains("--exclude-refused"),
        "{err}"
    );
    assert_eq!(r["error_kind"], "preflight", "{r}");
    assert_eq!(r["changed"], 0, "{r}");
    assert_eq!(before[0], lab.state_hash(cut), "the cut host is untouched");
    let r = host(&doc, healthy);
    assert!(r["error"].is_null(), "{r}");
    assert!(r["changed"].as_u64().unwrap_or(0) > 0, "{r}");
    assert_ne!(
        before[1],
        lab.state_hash(healthy),
        "the healthy host was hardened"
    );

    // The same in a rolling apply: the cut host is refused, the healthy one goes in a wave.
    lab.reset(&[healthy]);
    let (code, doc) = run(
        &cache,
        &[
            "apply",
            "-i",
            i,
            s,
            "--rolling",
            "--exclude-refused",
            "--confirm-timeout",
            "30",
        ],
    );
    assert_eq!(code, 3, "{}", util::brief(&doc));
    assert_eq!(host(&doc, cut)["error_kind"], "preflight");
    assert_eq!(host(&doc, cut)["changed"], 0);
    assert_eq!(before[0], lab.state_hash(cut), "the cut host is untouched");
    let r = host(&doc, healthy);
    assert!(r["error"].is_null(), "{r}");
    assert!(r["changed"].as_u64().unwrap_or(0) > 0, "{r}");
}

/// The Docker role's host-side key check (finding 11) on a real host, with nothing but the
/// tools it names on PATH (no gpg): the fingerprint it computes is the one gpg gives, and a
/// page that is not a key gives none.
#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn the_docker_key_check_runs_on_a_host_without_gpg() {
    let _turn = HOSTS.lock().unwrap_or_else(|p| p.into_inner());
    let lab = Lab::get();
    lab.reset(&["h39"]);
    // Only these, from the host's coreutils and awk: the script may use nothing else.
    lab.sh(
        "h39",
        "mkdir -p /tmp/only && for c in awk tr base64 od tail head sha1sum; do ln -sf \"$(command -v $c)\" /tmp/only/$c; done",
    );
    let script = rampart_role_docker::openpgp::fingerprint_script();
    for (key, want) in [
        (
            include_str!("../roles/docker/testdata/rsa2048.asc"),
            "900EBB8E9583D51587287703E832B19B3349C818",
        ),
        (
            include_str!("../roles/docker/testdata/ed25519.asc"),
            "50A69C1162CA85F1706E39BC17A4D598D78D1A0E",
        ),
        ("<html>302 Found</html>\n", ""),
    ] {
        std::fs::write(lab.dir.join("hosts/h39/merged/root/key.asc"), key).expect("write key");
        let out = lab.sh(
            "h39",
            &format!(
                "t=/root/key.asc b=/root/key.bin PATH=/tmp/only\n{script}\nprintf '%s' \"$f\""
            ),
        );
        assert_eq!(out, want);
    }
}
