//! The sshd role against real lab hosts, through the real binary: the drop-in is written,
//! validated and reloaded; a second apply changes nothing; check writes nothing; `sshd -T`
//! proves the settings; drift is reported by check and repaired by apply; an invalid directive
//! is rolled back; lockouts are refused; and the seed's settings really keep root out.
//! Hosts: h60 (as root), h6 (as `lab` with sudo) — tests/util/HOSTS.md.

use crate::util;

use util::{
    Lab, Site, changed, changed_ids, control, failed_checks, host, rampart_json, verified,
};

const ROOT_SITE: &str = "[roles.sshd]\npermit_root_login = \"prohibit-password\"\nallow_users = [\"root\", \"lab\", \"fleetclaw\"]\n";

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn sshd_converges_proves_repairs_and_rolls_back_on_h60() {
    let lab = Lab::get();
    lab.reset(&["h60"]);
    let s = Site::new(&lab, &["h60"], "root", ROOT_SITE, &["sshd"]);

    // First apply: the drop-in is written and sshd reloaded; verify runs and passes.
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(
        changed_ids(&doc, "h60"),
        ["file:/etc/ssh/sshd_config.d/00-rampart.conf"],
        "{doc}"
    );
    assert_eq!(
        host(&doc, "h60")["handlers"],
        serde_json::json!(["sshd: reload sshd"]),
        "{doc}"
    );
    assert!(verified(&doc, "h60") >= 10, "{doc}");
    assert_eq!(failed_checks(&doc, "h60"), Vec::<String>::new());
    let t = lab.sh("h60", "sshd -T | grep -E '^(permitrootlogin|passwordauthentication|kbdinteractiveauthentication|maxauthtries|logingracetime|x11forwarding) ' | sort");
    assert_eq!(
        t,
        "kbdinteractiveauthentication no\nlogingracetime 30\nmaxauthtries 3\npasswordauthentication no\npermitrootlogin without-password\nx11forwarding no\n"
    );

    // Second apply: nothing to do. Check writes nothing and passes with every check.
    let (code, doc) = s.run("apply", &[]);
    assert_eq!((code, changed(&doc, "h60")), (0, 0), "{doc}");
    let before = lab.state_hash("h60");
    let (code, doc) = s.run("check", &["--verify"]);
    assert_eq!((code, changed(&doc, "h60")), (0, 0), "{doc}");
    assert_eq!(failed_checks(&doc, "h60"), Vec::<String>::new());
    assert_eq!(lab.state_hash("h60"), before, "check wrote to the host");

    // A cloud-init drop-in and a line appended to sshd_config come after the drop-in: they lose,
    // nothing needs repairing, and sshd -T still says no.
    lab.sh(
        "h60",
        "printf 'PasswordAuthentication yes\\n' > /etc/ssh/sshd_config.d/50-cloud-init.conf; echo 'PasswordAuthentication yes' >> /etc/ssh/sshd_config",
    );
    let (code, doc) = s.run("check", &["--verify"]);
    assert_eq!((code, changed(&doc, "h60")), (0, 0), "{doc}");
    assert_eq!(failed_checks(&doc, "h60"), Vec::<String>::new());

    // The drop-in edited by hand: check reports it, apply repairs and reloads.
    lab.sh("h60", "sed -i 's/^PasswordAuthentication no/PasswordAuthentication yes/' /etc/ssh/sshd_config.d/00-rampart.conf");
    let (code, doc) = s.run("check", &[]);
    assert_eq!(code, 5, "{doc}");
    assert_eq!(
        changed_ids(&doc, "h60"),
        ["file:/etc/ssh/sshd_config.d/00-rampart.conf"]
    );
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(failed_checks(&doc, "h60"), Vec::<String>::new());
    assert_eq!(
        lab.sh("h60", "sshd -T | grep '^passwordauthentication '"),
        "passwordauthentication no\n"
    );

    // A directive above the Include wins over every drop-in: the Include is moved to the top.
    lab.sh(
        "h60",
        "sed -i '1i PasswordAuthentication yes' /etc/ssh/sshd_config",
    );
    assert_eq!(
        lab.sh("h60", "sshd -T | grep '^passwordauthentication '"),
        "passwordauthentication yes\n"
    );
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(
        changed_ids(&doc, "h60"),
        ["file:/etc/ssh/sshd_config"],
        "{doc}"
    );
    assert_eq!(failed_checks(&doc, "h60"), Vec::<String>::new());
    assert_eq!(
        lab.sh("h60", "sshd -T | grep '^passwordauthentication '"),
        "passwordauthentication no\n"
    );
    assert_eq!(
        lab.sh(
            "h60",
            "grep -v '^#' /etc/ssh/sshd_config | grep -v '^$' | head -1"
        ),
        "Include /etc/ssh/sshd_config.d/*.conf\n"
    );

    // An AllowUsers line elsewhere adds to the list: verify fails and names the file.
    lab.sh(
        "h60",
        "echo 'AllowUsers intruder' >> /etc/ssh/sshd_config.d/50-cloud-init.conf",
    );
    let (_, doc) = s.run("check", &["--verify"]);
    let failed = failed_checks(&doc, "h60");
    assert!(
        failed.iter().any(|f| f.contains("sshd.allowusers")
            && f.contains("50-cloud-init.conf:2:AllowUsers intruder")),
        "{failed:?}"
    );
    lab.sh("h60", "rm /etc/ssh/sshd_config.d/50-cloud-init.conf");

    // An Include of a file outside sshd_config.d/, which no fingerprint covers: once an audit
    // has remembered `sshd -T`, an edit of that file still shows in the next audit.
    lab.sh(
        "h60",
        "echo '# extra' > /opt/rampart-extra.conf; echo 'Include /opt/rampart-extra.conf' > /etc/ssh/sshd_config.d/60-extra.conf",
    );
    let allowusers = |doc: &serde_json::Value| control(doc, "h60", "sshd.allowusers")["pass"].clone();
    let (_, doc) = s.run("audit", &["--no-probe"]);
    assert_eq!(allowusers(&doc), true, "{doc}");
    lab.sh("h60", "echo 'AllowUsers intruder' > /opt/rampart-extra.conf");
    let (_, doc) = s.run("audit", &["--no-probe"]);
    assert_eq!(allowusers(&doc), false, "the edit went unseen: {doc}");
    lab.sh(
        "h60",
        "rm /opt/rampart-extra.conf /etc/ssh/sshd_config.d/60-extra.conf",
    );

    // A directive sshd rejects: sshd -t fails in place, the previous drop-in is restored, sshd
    // keeps running with it.
    let bad = Site::new(
        &lab,
        &["h60"],
        "root",
        &format!("{ROOT_SITE}extra = {{ NoSuchKeyword = \"1\" }}\n"),
        &["sshd"],
    );
    let good = lab.sh("h60", "sha256sum /etc/ssh/sshd_config.d/00-rampart.conf");
    let (code, doc) = bad.run("apply", &[]);
    assert_eq!(code, 3, "{doc}");
    let err = host(&doc, "h60")["resources"].to_string();
    assert!(
        err.contains("previous file restored") && err.contains("NoSuchKeyword"),
        "{err}"
    );
    assert_eq!(
        lab.sh("h60", "sha256sum /etc/ssh/sshd_config.d/00-rampart.conf"),
        good
    );
    lab.sh("h60", "sshd -t && systemctl is-active ssh");

    // The seed's own defaults would lock rampart (root) out: refused, nothing written.
    let seed = Site::new(&lab, &["h60"], "root", "", &["sshd"]);
    let before = lab.state_hash("h60");
    let (code, doc) = seed.run("apply", &[]);
    assert_eq!(code, 3, "{doc}");
    let err = host(&doc, "h60")["resources"].to_string();
    assert!(
        err.contains("PermitRootLogin no would lock rampart out: it connects to h60 as root"),
        "{err}"
    );
    assert_eq!(lab.state_hash("h60"), before);
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn the_seeds_settings_keep_root_out_when_rampart_connects_as_lab_on_h6() {
    let lab = Lab::get();
    lab.reset(&["h6"]);
    // The seed's settings, with `lab` (rampart's login, passwordless sudo) in AllowUsers.
    let s = Site::new(
        &lab,
        &["h6"],
        "lab",
        "[roles.sshd]\nallow_users = [\"fleetclaw\", \"lab\"]\nstrict = true\n",
        &["sshd"],
    );
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(failed_checks(&doc, "h6"), Vec::<String>::new());
    assert!(
        verified(&doc, "h6") >= 20,
        "strict profile checks ran: {doc}"
    );
    let (code, doc) = s.run("apply", &[]);
    assert_eq!((code, changed(&doc, "h6")), (0, 0), "{doc}");
    // Root is now refused by sshd itself; lab still gets in.
    let dir = tempfile::tempdir().expect("tempdir");
    let root_inv = lab.inventory(dir.path(), &["h6"], "root");
    let (code, doc) = rampart_json(&["ping", "-i", root_inv.to_str().expect("utf-8")]);
    assert_ne!(code, 0, "root must be refused now: {doc}");
    let (code, doc) = rampart_json(&["ping", "-i", s.inv.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{doc}");
    // Without `lab` in AllowUsers the plan is refused before anything is sent.
    let locked = Site::new(
        &lab,
        &["h6"],
        "lab",
        "[roles.sshd]\nallow_users = [\"fleetclaw\"]\n",
        &["sshd"],
    );
    let (code, doc) = locked.run("check", &[]);
    assert_eq!(code, 3, "{doc}");
    assert!(
        host(&doc, "h6")["resources"]
            .to_string()
            .contains("AllowUsers fleetclaw would lock rampart out: it connects to h6 as `lab`"),
        "{doc}"
    );
}
