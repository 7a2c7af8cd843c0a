//! The CIS baseline (issue 15) against real lab hosts of all three kinds, through the real
//! binary: a site with `baseline = "cis-l1-server"` and one waiver converges h41 (Debian 12),
//! h42 (Debian 13) and h43 (the Ubuntu 24.04-like host); the second apply changes nothing,
//! check is clean, audit passes every control that is not waived and shows the waiver (as the
//! control's evidence and in the notes); the waived control's settings are left alone; an
//! expired waiver warns in check and fails the audit (exit 5).
//!
//! Hosts: h41, h42, h43 (tests/util/HOSTS.md). Only per-host keys are written live: inside a
//! lab host (a container) the role sets `net.*` parameters only and persists the others.

mod util;

use util::{Lab, Site, changed, failed_checks, host, rampart};

const HOSTS: &[&str] = &["h41", "h42", "h43"];

/// The waived control and one of the keys it would set.
const WAIVED: &str = "net.ipv4.log-martians";
const WAIVED_KEY: &str = "net.ipv4.conf.all.log_martians";

fn site_text(expires: &str) -> String {
    format!(
        "[baseline]\nprofile = \"cis-l1-server\"\n\n[[baseline.waiver]]\ncontrol = \"{WAIVED}\"\nreason = \"the lab's logs stay quiet\"\nexpires = \"{expires}\"\nby = \"lab@example.com\"\n\n[[play]]\nname = \"hardened\"\nhosts = \"lab\"\nbaseline = \"cis-l1-server\"\n"
    )
}

/// The audit's controls of a host: (id, pass, evidence).
fn controls(doc: &serde_json::Value, h: &str) -> Vec<(String, bool, String)> {
    host(doc, h)["controls"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    (
                        c["id"].as_str().unwrap_or_default().to_owned(),
                        c["pass"] == true,
                        c["evidence"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn cis_l1_server_converges_with_a_waiver_on_all_three_kinds() {
    let lab = Lab::get();
    lab.reset(HOSTS);
    let s = Site::with_text(&lab, HOSTS, "root", &site_text("2099-12-31"));
    let martians_before: Vec<String> = HOSTS
        .iter()
        .map(|h| lab.sh(h, &format!("sysctl -n {WAIVED_KEY}")))
        .collect();

    // check: changes to make (exit 5), nothing written, the waiver in each host's notes.
    let before: Vec<String> = HOSTS.iter().map(|h| lab.state_hash(h)).collect();
    let (code, doc) = s.run("check", &[]);
    assert_eq!(code, 5, "{doc}");
    for (h, b) in HOSTS.iter().zip(&before) {
        assert_eq!(&lab.state_hash(h), b, "check wrote to {h}");
        let notes = host(&doc, h)["notes"].to_string();
        assert!(
            notes.contains("baseline: waived net.ipv4.log-martians (1 control): the lab's logs stay quiet (by lab@example.com, expires 2099-12-31)"),
            "{h}: {notes}"
        );
    }

    // apply: every host changes, nothing fails.
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    for h in HOSTS {
        assert!(changed(&doc, h) > 0, "{h} changed nothing: {doc}");
        let conf = lab.sh(h, "cat /etc/sysctl.d/60-rampart-baseline.conf");
        assert!(
            conf.contains("net.ipv4.conf.all.send_redirects = 0\n"),
            "{h}: {conf}"
        );
        assert!(!conf.contains("log_martians"), "{h}: the waived control was applied: {conf}");
        assert_eq!(lab.sh(h, "sysctl -n net.ipv4.conf.all.send_redirects"), "0\n");
        // systemd-sysctl (what a boot runs) accepts the drop-in.
        lab.sh(h, "/lib/systemd/systemd-sysctl /etc/sysctl.d/60-rampart-baseline.conf");
    }
    let martians_after: Vec<String> = HOSTS
        .iter()
        .map(|h| lab.sh(h, &format!("sysctl -n {WAIVED_KEY}")))
        .collect();
    assert_eq!(martians_after, martians_before, "a waived control's key changed");

    // Second apply: nothing; check: clean, nothing written.
    let (code, doc) = s.run("apply", &[]);
    for h in HOSTS {
        assert_eq!(changed(&doc, h), 0, "{h}: {doc}");
    }
    assert_eq!(code, 0, "{doc}");
    let before: Vec<String> = HOSTS.iter().map(|h| lab.state_hash(h)).collect();
    let (code, doc) = s.run("check", &[]);
    assert_eq!(code, 0, "{doc}");
    for (h, b) in HOSTS.iter().zip(&before) {
        assert_eq!(changed(&doc, h), 0, "{h}: {doc}");
        assert_eq!(&lab.state_hash(h), b, "check wrote to {h}");
    }

    // audit: every control passes; the waived one with its waiver as evidence.
    let (code, doc) = s.run("audit", &["--no-probe", "--no-builtin"]);
    assert_eq!(code, 0, "{doc}");
    for h in HOSTS {
        let cs = controls(&doc, h);
        assert!(cs.len() >= 10, "{h}: {cs:?}");
        assert_eq!(failed_checks_of(&cs), Vec::<String>::new(), "{h}");
        let waived = cs.iter().find(|c| c.0 == WAIVED).expect("the waived control");
        assert_eq!(
            waived.2,
            "waived: the lab's logs stay quiet (by lab@example.com, expires 2099-12-31)",
            "{h}"
        );
    }
    assert!(
        doc["notes"].to_string().contains("baseline: waived net.ipv4.log-martians"),
        "{}",
        doc["notes"]
    );

    // An expired waiver: check warns, the audit fails on it alone (exit 5).
    let expired = Site::with_text(&lab, HOSTS, "root", &site_text("2020-01-31"));
    let out = rampart(&[
        "check",
        "-i",
        expired.inv.to_str().unwrap(),
        expired.site.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: baseline: EXPIRED waiver net.ipv4.log-martians"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let (code, doc) = expired.run("audit", &["--no-probe", "--no-builtin"]);
    assert_eq!(code, 5, "{doc}");
    for h in HOSTS {
        let failing = failed_checks(&doc_with_verify(&doc), h);
        assert_eq!(failing.len(), 1, "{h}: {failing:?}");
        assert!(
            failing[0].contains("waiver EXPIRED on 2020-01-31: the lab's logs stay quiet (by lab@example.com)"),
            "{h}: {failing:?}"
        );
    }
}

fn failed_checks_of(cs: &[(String, bool, String)]) -> Vec<String> {
    cs.iter()
        .filter(|c| !c.1)
        .map(|c| format!("{}: {}", c.0, c.2))
        .collect()
}

/// An audit document with each host's `controls` also under `verify`, for `failed_checks`.
fn doc_with_verify(doc: &serde_json::Value) -> serde_json::Value {
    let mut d = doc.clone();
    if let Some(hosts) = d["hosts"].as_array_mut() {
        for h in hosts {
            h["verify"] = h["controls"].clone();
        }
    }
    d
}
