//! `rampart audit` against real hosts: fresh hosts fail most controls, the audit writes nothing,
//! after an apply every control passes on every host, one control broken by hand is exactly one
//! failing cell (and the only thing `--baseline` calls worse), the HTML report loads in headless
//! Chromium with the right matrix, and a rogue listener behind a firewall disabled by hand is
//! found by the port probe from the controller. Hosts: h11, h12 (tests/util/HOSTS.md).
//!
//! The site is the full FleetClaw example (`examples/fleetclaw/site.toml` with its
//! `lab-vars.toml`), as `tests/site.rs` runs it, on hosts reset able to run Docker.

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use util::{Lab, control, host, rampart, rampart_bin, rampart_json};

const HOSTS: [&str; 2] = ["h11", "h12"];

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// An inventory of h11 and h12 in group `fleet` with the example's lab variables, age-encrypted
/// Redis passwords, and the flags that find them: (inventory, site, secrets flags).
fn setup(lab: &Lab, dir: &Path) -> (String, String, Vec<String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut inv = format!(
        "[defaults]\nuser = \"lab\"\nbecome = true\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n\n",
        lab.dir.join("id_lab").display(),
        lab.dir.join("known_hosts").display()
    );
    for h in HOSTS {
        inv.push_str(&format!(
            "[hosts.{h}]\naddress = \"{}\"\n\n",
            lab.address(h)
        ));
    }
    inv.push_str("[groups.fleet]\nhosts = [\"h11\", \"h12\"]\n");
    inv.push_str(
        &std::fs::read_to_string(root.join("examples/fleetclaw/lab-vars.toml")).expect("lab-vars"),
    );
    let inv_path = dir.join("inventory.toml");
    std::fs::write(&inv_path, inv).expect("write inventory");
    let key = dir.join("age.key");
    let ok = Command::new(rampart_bin())
        .args(["secrets", "keygen", "-o", s(&key)])
        .output()
        .expect("keygen");
    assert!(ok.status.success());
    let plain = dir.join("s.toml");
    let mut text = String::from("[redis]\n");
    for u in ["admin", "monitor", "coordinator", "ex_001", "DZ-001"] {
        text.push_str(&format!("{u} = \"audit-test-password-{u}-0123456789\"\n"));
    }
    std::fs::write(&plain, text).expect("write");
    let secrets = dir.join("secrets.age");
    let out = Command::new(rampart_bin())
        .args([
            "secrets",
            "encrypt",
            s(&plain),
            "-o",
            s(&secrets),
            "--identity",
            s(&key),
        ])
        .output()
        .expect("encrypt");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&plain).expect("remove plaintext");
    let site = root.join("examples/fleetclaw/site.toml");
    let extra = vec![
        "--secrets".to_owned(),
        s(&secrets).to_owned(),
        "--identity".to_owned(),
        s(&key).to_owned(),
    ];
    (s(&inv_path).to_owned(), s(&site).to_owned(), extra)
}

/// Runs `rampart CMD -i INV SITE <secrets flags> MORE... --json`.
fn run(cmd: &str, inv: &str, site: &str, extra: &[String], more: &[&str]) -> (i32, Value) {
    let mut a: Vec<&str> = vec![cmd, "-i", inv, site, "--no-ssh-config"];
    a.extend(extra.iter().map(String::as_str));
    a.extend_from_slice(more);
    rampart_json(&a)
}

/// (id, pass) of every control of a host in an audit document.
fn controls<'a>(doc: &'a Value, h: &str) -> Vec<(&'a str, bool)> {
    host(doc, h)["controls"]
        .as_array()
        .unwrap_or_else(|| panic!("no controls for {h}: {doc}"))
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default(),
                c["pass"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

fn failing<'a>(doc: &'a Value, h: &str) -> Vec<&'a str> {
    controls(doc, h)
        .into_iter()
        .filter(|(_, p)| !p)
        .map(|(id, _)| id)
        .collect()
}

/// Loads a report in headless Chromium, file:// only: returns the DOM after its script ran and
/// writes a screenshot.
fn chromium(html: &Path, png: &Path) -> String {
    let profile = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", html.display());
    let run = |extra: &[&str]| {
        let mut args: Vec<String> = [
            "60",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            // No name resolves: nothing can leave the machine even if the page tried.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--window-size=1400,1000",
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        args.push(url.clone());
        let out = Command::new("timeout")
            .args(&args)
            .output()
            .expect("run chromium (Debian's `chromium` package; tests/run installs it)");
        assert!(
            out.status.success(),
            "chromium {extra:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&[&format!("--screenshot={}", png.display())]);
    run(&["--virtual-time-budget=2000", "--dump-dom"])
}

/// Where test artifacts are kept: `target/tmp/audit/`.
fn artifacts() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("audit");
    std::fs::create_dir_all(&d).expect("artifact dir");
    d
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn audit_fresh_applied_broken_and_rogue_listener() {
    let lab = Lab::get();
    lab.reset_docker(&HOSTS);
    let dir = tempfile::tempdir().expect("tempdir");
    let (inv, site, extra) = setup(&lab, dir.path());
    let art = artifacts();

    // 1. Fresh hosts fail most controls, and the audit writes nothing.
    let before: Vec<String> = HOSTS.iter().map(|h| lab.state_hash(h)).collect();
    let (code, fresh) = run("audit", &inv, &site, &extra, &[]);
    std::fs::write(art.join("fresh.json"), fresh.to_string()).expect("write");
    assert_eq!(code, 5, "a failing control exits 5: {fresh}");
    for h in HOSTS {
        let all = controls(&fresh, h);
        let bad = failing(&fresh, h);
        assert!(
            bad.len() * 2 > all.len(),
            "{h}: a fresh host fails most controls, but only {bad:?} of {} fail",
            all.len()
        );
        for id in [
            "ufw.active",
            "sshd.permitrootlogin",
            "fail2ban.sshd-jail",
            "docker.live-restore",
        ] {
            assert!(
                bad.contains(&id),
                "{h}: {id} must fail on a fresh host: {bad:?}"
            );
        }
        let ports = control(&fresh, h, "ports.only-ssh");
        assert_eq!(ports["pass"], true, "{ports}");
        // The default probe is targeted (issue 16): 1-1024, the common service ports and what
        // the host itself says could be reachable, not the whole range.
        let evidence = ports["evidence"].as_str().unwrap_or_default();
        assert!(
            evidence.contains("probed ")
                && evidence.contains(" TCP ports")
                && !evidence.contains("probed 65534"),
            "the targeted port set by default: {ports}"
        );
    }
    let after: Vec<String> = HOSTS.iter().map(|h| lab.state_hash(h)).collect();
    assert_eq!(before, after, "audit must not write to any host");

    // 2. After an apply every control passes on every host; the audit still writes nothing.
    let (code, doc) = run("apply", &inv, &site, &extra, &[]);
    assert_eq!(code, 0, "apply: {}", util::brief(&doc));
    let before: Vec<String> = HOSTS.iter().map(|h| lab.state_hash(h)).collect();
    let (code, applied) = run("audit", &inv, &site, &extra, &[]);
    let applied_json = art.join("applied.json");
    std::fs::write(&applied_json, applied.to_string()).expect("write");
    for h in HOSTS {
        assert_eq!(
            failing(&applied, h),
            Vec::<&str>::new(),
            "{h} after apply: {applied}"
        );
        assert!(
            controls(&applied, h).len() >= 40,
            "{h}: {:?}",
            controls(&applied, h)
        );
    }
    assert_eq!(code, 0, "every control passes: exit 0");
    assert_eq!(applied["summary"]["failing"], 0);
    let after: Vec<String> = HOSTS.iter().map(|h| lab.state_hash(h)).collect();
    assert_eq!(before, after, "audit must not write to any host");

    // 3. One control broken by hand on one host is exactly one failing cell, the only thing the
    //    baseline calls worse; JUnit and HTML say the same.
    lab.sh(
        "h11",
        "touch /var/run/reboot-required && echo linux-image-amd64 > /var/run/reboot-required.pkgs",
    );
    let html = art.join("audit-report.html");
    let junit = art.join("audit-junit.xml");
    let (code, broken) = run(
        "audit",
        &inv,
        &site,
        &extra,
        &[
            "--probe-ports",
            "1-2048",
            "--baseline",
            s(&applied_json),
            "--fail-on",
            "worse",
            "--html",
            s(&html),
            "--junit",
            s(&junit),
        ],
    );
    assert_eq!(code, 5, "a control got worse since the baseline: {broken}");
    assert_eq!(
        failing(&broken, "h11"),
        ["unattended-upgrades.reboot-required"]
    );
    assert_eq!(failing(&broken, "h12"), Vec::<&str>::new());
    assert_eq!(broken["summary"]["failing"], 1);
    let ev = control(&broken, "h11", "unattended-upgrades.reboot-required")["evidence"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        ev.contains("linux-image-amd64"),
        "the evidence names why: {ev}"
    );
    let worse = &broken["baseline"]["newly_failing"];
    assert_eq!(worse.as_array().map(Vec::len), Some(1), "{worse}");
    assert_eq!(worse[0]["host"], "h11");
    assert_eq!(worse[0]["id"], "unattended-upgrades.reboot-required");
    assert_eq!(worse[0]["was"], "pass");
    // Compared with itself, nothing got worse: `--fail-on worse` passes on known failures.
    let broken_json = art.join("broken.json");
    std::fs::write(&broken_json, broken.to_string()).expect("write");
    let mut args = vec!["audit", "-i", &inv, &site, "--no-ssh-config", "--no-probe"];
    args.extend(extra.iter().map(String::as_str));
    args.extend(["--baseline", s(&broken_json), "--fail-on", "worse"]);
    let out = rampart(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("0 newly failing"), "{text}");
    assert!(
        text.contains("unattended-upgrades.reboot-required"),
        "the failure is still listed: {text}"
    );
    // The terminal matrix: one row per host, one failing cell.
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("h11 ") || l.starts_with("h12 "))
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(
        rows.iter().map(|l| l.matches('✗').count()).sum::<usize>(),
        1,
        "{text}"
    );

    let xml = std::fs::read_to_string(&junit).expect("junit written");
    let n_controls = broken["summary"]["controls"].as_u64().expect("controls") as usize;
    assert_eq!(xml.matches("<testsuite ").count(), 2);
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    assert!(xml.contains("name=\"unattended-upgrades.reboot-required\""));
    assert!(xml.matches("<testcase ").count() >= 2 * 40);

    // The HTML report in a real browser: it loads, its script runs, the matrix has both hosts
    // and every control, one failing cell; a screenshot is kept for a person to look at.
    let png = art.join("audit-report.png");
    let dom = chromium(&html, &png);
    assert!(
        dom.contains("data-js=\"ready\""),
        "the report's script did not run"
    );
    assert!(dom.contains("data-js-hosts=\"2\""), "hosts in the matrix");
    assert!(
        dom.contains(&format!("data-js-controls=\"{n_controls}\"")),
        "controls in the matrix"
    );
    assert!(dom.contains("data-js-failing=\"1\""));
    assert_eq!(dom.matches("<tr class=\"host-row").count(), 2);
    assert!(dom.contains("2 of 2 hosts × "), "the script's status line");
    let shot = std::fs::metadata(&png).expect("screenshot written");
    assert!(
        shot.len() > 10_000,
        "a blank screenshot? {} bytes",
        shot.len()
    );
    eprintln!(
        "HTML report: {}\nscreenshot: {}",
        html.display(),
        png.display()
    );
    lab.sh(
        "h11",
        "rm -f /var/run/reboot-required /var/run/reboot-required.pkgs",
    );

    // 4. A rogue listener on 0.0.0.0:8080. Behind ufw the probe sees nothing (only the inside
    //    view, host.listeners-local, catches it); with ufw disabled by hand the probe names it.
    let pid = lab.sh(
        "h12",
        "cd /tmp && nohup python3 -m http.server 8080 --bind 0.0.0.0 >/dev/null 2>&1 & echo $!",
    );
    let pid = pid.trim().to_owned();
    lab.sh(
        "h12",
        "for i in $(seq 50); do ss -Hltn 'sport = :8080' | grep -q 8080 && exit 0; sleep 0.1; done; exit 1",
    );
    let (code, hidden) = run(
        "audit",
        &inv,
        &site,
        &extra,
        &["--limit", "h12", "--probe-ports", "1-1024,8080"],
    );
    assert_eq!(code, 5, "{hidden}");
    assert_eq!(
        control(&hidden, "h12", "ports.only-ssh")["pass"],
        true,
        "ufw drops 8080"
    );
    let inside = control(&hidden, "h12", "host.listeners-local");
    assert_eq!(inside["pass"], false);
    assert!(
        inside["evidence"]
            .as_str()
            .unwrap_or_default()
            .contains("0.0.0.0:8080"),
        "{inside}"
    );

    lab.sh("h12", "ufw disable");
    // The default, targeted probe: the rogue listener is one of the host's own listening
    // sockets, so it is probed. h11's ufw drops everything, so it is left out to keep the test
    // short.
    let (code, rogue) = run("audit", &inv, &site, &extra, &["--limit", "h12"]);
    lab.sh("h12", &format!("kill {pid}"));
    assert_eq!(code, 5, "{rogue}");
    let ports = control(&rogue, "h12", "ports.only-ssh");
    assert_eq!(ports["pass"], false, "{ports}");
    let ev = ports["evidence"].as_str().unwrap_or_default();
    assert!(
        ev.contains("unexpected open port 8080"),
        "the failing control names the port: {ev}"
    );
    assert!(failing(&rogue, "h12").contains(&"ufw.active"));
    let open: Vec<u64> = host(&rogue, "h12")["probe"]["open"]
        .as_array()
        .map(|o| o.iter().filter_map(|p| p["port"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(
        open,
        [8080],
        "22 is rampart's own connection and not probed"
    );
    for h in HOSTS {
        // Live restore keeps containers past dockerd; leave none for the next test to wait on.
        let _ = lab.exec(
            h,
            "docker ps -q | xargs -r docker stop >/dev/null 2>&1; true",
        );
    }
    lab.reset(&["h12"]);
}
