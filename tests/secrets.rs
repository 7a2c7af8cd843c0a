//! The secrets canary: check, apply and audit a site whose Redis passwords carry a canary
//! value, with the most verbose logging and `--json`, while the host's process list is sampled.
//! The canary must appear in no output, no report, no process listing and no log on the host
//! (sudo's I/O log included, when the host keeps one), in clear nor as JSON-escaped, hex or
//! base64 text, and in no file the controller writes (journal, fact cache, HTML and JUnit
//! reports).
//! Host: h66 (tests/util/HOSTS.md).

mod util;

use std::process::{Command, Stdio};

use util::{Lab, rampart_bin};

/// The forms a secret takes in text: clear, JSON-escaped, hex (both cases) and base64
/// (both alphabets, at each alignment inside a longer base64 text).
fn forms(secret: &str) -> Vec<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let json = serde_json::to_string(secret).expect("json");
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    let mut out = vec![
        secret.to_owned(),
        json[1..json.len() - 1].to_owned(),
        hex.to_uppercase(),
        hex,
    ];
    for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
        for k in 0..3usize {
            let mut buf = vec![0u8; k];
            buf.extend_from_slice(secret.as_bytes());
            let enc = engine.encode(&buf);
            out.push(enc[(8 * k).div_ceil(6)..(8 * (k + secret.len())) / 6].to_owned());
        }
    }
    out
}

/// Every file under `dir`, as (path, lossy text).
fn files_under(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.push((
                    p.display().to_string(),
                    String::from_utf8_lossy(&bytes).into_owned(),
                ));
            }
        }
    }
    out
}

fn run(args: &[&str], cache: &std::path::Path) -> (i32, String) {
    let out = Command::new(rampart_bin())
        .args(args)
        .env("NO_COLOR", "1")
        .env("RAMPART_LOG", "trace")
        .env("RAMPART_CACHE_DIR", cache)
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
    lab.reset(&["h66"]);
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
    // A quote and a backslash, so the JSON-escaped form differs from the clear one.
    let passwords: Vec<String> = ["admin", "monitor", "coordinator", "ex_001", "DZ-001"]
        .iter()
        .map(|u| format!("{canary}-{u}-p\"w\\"))
        .collect();
    for (u, pw) in ["admin", "monitor", "coordinator", "ex_001", "DZ-001"]
        .iter()
        .zip(&passwords)
    {
        text.push_str(&format!(
            "{u} = {}\n",
            serde_json::to_string(pw).expect("toml string")
        ));
    }
    let needles: Vec<String> = passwords.iter().flat_map(|p| forms(p)).collect();
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
    let inv = lab.inventory(d, &["h66"], "lab");
    let (i, s, k) = (
        inv.to_str().expect("utf-8"),
        site.to_str().expect("utf-8"),
        key.to_str().expect("utf-8"),
    );
    // Every file the controller writes lands under `d`: the journal beside the site, the fact
    // cache, and the reports.
    let cache = d.join("cache");
    let reports: Vec<String> = (0..4)
        .flat_map(|n| {
            [
                "--html".to_owned(),
                d.join(format!("report{n}.html")).display().to_string(),
                "--junit".to_owned(),
                d.join(format!("junit{n}.xml")).display().to_string(),
            ]
        })
        .collect();

    // Sample every process's argv on the host while rampart works.
    let sampler = Command::new(lab.scripts.join("exec.sh"))
        .args([
            "h66",
            "sh",
            "-c",
            "for i in $(seq 1 400); do ps -eo args; sleep 0.05; done > /root/ps-samples.log 2>&1",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("start sampler");
    // The run's log (`--log`) holds every step's output: it must hold no secret either.
    let log = d.join("run.jsonl");
    let log = log.to_str().expect("utf-8 path");
    let mut outputs = Vec::new();
    for (n, args) in [
        vec![
            "check",
            "-vvv",
            "--log",
            log,
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
            "--log",
            log,
            "-i",
            i,
            s,
            "--identity",
            k,
            "--verify",
            "--json",
        ],
        vec![
            "apply",
            "-vvv",
            "--log",
            log,
            "-i",
            i,
            s,
            "--identity",
            k,
            "--json",
        ],
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
    ]
    .into_iter()
    .enumerate()
    {
        let mut args = args;
        args.extend(reports[n * 4..n * 4 + 4].iter().map(String::as_str));
        let (code, text) = run(&args, &cache);
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
        for n in &needles {
            assert!(
                !text.contains(n.as_str()),
                "`rampart {what}` printed a form of a secret: {n}"
            );
        }
    }
    let written = files_under(d);
    assert!(
        written.iter().any(|(p, _)| p.contains(".rampart/journal-")),
        "the journal was written under {}",
        d.display()
    );
    assert!(written.iter().any(|(p, _)| p.ends_with("report1.html")));
    assert!(
        written
            .iter()
            .any(|(p, t)| p.ends_with("run.jsonl") && t.contains("\"event\":\"step\"")),
        "the run's log recorded the apply's steps"
    );
    for (path, text) in &written {
        for n in &needles {
            assert!(
                !text.contains(n.as_str()),
                "{path} holds a form of a secret: {n}"
            );
        }
    }
    let ps = lab.sh("h66", "cat /root/ps-samples.log");
    assert!(ps.lines().count() > 100, "the sampler ran");
    assert!(
        !ps.contains(&canary),
        "a process on the host had the canary in its argv"
    );
    // sudo's I/O log (log_input/log_output) is read through sudoreplay when the host keeps one.
    let logs = lab.sh("h66", "journalctl --no-pager -q 2>/dev/null; cat /var/log/auth.log /var/log/syslog /var/log/redis/*.log 2>/dev/null; if [ -d /var/log/sudo-io ]; then for s in $(sudoreplay -l 2>/dev/null | sed -n 's/.*TSID=\\([^ ;]*\\).*/\\1/p'); do sudoreplay -R \"$s\" 2>/dev/null; done; zcat -f $(find /var/log/sudo-io -type f) 2>/dev/null; fi; true");
    assert!(
        !logs.contains(&canary),
        "the canary reached a log on the host"
    );
    for n in &needles {
        assert!(
            !logs.contains(n.as_str()),
            "a form of a secret reached a log on the host: {n}"
        );
    }
    let files = lab
        .exec(
            "h66",
            &format!("grep -rl '{canary}' /etc /var/lib/rampart /run /root 2>/dev/null"),
        )
        .1;
    assert!(
        files.trim().is_empty(),
        "the canary is stored in clear on the host: {files}"
    );
}
