//! Faults on real hosts, each followed by an apply that converges:
//! - a full disk leaves no half-written file;
//! - a slow, lossy link (300 ms each way through a delaying proxy, and 5% of packets dropped
//!   by an iptables `statistic` rule: this kernel has no netem) still converges, only slower;
//! - a host killed mid-apply (power cut, in the middle of a file's validation) keeps its old
//!   file, the other host finishes, the error says what happened;
//! - sshd restarted under a run does not disturb it; sshd killed under a run fails that host
//!   only, clearly, and the host lock it held does not block the next run;
//! - Ctrl-C finishes the step in flight, starts nothing new, prints the recap and writes the
//!   journal, and `--only-failed` then runs just the interrupted host; a second Ctrl-C aborts
//!   at once.
//!
//! Hosts h9 - h14, h20, h21 (tests/util/HOSTS.md); every test resets its own hosts first.

mod util;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use util::{Lab, Site, brief, host, rampart_bin, rampart_json};

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn a_full_disk_leaves_no_half_written_file_and_the_next_apply_converges() {
    let lab = Lab::get();
    lab.reset(&["h20"]);
    lab.sh("h20", "mkdir -p /srv/small && mount -t tmpfs -o size=256k tmpfs /srv/small && echo old > /srv/small/data.conf");
    let big = "x".repeat(100) + "\n";
    let content = big.repeat(4000); // 400 KB: more than the 256 KiB disk
    let (_site, i, s) = project(
        &lab,
        &["h20"],
        &format!(
            "files = [{{ path = \"/srv/small/data.conf\", content = \"\"\"\n{content}\"\"\" }}]\n"
        ),
    );
    let (i, s) = (i.as_str(), s.as_str());
    let (code, doc) = rampart_json(&["apply", "-i", i, s]);
    assert_eq!(code, 3, "{}", brief(&doc));
    let r = host(&doc, "h20");
    let failed = r["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|x| x["status"] == "failed")
        .cloned()
        .unwrap_or_default();
    assert!(
        failed["error"]
            .as_str()
            .unwrap_or_default()
            .contains("No space left"),
        "the error says what happened: {failed}"
    );
    assert_eq!(
        lab.sh("h20", "cat /srv/small/data.conf"),
        "old\n",
        "the old file is intact"
    );
    assert_eq!(
        lab.sh("h20", "ls -A /srv/small"),
        "data.conf\n",
        "no temporary file is left behind"
    );
    lab.sh("h20", "mount -o remount,size=4m /srv/small");
    let (code, doc) = rampart_json(&["apply", "-i", i, s]);
    assert_eq!(code, 0, "{}", brief(&doc));
    assert_eq!(
        lab.sh("h20", "wc -c < /srv/small/data.conf").trim(),
        content.len().to_string()
    );
    lab.sh("h20", "umount /srv/small");
}

/// Forwards 127.0.0.1:<port> to `to`, holding every chunk for `delay` in each direction.
async fn slow_proxy(to: String, delay: Duration) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let to = to.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(&to).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = async move {
                    let mut buf = vec![0u8; 16384];
                    while let Ok(n) = cr.read(&mut buf).await {
                        if n == 0 || {
                            tokio::time::sleep(delay).await;
                            sw.write_all(&buf[..n]).await.is_err()
                        } {
                            break;
                        }
                    }
                };
                let down = async move {
                    let mut buf = vec![0u8; 16384];
                    while let Ok(n) = sr.read(&mut buf).await {
                        if n == 0 || {
                            tokio::time::sleep(delay).await;
                            cw.write_all(&buf[..n]).await.is_err()
                        } {
                            break;
                        }
                    }
                };
                tokio::join!(up, down);
            });
        }
    });
    port
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn a_slow_lossy_link_still_converges() {
    let lab = Lab::get();
    lab.reset(&["h21"]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let port = rt.block_on(slow_proxy(
        format!("{}:22", lab.address("h21")),
        Duration::from_millis(300),
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let key = std::fs::read_to_string(lab.dir.join("known_hosts")).expect("known_hosts");
    let line = key
        .lines()
        .find(|l| l.starts_with(&format!("{} ", lab.address("h21"))))
        .expect("h21 key");
    let kh = dir.path().join("known_hosts");
    std::fs::write(
        &kh,
        format!(
            "[127.0.0.1]:{port} {}\n",
            line.split_once(' ').map(|(_, k)| k).unwrap_or_default()
        ),
    )
    .expect("write");
    let inv = dir.path().join("inv.toml");
    std::fs::write(
        &inv,
        format!(
            "[defaults]\nuser = \"root\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\nconnect_timeout = 30\n[hosts.h21]\naddress = \"127.0.0.1\"\nport = {port}\n[groups.lab]\nhosts = [\"h21\"]\n",
            lab.dir.join("id_lab").display(),
            kh.display()
        ),
    )
    .expect("write inventory");
    let site = dir.path().join("site.toml");
    std::fs::write(&site, "[[play]]\nhosts = \"lab\"\nroles = [\"custom\"]\n\n[roles.custom]\nfiles = [{ path = \"/etc/slow-link.conf\", content = \"converged over a slow link\\n\" }]\nsysctls = { \"net.core.somaxconn\" = 999 }\n").expect("write site");
    let (i, s) = (
        inv.to_str().expect("utf-8").to_owned(),
        site.to_str().expect("utf-8").to_owned(),
    );
    // 5% loss both ways on the host's side of the link.
    lab.sh(
        "h21",
        "iptables -I INPUT 1 -p tcp --dport 22 -m statistic --mode random --probability 0.05 -j DROP && iptables -I OUTPUT 1 -p tcp --sport 22 -m statistic --mode random --probability 0.05 -j DROP",
    );
    let (code, doc) = std::thread::spawn(move || rampart_json(&["apply", "-i", &i, &s]))
        .join()
        .expect("join");
    let dropped = lab.sh("h21", "iptables -nvxL INPUT | awk '/statistic/ {print $1}'");
    lab.sh(
        "h21",
        "iptables -D INPUT -p tcp --dport 22 -m statistic --mode random --probability 0.05 -j DROP && iptables -D OUTPUT -p tcp --sport 22 -m statistic --mode random --probability 0.05 -j DROP",
    );
    assert_eq!(code, 0, "{}", brief(&doc));
    let r = host(&doc, "h21");
    assert!(r["changed"].as_u64().unwrap_or(0) >= 2, "{}", brief(&doc));
    assert!(
        r["seconds"].as_f64().unwrap_or(0.0) > 1.0,
        "the proxy really slowed the run: {}",
        r["seconds"]
    );
    assert_eq!(
        lab.sh("h21", "cat /etc/slow-link.conf"),
        "converged over a slow link\n"
    );
    eprintln!("packets dropped on the way in: {}", dropped.trim());
    drop(rt);
}

/// A custom-role site (`custom_toml` under `[roles.custom]`) on `hosts` as root, with its
/// inventory and site paths as strings.
fn project(lab: &Lab, hosts: &[&str], custom_toml: &str) -> (Site, String, String) {
    let site = Site::new(
        lab,
        hosts,
        "root",
        &format!("[roles.custom]\n{custom_toml}"),
        &["custom"],
    );
    let (i, s) = (
        site.inv.to_str().expect("utf-8").to_owned(),
        site.site.to_str().expect("utf-8").to_owned(),
    );
    (site, i, s)
}

/// Starts `rampart apply` with `--json` in the background.
fn spawn_apply(i: &str, s: &str, extra: &[&str]) -> std::process::Child {
    Command::new(rampart_bin())
        .args(["apply", "-i", i, s, "--json"])
        .args(extra)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rampart")
}

fn finish(child: std::process::Child) -> (i32, serde_json::Value, String) {
    let out = child.wait_with_output().expect("wait for rampart");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); exit {:?}\nstdout: {}\nstderr: {stderr}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap_or(-1), doc, stderr)
}

fn signal(child: &std::process::Child, sig: &str) {
    let st = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
}

/// Leftover temporary files of rampart's atomic writes under `dir`.
fn temps(lab: &Lab, h: &str, dir: &str) -> String {
    lab.sh(
        h,
        &format!("find {dir} -xdev -name '.*.rampart*' 2>/dev/null; true"),
    )
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn a_host_killed_mid_apply_keeps_its_old_file_and_the_other_host_finishes() {
    let lab = Lab::get();
    let hosts = ["h9", "h10"];
    lab.reset(&hosts);
    for h in hosts {
        lab.sh(h, "echo old > /etc/killed.conf");
    }
    // The new content is validated for 3 s before the rename: the power goes out on h9 then.
    let (_site, i, s) = project(
        &lab,
        &hosts,
        &format!(
            "files = [{{ path = \"/etc/killed.conf\", content = \"{}\\n\", validate = \"sleep 3 && test -s %s\" }}]\n",
            "new ".repeat(20000)
        ),
    );
    let child = spawn_apply(&i, &s, &[]);
    lab.wait_for("h9", "ls /etc/.killed.conf.rampart.* >/dev/null 2>&1", 60);
    let t_kill = Instant::now();
    lab.script("kill.sh", &["h9"]);
    let (code, doc, _) = finish(child);
    assert_eq!(code, 4, "the killed host is unreachable: {}", brief(&doc));
    let dead = host(&doc, "h9");
    assert_eq!(dead["unreachable"], true, "{dead}");
    let why = dead["error"].as_str().unwrap_or_default();
    assert!(
        why.contains("was lost") && why.contains("while a command ran"),
        "the error says the connection went away in the middle of a step: {why}"
    );
    let alive = host(&doc, "h10");
    assert!(alive["error"].is_null(), "{alive}");
    assert_eq!(alive["changed"], 1, "{alive}");
    assert!(
        t_kill.elapsed() < Duration::from_secs(30),
        "the dead host did not hold the run"
    );

    // Power back on, same disk: the old file is whole; the cut-off temporary file is litter
    // that the next write of that file removes.
    lab.script("reboot.sh", &["h9"]);
    assert_eq!(lab.sh("h9", "cat /etc/killed.conf"), "old\n");
    assert_ne!(
        temps(&lab, "h9", "/etc"),
        "",
        "the power cut left the temporary file"
    );
    let (code, doc) = rampart_json(&["apply", "-i", &i, &s]);
    assert_eq!(code, 0, "{}", brief(&doc));
    assert_eq!(host(&doc, "h9")["changed"], 1);
    assert_eq!(host(&doc, "h10")["changed"], 0);
    for h in hosts {
        assert!(lab.sh(h, "cat /etc/killed.conf").starts_with("new new"));
        assert_eq!(temps(&lab, h, "/etc"), "", "on {h}");
    }
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn sshd_restarted_under_a_run_is_harmless_and_sshd_killed_fails_that_host_only() {
    let lab = Lab::get();
    let h = "h11";
    lab.reset(&[h]);
    let step = "commands = [{ name = \"slow step\", run = \"touch /run/started; sleep 3; touch /var/tmp/done\", creates = \"/var/tmp/done\" }]\nfiles = [{ path = \"/etc/sshd-fault.conf\", content = \"x\\n\" }]\n";
    let (_site, i, s) = project(&lab, &[h], step);

    // A restart: sessions belong to their own sshd processes and survive it.
    let child = spawn_apply(&i, &s, &[]);
    lab.wait_for(h, "test -e /run/started", 60);
    lab.sh(h, "systemctl restart ssh");
    let (code, doc, _) = finish(child);
    assert_eq!(code, 0, "{}", brief(&doc));
    assert_eq!(lab.exec(h, "test -e /var/tmp/done").0, 0);

    // A kill of every sshd process: this run loses the host, says so, and leaves the host
    // lock behind; systemd brings sshd back and the next run takes the lock over without
    // waiting for it to expire.
    lab.sh(h, "rm -f /run/started /var/tmp/done /etc/sshd-fault.conf");
    let child = spawn_apply(&i, &s, &[]);
    lab.wait_for(h, "test -e /run/started", 60);
    lab.sh(h, "pkill -KILL -x sshd; true");
    let (code, doc, _) = finish(child);
    assert_eq!(code, 4, "{}", brief(&doc));
    let r = host(&doc, h);
    assert_eq!(r["unreachable"], true, "{r}");
    assert!(!r["error"].as_str().unwrap_or_default().is_empty(), "{r}");
    assert_eq!(
        lab.exec(h, "test -d /run/rampart.lock").0,
        0,
        "the lock was left"
    );
    lab.wait_for(h, "systemctl is-active -q ssh", 30);
    // The step the killed connection had started still runs to its end on the host (and
    // holds the lock until then); after that, nothing of the old run is alive.
    lab.wait_for(h, "! pgrep -x sleep", 30);
    lab.sh(h, "rm -f /var/tmp/done");
    let (code, doc) = rampart_json(&["apply", "-i", &i, &s]);
    assert_eq!(
        code,
        0,
        "a lock whose run is gone blocks nobody: {}",
        brief(&doc)
    );
    assert_eq!(lab.exec(h, "test -e /var/tmp/done").0, 0);
    assert_eq!(lab.exec(h, "test -e /run/rampart.lock").0, 1, "released");
    assert_eq!(temps(&lab, h, "/etc"), "");
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn ctrl_c_finishes_the_step_in_flight_and_writes_the_recap_and_journal() {
    let lab = Lab::get();
    let hosts = ["h12", "h13"];
    lab.reset(&hosts);
    let (site, i, s) = project(
        &lab,
        &hosts,
        "commands = [{ name = \"slow step\", run = \"touch /run/started; sleep 3; touch /var/tmp/done\", creates = \"/var/tmp/done\" }]\n",
    );
    // One host at a time: when Ctrl-C comes, one host is in its step and the other waits.
    let child = spawn_apply(&i, &s, &["--forks", "1"]);
    let until = Instant::now() + Duration::from_secs(60);
    let first = loop {
        if let Some(h) = hosts
            .iter()
            .find(|h| lab.exec(h, "test -e /run/started").0 == 0)
        {
            break *h;
        }
        assert!(Instant::now() < until, "no host started its step");
        std::thread::sleep(Duration::from_millis(50));
    };
    let second = if first == hosts[0] {
        hosts[1]
    } else {
        hosts[0]
    };
    signal(&child, "-INT");
    let (code, doc, stderr) = finish(child);
    assert_eq!(code, 130, "{}\n{stderr}", brief(&doc));
    assert!(stderr.contains("interrupted"), "{stderr}");
    // The step in flight finished; nothing new started.
    assert_eq!(lab.exec(first, "test -e /var/tmp/done").0, 0);
    assert_eq!(host(&doc, first)["changed"], 1, "{}", brief(&doc));
    assert_eq!(lab.exec(second, "test -e /run/started").0, 1);
    assert_eq!(host(&doc, second)["changed"], 0, "{}", brief(&doc));
    let journal = site.dir().join(".rampart/journal-site.json");
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&journal).expect("journal")).expect("json");
    assert_eq!(j["hosts"][first]["outcome"], "ok", "{j}");
    assert_ne!(j["hosts"][second]["outcome"], "ok", "{j}");

    // The interrupted host counts as failed: --only-failed runs it and nothing else.
    assert_eq!(j["hosts"][second]["outcome"], "failed", "{j}");
    let (code, doc) = rampart_json(&["apply", "-i", &i, &s, "--only-failed"]);
    assert_eq!(code, 0, "{}", brief(&doc));
    let ran: Vec<&str> = doc["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .filter_map(|h| h["host"].as_str())
        .collect();
    assert_eq!(ran, [second]);
    assert_eq!(lab.exec(second, "test -e /var/tmp/done").0, 0);
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn a_second_ctrl_c_aborts_at_once_and_the_lock_holds_until_the_abandoned_step_ends() {
    let lab = Lab::get();
    let h = "h14";
    lab.reset(&[h]);
    let (_site, i, s) = project(
        &lab,
        &[h],
        "files = [{ path = \"/etc/abort.conf\", content = \"x\\n\" }]\ncommands = [{ name = \"slow once\", run = \"touch /run/started; if [ ! -e /var/tmp/once ]; then touch /var/tmp/once; sleep 8; fi; touch /var/tmp/done\", creates = \"/var/tmp/done\" }]\n",
    );
    let child = spawn_apply(&i, &s, &[]);
    lab.wait_for(h, "test -e /run/started", 60);
    let t = Instant::now();
    signal(&child, "-INT");
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "-INT");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(130));
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "the second Ctrl-C aborted at once, not after the 8 s step"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("aborted"));

    // The abandoned step still runs on the host: its run's lock holds, and says so.
    if lab.exec(h, "pgrep -x sleep").0 == 0 {
        let (code, doc) = rampart_json(&["apply", "-i", &i, &s]);
        assert_eq!(code, 3, "{}", brief(&doc));
        assert!(
            host(&doc, h)["error"]
                .as_str()
                .unwrap_or_default()
                .contains("locked by another rampart run"),
            "{}",
            brief(&doc)
        );
    }
    // Once it is over, the lock is free without waiting for it to expire.
    lab.wait_for(h, "! pgrep -x sleep", 30);
    let (code, doc) = rampart_json(&["apply", "-i", &i, &s]);
    assert_eq!(code, 0, "{}", brief(&doc));
    assert_eq!(lab.sh(h, "cat /etc/abort.conf"), "x\n");
    assert_eq!(lab.exec(h, "test -e /var/tmp/done").0, 0);
    assert_eq!(temps(&lab, h, "/etc"), "");
}
