//! The operator's view of a long run, on real hosts (issue 19): a rolling first apply seen on a
//! terminal (a pty from util-linux `script`) shows each host's role and step and its wave wait,
//! and finished hosts collapse into the summary; the same kind of run piped prints plain lines
//! without escape sequences, ends its recap with the 5 slowest steps, and its `--log` holds a
//! failing step's output; `--json`'s time accounting adds up to each host's time.
//! Hosts h51 - h56 (tests/util/HOSTS.md).

mod util;

use std::process::Command;

use util::{Lab, host, rampart_bin};

/// A first apply with steps slow enough to be seen: a package, a 2-second command, and a
/// command that fails where /etc/rampart-live-fail exists (printing to stderr).
const SITE: &str = r#"[rolling]
serial = [1, 2, "100%"]
max_fail = 1

[[play]]
hosts = "lab"
roles = ["custom"]

[roles.custom]
packages = ["busybox-static"]
commands = [
  { name = "slow step", run = "sleep 2; touch /opt/live-slow", creates = "/opt/live-slow" },
  { name = "maybe fail", run = "if [ -e /etc/rampart-live-fail ]; then echo LIVE-STDERR-MARK >&2; exit 3; fi; touch /opt/live-ok", creates = "/opt/live-ok" },
  { name = "quick a", run = "touch /opt/live-a", creates = "/opt/live-a" },
  { name = "quick b", run = "touch /opt/live-b", creates = "/opt/live-b" },
]
"#;

/// The text of a terminal stream without its escape sequences (CSI, OSC, lone ESC) and with
/// carriage returns as line ends: what was written, redraw after redraw.
fn screen_text(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    let mut out = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\x1b' => match it.next() {
                Some('[') => {
                    for c in it.by_ref() {
                        if ('\x40'..='\x7e').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    for c in it.by_ref() {
                        if c == '\x07' {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' => out.push('\n'),
            c => out.push(c),
        }
    }
    out
}

fn site(lab: &Lab, hosts: &[&str]) -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let inv = lab.inventory(dir.path(), hosts, "root");
    let site = dir.path().join("site.toml");
    std::fs::write(&site, SITE).expect("write site");
    (
        dir,
        inv.to_str().expect("utf-8").to_owned(),
        site.to_str().expect("utf-8").to_owned(),
    )
}

/// A finished host's own progress line (`h51   ok=3 changed=2 ...`): the live view collapses
/// it into the summary instead.
fn has_host_line(text: &str, h: &str) -> bool {
    text.lines().any(|l| {
        l.trim_start()
            .strip_prefix(h)
            .is_some_and(|rest| rest.trim_start().starts_with("ok="))
    })
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn a_terminal_shows_each_hosts_step_and_wave_and_the_json_accounts_for_the_time() {
    let lab = Lab::get();
    let hosts = ["h51", "h52", "h53"];
    lab.reset(&hosts);
    let (dir, inv, site) = site(&lab, &hosts);
    let json = dir.path().join("report.json");
    // `script` gives rampart a pty for stderr; stdout (the JSON) goes to a file.
    let cmd = format!(
        "stty rows 40 cols 160; exec {} apply -i {inv} {site} --json > {}",
        rampart_bin().display(),
        json.display()
    );
    let out = Command::new("script")
        .args(["-qfec", &cmd, "/dev/null"])
        .output()
        .expect("run script(1)");
    let raw = &out.stdout;
    let text = screen_text(raw);
    assert!(out.status.success(), "exit {:?}\n{text}", out.status.code());
    assert!(
        raw.contains(&0x1b),
        "a terminal gets the live view:\n{text}"
    );
    assert!(
        text.contains("applying custom: package") || text.contains("applying custom: command:"),
        "the screen shows a host's role and step:\n{text}"
    );
    assert!(
        text.contains("applying custom: command:slow step"),
        "the 2-second step was on screen:\n{text}"
    );
    assert!(
        text.contains("waiting for wave 2"),
        "the screen shows the wave wait:\n{text}"
    );
    assert!(text.contains("/3 hosts"), "the summary line:\n{text}");
    for h in hosts {
        assert!(
            !has_host_line(&text, h),
            "{h} finished fine: it collapses into the summary, no line of its own:\n{text}"
        );
    }

    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("read the JSON")).expect("JSON");
    for h in hosts {
        let r = host(&doc, h);
        let seconds = r["seconds"].as_f64().expect("seconds");
        let items = r["time"].as_array().expect("time accounting");
        let sum: f64 = items.iter().filter_map(|i| i["seconds"].as_f64()).sum();
        assert!(
            (sum - seconds).abs() <= seconds * 0.05,
            "{h}: the accounting adds up to {sum} s of {seconds} s: {items:?}"
        );
        let steps = r["steps"].as_array().expect("steps");
        assert!(steps.len() >= 5, "{h}: {steps:?}");
        let slow = steps
            .iter()
            .find(|s| s["step"] == "command:slow step")
            .expect("the slow step is timed");
        let t = slow["seconds"].as_f64().unwrap_or_default();
        assert!((1.9..4.0).contains(&t), "{h}: the 2 s step took {t} s");
        // Per role: the apply's steps plus its own cost are the role's apply phase.
        let apply: f64 = items
            .iter()
            .filter(|i| i["phase"] == "apply" && i["role"] == "custom")
            .filter_map(|i| i["seconds"].as_f64())
            .sum();
        let phase: f64 = r["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .filter(|p| p["name"] == "apply custom")
            .filter_map(|p| p["seconds"].as_f64())
            .sum();
        assert!((apply - phase).abs() < 0.01, "{h}: {apply} vs {phase}");
    }
    // h52 and h53 waited for their wave: the wait is accounted for.
    let waited = host(&doc, "h53")["time"]
        .as_array()
        .expect("time")
        .iter()
        .filter(|i| i["phase"] == "wait")
        .filter_map(|i| i["seconds"].as_f64())
        .sum::<f64>();
    assert!(waited > 1.0, "h53 waited for wave 1: {waited} s");
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn piped_output_is_plain_lines_the_recap_has_the_slowest_steps_and_the_log_has_a_failure() {
    let lab = Lab::get();
    let hosts = ["h54", "h55", "h56"];
    lab.reset(&hosts);
    lab.sh("h56", "touch /etc/rampart-live-fail");
    let (dir, inv, site) = site(&lab, &hosts);
    let log = dir.path().join("run.jsonl");
    let out = Command::new(rampart_bin())
        .args(["apply", "-i", &inv, &site, "--log"])
        .arg(&log)
        .output()
        .expect("run rampart");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    for (what, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !bytes.iter().any(|b| *b == 0x1b || *b == b'\r'),
            "{what} holds no escape sequence:\n{}",
            String::from_utf8_lossy(bytes)
        );
    }
    for (h, what) in [
        ("h54", "connecting"),
        ("h55", "waiting for wave 2"),
        ("h54", "applying custom: command:slow step"),
    ] {
        let needle = format!("{h:<16} {what}");
        assert!(
            stderr.lines().any(|l| l == needle),
            "missing `{needle}`:\n{stderr}"
        );
    }
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("h56 ") && l.contains("failed=1")),
        "{stderr}"
    );
    // The recap ends with the 5 slowest steps and the time of each phase.
    let recap: Vec<&str> = stdout.lines().collect();
    let at = recap
        .iter()
        .position(|l| *l == "slowest steps:")
        .unwrap_or_else(|| panic!("no slowest steps:\n{stdout}"));
    let slowest = &recap[at + 1..at + 6];
    assert!(
        slowest
            .iter()
            .all(|l| l.contains("s  h5") && l.contains("custom: ")),
        "{slowest:?}"
    );
    assert!(
        recap[at + 6].starts_with("time by phase (all hosts): connect "),
        "{}",
        recap[at + 6]
    );

    let text = std::fs::read_to_string(&log).expect("the log");
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    let failed = events
        .iter()
        .find(|e| e["event"] == "step" && e["host"] == "h56" && e["exit"] == 3)
        .unwrap_or_else(|| panic!("no failed step of h56 in the log:\n{text}"));
    assert_eq!(failed["step"], "command:maybe fail");
    assert_eq!(failed["script"], "command");
    assert!(
        failed["output"]
            .as_str()
            .unwrap_or_default()
            .contains("LIVE-STDERR-MARK"),
        "{failed}"
    );
    assert!(failed["seconds"].as_f64().is_some(), "{failed}");
    assert!(events.iter().all(|e| e["ts"].as_f64().is_some()));
    assert!(events.iter().any(|e| e["event"] == "run_end"));
    // The journal names the log of the run.
    let journal = std::fs::read_to_string(dir.path().join(".rampart/journal-site.json"))
        .expect("the journal");
    let journal: serde_json::Value = serde_json::from_str(&journal).expect("journal JSON");
    assert!(
        journal["log"]
            .as_str()
            .is_some_and(|p| p.ends_with("run.jsonl")),
        "{journal}"
    );
    // `--quiet`: nothing on stderr, the recap on stdout (a converged rerun).
    let out = Command::new(rampart_bin())
        .args(["apply", "-i", &inv, &site, "--quiet", "--limit", "h54:h55"])
        .output()
        .expect("run rampart");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 hosts in "));
}
