//! The fail2ban role against a real lab host, through the real binary. The lab's hosts boot
//! with fail2ban failed (no /var/log/auth.log, the seed's gotcha): the role must leave it running
//! on the journal, with the controller never banned; a second apply changes nothing; check
//! writes nothing; drift is reported and repaired. Host: h62 (as root) — tests/util/HOSTS.md.

use crate::util;

use util::{Lab, Site, changed, changed_ids, failed_checks, host, verified};

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn fail2ban_starts_on_the_journal_and_repairs_on_h62() {
    let lab = Lab::get();
    lab.reset(&["h62"]);
    let (rc, _) = lab.exec("h62", "systemctl is-active -q fail2ban");
    assert_ne!(
        rc, 0,
        "the lab host should boot with fail2ban down (no auth.log)"
    );
    let s = Site::new(
        &lab,
        &["h62"],
        "root",
        "[roles.fail2ban]\nignoreip = [\"192.0.2.0/24\"]\n",
        &["fail2ban"],
    );

    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(
        changed_ids(&doc, "h62"),
        ["file:/etc/fail2ban/jail.local", "command:start fail2ban"],
        "{doc}"
    );
    assert_eq!(
        host(&doc, "h62")["handlers"],
        serde_json::json!(["fail2ban: restart fail2ban"])
    );
    assert_eq!(failed_checks(&doc, "h62"), Vec::<String>::new());
    assert_eq!(verified(&doc, "h62"), 4, "{doc}");
    let jail = lab.sh("h62", "cat /etc/fail2ban/jail.local");
    assert!(
        jail.contains("backend = systemd\n")
            && jail.contains("ignoreip = 127.0.0.1/8 ::1 10.213.62.1 192.0.2.0/24\n"),
        "{jail}"
    );
    let ignored = lab.sh("h62", "fail2ban-client get sshd ignoreip");
    assert!(ignored.contains("10.213.62.1"), "{ignored}");
    assert_eq!(lab.sh("h62", "systemctl is-active fail2ban"), "active\n");

    let (code, doc) = s.run("apply", &[]);
    assert_eq!((code, changed(&doc, "h62")), (0, 0), "{doc}");
    let before = lab.state_hash("h62");
    let (code, doc) = s.run("check", &["--verify"]);
    assert_eq!((code, changed(&doc, "h62")), (0, 0), "{doc}");
    assert_eq!(failed_checks(&doc, "h62"), Vec::<String>::new());
    assert_eq!(lab.state_hash("h62"), before, "check wrote to the host");

    // fail2ban stopped by hand.
    lab.sh("h62", "systemctl stop fail2ban");
    // check alone: changes pending (5); with --verify the failing controls make it a failure (3).
    let (code, doc) = s.run("check", &[]);
    assert_eq!(code, 5, "{doc}");
    let (code, vdoc) = s.run("check", &["--verify"]);
    assert_eq!(code, 3, "{vdoc}");
    assert_eq!(changed_ids(&doc, "h62"), ["command:start fail2ban"]);
    assert!(
        failed_checks(&vdoc, "h62")
            .iter()
            .any(|f| f.contains("fail2ban.service")),
        "{vdoc}"
    );
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(lab.sh("h62", "systemctl is-active fail2ban"), "active\n");

    // jail.local edited and fail2ban restarted with it: the role puts its jail back live.
    // `systemctl restart` returns when the server answers, before it has loaded its jails: wait
    // for the jail (up to 30 s) instead of racing it. Until the jail is loaded the client prints
    // "Sorry but the jail 'sshd' does not exist" on stdout: only an answer counts.
    lab.sh("h62", "sed -i 's/^maxretry = 3/maxretry = 30/' /etc/fail2ban/jail.local && systemctl restart fail2ban");
    let maxretry = "for i in $(seq 150); do v=$(fail2ban-client get sshd maxretry 2>/dev/null) && { echo \"$v\"; exit 0; }; sleep 0.2; done; exit 1";
    assert_eq!(lab.sh("h62", maxretry), "30\n");
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(changed_ids(&doc, "h62"), ["file:/etc/fail2ban/jail.local"]);
    assert_eq!(failed_checks(&doc, "h62"), Vec::<String>::new());
    assert_eq!(lab.sh("h62", maxretry), "3\n");

    // And it stays converged.
    let (code, doc) = s.run("apply", &[]);
    assert_eq!((code, changed(&doc, "h62")), (0, 0), "{doc}");
}
