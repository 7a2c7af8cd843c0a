//! The service-hardening role against a real lab host, through the real binary: a stand-in
//! `clawdbot` service is sandboxed (proved on the running process), its `.env` is made 0600
//! without being read, the scoped sudoers file lets the service user manage its own unit and
//! nothing else; a second apply changes nothing and check writes nothing; drift is reported
//! and repaired; a symlinked `.env` is refused instead of followed.
//! Host: h10 (tests/util/HOSTS.md).

use crate::util;

use util::{Lab, Site, changed, changed_ids, failed_checks, host};

const H: &str = "h10";
const ENV: &str = "/home/clawdbot/.clawdbot/.env";
const DROPIN: &str = "/etc/systemd/system/clawdbot.service.d/10-rampart-hardening.conf";

/// A stand-in for the seed's clawdbot: a user, its state directory, a root-owned world-readable
/// `.env` (as a deploy with `sudo tee` leaves it), and a running unit.
const SETUP: &str = "useradd -m -s /bin/bash clawdbot
install -d -o clawdbot -g clawdbot -m 0700 /home/clawdbot/.clawdbot
printf 'TELEGRAM_TOKEN=lab-token-4711\\n' > /home/clawdbot/.clawdbot/.env
chmod 0644 /home/clawdbot/.clawdbot/.env
printf '[Service]\\nUser=clawdbot\\nExecStart=/bin/sleep infinity\\n[Install]\\nWantedBy=multi-user.target\\n' > /etc/systemd/system/clawdbot.service
systemctl daemon-reload
systemctl enable --now clawdbot";

const ROLE: &str = "[roles.service-hardening]\nenv_files = [\"/home/clawdbot/.clawdbot/.env\"]\n";

/// Runs a command as the service user; returns whether sudo allowed it.
fn sudo_allows(lab: &Lab, cmd: &str) -> bool {
    lab.exec(
        H,
        &format!("runuser -u clawdbot -- sudo -n {cmd} </dev/null >/dev/null 2>&1"),
    )
    .0 == 0
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn service_hardening_sandboxes_scopes_sudo_and_locks_env_on_h10() {
    let lab = Lab::get();
    lab.reset(&[H]);
    lab.sh(H, SETUP);
    let s = Site::new(&lab, &[H], "root", ROLE, &["service-hardening"]);
    let pid_before = lab.sh(H, "systemctl show -p MainPID --value clawdbot");

    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(
        changed_ids(&doc, H),
        [
            "directory:/etc/systemd/system/clawdbot.service.d",
            &format!("file:{DROPIN}"),
            "file:/etc/sudoers.d/clawdbot",
            &format!("command:secure env file {ENV}"),
        ],
        "{doc}"
    );
    assert_eq!(
        host(&doc, H)["handlers"],
        serde_json::json!(["service-hardening: reload systemd and restart the service"]),
        "{doc}"
    );
    assert_eq!(failed_checks(&doc, H), Vec::<String>::new(), "{doc}");

    // The running process is the sandboxed one.
    assert_ne!(
        lab.sh(H, "systemctl show -p MainPID --value clawdbot"),
        pid_before,
        "restarted"
    );
    let status = lab.sh(
        H,
        "grep NoNewPrivs /proc/$(systemctl show -p MainPID --value clawdbot)/status",
    );
    assert_eq!(
        status.split_whitespace().collect::<Vec<_>>(),
        ["NoNewPrivs:", "1"]
    );
    let (rc, _) = lab.exec(
        H,
        "nsenter -t $(systemctl show -p MainPID --value clawdbot) -m touch /etc/rampart-probe",
    );
    assert_ne!(
        rc, 0,
        "ProtectSystem=strict: /etc is read-only for the service"
    );
    lab.sh(H, "nsenter -t $(systemctl show -p MainPID --value clawdbot) -m touch /home/clawdbot/.clawdbot/probe");

    // .env: 0600 clawdbot, content untouched.
    assert_eq!(
        lab.sh(H, &format!("stat -c '%a %U:%G' {ENV}; cat {ENV}")),
        "600 clawdbot:clawdbot\nTELEGRAM_TOKEN=lab-token-4711\n"
    );
    let report = doc.to_string();
    assert!(
        !report.contains("lab-token-4711"),
        "the env file's content reached rampart"
    );

    // Scoped sudo: its own unit and logs, nothing else.
    for (cmd, allowed) in [
        ("systemctl restart clawdbot", true),
        ("systemctl status clawdbot.service", true),
        ("journalctl -u clawdbot -n 5 --no-pager", true),
        ("systemctl daemon-reload", true),
        ("journalctl -u clawdbot + _COMM=sshd", false),
        ("journalctl -u ssh", false),
        ("systemctl restart ssh", false),
        ("systemctl status ssh", false),
        ("tailscale file get /etc/cron.d", false),
        ("cat /etc/shadow", false),
        ("/bin/sh -c id", false),
    ] {
        assert_eq!(sudo_allows(&lab, cmd), allowed, "sudo {cmd}");
    }

    // Converged: nothing to do; check writes nothing; every control holds.
    let (code, doc) = s.run("apply", &[]);
    assert_eq!((code, changed(&doc, H)), (0, 0), "{doc}");
    let before = lab.state_hash(H);
    let (code, doc) = s.run("check", &["--verify"]);
    assert_eq!((code, changed(&doc, H)), (0, 0), "{doc}");
    assert_eq!(failed_checks(&doc, H), Vec::<String>::new());
    assert_eq!(
        host(&doc, H)["verify"].as_array().map_or(0, Vec::len),
        6,
        "{doc}"
    );
    assert_eq!(lab.state_hash(H), before, "check wrote to the host");

    // Drift: .env loosened, drop-in weakened, sudoers widened. Check reports all three (and
    // the weakened sandbox), apply repairs them and restarts the service.
    lab.sh(
        H,
        &format!(
            "chmod 0644 {ENV}; sed -i 's/ProtectSystem=strict/ProtectSystem=false/' {DROPIN}; echo 'clawdbot ALL=(ALL) NOPASSWD: ALL' >> /etc/sudoers.d/clawdbot; systemctl daemon-reload; systemctl restart clawdbot"
        ),
    );
    let (code, doc) = s.run("check", &[]);
    assert_eq!(code, 5, "{doc}");
    assert_eq!(
        changed_ids(&doc, H),
        [
            format!("file:{DROPIN}"),
            "file:/etc/sudoers.d/clawdbot".into(),
            format!("command:secure env file {ENV}")
        ],
        "{doc}"
    );
    let (code, doc) = s.run("check", &["--verify"]);
    assert_eq!(code, 3, "{doc}");
    let failed = failed_checks(&doc, H);
    for id in [
        "sandbox-configured",
        "sandbox-running",
        "env-files",
        "sudo-scoped",
    ] {
        assert!(
            failed.iter().any(|f| f.contains(id)),
            "{id} must fail: {failed:?}"
        );
    }
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(failed_checks(&doc, H), Vec::<String>::new(), "{doc}");
    assert!(!sudo_allows(&lab, "cat /etc/shadow"));

    // The service user swaps its .env for a link to /etc/shadow: root must not follow it.
    lab.sh(
        H,
        &format!("runuser -u clawdbot -- sh -c 'rm -f {ENV}; ln -s /etc/shadow {ENV}'"),
    );
    let shadow = lab.sh(H, "stat -c '%a %U:%G' /etc/shadow");
    let (code, doc) = s.run("apply", &[]);
    assert_ne!(code, 0, "{doc}");
    let err = host(&doc, H)["resources"].to_string();
    assert!(
        err.contains("symbolic link") && err.contains("refusing"),
        "{err}"
    );
    assert_eq!(
        lab.sh(H, "stat -c '%a %U:%G' /etc/shadow"),
        shadow,
        "/etc/shadow untouched"
    );
}
