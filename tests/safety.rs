//! Lockout-proof apply against real hosts: the preflight refuses a plan that would shut rampart
//! out (and nothing changes anywhere), the dead-man switch rolls back a lockout the preflight
//! was told to ignore, and a host whose link dies mid-run is unreachable while the others
//! finish, with and without the CIS baseline. Hosts h17 - h24, h38, h57 (Debian 12), h26, h27, h58
//! (Debian 13), h29, h30, h59 (Ubuntu 24.04-like):
//! tests/util/HOSTS.md.

mod util;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use util::{Lab, host, rampart_bin, rampart_json};

fn site(dir: &Path, text: &str) -> String {
    let p = dir.join("site.toml");
    std::fs::write(&p, text).expect("write site");
    p.to_str().expect("utf-8").to_owned()
}

const LOCKOUT_SITE: &str = r#"
[[play]]
hosts = "lab"
roles = ["sshd"]

[roles.sshd]
allow_users = ["fleetclaw", "ubuntu"]
permit_root_login = "prohibit-password"
# The role refuses this lockout by itself; say it is intended, so the engine's fleet-wide
# preflight (and then the dead-man switch) is what stands in the way.
allow_lockout = true
"#;

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn preflight_refuses_allow_users_without_the_connecting_user_and_changes_nothing() {
    let lab = Lab::get();
    // Every host kind: Debian 12 (h17, h18), Debian 13 (h26), Ubuntu 24.04-like (h29).
    let hosts = ["h17", "h18", "h26", "h29"];
    // A bystander with nothing to change: its AllowUsers keeps `lab`, and it converged first.
    let bystander = "h24";
    let all = ["h17", "h18", "h26", "h29", bystander];
    lab.reset(&all);
    let dir = tempfile::tempdir().expect("tempdir");
    let inv = lab.inventory(dir.path(), &all, "lab");
    let mut text = std::fs::read_to_string(&inv).expect("read inventory");
    text.push_str(&format!(
        "\n[hosts.{bystander}.vars.sshd]\nallow_users = [\"fleetclaw\", \"ubuntu\", \"lab\"]\n"
    ));
    std::fs::write(&inv, text).expect("write inventory");
    let i = inv.to_str().expect("utf-8");
    let site = site(dir.path(), LOCKOUT_SITE);
    let (code, doc) = rampart_json(&["apply", "-i", i, &site, "--limit", bystander]);
    assert_eq!(code, 0, "{}", util::brief(&doc));
    let before: Vec<String> = all.iter().map(|h| lab.state_hash(h)).collect();
    let (code, doc) = rampart_json(&["apply", "-i", i, &site]);
    assert_eq!(code, 3, "{}", util::brief(&doc));
    for h in hosts {
        let r = host(&doc, h);
        let err = r["error"].as_str().unwrap_or_default();
        assert!(err.contains("preflight refused"), "{err}");
        assert!(
            err.contains("AllowUsers") && err.contains("`lab`"),
            "the cut must name the setting and the user: {err}"
        );
        assert_eq!(r["changed"], 0);
    }
    // The converged host had nothing to apply: it was finished as soon as it was staged (one
    // connection, one round trip) and is reported converged, whatever the others' cuts decide.
    let r = host(&doc, bystander);
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["changed"], 0, "{r}");
    assert_eq!(
        (r["connections"].as_u64(), r["round_trips"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );
    let after: Vec<String> = all.iter().map(|h| lab.state_hash(h)).collect();
    assert_eq!(
        before, after,
        "no host may change when the preflight refuses"
    );
}

/// The dead-man switch on host `h`: a lockout the preflight was told to ignore is rolled back
/// by the host itself, and a fresh login works again.
fn dead_man_rolls_back_a_lockout(h: &str) {
    let lab = Lab::get();
    lab.reset(&[h]);
    let dir = tempfile::tempdir().expect("tempdir");
    let inv = lab.inventory(dir.path(), &[h], "lab");
    let i = inv.to_str().expect("utf-8");
    let site = site(dir.path(), LOCKOUT_SITE);
    let root_mode = lab.sh(h, "stat -c %a /");
    let t = std::time::Instant::now();
    let (code, doc) = rampart_json(&[
        "apply",
        "-i",
        i,
        &site,
        "--skip-preflight",
        "--confirm-timeout",
        "10",
    ]);
    let took = t.elapsed();
    assert_eq!(code, 3, "{}", util::brief(&doc));
    let r = host(&doc, h);
    assert_eq!(r["rolled_back"], true, "{r}");
    assert!(
        r["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("rolled back"),
        "{r}"
    );
    assert!(
        took < Duration::from_secs(60),
        "the rollback must come within the configured delay: {took:?}"
    );
    // The host restored itself: the drop-in is gone, sshd allows lab again, a fresh login works.
    assert_eq!(
        lab.exec(h, "test -e /etc/ssh/sshd_config.d/00-rampart.conf")
            .0,
        1
    );
    assert!(!lab.sh(h, "sshd -T").contains("allowusers"));
    assert_eq!(
        lab.sh(h, "stat -c %a /"),
        root_mode,
        "restoring must not touch parent directories"
    );
    lab.sshd_back_on_its_socket(h);
    let (code, doc) = rampart_json(&["ping", "-i", i]);
    assert_eq!(code, 0, "a fresh login works after the rollback: {doc}");
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn the_dead_man_switch_rolls_back_a_lockout() {
    dead_man_rolls_back_a_lockout("h19");
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn the_dead_man_switch_rolls_back_a_lockout_on_debian_13() {
    dead_man_rolls_back_a_lockout("h27");
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn the_dead_man_switch_rolls_back_a_lockout_on_the_socket_activated_ubuntu_host() {
    dead_man_rolls_back_a_lockout("h30");
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn a_host_whose_link_is_cut_mid_run_is_unreachable_and_the_others_finish() {
    let lab = Lab::get();
    let hosts = ["h20", "h21", "h22"];
    lab.reset(&hosts);
    let dir = tempfile::tempdir().expect("tempdir");
    let inv = lab.inventory(dir.path(), &hosts, "root");
    // Make h22 slow, so the cut lands while rampart is working on it.
    let site = site(dir.path(), "[[play]]\nhosts = \"lab\"\nroles = [\"ufw\"]\n");
    lab.sh("h22", "mkdir -p /etc/ufw && cp /usr/sbin/ufw /usr/local/sbin/ufw.real 2>/dev/null; printf '#!/bin/sh\\nsleep 4\\nexec /usr/sbin/ufw \"$@\"\\n' > /usr/local/sbin/ufw && chmod 755 /usr/local/sbin/ufw");
    let child = Command::new(rampart_bin())
        .args([
            "apply",
            "-i",
            inv.to_str().expect("utf-8"),
            &site,
            "--connect-timeout",
            "3",
            "--json",
        ])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn rampart");
    std::thread::sleep(Duration::from_millis(1500));
    let down = Command::new("ip")
        .args(["link", "set", "rp-h22", "down"])
        .status()
        .expect("ip");
    assert!(down.success());
    let out = child.wait_with_output().expect("wait rampart");
    let up = Command::new("ip")
        .args(["link", "set", "rp-h22", "up"])
        .status()
        .expect("ip");
    assert!(up.success());
    lab.sh("h22", "rm -f /usr/local/sbin/ufw /usr/local/sbin/ufw.real");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        out.status.code(),
        Some(4),
        "exit 4: a host was unreachable, none failed: {doc}"
    );
    let cut = host(&doc, "h22");
    assert_eq!(cut["unreachable"], true, "{cut}");
    for h in ["h20", "h21"] {
        let r = host(&doc, h);
        assert_eq!(r["unreachable"], false, "{r}");
        assert!(r["error"].is_null(), "{r}");
        assert!(r["changed"].as_u64().unwrap_or(0) > 0, "{r}");
        assert!(
            r["seconds"].as_f64().unwrap_or(99.0) < 20.0,
            "{h} must not wait for the dead host: {r}"
        );
    }
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn two_runs_at_once_the_second_refuses_the_host_lock() {
    let lab = Lab::get();
    lab.reset(&["h23"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let inv = lab.inventory(dir.path(), &["h23"], "root");
    let site = site(dir.path(), "[[play]]\nhosts = \"lab\"\nroles = [\"ufw\"]\n");
    // Hold the lock as another run would, then try to apply: refused, nothing changed.
    lab.sh(
        "h23",
        "mkdir /run/rampart.lock && echo 'other@laptop pid 1 run x' > /run/rampart.lock/owner",
    );
    let before = lab.state_hash("h23");
    let (code, doc) = rampart_json(&["apply", "-i", inv.to_str().expect("utf-8"), &site]);
    assert_eq!(code, 3, "{}", util::brief(&doc));
    let r = host(&doc, "h23");
    let err = r["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("locked by another rampart run") && err.contains("other@laptop"),
        "{err}"
    );
    assert_eq!(r["error_kind"], "locked");
    assert_eq!(
        lab.state_hash("h23"),
        before,
        "a refused run changes nothing"
    );
    // Released: the next run takes the lock, converges, and gives it back.
    lab.sh("h23", "rm -rf /run/rampart.lock");
    let (code, doc) = rampart_json(&["apply", "-i", inv.to_str().expect("utf-8"), &site]);
    assert_eq!(code, 0, "{}", util::brief(&doc));
    assert_eq!(
        lab.exec("h23", "test -e /run/rampart.lock").0,
        1,
        "the lock is released at the end of the run"
    );
}

/// Issue 18, finding 9, on a real host with systemd's timer: the confirmation arrives while
/// the restore runs (a slow `tar` in /usr/local/sbin, first on the unit's PATH). The disarm
/// waits for it and reports it, and the snapshot is not removed under it. Then a confirmation
/// in time: disarmed, and nothing is restored after the timer would have fired. Host: h38.
#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn a_confirmation_during_the_restore_waits_for_it_on_h38() {
    use rampart_core::rollback::{arm_script, disarm_script};
    let lab = Lab::get();
    lab.reset(&["h38"]);
    let conf = "/etc/rampart-confirm-race.conf";
    lab.sh(
        "h38",
        &format!(
            "echo before > {conf}; printf '#!/bin/sh\\nsleep 3\\nexec /usr/bin/tar \"$@\"\\n' > /usr/local/sbin/tar; chmod 755 /usr/local/sbin/tar"
        ),
    );
    let armed = lab.sh("h38", &arm_script("race1", &[conf.to_owned()], 1, "M"));
    assert!(armed.contains("@@M armed"), "{armed}");
    lab.sh("h38", &format!("echo after > {conf}"));
    lab.wait_for("h38", "test -d /var/lib/rampart/rollback/race1/claimed", 20);
    let t = std::time::Instant::now();
    let said = lab.sh("h38", &disarm_script("race1", "M"));
    assert!(
        said.contains("@@M too-late") && !said.contains("disarmed"),
        "{said}"
    );
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "it waited for the restore"
    );
    assert_eq!(
        lab.sh(
            "h38",
            &format!(
                "cat {conf}; test -e /var/lib/rampart/rollback/race1/rolled-back && echo marked"
            )
        ),
        "before\nmarked\n"
    );

    lab.sh("h38", "rm -f /usr/local/sbin/tar");
    let armed = lab.sh("h38", &arm_script("race2", &[conf.to_owned()], 3, "M"));
    assert!(armed.contains("@@M armed"), "{armed}");
    lab.sh("h38", &format!("echo confirmed > {conf}"));
    let said = lab.sh("h38", &disarm_script("race2", "M"));
    assert!(said.contains("@@M disarmed"), "{said}");
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        lab.sh("h38", &format!("cat {conf}; ls /var/lib/rampart/rollback")),
        "confirmed\nrace1\n"
    );
}

/// Issue 15: the lockout guards hold with the CIS baseline on. The lockout above, in a site
/// that also turns on `cis-l1-server` (whose own sshd drop-in, PAM and sudoers changes are risk
/// Access too): the preflight refuses every host and nothing changes anywhere; told to skip the
/// preflight, each host rolls the lockout back by itself before any baseline change is made, and
/// a fresh login works. Debian 12 (h57), Debian 13 (h58), the Ubuntu 24.04-like host (h59).
#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn the_lockout_guards_hold_with_the_cis_baseline_on() {
    let lab = Lab::get();
    let hosts = ["h57", "h58", "h59"];
    lab.reset(&hosts);
    let dir = tempfile::tempdir().expect("tempdir");
    let inv = lab.inventory(dir.path(), &hosts, "lab");
    let i = inv.to_str().expect("utf-8");
    let site = site(
        dir.path(),
        &format!("[baseline]\nprofile = \"cis-l1-server\"\n{LOCKOUT_SITE}"),
    );
    let before: Vec<String> = hosts.iter().map(|h| lab.state_hash(h)).collect();
    let (code, doc) = rampart_json(&["apply", "-i", i, &site]);
    assert_eq!(code, 3, "{}", util::brief(&doc));
    for h in hosts {
        let r = host(&doc, h);
        let err = r["error"].as_str().unwrap_or_default();
        assert!(
            err.contains("preflight refused")
                && err.contains("AllowUsers")
                && err.contains("`lab`"),
            "{h}: {err}"
        );
        assert_eq!(r["changed"], 0, "{r}");
    }
    let after: Vec<String> = hosts.iter().map(|h| lab.state_hash(h)).collect();
    assert_eq!(
        before, after,
        "no host may change when the preflight refuses"
    );

    let (code, doc) = rampart_json(&[
        "apply",
        "-i",
        i,
        &site,
        "--skip-preflight",
        "--confirm-timeout",
        "10",
    ]);
    assert_eq!(code, 3, "{}", util::brief(&doc));
    for h in hosts {
        let r = host(&doc, h);
        assert_eq!(r["rolled_back"], true, "{h}: {r}");
        assert_eq!(
            lab.exec(
                h,
                "test -e /etc/ssh/sshd_config.d/00-rampart.conf || test -e /etc/ssh/sshd_config.d/10-rampart-baseline.conf"
            )
            .0,
            1,
            "{h}: the lockout is restored and no baseline drop-in was written"
        );
        assert!(!lab.sh(h, "sshd -T").contains("allowusers"), "{h}");
        lab.sshd_back_on_its_socket(h);
    }
    let (code, doc) = rampart_json(&["ping", "-i", i]);
    assert_eq!(
        code, 0,
        "a fresh login works on every host after the rollback: {doc}"
    );
}
