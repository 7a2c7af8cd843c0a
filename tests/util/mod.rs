//! Shared helpers of the lab-backed integration tests: find the lab, write an inventory of
//! some of its hosts, run the real `rampart` binary, and reach into a host without SSH (to
//! inject drift and to read state independently of rampart).
//!
//! **Host ownership:** tests in one binary run in parallel, so every test names the lab hosts
//! it owns and no two tests share one. The assignment lives in `HOSTS.md` beside this file.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The lab, as `tests/run` exported it.
#[derive(Debug, Clone)]
pub struct Lab {
    /// `$RAMPART_LAB`: inventory.toml, known_hosts, id_lab, ...
    pub dir: PathBuf,
    /// `tests/lab`, where exec.sh and reset.sh live.
    pub scripts: PathBuf,
}

impl Lab {
    /// The running lab. Panics with what to do when there is none.
    pub fn get() -> Lab {
        let dir = std::env::var_os("RAMPART_LAB")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/var/tmp/rampart-lab"));
        assert!(
            dir.join("hosts.txt").exists(),
            "no lab at {}: run `sudo tests/run` (or `sudo tests/lab/up.sh 16` and set RAMPART_LAB)",
            dir.display()
        );
        let scripts = std::env::var_os("RAMPART_LAB_SCRIPTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab"));
        Lab { dir, scripts }
    }

    /// The address of host `hN`.
    pub fn address(&self, host: &str) -> String {
        let n: u32 = host
            .trim_start_matches('h')
            .parse()
            .expect("hosts are named hN");
        format!("10.213.{n}.2")
    }

    /// Writes a rampart TOML inventory with only `hosts` (all in group `lab`) into `dir`,
    /// logging in as `user` (root, or `lab` with sudo).
    pub fn inventory(&self, dir: &Path, hosts: &[&str], user: &str) -> PathBuf {
        let mut t = format!(
            "[defaults]\nuser = \"{user}\"\nport = 22\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\nbecome = {}\n\n",
            self.dir.join("id_lab").display(),
            self.dir.join("known_hosts").display(),
            user != "root"
        );
        for h in hosts {
            t.push_str(&format!(
                "[hosts.{h}]\naddress = \"{}\"\n\n",
                self.address(h)
            ));
        }
        t.push_str(&format!(
            "[groups.lab]\nhosts = [{}]\n",
            hosts
                .iter()
                .map(|h| format!("\"{h}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let path = dir.join("inventory.toml");
        std::fs::write(&path, t).expect("write inventory");
        path
    }

    /// Runs a command inside a host as root, without SSH. Returns (exit code, stdout).
    pub fn exec(&self, host: &str, script: &str) -> (i32, String) {
        let out = Command::new(self.scripts.join("exec.sh"))
            .args([host, "sh", "-c", script])
            .output()
            .expect("run tests/lab/exec.sh");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// Like [`Lab::exec`] but the command must succeed; returns stdout.
    pub fn sh(&self, host: &str, script: &str) -> String {
        let (rc, out) = self.exec(host, script);
        assert_eq!(rc, 0, "on {host}: `{script}` exited {rc}: {out}");
        out
    }

    /// Runs one of the lab's scripts on hosts; it must succeed.
    pub fn script(&self, name: &str, hosts: &[&str]) {
        let st = Command::new(self.scripts.join(name))
            .args(hosts)
            .output()
            .unwrap_or_else(|e| panic!("run {name}: {e}"));
        assert!(
            st.status.success(),
            "{name} {hosts:?} failed: {}{}",
            String::from_utf8_lossy(&st.stdout),
            String::from_utf8_lossy(&st.stderr)
        );
    }

    /// Waits until `script` succeeds on `host` (polling every 50 ms), at most `secs` seconds.
    pub fn wait_for(&self, host: &str, script: &str, secs: u64) {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while self.exec(host, script).0 != 0 {
            assert!(
                std::time::Instant::now() < until,
                "on {host}: `{script}` did not succeed within {secs}s"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// True while nobody has reset (claimed) the host since up.sh booted it: tests reset
    /// their hosts before they use them (reset.sh marks them claimed).
    pub fn pristine(&self, host: &str) -> bool {
        !self.dir.join("hosts").join(host).join("claimed").exists()
    }

    /// Puts hosts back to fresh (same address and host key).
    pub fn reset(&self, hosts: &[&str]) {
        let st = Command::new(self.scripts.join("reset.sh"))
            .args(hosts)
            .output()
            .expect("run reset.sh");
        assert!(
            st.status.success(),
            "reset.sh {hosts:?} failed: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        // Boot must have settled: units still starting write /etc and would make a "nothing
        // changed" hash comparison flaky.
        for h in hosts {
            let _ = self.exec(
                h,
                "systemctl is-system-running --wait >/dev/null 2>&1; true",
            );
        }
    }

    /// Puts hosts back to fresh, able to run Docker (LAB_DOCKER=1).
    pub fn reset_docker(&self, hosts: &[&str]) {
        let st = Command::new(self.scripts.join("reset.sh"))
            .args(hosts)
            .env("LAB_DOCKER", "1")
            .output()
            .expect("run reset.sh");
        assert!(
            st.status.success(),
            "LAB_DOCKER=1 reset.sh {hosts:?} failed: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        for h in hosts {
            let _ = self.exec(
                h,
                "systemctl is-system-running --wait >/dev/null 2>&1; true",
            );
        }
    }

    /// On the Ubuntu-like hosts, sshd is back after a rollback the way it was: socket-activated,
    /// sshd running on the socket (a SIGHUP restore used to leave the socket failed, and at
    /// worst nothing listening). Other hosts: nothing to check.
    pub fn sshd_back_on_its_socket(&self, host: &str) {
        if os_of(host) == "Ubuntu 24.04" {
            assert_eq!(
                self.exec(host, "systemctl is-active ssh.socket ssh.service")
                    .1
                    .trim(),
                "active\nactive",
                "{host}: the restore brings sshd back on its socket"
            );
        }
    }

    /// A content hash of what `check` must never touch: /etc, /var/lib/ufw, iptables rules.
    pub fn state_hash(&self, host: &str) -> String {
        self.sh(
            host,
            "{ find /etc /var/lib/ufw -xdev -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum; \
               find /etc -xdev -printf '%p %m %u %g\\n' | sort; \
               iptables-save | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'; \
               ip6tables-save | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'; } | sha256sum",
        )
    }
}

/// The `rampart` binary built for these tests.
pub fn rampart_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rampart"))
}

/// Runs rampart with arguments, NO_COLOR and no ~/.ssh/config.
pub fn rampart(args: &[&str]) -> Output {
    Command::new(rampart_bin())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run rampart")
}

/// Runs rampart with `--json` appended and parses stdout. Returns (exit code, document).
pub fn rampart_json(args: &[&str]) -> (i32, serde_json::Value) {
    let mut a: Vec<&str> = args.to_vec();
    a.push("--json");
    let out = rampart(&a);
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "rampart {a:?} did not print JSON ({e}); exit {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), doc)
}

/// The `hosts` entry of a JSON report for one host.
pub fn host<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["hosts"]
        .as_array()
        .and_then(|h| h.iter().find(|h| h["host"] == name))
        .unwrap_or_else(|| panic!("no host {name} in {doc}"))
}

/// One control of a host in an audit document (`rampart audit --json`).
pub fn control<'a>(doc: &'a serde_json::Value, h: &str, id: &str) -> &'a serde_json::Value {
    host(doc, h)["controls"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no control {id} on {h}: {doc}"))
}

/// The number of changed resources on a host in a JSON report.
pub fn changed(doc: &serde_json::Value, name: &str) -> u64 {
    host(doc, name)["changed"].as_u64().unwrap_or(u64::MAX)
}

/// A short summary of a JSON report for assertion messages: host, changed, failed, error.
pub fn brief(doc: &serde_json::Value) -> String {
    doc["hosts"]
        .as_array()
        .map(|hs| {
            hs.iter()
                .map(|h| {
                    let failed: Vec<String> = h["verify"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|v| v["pass"] == false)
                        .map(|v| v["id"].to_string())
                        .collect();
                    let broken: Vec<String> = h["resources"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|r| r["status"] == "failed")
                        .map(|r| format!("{}: {}", r["id"], r["summary"]))
                        .collect();
                    format!(
                        "{} changed={} failed={} unreachable={} error={} failed_checks={:?} failed_resources={:?}",
                        h["host"],
                        h["changed"],
                        h["failed"],
                        h["unreachable"],
                        h["error"],
                        failed,
                        broken
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_else(|| doc.to_string())
}

/// A site in a temporary directory, with an inventory of some lab hosts (group `lab`).
pub struct Site {
    dir: tempfile::TempDir,
    /// The inventory file.
    pub inv: PathBuf,
    /// The site file.
    pub site: PathBuf,
}

impl Site {
    /// One play of `roles` on the `lab` group of `hosts`, logging in as `user`, with
    /// `roles_toml` (the roles' settings) after it.
    pub fn new(lab: &Lab, hosts: &[&str], user: &str, roles_toml: &str, roles: &[&str]) -> Site {
        let list = roles
            .iter()
            .map(|r| format!("\"{r}\""))
            .collect::<Vec<_>>()
            .join(", ");
        Site::with_text(
            lab,
            hosts,
            user,
            &format!("[[play]]\nhosts = \"lab\"\nroles = [{list}]\n\n{roles_toml}"),
        )
    }

    /// A site file of exactly `text`.
    pub fn with_text(lab: &Lab, hosts: &[&str], user: &str, text: &str) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        let inv = lab.inventory(dir.path(), hosts, user);
        let site = dir.path().join("site.toml");
        std::fs::write(&site, text).expect("write site");
        Site { dir, inv, site }
    }

    /// The directory the inventory and the site are in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `rampart CMD -i INV SITE EXTRA... --json`: (exit code, report).
    pub fn run(&self, cmd: &str, extra: &[&str]) -> (i32, serde_json::Value) {
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
pub fn changed_ids(doc: &serde_json::Value, h: &str) -> Vec<String> {
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

/// The verify checks of a host that did not pass, with their evidence.
pub fn failed_checks(doc: &serde_json::Value, h: &str) -> Vec<String> {
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

/// How many verify checks ran on a host.
pub fn verified(doc: &serde_json::Value, h: &str) -> usize {
    host(doc, h)["verify"].as_array().map_or(0, Vec::len)
}

/// The PRETTY_NAME fragment of a lab host's kind, as `tests/run` boots them (HOSTS.md): h25 -
/// h27 are Debian 13, h28 - h30 the Ubuntu 24.04-like host, every other host Debian 12.
/// An age identity (`DIR/age.key`) and `DIR/secrets.age` holding a password for every Redis
/// user of the FleetClaw site (`[redis]` admin, monitor, coordinator and its two assets), each
/// starting with `tag`: what a lab test passes as `--identity` and `--secrets`.
pub fn fleetclaw_secrets(dir: &Path, tag: &str) -> (PathBuf, PathBuf) {
    let key = dir.join("age.key");
    let st = Command::new(rampart_bin())
        .args(["secrets", "keygen", "-o", key.to_str().expect("utf-8")])
        .output()
        .expect("keygen");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let plain = dir.join("s.toml");
    let mut text = String::from("[redis]\n");
    for u in ["admin", "monitor", "coordinator", "ex_001", "DZ-001"] {
        text.push_str(&format!("{u} = \"{tag}-password-{u}-0123456789\"\n"));
    }
    std::fs::write(&plain, text).expect("write");
    let secrets = dir.join("secrets.age");
    let out = Command::new(rampart_bin())
        .args([
            "secrets",
            "encrypt",
            plain.to_str().expect("utf-8"),
            "-o",
            secrets.to_str().expect("utf-8"),
            "--identity",
            key.to_str().expect("utf-8"),
        ])
        .output()
        .expect("encrypt");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (key, secrets)
}

pub fn os_of(host: &str) -> &'static str {
    match host.trim_start_matches('h').parse::<u32>() {
        Ok(25..=27 | 42 | 45 | 58) => "Debian GNU/Linux 13",
        Ok(28..=30 | 43 | 46 | 59) => "Ubuntu 24.04",
        _ => "Debian GNU/Linux 12",
    }
}
