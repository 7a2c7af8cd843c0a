//! The whole FleetClaw harden (examples/fleetclaw, every role of the seeds) on a fresh fleet of
//! the mission's three host kinds: Debian 12 (h13), Debian 13 (h25) and the Ubuntu 24.04-like
//! host (h28, socket-activated sshd, cloud-init's drop-in). The first apply (rolling,
//! with verify) succeeds, the second changes nothing, check finds no drift, and a drift injected
//! by hand for each role is reported by check and repaired by apply (tests/util/HOSTS.md; the
//! hosts are reset able to run Docker).

mod util;

use std::path::Path;

use util::{Lab, brief, changed, fleetclaw_secrets, host, rampart_json};

const HOSTS: [&str; 3] = ["h13", "h25", "h28"];

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
        &std::fs::read_to_string(root.join("examples/fleetclaw/lab-vars.toml")).expect("lab-vars"),
    );
    let inv_path = dir.join("inventory.toml");
    std::fs::write(&inv_path, inv).expect("write inventory");
    let (key, secrets) = fleetclaw_secrets(dir, "site-test");
    let site = root.join("examples/fleetclaw/site.toml");
    let extra = vec![
        "--secrets".to_owned(),
        secrets.display().to_string(),
        "--identity".to_owned(),
        key.display().to_string(),
    ];
    (
        inv_path.display().to_string(),
        site.display().to_string(),
        extra,
    )
}

fn run(
    cmd: &str,
    inv: &str,
    site: &str,
    extra: &[String],
    more: &[&str],
) -> (i32, serde_json::Value) {
    let mut a: Vec<&str> = vec![cmd, "-i", inv, site];
    a.extend(extra.iter().map(String::as_str));
    a.extend_from_slice(more);
    rampart_json(&a)
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn the_fleetclaw_site_converges_stays_converged_and_repairs_drift() {
    let lab = Lab::get();
    lab.reset_docker(&HOSTS);
    let dir = tempfile::tempdir().expect("tempdir");
    let (inv, site, extra) = setup(&lab, dir.path());

    let (code, doc) = run("apply", &inv, &site, &extra, &["--verify"]);
    assert_eq!(code, 0, "first apply: {}", brief(&doc));
    for h in HOSTS {
        let r = host(&doc, h);
        assert!(
            r["changed"].as_u64().unwrap_or(0) > 20,
            "{h}: {}",
            brief(&doc)
        );
        let verify = r["verify"].as_array().expect("verify");
        assert!(
            verify.len() > 30 && verify.iter().all(|v| v["pass"] == true),
            "{h}: the seeds' checklist holds: {}",
            brief(&doc)
        );
    }
    let (code, doc) = run("apply", &inv, &site, &extra, &[]);
    assert_eq!(code, 0, "second apply: {}", brief(&doc));
    for h in HOSTS {
        assert_eq!(
            changed(&doc, h),
            0,
            "{h}: the second apply changes nothing: {}",
            brief(&doc)
        );
        // A converged host finishes in the rollout's fleet-wide staging pass: the probe
        // only, no wave and no gate.
        assert_eq!(
            (
                host(&doc, h)["connections"].as_u64(),
                host(&doc, h)["round_trips"].as_u64()
            ),
            (Some(1), Some(1)),
            "{h}: one connection, one round trip: {}",
            host(&doc, h)
        );
    }
    let (code, doc) = run("check", &inv, &site, &extra, &[]);
    assert_eq!(code, 0, "no drift after apply: {}", brief(&doc));

    // One drift per role, by hand.
    let drifts: [(&str, &str, &str); 10] = [
        (
            "h28",
            "sshd",
            "echo 'PasswordAuthentication yes' > /etc/ssh/sshd_config.d/00-rampart.conf",
        ),
        ("h25", "ufw", "ufw disable"),
        (
            "h13",
            "sshd",
            "echo 'PermitRootLogin yes' >> /etc/ssh/sshd_config.d/00-rampart.conf",
        ),
        ("h13", "swap-sysctl", "sysctl -qw net.core.somaxconn=128"),
        (
            "h25",
            "docker",
            "sed -i 's/\"live-restore\": true/\"live-restore\": false/' /etc/docker/daemon.json",
        ),
        (
            "h25",
            "unattended-upgrades",
            "sed -i 's/\"1\"/\"0\"/' /etc/apt/apt.conf.d/20auto-upgrades",
        ),
        (
            "h13",
            "docker-user",
            "iptables -D DOCKER-USER -i eth0 -j DROP",
        ),
        (
            "h13",
            "base",
            "ln -sf /usr/share/zoneinfo/Europe/Paris /etc/localtime",
        ),
        ("h13", "fail2ban", "systemctl stop fail2ban"),
        (
            "h28",
            "redis-acl",
            "echo 'user intruder on nopass ~* +@all' >> /etc/redis/users.acl",
        ),
    ];
    for (h, _, cmd) in drifts {
        lab.sh(h, cmd);
    }
    let (code, doc) = run("check", &inv, &site, &extra, &[]);
    assert_eq!(code, 5, "check reports the drift: {}", brief(&doc));
    for (h, role, _) in drifts {
        let hit = host(&doc, h)["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .any(|r| r["role"] == role && r["status"] == "changed");
        assert!(hit, "{h}: the {role} drift is reported: {}", brief(&doc));
    }
    let (code, doc) = run("apply", &inv, &site, &extra, &["--verify"]);
    assert_eq!(code, 0, "apply repairs the drift: {}", brief(&doc));
    let (code, doc) = run("check", &inv, &site, &extra, &[]);
    assert_eq!(code, 0, "nothing left after the repair: {}", brief(&doc));
    assert_eq!(
        lab.sh("h13", "readlink /etc/localtime").trim(),
        "/usr/share/zoneinfo/UTC"
    );
    assert!(
        lab.sh("h13", "iptables -S DOCKER-USER")
            .trim_end()
            .ends_with("-A DOCKER-USER -i eth0 -j DROP")
    );
    assert_eq!(
        lab.sh("h25", "ufw status | head -1").trim(),
        "Status: active"
    );
    // The Ubuntu-like host keeps sshd socket-activated, and the drop-in wins over cloud-init's.
    assert_eq!(
        lab.sh(
            "h28",
            "systemctl is-active ssh.socket; sshd -T | grep ^passwordauthentication"
        )
        .trim(),
        "active\npasswordauthentication no"
    );
    // Leave no container running: live-restore keeps containers past dockerd, and shutdown
    // would wait for them.
    for h in HOSTS {
        let _ = lab.exec(
            h,
            "docker ps -q | xargs -r docker stop >/dev/null 2>&1; true",
        );
    }
}
