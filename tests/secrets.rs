//! The secrets canary: check, apply and audit a site whose Redis passwords carry a canary
//! value, with the most verbose logging and `--json`, while the host's process list is sampled.
//! The canary must appear in no output, no report, no process listing and no log on the host.
//! Host: h24 (tests/util/HOSTS.md).

mod util;

use std::process::{Command, Stdio};

use util::{Lab, rampart_bin};

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(rampart_bin())
        .args(args)
        .env("NO_COLOR", "1")
        .env("RAMPART_LOG", "trace")
        .output()
        .expect("run rampart");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn a_canary_secret_never_leaks() {
    let lab = Lab::get();
    lab.reset(&["h24"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let canary = format!(
        "CANARY{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(7)
    );
    let d = dir.path();
    let key = d.join("age.key");
    let out = Command::new(rampart_bin())
        .args(["secrets", "keygen", "-o", key.to_str().expect("utf-8")])
        .output()
        .expect("keygen");
    assert!(out.status.success());
    let plain = d.join("secrets.toml");
    let mut text = String::from("[redis]\n");
    for u in ["admin", "monitor", "coordinator", "ex_001", "DZ-001"] {
        text.push_str(&format!("{u} = \"{canary}-{u}-pw\"\n"));
    }
    std::fs::write(&plain, text).expect("write");
    let out = Command::new(rampart_bin())
        .args([
            "secrets",
            "encrypt",
            plain.to_str().expect("utf-8"),
            "-o",
            d.join("secrets.age").to_str().expect("utf-8"),
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
    std::fs::remove_file(&plain).expect("rm plaintext");
    let site = d.join("site.toml");
    std::fs::write(&site, "secrets = \"secrets.age\"\n\n[[play]]\nhosts = \"lab\"\nroles = [\"redis-acl\"]\n\n[roles.redis-acl]\nassets = [\"ex_001\", \"DZ-001\"]\n").expect("write site");
    let inv = lab.inventory(d, &["h24"], "lab");
    let (i, s, k) = (
        inv.to_str().expect("utf-8"),
        site.to_str().expect("utf-8"),
        key.to_str().expect("utf-8"),
    );

    // Sample every process's argv on the host while rampart works.
    let sampler = Command::new(lab.scripts.join("exec.sh"))
        .args([
            "h24",
            "sh",
            "-c",
            "for i in $(seq 1 400); do ps -eo args; sleep 0.05; done > /root/ps-samples.log 2>&1",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("start sampler");
    let mut outputs = Vec::new();
    for args in [
        vec![
            "check",
            "-vvv",
            "-i",
            i,
            s,
            "--identity",
            k,
            "--diff",
            "--json",
        ],
        vec![
            "apply",
            "-vvv",
            "-i",
            i,
            s,
            "--identity",
            k,
            "--verify",
            "--json",
        ],
        vec!["apply", "-vvv", "-i", i, s, "--identity", k, "--json"],
        vec![
            "audit",
            "-vvv",
            "-i",
            i,
            s,
            "--identity",
            k,
            "--json",
            "--probe-ports",
            "22",
        ],
    ] {
        let (code, text) = run(&args);
        outputs.push((args.join(" "), code, text));
    }
    let _ = sampler.wait_with_output();
    let (code, _) = (outputs[1].1, ());
    assert_eq!(
        code,
        0,
        "apply: {}",
        outputs[1]
            .2
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    for (what, _, text) in &outputs {
        assert!(
            !text.contains(&canary),
            "`rampart {what}` printed the canary"
        );
    }
    let ps = lab.sh("h24", "cat /root/ps-samples.log");
    assert!(ps.lines().count() > 100, "the sampler ran");
    assert!(
        !ps.contains(&canary),
        "a process on the host had the canary in its argv"
    );
    let logs = lab.sh("h24", "journalctl --no-pager -q 2>/dev/null; cat /var/log/auth.log /var/log/syslog /var/log/redis/*.log 2>/dev/null; true");
    assert!(
        !logs.contains(&canary),
        "the canary reached a log on the host"
    );
    let files = lab
        .exec(
            "h24",
            &format!("grep -rl '{canary}' /etc /var/lib/rampart /run /root 2>/dev/null"),
        )
        .1;
    assert!(
        files.trim().is_empty(),
        "the canary is stored in clear on the host: {files}"
    );
}
