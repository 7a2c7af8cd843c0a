//! The fail2ban role against a real lab host, through the real binary. The lab's hosts boot
//! with fail2ban failed (no /var/log/auth.log, the seed's gotcha): the role must leave it running
//! on the journal, with the controller never banned; a second apply changes nothing; check
//! writes nothing; drift is reported and repaired. Host: h6 (as root) — tests/util/HOSTS.md.

mod util;

use std::path::PathBuf;

use serde_json::Value;
use util::{Lab, changed, host, rampart_json};

/// A site in a temporary directory, with an inventory of some lab hosts.
struct Site {
    _dir: tempfile::TempDir,
    inv: PathBuf,
    site: PathBuf,
}

impl Site {
    fn new(lab: &Lab, hosts: &[&str], user: &str, roles_toml: &str, roles: &[&str]) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        let inv = lab.inventory(dir.path(), hosts, user);
        let site = dir.path().join("site.toml");
        let list = roles
            .iter()
            .map(|r| format!("\"{r}\""))
            .collect::<Vec<_>>()
            .join(", ");
        std::fs::write(
            &site,
            format!("[[play]]\nhosts = \"lab\"\nroles = [{list}]\n\n{roles_toml}"),
        )
        .expect("write site");
        Site {
            _dir: dir,
            inv,
            site,
        }
    }

    fn run(&self, cmd: &str, extra: &[&str]) -> (i32, Value) {
        let mut args = vec![
            cmd,
            "-i",
            self.inv.to_str().expect("utf-8"),
            self.site.to_str().expect("utf-8"),
        ];
        args.extend_from_slice(extra);
        rampart_json(&args)
    }
}

/// Ids of the resources a report says changed (or would change) on a host.
fn changed_ids(doc: &Value, h: &str) -> Vec<String> {
    host(doc, h)["resources"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter(|r| r["status"] == "changed")
                .filter_map(|r| r["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Verify checks that failed on a host, with their evidence.
fn failed_checks(doc: &Value, h: &str) -> Vec<String> {
    host(doc, h)["verify"]
        .as_array()
        .map(|vs| {
            vs.iter()
                .filter(|v| v["pass"] != true)
                .map(|v| format!("{}: {}", v["id"], v["evidence"]))
                .collect()
        })
        .unwrap_or_default()
}

fn verified(doc: &Value, h: &str) -> usize {
    host(doc, h)["verify"].as_array().map_or(0, Vec::len)
}
#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn fail2ban_starts_on_the_journal_and_repairs_on_h6() {
    let lab = Lab::get();
    lab.reset(&["h6"]);
    let (rc, _) = lab.exec("h6", "systemctl is-active -q fail2ban");
    assert_ne!(
        rc, 0,
        "the lab host should boot with fail2ban down (no auth.log)"
    );
    let s = Site::new(
        &lab,
        &["h6"],
        "root",
        "[roles.fail2ban]\nignoreip = [\"192.0.2.0/24\"]\n",
        &["fail2ban"],
    );

    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(
        changed_ids(&doc, "h6"),
        ["file:/etc/fail2ban/jail.local", "command:start fail2ban"],
        "{doc}"
    );
    assert_eq!(
        host(&doc, "h6")["handlers"],
        serde_json::json!(["fail2ban: restart fail2ban"])
    );
    assert_eq!(failed_checks(&doc, "h6"), Vec::<String>::new());
    assert_eq!(verified(&doc, "h6"), 4, "{doc}");
    let jail = lab.sh("h6", "cat /etc/fail2ban/jail.local");
    assert!(
        jail.contains("backend = systemd\n")
            && jail.contains("ignoreip = 127.0.0.1/8 ::1 10.213.6.1 192.0.2.0/24\n"),
        "{jail}"
    );
    let ignored = lab.sh("h6", "fail2ban-client get sshd ignoreip");
    assert!(ignored.contains("10.213.6.1"), "{ignored}");
    assert_eq!(lab.sh("h6", "systemctl is-active fail2ban"), "active\n");

    let (code, doc) = s.run("apply", &[]);
    assert_eq!((code, changed(&doc, "h6")), (0, 0), "{doc}");
    let before = lab.state_hash("h6");
    let (code, doc) = s.run("check", &["--verify"]);
    assert_eq!((code, changed(&doc, "h6")), (0, 0), "{doc}");
    assert_eq!(failed_checks(&doc, "h6"), Vec::<String>::new());
    assert_eq!(lab.state_hash("h6"), before, "check wrote to the host");

    // fail2ban stopped by hand.
    lab.sh("h6", "systemctl stop fail2ban");
    // check alone: changes pending (5); with --verify the failing controls make it a failure (3).
    let (code, doc) = s.run("check", &[]);
    assert_eq!(code, 5, "{doc}");
    let (code, vdoc) = s.run("check", &["--verify"]);
    assert_eq!(code, 3, "{vdoc}");
    assert_eq!(changed_ids(&doc, "h6"), ["command:start fail2ban"]);
    assert!(
        failed_checks(&vdoc, "h6")
            .iter()
            .any(|f| f.contains("fail2ban.service")),
        "{vdoc}"
    );
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(lab.sh("h6", "systemctl is-active fail2ban"), "active\n");

    // jail.local edited and fail2ban restarted with it: the role puts its jail back live.
    lab.sh("h6", "sed -i 's/^maxretry = 3/maxretry = 30/' /etc/fail2ban/jail.local && systemctl restart fail2ban");
    assert_eq!(lab.sh("h6", "fail2ban-client get sshd maxretry"), "30\n");
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(changed_ids(&doc, "h6"), ["file:/etc/fail2ban/jail.local"]);
    assert_eq!(failed_checks(&doc, "h6"), Vec::<String>::new());
    assert_eq!(lab.sh("h6", "fail2ban-client get sshd maxretry"), "3\n");

    // And it stays converged.
    let (code, doc) = s.run("apply", &[]);
    assert_eq!((code, changed(&doc, "h6")), (0, 0), "{doc}");
}
