//! The SSH transport against real lab hosts: `rampart ping` over the whole lab, strict host
//! keys, accept-new, ProxyJump, `sudo -n` as an unprivileged user, an unreachable host among
//! reachable ones. Hosts: h1, h2 (tests/util/HOSTS.md); the ping test only reads the others.

mod util;

use std::process::Command;
use std::time::Duration;

use rampart_ssh::{ClientOptions, Connector, Exec, Target};
use util::{Lab, host, rampart_json};

const LAB: &str = "needs the lab (sudo tests/run)";

fn lab_target(lab: &Lab, h: &str, user: &str) -> Target {
    Target {
        alias: h.into(),
        host: lab.address(h),
        port: 22,
        user: user.into(),
        identity_files: vec![lab.dir.join("id_lab")],
        known_hosts: vec![lab.dir.join("known_hosts")],
        jump: vec![],
        connect_timeout: Duration::from_secs(10),
        host_key_port: None,
    }
}

fn connector() -> Connector {
    Connector::new(ClientOptions {
        use_agent: false,
        ..ClientOptions::default()
    })
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn ping_reaches_every_lab_host_with_strict_host_keys() {
    let lab = Lab::get();
    // Other tests harden hosts (root logins off): start every host this binary does not
    // otherwise use, and that a test claimed, from fresh. tests/run runs this binary first, on
    // a lab where only the demo's hosts were claimed. h1 and h2 belong to the other tests here
    // and stay as they are.
    let others: Vec<String> = std::fs::read_to_string(lab.dir.join("hosts.txt"))
        .expect("hosts.txt")
        .lines()
        .enumerate()
        .map(|(i, _)| format!("h{}", i + 1))
        .filter(|h| h != "h1" && h != "h2" && !lab.pristine(h))
        .collect();
    if !others.is_empty() {
        lab.reset(&others.iter().map(String::as_str).collect::<Vec<_>>());
    }
    let n = std::fs::read_to_string(lab.dir.join("hosts.txt"))
        .expect("hosts.txt")
        .lines()
        .count();
    let inv = lab.dir.join("inventory.toml");
    let (code, doc) = rampart_json(&["ping", "-i", inv.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0, "{}", util::brief(&doc));
    let hosts = doc["hosts"].as_array().expect("hosts array");
    assert_eq!(hosts.len(), n);
    for h in hosts {
        assert_eq!(h["reachable"], true, "{h}");
        assert_eq!(h["error"], serde_json::Value::Null);
        assert_eq!(h["host_key"], "verified");
        let name = h["host"].as_str().unwrap_or_default();
        assert!(
            h["os"]
                .as_str()
                .unwrap_or_default()
                .contains(util::os_of(name)),
            "{name} is a {} host: {h}",
            util::os_of(name)
        );
        assert!(h["seconds"].as_f64().is_some_and(|s| s > 0.0));
        assert!(
            h["address"]
                .as_str()
                .unwrap_or_default()
                .starts_with("10.213.")
        );
    }
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn host_keys_strict_changed_and_accept_new() {
    let lab = Lab::get();
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = lab.address("h1");
    // A known_hosts whose line 3 holds a different key for h1.
    let other = lab.sh("h2", "cat /etc/ssh/ssh_host_ed25519_key.pub");
    let other_key = other
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let kh = dir.path().join("known_hosts");
    std::fs::write(
        &kh,
        format!("# test\n10.9.9.9 {other_key}\n{addr} {other_key}\n"),
    )
    .expect("write");
    let inv = dir.path().join("inv.toml");
    let write_inv = |kh: &std::path::Path| {
        std::fs::write(
            &inv,
            format!(
                "[defaults]\nuser = \"root\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n[hosts.h1]\naddress = \"{addr}\"\n",
                lab.dir.join("id_lab").display(),
                kh.display()
            ),
        )
        .expect("write inventory");
    };
    write_inv(&kh);
    let before = std::fs::read(&kh).expect("read");
    let i = inv.to_str().expect("utf-8");
    for extra in [&[][..], &["--accept-new"][..]] {
        let mut args = vec!["ping", "-i", i];
        args.extend_from_slice(extra);
        let (code, doc) = rampart_json(&args);
        assert_eq!(code, 4, "{}", util::brief(&doc));
        let h = host(&doc, "h1");
        assert_eq!(h["reachable"], false);
        assert_eq!(h["host_key"], "changed");
        let err = h["error"].as_str().unwrap_or_default();
        assert!(
            err.contains(&format!("{}:3", kh.display())),
            "error must name the file and line: {err}"
        );
    }
    assert_eq!(
        std::fs::read(&kh).expect("read"),
        before,
        "known_hosts must never be rewritten"
    );

    // Unknown host: refused when strict, learned with --accept-new, strict afterwards.
    let kh2 = dir.path().join("fresh_known_hosts");
    std::fs::write(&kh2, "").expect("write");
    write_inv(&kh2);
    let (code, doc) = rampart_json(&["ping", "-i", i]);
    assert_eq!(code, 4);
    assert_eq!(host(&doc, "h1")["host_key"], "unknown");
    let (code, doc) = rampart_json(&["ping", "-i", i, "--accept-new"]);
    assert_eq!(code, 0, "{}", util::brief(&doc));
    let learned = std::fs::read_to_string(&kh2).expect("read");
    assert_eq!(learned.lines().count(), 1, "{learned}");
    assert!(
        learned.starts_with(&format!("{addr} ssh-ed25519 ")),
        "{learned}"
    );
    let (code, _) = rampart_json(&["ping", "-i", i]);
    assert_eq!(code, 0);
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn proxy_jump_through_h1_to_h2() {
    let lab = Lab::get();
    // The lab's hosts cannot reach each other (the machine does not forward). Give h1 and h2 a
    // private link of their own, so h2 is reachable only through h1.
    let (a, b) = ("10.213.250.1", "10.213.250.2");
    let link = |args: &[&str]| {
        Command::new("ip")
            .args(args)
            .status()
            .expect("ip")
            .success()
    };
    let _ = link(&["link", "del", "rp-pj1"]);
    assert!(link(&[
        "link",
        "add",
        "rp-pj1",
        "netns",
        "rampart-h1",
        "type",
        "veth",
        "peer",
        "name",
        "rp-pj2",
        "netns",
        "rampart-h2"
    ]));
    assert!(link(&[
        "-n",
        "rampart-h1",
        "addr",
        "add",
        &format!("{a}/30"),
        "dev",
        "rp-pj1"
    ]));
    assert!(link(&[
        "-n",
        "rampart-h2",
        "addr",
        "add",
        &format!("{b}/30"),
        "dev",
        "rp-pj2"
    ]));
    assert!(link(&["-n", "rampart-h1", "link", "set", "rp-pj1", "up"]));
    assert!(link(&["-n", "rampart-h2", "link", "set", "rp-pj2", "up"]));

    let dir = tempfile::tempdir().expect("tempdir");
    let key = lab.sh("h2", "cat /etc/ssh/ssh_host_ed25519_key.pub");
    let key = key.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    let kh = dir.path().join("known_hosts");
    let lab_kh = std::fs::read_to_string(lab.dir.join("known_hosts")).expect("lab known_hosts");
    std::fs::write(&kh, format!("{lab_kh}{b} {key}\n")).expect("write");
    let inv = dir.path().join("inv.toml");
    std::fs::write(
        &inv,
        format!(
            "[defaults]\nuser = \"root\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n[hosts.h1]\naddress = \"{}\"\n[hosts.h2]\naddress = \"{b}\"\nbastion = \"h1\"\n",
            lab.dir.join("id_lab").display(),
            kh.display(),
            lab.address("h1")
        ),
    )
    .expect("write inventory");
    let (code, doc) = rampart_json(&["ping", "-i", inv.to_str().expect("utf-8"), "--limit", "h2"]);
    let _ = link(&["-n", "rampart-h1", "link", "del", "rp-pj1"]);
    assert_eq!(code, 0, "{}", util::brief(&doc));
    let h2 = host(&doc, "h2");
    assert_eq!(h2["reachable"], true, "{h2}");
    assert_eq!(
        h2["connections"], 2,
        "one to the bastion, one tunnelled to h2: {h2}"
    );
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn sudo_n_as_the_unprivileged_user_and_parallel_channels() {
    let lab = Lab::get();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let s = connector()
            .connect(&lab_target(&lab, "h2", "lab"))
            .await
            .expect("connect as lab");
        let plain = s.exec(Exec::new("id -un")).await.expect("exec");
        assert_eq!(plain.stdout_str().trim(), "lab");
        let root = s
            .exec(Exec {
                become_root: true,
                ..Exec::new("id -u")
            })
            .await
            .expect("sudo exec");
        assert_eq!(root.stdout_str().trim(), "0", "{}", root.stderr_str());
        // Eight commands at once on one connection all complete.
        let mut set = tokio::task::JoinSet::new();
        for i in 0..8 {
            let s = s.clone();
            set.spawn(async move { s.exec(Exec::new(format!("sleep 0.2; echo {i}"))).await });
        }
        let mut seen = Vec::new();
        while let Some(r) = set.join_next().await {
            seen.push(
                r.expect("join")
                    .expect("exec")
                    .stdout_str()
                    .trim()
                    .parse::<u32>()
                    .expect("number"),
            );
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..8).collect::<Vec<_>>());
        assert_eq!(s.stats().connections, 1);
        // 10 MiB through stdin, byte-exact.
        let data: Vec<u8> = (0..10 * 1024 * 1024u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
            .collect();
        let out = s
            .exec(Exec {
                stdin: data.clone(),
                ..Exec::new("cat")
            })
            .await
            .expect("cat");
        assert!(out.stdout == data, "10 MiB round trip differs");
    });
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn an_unreachable_host_does_not_delay_the_others() {
    let lab = Lab::get();
    let dir = tempfile::tempdir().expect("tempdir");
    // 10.213.249.0/24 is never a lab subnet: nothing answers there.
    std::fs::write(
        dir.path().join("inv.toml"),
        format!(
            "[defaults]\nuser = \"root\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\nconnect_timeout = 3\n[hosts.h1]\naddress = \"{}\"\n[hosts.gone]\naddress = \"10.213.249.2\"\n",
            lab.dir.join("id_lab").display(),
            lab.dir.join("known_hosts").display(),
            lab.address("h1")
        ),
    )
    .expect("write inventory");
    let inv = dir.path().join("inv.toml");
    let (code, doc) = rampart_json(&["ping", "-i", inv.to_str().expect("utf-8")]);
    assert_eq!(code, 4, "exit code 4 means unreachable: {doc}");
    let gone = host(&doc, "gone");
    assert_eq!(gone["reachable"], false);
    assert!(gone["error"].as_str().is_some_and(|e| !e.is_empty()));
    let h1 = host(&doc, "h1");
    assert_eq!(h1["reachable"], true);
    assert!(
        // Waiting for the dead host would cost its whole 3 s connect timeout.
        h1["seconds"].as_f64().unwrap_or(99.0) < 3.0,
        "h1 must not wait for the dead host: {h1} vs {gone}"
    );
    let _ = LAB;
}
