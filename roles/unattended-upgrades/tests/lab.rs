//! The unattended-upgrades role against a real lab host, through the real binary: Debian's
//! origins, the seed's blacklist, the two dpkg-reconfigure lines, the apt timers (masked in the
//! lab images) unmasked and running; a second apply changes nothing; check writes nothing;
//! drift is reported and repaired; a pending reboot is reported with its packages.
//! Host: h61 (as `lab` with sudo) — tests/util/HOSTS.md.

use crate::util;

use util::{Lab, Site, changed, changed_ids, failed_checks, verified};

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn unattended_upgrades_converges_repairs_and_reports_reboots_on_h61() {
    let lab = Lab::get();
    lab.reset(&["h61"]);
    let s = Site::new(
        &lab,
        &["h61"],
        "lab",
        "[roles.unattended-upgrades]\nextra_package_blacklist = [\"redis-server\"]\n",
        &["unattended-upgrades"],
    );

    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    let ids = changed_ids(&doc, "h61");
    for want in [
        "file:/etc/apt/apt.conf.d/50unattended-upgrades",
        "service:apt-daily.timer",
        "service:apt-daily-upgrade.timer",
    ] {
        assert!(
            ids.contains(&want.to_owned()),
            "{want} did not change: {ids:?}"
        );
    }
    assert_eq!(failed_checks(&doc, "h61"), Vec::<String>::new());
    assert_eq!(verified(&doc, "h61"), 7, "{doc}");
    let conf = lab.sh("h61", "apt-config dump | grep -E '^Unattended-Upgrade::(Origins-Pattern|Package-Blacklist|Automatic-Reboot)'");
    assert!(conf.contains("Unattended-Upgrade::Origins-Pattern:: \"origin=Debian,codename=${distro_codename}-security,label=Debian-Security\";"), "{conf}");
    assert!(
        conf.contains("Unattended-Upgrade::Package-Blacklist:: \"redis-server\";"),
        "{conf}"
    );
    assert_eq!(
        lab.sh("h61", "cat /etc/apt/apt.conf.d/20auto-upgrades"),
        "APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";\n"
    );
    assert_eq!(
        lab.sh(
            "h61",
            "systemctl is-active apt-daily.timer apt-daily-upgrade.timer unattended-upgrades"
        ),
        "active\nactive\nactive\n"
    );
    // unattended-upgrade itself accepts the configuration (a dry run, no network needed).
    lab.sh(
        "h61",
        "unattended-upgrade --dry-run >/dev/null 2>&1 || unattended-upgrade --dry-run",
    );

    let (code, doc) = s.run("apply", &[]);
    assert_eq!((code, changed(&doc, "h61")), (0, 0), "{doc}");
    let before = lab.state_hash("h61");
    let (code, doc) = s.run("check", &["--verify"]);
    assert_eq!((code, changed(&doc, "h61")), (0, 0), "{doc}");
    assert_eq!(failed_checks(&doc, "h61"), Vec::<String>::new());
    assert_eq!(lab.state_hash("h61"), before, "check wrote to the host");

    // Docker taken off the blacklist, automatic updates switched off, a timer masked again.
    lab.sh(
        "h61",
        "sed -i '/\"docker-ce\";/d' /etc/apt/apt.conf.d/50unattended-upgrades; \
         printf 'APT::Periodic::Update-Package-Lists \"0\";\nAPT::Periodic::Unattended-Upgrade \"0\";\n' > /etc/apt/apt.conf.d/20auto-upgrades; \
         systemctl stop apt-daily-upgrade.timer; systemctl mask -q apt-daily-upgrade.timer",
    );
    // check alone: changes pending (5); with --verify the failing controls make it a failure (3).
    let (code, doc) = s.run("check", &[]);
    assert_eq!(code, 5, "{doc}");
    let (code, vdoc) = s.run("check", &["--verify"]);
    assert_eq!(code, 3, "{vdoc}");
    let mut ids = changed_ids(&doc, "h61");
    ids.sort();
    assert_eq!(
        ids,
        [
            "file:/etc/apt/apt.conf.d/20auto-upgrades",
            "file:/etc/apt/apt.conf.d/50unattended-upgrades",
            "service:apt-daily-upgrade.timer"
        ],
        "{doc}"
    );
    let failed = failed_checks(&vdoc, "h61");
    for id in [
        "unattended-upgrades.blacklist",
        "unattended-upgrades.enabled",
        "unattended-upgrades.timers",
    ] {
        assert!(
            failed.iter().any(|f| f.contains(id)),
            "{id} should fail: {failed:?}"
        );
    }
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(failed_checks(&doc, "h61"), Vec::<String>::new());

    // A pending reboot is reported, with the packages that asked for it.
    lab.sh("h61", "echo '*** System restart required ***' > /var/run/reboot-required; printf 'libc6\\nlinux-image-amd64\\n' > /var/run/reboot-required.pkgs");
    let (_, doc) = s.run("check", &["--verify"]);
    let failed = failed_checks(&doc, "h61");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].contains("unattended-upgrades.reboot-required")
            && failed[0].contains("reboot required by: libc6 linux-image-amd64"),
        "{failed:?}"
    );
    lab.sh(
        "h61",
        "rm -f /var/run/reboot-required /var/run/reboot-required.pkgs",
    );

    // The audit remembers `apt-config dump` while its inputs are unchanged. A drop-in is a
    // change it sees; so is an edit of a file a drop-in `#include`s from outside apt.conf.d,
    // which no fingerprint covers (so the dump is never remembered while the include stands).
    let reboot_fails = |doc: &serde_json::Value| {
        util::control(doc, "h61", "unattended-upgrades.automatic-reboot")["pass"] == false
    };
    let (_, doc) = s.run("audit", &["--no-probe"]);
    assert!(!reboot_fails(&doc), "{doc}");
    let (_, doc) = s.run("audit", &["--no-probe"]);
    assert!(!reboot_fails(&doc), "{doc}");
    let reboot = "echo 'Unattended-Upgrade::Automatic-Reboot \"true\";'";
    lab.sh("h61", &format!("{reboot} > /etc/apt/apt.conf.d/99zz-local"));
    let (_, doc) = s.run("audit", &["--no-probe"]);
    assert!(reboot_fails(&doc), "a new drop-in went unseen: {doc}");
    lab.sh(
        "h61",
        "rm /etc/apt/apt.conf.d/99zz-local; echo '#include \"/opt/apt-extra.conf\";' > /etc/apt/apt.conf.d/98zz-include; echo '// empty' > /opt/apt-extra.conf",
    );
    let (_, doc) = s.run("audit", &["--no-probe"]);
    assert!(!reboot_fails(&doc), "{doc}");
    lab.sh("h61", &format!("{reboot} > /opt/apt-extra.conf"));
    let (_, doc) = s.run("audit", &["--no-probe"]);
    assert!(reboot_fails(&doc), "an included file's edit went unseen: {doc}");
    lab.sh(
        "h61",
        "rm /etc/apt/apt.conf.d/98zz-include /opt/apt-extra.conf",
    );
}
