//! The custom role against a real lab host, through the real binary, connecting as `lab` with
//! sudo: one entry of every kind (a templated file from the site's templates directory, a
//! validated sudoers file, a unit file and its service, a directory, a line, a sysctl, a
//! package installed and one removed, a guarded command) converges; a second apply changes
//! nothing and check writes nothing; drift of each kind is reported and repaired; a file that
//! fails its validation is never installed.
//! Host: h65 (tests/util/HOSTS.md).

use crate::util;

use util::{Lab, Site, changed, changed_ids, failed_checks, host};

const H: &str = "h65";

const ROLE: &str = r#"[roles.custom]
packages = ["busybox-static"]
apt_cache_valid_secs = 600
absent_packages = ["unattended-upgrades"]
directories = [{ path = "/opt/fleet", mode = "0750", owner = "lab", group = "lab" }]
files = [
  { path = "/etc/motd", template = "motd.j2", vars = { banner = "FleetClaw" } },
  { path = "/opt/fleet/app.conf", content = "a = 1\n", mode = 640, owner = "lab", group = "lab", restart = ["fleet"] },
  { path = "/etc/systemd/system/fleet.service", content = "[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n" },
  { path = "/etc/sudoers.d/ops", content = "lab ALL=(root) NOPASSWD: /usr/bin/true\n", mode = "0440", validate = "visudo -cf %s" },
  { path = "/etc/cron.d/obsolete", state = "absent" },
]
lines = [{ path = "/etc/hosts", match = "127.0.1.1 ", line = "127.0.1.1 fleetclaw-prod" }]
sysctls = { "net.core.somaxconn" = 1024 }
services = [{ name = "fleet", enabled = true, state = "started" }]
commands = [{ name = "init fleet db", run = "touch /opt/fleet/db", creates = "/opt/fleet/db" }]
"#;

/// A custom-role site on H as `lab`, with a site templates directory holding motd.j2.
fn custom_site(lab: &Lab, roles_toml: &str) -> Site {
    let s = Site::with_text(
        lab,
        &[H],
        "lab",
        &format!(
            "templates = \"templates\"\n\n[[play]]\nhosts = \"lab\"\nroles = [\"custom\"]\n\n{roles_toml}"
        ),
    );
    std::fs::create_dir(s.dir().join("templates")).expect("mkdir");
    std::fs::write(
        s.dir().join("templates/motd.j2"),
        "{{ banner }} on {{ inventory_hostname }} ({{ host.os_codename }})\n",
    )
    .expect("write template");
    s
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn custom_converges_every_kind_of_entry_on_h65() {
    let lab = Lab::get();
    lab.reset(&[H]);
    let s = custom_site(&lab, ROLE);

    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    // The lab's apt lists predate its local repository: `apt-update` runs first (whether it
    // shows depends on the age of the lab root, so it is not asserted).
    let ids: Vec<String> = changed_ids(&doc, H)
        .into_iter()
        .filter(|i| i != "apt-update")
        .collect();
    assert_eq!(
        ids,
        [
            "packages:busybox-static",
            "packages:unattended-upgrades",
            "directory:/opt/fleet",
            "file:/etc/motd",
            "file:/opt/fleet/app.conf",
            "file:/etc/systemd/system/fleet.service",
            "file:/etc/sudoers.d/ops",
            "edit:/etc/hosts#127.0.1.1 ",
            "file:/etc/sysctl.d/90-rampart.conf",
            "sysctl:net.core.somaxconn",
            "command:init fleet db",
            "service:fleet",
        ],
        "{doc}"
    );
    assert_eq!(failed_checks(&doc, H), Vec::<String>::new(), "{doc}");
    assert_eq!(
        lab.sh(
            H,
            "cat /etc/motd; stat -c '%n %a %U:%G' /opt/fleet /opt/fleet/app.conf /etc/sudoers.d/ops; grep -c '^127.0.1.1 ' /etc/hosts; grep '^127.0.1.1 ' /etc/hosts; cat /proc/sys/net/core/somaxconn; systemctl is-active fleet; systemctl is-enabled fleet; ls /opt/fleet/db; dpkg-query -W -f '${db:Status-Abbrev}\\n' busybox-static unattended-upgrades"
        ),
        "FleetClaw on h65 (bookworm)\n/opt/fleet 750 lab:lab\n/opt/fleet/app.conf 640 lab:lab\n/etc/sudoers.d/ops 440 root:root\n1\n127.0.1.1 fleetclaw-prod\n1024\nactive\nenabled\n/opt/fleet/db\nii \nrc \n"
    );

    // Converged: nothing to do; check writes nothing; every control holds.
    let (code, doc) = s.run("apply", &[]);
    assert_eq!((code, changed(&doc, H)), (0, 0), "{doc}");
    let before = lab.state_hash(H);
    let (code, doc) = s.run("check", &["--verify"]);
    assert_eq!((code, changed(&doc, H)), (0, 0), "{doc}");
    assert_eq!(failed_checks(&doc, H), Vec::<String>::new());
    assert_eq!(
        host(&doc, H)["verify"].as_array().map_or(0, Vec::len),
        4,
        "{doc}"
    );
    assert_eq!(lab.state_hash(H), before, "check wrote to the host");

    // Drift of every kind: reported by check (and verify), repaired by apply.
    let fleet_pid = lab.sh(H, "systemctl show -p MainPID --value fleet");
    lab.sh(
        H,
        "echo 'a = 2' > /opt/fleet/app.conf; chmod 0777 /opt/fleet; echo '127.0.1.1 h65' >> /etc/hosts; \
         echo 4096 > /proc/sys/net/core/somaxconn; rm /opt/fleet/db; echo '* * * * * root true' > /etc/cron.d/obsolete",
    );
    let (code, doc) = s.run("check", &[]);
    assert_eq!(code, 5, "{doc}");
    assert_eq!(
        changed_ids(&doc, H),
        [
            "directory:/opt/fleet",
            "file:/opt/fleet/app.conf",
            "file:/etc/cron.d/obsolete",
            "edit:/etc/hosts#127.0.1.1 ",
            "sysctl:net.core.somaxconn",
            "command:init fleet db",
        ],
        "{doc}"
    );
    // Failing controls make the host fail (exit 3).
    let (code, doc) = s.run("check", &["--verify"]);
    assert_eq!(code, 3, "{doc}");
    let failed = failed_checks(&doc, H);
    for id in ["custom.paths", "custom.lines", "custom.sysctls"] {
        assert!(
            failed.iter().any(|f| f.contains(id)),
            "{id} must fail: {failed:?}"
        );
    }
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(failed_checks(&doc, H), Vec::<String>::new(), "{doc}");
    assert_eq!(
        host(&doc, H)["handlers"],
        serde_json::json!(["custom: restart fleet"]),
        "{doc}"
    );
    assert_ne!(
        lab.sh(H, "systemctl show -p MainPID --value fleet"),
        fleet_pid,
        "fleet restarted after its config changed"
    );

    // The service stopped by hand is started again.
    lab.sh(H, "systemctl stop fleet");
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(changed_ids(&doc, H), ["service:fleet"], "{doc}");

    // A sudoers file visudo rejects is never installed; the old one stays.
    let bad = custom_site(
        &lab,
        &ROLE.replace("NOPASSWD: /usr/bin/true", "NOPASSWD /usr/bin/true"),
    );
    let (code, doc) = bad.run("apply", &[]);
    assert_ne!(code, 0, "{doc}");
    let err = host(&doc, H)["resources"].to_string();
    assert!(
        err.contains("validation of /etc/sudoers.d/ops failed"),
        "{err}"
    );
    assert_eq!(
        lab.sh(
            H,
            "cat /etc/sudoers.d/ops; ls -a /etc/sudoers.d | grep -c rampart || true"
        ),
        "lab ALL=(root) NOPASSWD: /usr/bin/true\n0\n"
    );
}
