//! The swap-sysctl role against a real lab host, through the real binary: the swap file is
//! allocated, 0600, formatted and listed once in fstab (swapon is refused in the container and
//! skipped); the seed's parameters are persisted and live; a second apply changes nothing;
//! check writes nothing; a duplicated fstab line (the seed's `tee -a` run twice) and a changed
//! net.* parameter are reported by check and repaired by apply.
//!
//! `vm.*` and `fs.*` are the machine's kernel, which every lab host shares: inside a
//! container the role persists them and leaves the live values alone (core's
//! `settable_here`), so the test asserts the file for them and the live values of the
//! per-host `net.*` keys, and injects drift on one of those. Host: h63 (tests/util/HOSTS.md).

use crate::util;

use util::{Lab, Site, changed, changed_ids, failed_checks, host};

// 64 MiB: the lab's hosts share the machine's disk.
const SITE: &str = "[roles.swap-sysctl]\nswap_size = \"64M\"\n";

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn swap_file_and_sysctls_converge_and_repair_on_h63() {
    let lab = Lab::get();
    lab.reset(&["h63"]);
    let s = Site::new(&lab, &["h63"], "root", SITE, &["swap-sysctl"]);
    let fstab = "awk '$1 == \"/swapfile\"' /etc/fstab";

    // check: would change, writes nothing.
    let before = lab.state_hash("h63");
    let (code, doc) = s.run("check", &[]);
    assert_eq!(code, 5, "{doc}");
    assert_eq!(lab.state_hash("h63"), before, "check wrote to the host");

    // apply: file, fstab line, drop-in and live values; verify passes (swap.active explains
    // that the container refuses swapon).
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    let ids = changed_ids(&doc, "h63");
    for want in [
        "swapfile:/swapfile",
        "edit:/etc/fstab#swap",
        "file:/etc/sysctl.d/99-fleetclaw.conf",
        "sysctl:net.core.somaxconn",
    ] {
        assert!(ids.iter().any(|i| i == want), "{want} not in {ids:?}");
    }
    assert_eq!(failed_checks(&doc, "h63"), Vec::<String>::new());
    let evidence = host(&doc, "h63")["verify"].to_string();
    assert!(evidence.contains("the kernel refuses swapon"), "{evidence}");
    assert_eq!(
        lab.sh("h63", "stat -c '%a %U %s' /swapfile"),
        "600 root 67108864\n"
    );
    assert_eq!(
        lab.sh("h63", "dd if=/swapfile bs=1 skip=4086 count=10 2>/dev/null"),
        "SWAPSPACE2",
        "mkswap's signature"
    );
    assert_eq!(lab.sh("h63", fstab), "/swapfile none swap sw 0 0\n");
    assert_eq!(
        lab.sh(
            "h63",
            "sysctl -n net.core.somaxconn net.ipv4.tcp_max_syn_backlog"
        ),
        "1024\n1024\n"
    );
    // The machine's kernel-wide parameters are persisted, not set: no live step for them, and
    // their checks pass as the machine's.
    for k in ["vm.swappiness", "fs.file-max"] {
        assert!(!ids.contains(&format!("sysctl:{k}")), "{k} set live: {ids:?}");
        assert!(
            evidence.contains(&format!("{k}: in a container (systemd-nspawn) the machine's kernel's, persisted only")),
            "{k}: {evidence}"
        );
    }
    assert_eq!(
        lab.sh("h63", "cat /etc/sysctl.d/99-fleetclaw.conf"),
        "# Managed by rampart (role swap-sysctl): local changes are overwritten.\nfs.file-max = 100000\nnet.core.somaxconn = 1024\nnet.ipv4.tcp_max_syn_backlog = 1024\nvm.swappiness = 10\n"
    );
    // systemd-sysctl (what a boot runs) accepts the drop-in.
    lab.sh(
        "h63",
        "/lib/systemd/systemd-sysctl /etc/sysctl.d/99-fleetclaw.conf",
    );

    // Second apply: nothing. check --verify: nothing, every control passes, nothing written.
    let (code, doc) = s.run("apply", &[]);
    assert_eq!((code, changed(&doc, "h63")), (0, 0), "{doc}");
    let before = lab.state_hash("h63");
    let (code, doc) = s.run("check", &["--verify"]);
    assert_eq!((code, changed(&doc, "h63")), (0, 0), "{doc}");
    assert_eq!(failed_checks(&doc, "h63"), Vec::<String>::new());
    assert_eq!(lab.state_hash("h63"), before, "check wrote to the host");

    // Drift: the seed's `echo ... | tee -a /etc/fstab` run a second time.
    lab.sh(
        "h63",
        "echo '/swapfile none swap sw 0 0' | tee -a /etc/fstab >/dev/null",
    );
    let (code, doc) = s.run("check", &["--verify"]);
    assert_ne!(code, 0, "{doc}");
    assert_eq!(
        changed_ids(&doc, "h63"),
        vec!["edit:/etc/fstab#swap".to_owned()],
        "{doc}"
    );
    assert!(
        failed_checks(&doc, "h63")
            .iter()
            .any(|f| f.contains("swap.fstab")),
        "{doc}"
    );
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(lab.sh("h63", fstab), "/swapfile none swap sw 0 0\n");

    // Drift: a per-host parameter changed live.
    lab.sh("h63", "sysctl -qw net.core.somaxconn=4096");
    let (code, doc) = s.run("check", &["--verify"]);
    assert_ne!(code, 0, "{doc}");
    assert_eq!(
        changed_ids(&doc, "h63"),
        vec!["sysctl:net.core.somaxconn".to_owned()],
        "{doc}"
    );
    assert!(
        failed_checks(&doc, "h63")
            .iter()
            .any(|f| f.contains("sysctl.net.core.somaxconn")),
        "{doc}"
    );
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(failed_checks(&doc, "h63"), Vec::<String>::new());
    assert_eq!(lab.sh("h63", "sysctl -n net.core.somaxconn"), "1024\n");
    let (code, doc) = s.run("apply", &[]);
    assert_eq!((code, changed(&doc, "h63")), (0, 0), "{doc}");
}
