//! The ufw role against a real lab host, through the real binary: check writes nothing; the
//! first apply enables the firewall with the SSH port in use, Tailscale and a site rule (and
//! rampart still gets in); the firewall really drops a port nobody allowed; a second apply
//! changes nothing; verify passes; `ufw disable`, a stray rule and a loosened default are
//! each reported by check (and the stray by verify) and repaired by apply, without `ufw
//! reset`; an `ssh_from` that excludes rampart is refused before anything is sent.
//! Host: h7 (tests/util/HOSTS.md).

use crate::util;

use std::process::Command;

use util::{Lab, Site, changed, changed_ids, failed_checks, host, verified};

/// Whether an HTTP GET from the machine (outside every lab host) gets an answer.
fn reachable(url: &str) -> bool {
    Command::new("curl")
        .args(["-s", "-o", "/dev/null", "--max-time", "3", url])
        .status()
        .is_ok_and(|s| s.success())
}

const SITE: &str = "[roles.ufw]\nallow = [{ port = 8443, from = \"10.0.0.0/8\", comment = \"metrics\" }, { port = \"60000:61000\", proto = \"udp\" }]\n";

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn ufw_converges_keeps_ssh_drops_the_rest_and_repairs_drift_on_h7() {
    let lab = Lab::get();
    lab.reset(&["h7"]);
    let s = Site::new(&lab, &["h7"], "root", SITE, &["ufw"]);
    // A web server nobody allowed: reachable while the firewall is off.
    lab.sh(
        "h7",
        "systemd-run --quiet --unit=rampart-test-web python3 -m http.server 8080 && sleep 1",
    );
    let web = "http://10.213.7.2:8080/";
    assert!(
        reachable(web),
        "the test listener must answer before ufw is on"
    );

    // check: the firewall would change, nothing is written.
    let before = lab.state_hash("h7");
    let (code, doc) = s.run("check", &[]);
    assert_eq!(code, 5, "{doc}");
    assert_eq!(changed_ids(&doc, "h7"), ["ufw"], "{doc}");
    assert_eq!(lab.state_hash("h7"), before, "check wrote to the host");

    // First apply: on, with SSH (the port rampart is connected through), Tailscale, the site's
    // rules; verify runs and passes.
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(changed_ids(&doc, "h7"), ["ufw"], "{doc}");
    assert!(verified(&doc, "h7") >= 7, "{doc}");
    assert_eq!(failed_checks(&doc, "h7"), Vec::<String>::new());
    let st = lab.sh("h7", "ufw status verbose");
    for want in [
        "Status: active",
        "Logging: on (low)",
        "Default: deny (incoming), allow (outgoing)",
        "22/tcp                     ALLOW IN    Anywhere                   # SSH",
        "41641/udp                  ALLOW IN    Anywhere                   # Tailscale",
        "8443/tcp                   ALLOW IN    10.0.0.0/8                 # metrics",
        "60000:61000/udp            ALLOW IN    Anywhere",
        "22/tcp (v6)                ALLOW IN    Anywhere (v6)              # SSH",
    ] {
        assert!(st.contains(want), "missing {want:?} in\n{st}");
    }
    assert_eq!(
        lab.sh("h7", "grep '^DEFAULT_FORWARD_POLICY=' /etc/default/ufw"),
        "DEFAULT_FORWARD_POLICY=\"DROP\"\n"
    );
    assert!(!reachable(web), "ufw must drop a port nobody allowed");

    // Second apply (over SSH through the firewall): nothing to do. check --verify writes
    // nothing and every control passes.
    let (code, doc) = s.run("apply", &[]);
    assert_eq!((code, changed(&doc, "h7")), (0, 0), "{doc}");
    let before = lab.state_hash("h7");
    let (code, doc) = s.run("check", &["--verify"]);
    assert_eq!((code, changed(&doc, "h7")), (0, 0), "{doc}");
    assert_eq!(failed_checks(&doc, "h7"), Vec::<String>::new());
    assert_eq!(lab.state_hash("h7"), before, "check wrote to the host");

    // Drift 1: `ufw disable`. Reported, repaired, the listener is cut off again.
    lab.sh("h7", "ufw disable >/dev/null");
    assert!(reachable(web));
    let (code, doc) = s.run("check", &[]);
    assert_eq!(
        (code, changed_ids(&doc, "h7")),
        (5, vec!["ufw".to_owned()]),
        "{doc}"
    );
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(failed_checks(&doc, "h7"), Vec::<String>::new());
    assert!(lab.sh("h7", "ufw status").contains("Status: active"));
    assert!(!reachable(web));

    // Drift 2: a stray rule opening the listener. check reports it, verify names it, apply
    // deletes just that rule.
    lab.sh("h7", "ufw allow 8080/tcp >/dev/null");
    assert!(reachable(web), "the stray rule opens the port");
    let (code, doc) = s.run("check", &[]);
    assert_eq!(
        (code, changed_ids(&doc, "h7")),
        (5, vec!["ufw".to_owned()]),
        "{doc}"
    );
    let (code, doc) = s.run("check", &["--verify"]);
    assert_ne!(code, 0, "{doc}");
    let failed = failed_checks(&doc, "h7");
    assert!(
        failed.iter().any(|f| f.contains("ufw.only-allowed")
            && f.contains("unexpected: allow 8080/tcp from 0.0.0.0/0 in")),
        "{failed:?}"
    );
    let diff = host(&doc, "h7")["resources"].to_string();
    assert!(diff.contains("8080"), "{diff}");
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(failed_checks(&doc, "h7"), Vec::<String>::new());
    assert!(!lab.sh("h7", "ufw status").contains("8080"));
    assert!(!reachable(web));

    // Drift 3: the default loosened and logging off.
    lab.sh(
        "h7",
        "ufw default allow incoming >/dev/null && ufw logging off >/dev/null",
    );
    assert!(reachable(web), "default allow opens everything");
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(
        (code, changed_ids(&doc, "h7")),
        (0, vec!["ufw".to_owned()]),
        "{doc}"
    );
    assert_eq!(failed_checks(&doc, "h7"), Vec::<String>::new());
    assert!(!reachable(web));
    let (code, doc) = s.run("apply", &[]);
    assert_eq!((code, changed(&doc, "h7")), (0, 0), "{doc}");

    // Restricting SSH to a network rampart does not connect from is refused up front, with the
    // fix; nothing is written.
    let locked = Site::new(
        &lab,
        &["h7"],
        "root",
        "[roles.ufw]\nssh_from = [\"192.0.2.0/24\"]\n",
        &["ufw"],
    );
    let before = lab.state_hash("h7");
    let (code, doc) = locked.run("apply", &[]);
    assert_eq!(code, 3, "{doc}");
    let err = host(&doc, "h7")["resources"].to_string();
    assert!(
        err.contains("rampart connects from 10.213.7.1") && err.contains("ssh_from"),
        "{err}"
    );
    assert_eq!(lab.state_hash("h7"), before);
    lab.sh("h7", "systemctl stop rampart-test-web");
}
