//! The docker role (and docker-user next to the real Docker) against a docker-capable lab
//! host, through the real binary. Docker comes from the lab's offline repository
//! (`source = "distro"`: hosts have no internet), with a lab value for the containers' nofile
//! limit (the machine's hard limit is 20000; the seed's 65536 makes `docker run` fail here).
//!
//! Proves: the install, daemon.json and the restart handler; `docker info` shows live restore,
//! json-file logging; a container runs, with no-new-privileges and the configured nofile; fleetclaw is in the docker
//! group; a second apply changes nothing and restarts nothing; check writes nothing; an edited
//! daemon.json and a stopped daemon are reported and repaired. Then the seeds' own acceptance
//! test with the real Docker: `docker run -p 8081:80` answers from outside before docker-user
//! and only from the host after it, also across a docker restart.
//! Host: h8, reset with LAB_DOCKER=1 (tests/util/HOSTS.md).

use crate::util;

use std::process::Command;

use serde_json::Value;
use util::{Lab, Site, changed, changed_ids, failed_checks, host};

fn handlers(doc: &Value, h: &str) -> Value {
    host(doc, h)["handlers"].clone()
}

/// Whether an HTTP GET from the machine (outside every lab host) gets an answer.
fn reachable(url: &str) -> bool {
    Command::new("curl")
        .args(["-s", "-o", "/dev/null", "--max-time", "3", url])
        .status()
        .is_ok_and(|s| s.success())
}

const SITE: &str = "[roles.docker]\nsource = \"distro\"\n[roles.docker.daemon]\nnofile = { soft = 20000, hard = 20000 }\n";

const DAEMON_JSON: &str = r#"{
  "default-ulimits": {
    "nofile": {
      "Hard": 20000,
      "Name": "nofile",
      "Soft": 20000
    }
  },
  "ip6tables": false,
  "live-restore": true,
  "log-driver": "json-file",
  "log-opts": {
    "max-file": "3",
    "max-size": "10m"
  },
  "no-new-privileges": true,
  "userland-proxy": false
}
"#;

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn docker_installs_hardens_and_with_docker_user_keeps_ports_local_on_h8() {
    let lab = Lab::get();
    lab.reset_docker(&["h8"]);
    let s = Site::new(&lab, &["h8"], "root", SITE, &["docker"]);

    // check: everything would change, nothing is written.
    let before = lab.state_hash("h8");
    let (code, doc) = s.run("check", &[]);
    assert_eq!(code, 5, "{doc}");
    assert_eq!(lab.state_hash("h8"), before, "check wrote to the host");

    // apply: installed, configured, restarted once by the handler; verify passes.
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    let ids = changed_ids(&doc, "h8");
    for want in ["packages:docker.io", "file:/etc/docker/daemon.json"] {
        assert!(ids.iter().any(|i| i == want), "{want} not in {ids:?}");
    }
    assert_eq!(
        handlers(&doc, "h8"),
        serde_json::json!(["docker: restart docker"]),
        "{doc}"
    );
    assert_eq!(failed_checks(&doc, "h8"), Vec::<String>::new());
    assert_eq!(lab.sh("h8", "cat /etc/docker/daemon.json"), DAEMON_JSON);
    let info = lab.sh("h8", "docker info 2>/dev/null");
    for want in ["Live Restore Enabled: true", "Logging Driver: json-file"] {
        assert!(info.contains(want), "{want} not in\n{info}");
    }
    assert!(
        lab.sh("h8", "id -nG fleetclaw")
            .split_whitespace()
            .any(|g| g == "docker")
    );
    // A container runs with the daemon's defaults (the lab's nofile value).
    lab.sh(
        "h8",
        "apt-get install -y -q busybox-static >/dev/null && rm -rf /tmp/tiny && mkdir -p /tmp/tiny/bin /tmp/tiny/www && cp /bin/busybox /tmp/tiny/bin/ \
         && echo hello > /tmp/tiny/www/index.html && tar -C /tmp/tiny -c . | docker import - tiny >/dev/null",
    );
    assert_eq!(
        lab.sh("h8", "docker run --rm tiny /bin/busybox sh -c 'ulimit -n'"),
        "20000\n"
    );
    // no-new-privileges, from inside a container (docker info does not show it).
    assert_eq!(
        lab.sh(
            "h8",
            "docker run --rm tiny /bin/busybox grep NoNewPrivs /proc/self/status"
        ),
        "NoNewPrivs:\t1\n"
    );

    // Second apply: nothing changes, docker is not restarted. check --verify writes nothing.
    let pid = lab.sh("h8", "systemctl show -p MainPID --value docker");
    let (code, doc) = s.run("apply", &[]);
    assert_eq!((code, changed(&doc, "h8")), (0, 0), "{doc}");
    assert_eq!(handlers(&doc, "h8"), serde_json::json!([]));
    assert_eq!(
        lab.sh("h8", "systemctl show -p MainPID --value docker"),
        pid,
        "docker restarted without a change"
    );
    let before = lab.state_hash("h8");
    let (code, doc) = s.run("check", &["--verify"]);
    assert_eq!((code, changed(&doc, "h8")), (0, 0), "{doc}");
    assert_eq!(failed_checks(&doc, "h8"), Vec::<String>::new());
    assert_eq!(lab.state_hash("h8"), before, "check wrote to the host");

    // Drift: daemon.json edited (live restore off) and docker restarted with it.
    lab.sh("h8", "sed -i 's/\"live-restore\": true/\"live-restore\": false/' /etc/docker/daemon.json && systemctl restart docker");
    let (code, doc) = s.run("check", &["--verify"]);
    assert_ne!(code, 0, "{doc}");
    assert_eq!(
        changed_ids(&doc, "h8"),
        vec!["file:/etc/docker/daemon.json".to_owned()],
        "{doc}"
    );
    let failed = failed_checks(&doc, "h8");
    assert!(
        failed.iter().any(|f| f.contains("docker.live-restore"))
            && failed.iter().any(|f| f.contains("docker.daemon-json")),
        "{failed:?}"
    );
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(
        handlers(&doc, "h8"),
        serde_json::json!(["docker: restart docker"]),
        "{doc}"
    );
    assert_eq!(failed_checks(&doc, "h8"), Vec::<String>::new());
    assert!(
        lab.sh("h8", "docker info 2>/dev/null")
            .contains("Live Restore Enabled: true")
    );

    // Drift: the daemon stopped (socket too, so nothing restarts it behind our back). This test
    // has started docker four times within a minute, past docker.service's StartLimitBurst=3:
    // reset the counter, or systemd refuses the next start whoever asks.
    lab.sh(
        "h8",
        "systemctl stop docker.socket docker.service && systemctl reset-failed docker.service",
    );
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(
        (code, changed_ids(&doc, "h8")),
        (0, vec!["service:docker".to_owned()]),
        "{doc}"
    );
    assert_eq!(lab.sh("h8", "systemctl is-active docker"), "active\n");

    // docker-user next to the real Docker: the seeds' acceptance test.
    lab.sh("h8", "docker run -d --name web -p 8081:80 tiny /bin/busybox httpd -f -p 80 -h /www >/dev/null && sleep 1");
    let outside = "http://10.213.8.2:8081/";
    assert!(
        reachable(outside),
        "Docker publishes the port to the world before docker-user"
    );
    let both = Site::new(&lab, &["h8"], "root", SITE, &["docker", "docker-user"]);
    let (code, doc) = both.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(failed_checks(&doc, "h8"), Vec::<String>::new());
    assert!(
        !reachable(outside),
        "after docker-user, outside traffic to the container is dropped"
    );
    assert_eq!(
        lab.exec("h8", "curl -s --max-time 3 http://localhost:8081/")
            .1,
        "hello\n",
        "the host itself still reaches it"
    );
    let (code, doc) = both.run("apply", &[]);
    assert_eq!((code, changed(&doc, "h8")), (0, 0), "{doc}");
    // A docker restart recreates Docker's chains; PartOf= reloads ours right after.
    lab.sh("h8", "systemctl restart docker && sleep 1");
    assert!(
        lab.sh("h8", "iptables -S DOCKER-USER | tail -n 1")
            .starts_with("-A DOCKER-USER -i eth0 -j DROP")
    );
    assert!(!reachable(outside), "still dropped after a docker restart");
    let (code, doc) = both.run("check", &["--verify"]);
    assert_eq!((code, changed(&doc, "h8")), (0, 0), "{doc}");
    assert_eq!(failed_checks(&doc, "h8"), Vec::<String>::new());
    lab.sh("h8", "docker rm -f web >/dev/null");
}
