//! Faults on real hosts: a full disk leaves no half-written file and the next apply converges;
//! a slow link (300 ms each way, through a delaying proxy: this kernel has no netem) still
//! converges, only slower. Hosts h20, h21 (tests/util/HOSTS.md).

mod util;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use util::{Lab, brief, host, rampart_json};

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn a_full_disk_leaves_no_half_written_file_and_the_next_apply_converges() {
    let lab = Lab::get();
    lab.reset(&["h20"]);
    lab.sh("h20", "mkdir -p /srv/small && mount -t tmpfs -o size=256k tmpfs /srv/small && echo old > /srv/small/data.conf");
    let dir = tempfile::tempdir().expect("tempdir");
    let inv = lab.inventory(dir.path(), &["h20"], "root");
    let big = "x".repeat(100) + "\n";
    let content = big.repeat(4000); // 400 KB: more than the 256 KiB disk
    let site = dir.path().join("site.toml");
    std::fs::write(&site, format!("[[play]]\nhosts = \"lab\"\nroles = [\"custom\"]\n\n[roles.custom]\nfiles = [{{ path = \"/srv/small/data.conf\", content = \"\"\"\n{content}\"\"\" }}]\n")).expect("write site");
    let (i, s) = (inv.to_str().expect("utf-8"), site.to_str().expect("utf-8"));
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
fn a_slow_link_still_converges() {
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
    let (code, doc) = std::thread::spawn(move || rampart_json(&["apply", "-i", &i, &s]))
        .join()
        .expect("join");
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
    drop(rt);
}
