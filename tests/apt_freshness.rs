//! apt's freshness as apt itself understands it, on real lab hosts through the real binary:
//! lists a minute old do not stop a refresh when a configured repository has no lists (the
//! fresh machine of issue 14: `Unable to locate package`), nor when a source file changed after
//! the last refresh; a source the run itself writes is indexed before the install that needs
//! it; a converged host refreshes nothing (apt-get update does not run: the lists' and the
//! stamp's mtimes stay the same), even with a repository apt cannot reach. Hosts: h35, h36 —
//! tests/util/HOSTS.md.

mod util;

use util::{Lab, Site, changed, changed_ids, host};

/// The mtimes (with nanoseconds) of the lists, their directory and the update stamp: any
/// `apt-get update` changes at least the stamp rampart touches after it.
const LISTS_MTIMES: &str = "stat -c '%n %y' /var/lib/apt/lists /var/lib/apt/lists/* /var/lib/apt/periodic/update-success-stamp 2>/dev/null; true";

/// The summary of the apt-update resource in a report.
fn apt_summary(doc: &serde_json::Value, h: &str) -> String {
    host(doc, h)["resources"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["id"] == "apt-update"))
        .and_then(|r| r["summary"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// A converged host costs what it did before apt's sources were read: one connection, one exec.
fn one_round_trip(doc: &serde_json::Value, h: &str) {
    let r = host(doc, h);
    assert_eq!(
        (r["connections"].as_u64(), r["round_trips"].as_u64()),
        (Some(1), Some(1)),
        "{doc}"
    );
}

/// An apply on converged host `h`: 0 changed, one connection and one exec, and apt-get update
/// did not run.
fn apply_changes_nothing(lab: &Lab, s: &Site, h: &str) {
    let before = lab.sh(h, LISTS_MTIMES);
    let (code, doc) = s.run("apply", &[]);
    assert_eq!((code, changed(&doc, h)), (0, 0), "{doc}");
    one_round_trip(&doc, h);
    assert_eq!(lab.sh(h, LISTS_MTIMES), before, "apt-get update ran again");
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn young_lists_missing_a_source_are_refreshed_once_on_h35() {
    let lab = Lab::get();
    lab.reset(&["h35"]);
    // Lists a minute old, none for the lab repository its source names (that source older
    // than the lists, so only the missing lists can tell); a disabled deb822 stanza and a file
    // apt does not read name repositories that must not count.
    lab.sh(
        "h35",
        "rm -f /var/lib/apt/lists/_srv_lab-repo_* /var/lib/apt/periodic/update-success-stamp
         printf 'Types: deb\\nURIs: http://10.213.35.1:9/off\\nSuites: x\\nComponents: main\\nEnabled: no\\n' >/etc/apt/sources.list.d/off.sources
         echo 'deb http://10.213.35.1:9/ignored x main' >/etc/apt/sources.list.d/ignored.list.disabled
         touch -d '2 minutes ago' /etc/apt/sources.list.d/*
         touch -d '1 minute ago' /var/lib/apt/lists
         ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q installed",
    );
    let roles = "[roles.base]\npackages = [\"busybox-static\"]\ntimezone = \"\"\n\n[roles.base.admin]\nmanage = false\n";
    let s = Site::new(&lab, &["h35"], "root", roles, &["base"]);

    let (code, doc) = s.run("check", &[]);
    assert_eq!(code, 5, "changes pending: {doc}");
    assert_eq!(
        apt_summary(&doc, "h35"),
        "refresh apt package lists: no lists for deb file:/srv/lab-repo/ ./",
        "{doc}"
    );

    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    let ids = changed_ids(&doc, "h35");
    assert_eq!(ids, ["apt-update", "packages:busybox-static"], "{doc}");
    lab.sh(
        "h35",
        "command -v busybox && ls /var/lib/apt/lists/_srv_lab-repo_._Packages",
    );

    apply_changes_nothing(&lab, &s, "h35");

    // A source edited after the refresh (lists seconds old, every repository indexed): a
    // second later, so its ctime is newer than the stamp in whole seconds.
    lab.sh(
        "h35",
        "sleep 1; echo '# edited' >>/etc/apt/sources.list.d/rampart-lab.list",
    );
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(changed_ids(&doc, "h35"), ["apt-update"], "{doc}");
    assert_eq!(
        apt_summary(&doc, "h35"),
        "refresh apt package lists: /etc/apt/sources.list.d/rampart-lab.list changed since",
        "{doc}"
    );
    apply_changes_nothing(&lab, &s, "h35");

    // A repository that cannot be reached (apt-get update only warns, and leaves it without
    // lists): refreshed once, then left to the age window, not refreshed on every run.
    lab.sh(
        "h35",
        "sleep 1; echo 'deb http://10.213.35.1:9/dead x main' >/etc/apt/sources.list.d/dead.list",
    );
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(changed_ids(&doc, "h35"), ["apt-update"], "{doc}");
    assert_eq!(
        apt_summary(&doc, "h35"),
        "refresh apt package lists: no lists for deb http://10.213.35.1:9/dead/ x",
        "{doc}"
    );
    apply_changes_nothing(&lab, &s, "h35");
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn a_repository_the_run_adds_is_installed_from_in_the_same_run_on_h36() {
    let lab = Lab::get();
    lab.reset(&["h36"]);
    // No source for the lab repository and young lists: only the role's own source can tell
    // apt where busybox-static is.
    lab.sh(
        "h36",
        "rm -f /etc/apt/sources.list.d/rampart-lab.list /var/lib/apt/lists/_srv_lab-repo_*
         touch -d '1 minute ago' /var/lib/apt/lists",
    );
    let roles = "[roles.custom]\npackages = [\"busybox-static\"]\nfiles = [{ path = \"/etc/apt/sources.list.d/lab.list\", content = \"deb [trusted=yes] file:/srv/lab-repo ./\\n\" }]\n";
    let s = Site::new(&lab, &["h36"], "root", roles, &["custom"]);

    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(
        changed_ids(&doc, "h36"),
        [
            "file:/etc/apt/sources.list.d/lab.list",
            "packages:busybox-static"
        ],
        "{doc}"
    );
    lab.sh("h36", "command -v busybox");

    apply_changes_nothing(&lab, &s, "h36");
}
