//! A fleet audited as `--shard 1/4 .. 4/4` and merged with `rampart report merge` is the fleet
//! audited at once, host for host (issue 16). On loopback sshds, no lab: 100 inventory hosts
//! (`RAMPART_SHARD_HOSTS=1000` for the 1,000; on two shared cores a debug build takes
//! about 10 minutes for the whole fleet alone) spread over four sshd endpoints, one in 50 pointing at a
//! closed port (unreachable), each audited with the `custom` role's check (the port probe and
//! the built-in controls are off: every host is 127.0.0.1, and the built-ins would run this
//! machine's tools 2,000 times). The controller's peak memory per shard is printed for
//! docs/scale.md.

#[path = "../crates/rampart-ssh/tests/harness/mod.rs"]
mod harness;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use harness::{Sshd, free_port, keygen, skip, whoami};
use serde_json::Value;

fn rampart(dir: &Path, args: &[&str]) -> (i32, Value, String, u64) {
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rampart");
    let pid = child.id();
    // Sample the peak RSS while it runs (VmHWM is the high-water mark: the last sample is it).
    let peak = std::thread::spawn(move || {
        let mut kib = 0;
        while let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(v) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                kib = v;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        kib
    });
    let out = child.wait_with_output().expect("wait");
    let kib = peak.join().unwrap_or(0);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}) after {:.1}s:\n{}\n{stderr}",
            started.elapsed().as_secs_f64(),
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap_or(-1), doc, stderr, kib)
}

/// What must be the same, host for host, whoever audited it.
fn essence(h: &Value) -> Value {
    let controls: Vec<Value> = h["controls"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|c| serde_json::json!([c["id"], c["pass"], c["section"]]))
        .collect();
    serde_json::json!({
        "host": h["host"], "address": h["address"], "state": h["state"], "pass": h["pass"],
        "unreachable": h["unreachable"], "error_kind": h["error_kind"], "failing": h["failing"],
        "index": h["index"], "controls": controls,
    })
}

#[test]
fn a_sharded_audit_merges_into_the_whole_fleets_report() {
    if skip() {
        return;
    }
    let n: usize = std::env::var("RAMPART_SHARD_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let key = keygen(d, "id", "ed25519", "");
    let sshds: Vec<Sshd> = (0..4).map(|_| Sshd::start()).collect();
    let mut kh = String::new();
    for s in &sshds {
        s.authorize(&key);
        kh.push_str(&s.known_hosts_line());
    }
    std::fs::write(d.join("known_hosts"), kh).expect("known_hosts");
    let closed = free_port();
    let mut inv = format!(
        "[defaults]\nuser = \"{}\"\naddress = \"127.0.0.1\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n\n",
        whoami(),
        key.private.display(),
        d.join("known_hosts").display(),
    );
    for i in 0..n {
        let port = if i % 50 == 7 {
            closed
        } else {
            sshds[i % 4].port
        };
        inv.push_str(&format!("[hosts.h{i:04}]\nport = {port}\n\n"));
    }
    std::fs::write(d.join("inventory.toml"), inv).expect("inventory");
    let managed = d.join("managed");
    std::fs::create_dir(&managed).expect("mkdir");
    std::fs::write(managed.join("app.conf"), "a = 1\n").expect("write");
    std::fs::write(
        d.join("site.toml"),
        format!(
            "name = \"loopback\"\n\n[[play]]\nhosts = \"all\"\nroles = [\"custom\"]\n\n[roles.custom]\nfiles = [{{ path = \"{}\", content = \"a = 1\\n\" }}]\n",
            managed.join("app.conf").display()
        ),
    )
    .expect("site");

    let base = [
        "audit",
        "-i",
        "inventory.toml",
        "site.toml",
        "--no-ssh-config",
        "--no-builtin",
        "--no-probe",
        "--json",
        "--forks",
        "100",
    ];
    let t = Instant::now();
    let (code, whole, stderr, kib) = rampart(d, &base);
    let whole_secs = t.elapsed().as_secs_f64();
    assert_eq!(code, 4, "unreachable hosts: exit 4\n{stderr}");
    assert_eq!(whole["hosts"].as_array().map(Vec::len), Some(n));
    eprintln!(
        "whole fleet: {n} hosts in {whole_secs:.1}s, peak RSS {} KiB",
        kib
    );
    let mut files = Vec::new();
    for k in 1..=4 {
        let shard = format!("{k}/4");
        let mut args = base.to_vec();
        args.extend(["--shard", shard.as_str()]);
        let t = Instant::now();
        let (code, doc, stderr, kib) = rampart(d, &args);
        assert!(
            code == 0 || code == 4,
            "shard {shard}: exit {code}\n{stderr}"
        );
        assert_eq!(doc["shard"], shard.as_str());
        let hosts = doc["hosts"].as_array().map_or(0, Vec::len);
        eprintln!(
            "shard {shard}: {hosts} hosts in {:.1}s, peak RSS {kib} KiB",
            t.elapsed().as_secs_f64()
        );
        let file = d.join(format!("shard-{k}.json"));
        std::fs::write(&file, doc.to_string()).expect("write shard");
        files.push(file.display().to_string());
    }
    // Merged in any order.
    files.reverse();
    let mut args = vec!["report", "merge"];
    args.extend(files.iter().map(String::as_str));
    args.extend(["--json", "--html", "fleet.html", "--junit", "fleet.xml"]);
    let (code, merged, stderr, _) = rampart(d, &args);
    assert_eq!(code, 4, "the merged fleet has unreachable hosts\n{stderr}");
    let (a, b) = (
        whole["hosts"].as_array().expect("hosts"),
        merged["hosts"].as_array().expect("hosts"),
    );
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(essence(x), essence(y));
    }
    for k in [
        "hosts",
        "hosts_passing",
        "hosts_failing",
        "unreachable",
        "controls",
        "checks",
        "failing",
        "compliance",
    ] {
        assert_eq!(whole["summary"][k], merged["summary"][k], "summary.{k}");
    }
    assert_eq!(whole["scores"]["fleet"], merged["scores"]["fleet"]);
    assert_eq!(whole["controls"], merged["controls"]);
    assert_eq!(merged["site"], "loopback");
    assert_eq!(merged["shards"].as_array().map(Vec::len), Some(4));
    let html = std::fs::read_to_string(d.join("fleet.html")).expect("html");
    assert_eq!(html.matches("<tr class=\"host-score\"").count(), n);
    let xml = std::fs::read_to_string(d.join("fleet.xml")).expect("junit");
    assert_eq!(xml.matches("<testsuite ").count(), n);

    // A shard of another site is refused, with both files named.
    let mut other: Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).expect("read")).expect("json");
    other["site"] = Value::from("elsewhere");
    std::fs::write(d.join("other.json"), other.to_string()).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .current_dir(d)
        .args(["report", "merge", files[1].as_str(), "other.json"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("different sites") && err.contains("other.json"),
        "{err}"
    );
}
