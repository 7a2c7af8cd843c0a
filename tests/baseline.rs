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

/// This site runs the baseline alone: the controls only the sshd and ufw roles put in place
/// (the baseline checks them, it does not write them) are waived, without expiry trouble.
const ROLES_WAIVERS: &str = "\n[[baseline.waiver]]\ncontrol = \"fw.ufw.*\"\nreason = \"the ufw role's, not in this site\"\nexpires = \"2099-12-31\"\nby = \"lab@example.com\"\n\n[[baseline.waiver]]\ncontrol = \"ssh.access-configured\"\nreason = \"the sshd role's, not in this site\"\nexpires = \"2099-12-31\"\nby = \"lab@example.com\"\n\n[[baseline.waiver]]\ncontrol = \"ssh.permit-root-login\"\nreason = \"the sshd role's, not in this site\"\nexpires = \"2099-12-31\"\nby = \"lab@example.com\"\n";

fn site_text(expires: &str) -> String {
    format!(
        "[baseline]\nprofile = \"cis-l1-server\"\n\n[[baseline.waiver]]\ncontrol = \"{WAIVED}\"\nreason = \"the lab's logs stay quiet\"\nexpires = \"{expires}\"\nby = \"lab@example.com\"\n{ROLES_WAIVERS}\n[[play]]\nname = \"hardened\"\nhosts = \"lab\"\nbaseline = \"cis-l1-server\"\n"
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
        // Two roles: the access part (the sshd drop-in, PAM, sudo) on its own, after the rest.
        let roles: Vec<(String, String)> = host(&doc, h)["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["role"].as_str().unwrap().to_owned(),
                    r["id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert!(
            roles.contains(&(
                "baseline-access".into(),
                "file:/etc/ssh/sshd_config.d/10-rampart-baseline.conf".into()
            )),
            "{h}: {roles:?}"
        );
        assert!(roles.iter().any(|(r, _)| r == "baseline"), "{h}: {roles:?}");
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
        assert!(
            !conf.contains("log_martians"),
            "{h}: the waived control was applied: {conf}"
        );
        assert_eq!(
            lab.sh(h, "sysctl -n net.ipv4.conf.all.send_redirects"),
            "0\n"
        );
        // systemd-sysctl (what a boot runs) accepts the drop-in.
        lab.sh(
            h,
            "/lib/systemd/systemd-sysctl /etc/sysctl.d/60-rampart-baseline.conf",
        );
    }
    let martians_after: Vec<String> = HOSTS
        .iter()
        .map(|h| lab.sh(h, &format!("sysctl -n {WAIVED_KEY}")))
        .collect();
    assert_eq!(
        martians_after, martians_before,
        "a waived control's key changed"
    );

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
        let waived = cs
            .iter()
            .find(|c| c.0 == WAIVED)
            .expect("the waived control");
        assert_eq!(
            waived.2, "waived: the lab's logs stay quiet (by lab@example.com, expires 2099-12-31)",
            "{h}"
        );
    }
    assert!(
        doc["notes"]
            .to_string()
            .contains("baseline: waived net.ipv4.log-martians"),
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
            failing[0].contains(
                "waiver EXPIRED on 2020-01-31: the lab's logs stay quiet (by lab@example.com)"
            ),
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

/// The whole FleetClaw site plus `cis-l1-server` on a fresh host of each kind (h44 Debian 12,
/// h45 Debian 13, h46 the Ubuntu 24.04-like host, docker-capable): apply converges, the second
/// apply and check find nothing, audit passes every control, a drift in five sections is
/// reported and repaired, the connecting user keeps key login and sudo, lynis (Debian's
/// package, run inside the host) scores at least 80, and sshd offers only the policy's
/// algorithms (mlkem768 exactly where OpenSSH has it).
mod fleetclaw_with_the_baseline {
    use std::path::Path;
    use std::process::Command;

    use super::util::{Lab, brief, changed, fleetclaw_secrets, host, rampart_json};

    const HOSTS: [&str; 3] = ["h44", "h45", "h46"];

    const KEX: &[&str] = &[
        "mlkem768x25519-sha256",
        "sntrup761x25519-sha512",
        "sntrup761x25519-sha512@openssh.com",
        "curve25519-sha256",
        "curve25519-sha256@libssh.org",
    ];
    const CIPHERS: &[&str] = &[
        "chacha20-poly1305@openssh.com",
        "aes256-gcm@openssh.com",
        "aes128-gcm@openssh.com",
        "aes256-ctr",
        "aes192-ctr",
        "aes128-ctr",
    ];
    const MACS: &[&str] = &[
        "hmac-sha2-512-etm@openssh.com",
        "hmac-sha2-256-etm@openssh.com",
    ];
    const HOST_KEYS: &[&str] = &[
        "ssh-ed25519",
        "ssh-ed25519-cert-v01@openssh.com",
        "rsa-sha2-512",
        "rsa-sha2-512-cert-v01@openssh.com",
        "rsa-sha2-256",
        "rsa-sha2-256-cert-v01@openssh.com",
    ];

    /// Inventory, the FleetClaw site with `[baseline] profile = "cis-l1-server"`, and the
    /// redis-acl secrets: (inventory, site, extra arguments).
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
        let names: Vec<String> = HOSTS.iter().map(|h| format!("\"{h}\"")).collect();
        inv.push_str(&format!("[groups.fleet]\nhosts = [{}]\n", names.join(", ")));
        inv.push_str(
            &std::fs::read_to_string(root.join("examples/fleetclaw/lab-vars.toml"))
                .expect("lab-vars"),
        );
        let inv_path = dir.join("inventory.toml");
        std::fs::write(&inv_path, inv).expect("write inventory");
        let (key, secrets) = fleetclaw_secrets(dir, "baseline-test");
        let mut site = std::fs::read_to_string(root.join("examples/fleetclaw/site.toml"))
            .expect("site")
            .replace("secrets = \"secrets.age\"\n", "");
        site.push_str("\n[baseline]\nprofile = \"cis-l1-server\"\n");
        let site_path = dir.join("site.toml");
        std::fs::write(&site_path, site).expect("write site");
        (
            inv_path.display().to_string(),
            site_path.display().to_string(),
            vec![
                "--secrets".to_owned(),
                secrets.display().to_string(),
                "--identity".to_owned(),
                key.display().to_string(),
            ],
        )
    }

    fn run(cmd: &str, inv: &str, site: &str, extra: &[String]) -> (i32, serde_json::Value) {
        let mut a: Vec<&str> = vec![cmd, "-i", inv, site];
        a.extend(extra.iter().map(String::as_str));
        rampart_json(&a)
    }

    /// The algorithms `sshd -T` offers for one keyword.
    fn offered(lab: &Lab, h: &str, keyword: &str) -> Vec<String> {
        let line = lab.sh(h, &format!("sshd -T | grep -i '^{keyword} '"));
        line.split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .split(',')
            .map(str::to_owned)
            .collect()
    }

    /// lynis' hardening index, lynis installed from the lab's repository inside the host.
    fn lynis_index(lab: &Lab, h: &str) -> u32 {
        let out = lab.sh(
            h,
            "DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq lynis >/dev/null 2>&1 \
               || { sleep 10; DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq lynis >&2; }; \
             lynis audit system --quick --no-colors >/dev/null 2>&1; \
             sed -n 's/.*Hardening index : \\[\\([0-9]*\\)\\].*/\\1/p' /var/log/lynis.log | tail -1",
        );
        out.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{h}: no hardening index from lynis: {out:?}"))
    }

    #[test]
    #[ignore = "needs the lab (sudo tests/run)"]
    fn the_fleetclaw_site_with_cis_l1_server_converges_audits_clean_and_scores_80_in_lynis() {
        let lab = Lab::get();
        lab.reset_docker(&HOSTS);
        let dir = tempfile::tempdir().expect("tempdir");
        let (inv, site, extra) = setup(&lab, dir.path());

        let (code, doc) = run("apply", &inv, &site, &extra);
        assert_eq!(code, 0, "first apply: {}", brief(&doc));
        for h in HOSTS {
            assert!(changed(&doc, h) > 100, "{h}: {}", brief(&doc));
        }
        let (code, doc) = run("apply", &inv, &site, &extra);
        assert_eq!(code, 0, "second apply: {}", brief(&doc));
        for h in HOSTS {
            assert_eq!(
                changed(&doc, h),
                0,
                "{h}: the second apply changes nothing: {}",
                brief(&doc)
            );
        }
        let (code, doc) = run("check", &inv, &site, &extra);
        assert_eq!(code, 0, "check is clean after apply: {}", brief(&doc));
        let (code, doc) = run("audit", &inv, &site, &extra);
        let failing: Vec<String> = HOSTS
            .iter()
            .flat_map(|h| {
                host(&doc, h)["controls"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["pass"] == false)
                    .map(move |c| format!("{h} {}: {}", c["id"], c["evidence"]))
            })
            .collect();
        assert!(
            code == 0 && failing.is_empty(),
            "audit (exit {code}): {failing:#?}"
        );

        // The connecting user keeps key login and sudo (faillock counts password failures only).
        for h in HOSTS {
            let out = Command::new("ssh")
                .args(["-F", lab.dir.join("ssh_config").to_str().expect("utf-8")])
                .args(["-l", "lab", &lab.address(h), "sudo", "-n", "id", "-u"])
                .output()
                .expect("ssh");
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                "0",
                "{h}: lab logs in with its key and sudo works: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }

        // Drift by hand in five sections (ssh, network, accounts, files, banners).
        let drifts: [(&str, &str, &str); 5] = [
            (
                "h44",
                "file:/etc/ssh/sshd_config.d/10-rampart-baseline.conf",
                "sed -i 's/^LogLevel VERBOSE$/LogLevel INFO/' /etc/ssh/sshd_config.d/10-rampart-baseline.conf",
            ),
            (
                "h45",
                "sysctl:net.ipv4.conf.all.send_redirects",
                "sysctl -qw net.ipv4.conf.all.send_redirects=1",
            ),
            (
                "h46",
                "edit:/etc/login.defs#accounts.pass-max-days.0",
                "sed -i 's/^PASS_MAX_DAYS.*/PASS_MAX_DAYS 99999/' /etc/login.defs",
            ),
            ("h44", "perms:/etc/shadow", "chmod 0644 /etc/shadow"),
            (
                "h45",
                "file:/etc/issue",
                "printf 'Debian GNU/Linux \\\\n \\\\l\\n' > /etc/issue",
            ),
        ];
        for (h, _, cmd) in drifts {
            lab.sh(h, cmd);
        }
        let (code, doc) = run("check", &inv, &site, &extra);
        assert_eq!(code, 5, "check reports the drift: {}", brief(&doc));
        for (h, id, _) in drifts {
            let hit = host(&doc, h)["resources"]
                .as_array()
                .expect("resources")
                .iter()
                .any(|r| r["id"] == id && r["status"] == "changed");
            assert!(hit, "{h}: the drift of {id} is reported: {}", brief(&doc));
        }
        let (code, doc) = run("apply", &inv, &site, &extra);
        assert_eq!(code, 0, "apply repairs the drift: {}", brief(&doc));
        let (code, doc) = run("check", &inv, &site, &extra);
        assert_eq!(code, 0, "nothing left after the repair: {}", brief(&doc));
        assert_eq!(lab.sh("h44", "stat -c %a /etc/shadow").trim(), "640");
        assert_eq!(
            lab.sh("h45", "sysctl -n net.ipv4.conf.all.send_redirects")
                .trim(),
            "0"
        );

        // sshd offers nothing outside the policy; mlkem768 where OpenSSH has it (10.0, not 9.2).
        for h in HOSTS {
            for (keyword, allowed) in [
                ("kexalgorithms", KEX),
                ("ciphers", CIPHERS),
                ("macs", MACS),
                ("hostkeyalgorithms", HOST_KEYS),
            ] {
                let got = offered(&lab, h, keyword);
                assert!(!got.is_empty(), "{h}: sshd -T has no {keyword}");
                let outside: Vec<&String> = got
                    .iter()
                    .filter(|a| !allowed.contains(&a.as_str()))
                    .collect();
                assert!(
                    outside.is_empty(),
                    "{h}: sshd offers {outside:?} ({keyword})"
                );
            }
            let mlkem =
                offered(&lab, h, "kexalgorithms").contains(&"mlkem768x25519-sha256".to_owned());
            assert_eq!(
                mlkem,
                h != "h44",
                "{h}: mlkem768x25519-sha256 offered = {mlkem}"
            );
        }

        // Independent measurement: lynis, inside each host (in parallel: a run takes minutes).
        let indexes: Vec<(&str, u32)> = std::thread::scope(|s| {
            let runs: Vec<_> = HOSTS
                .iter()
                .map(|h| {
                    let lab = &lab;
                    s.spawn(move || (*h, lynis_index(lab, h)))
                })
                .collect();
            runs.into_iter()
                .map(|r| r.join().expect("lynis run"))
                .collect()
        });
        for (h, index) in indexes {
            println!("lynis hardening index on {h}: {index}");
            assert!(index >= 80, "{h}: lynis hardening index {index} < 80");
        }
    }
}
