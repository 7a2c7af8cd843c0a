//! The audit's exposure probe on lab hosts (issue 16): what is reachable from outside is found
//! by the default (targeted) probe and attributed to its process or container; with the
//! firewall and the DOCKER-USER chain in place nothing is, and the report says what they shield.
//! And the scores and the trend, counted from the HTML report's DOM in headless Chromium.
//!
//! Hosts: h47 (a rogue TCP listener and a UDP listener, ufw off then on), h48 (a docker host: a
//! container published with `-p 80:80`, DOCKER-USER flushed then dropping), h49 and h50 (two
//! audits, the second with the first as baseline, in Chromium).

mod util;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use util::{Lab, host, rampart_json};

fn audit(inv: &Path, limit: &str, more: &[&str]) -> (i32, Value) {
    let inv = inv.display().to_string();
    let mut args = vec![
        "audit",
        "-i",
        inv.as_str(),
        "--limit",
        limit,
        "--no-ssh-config",
    ];
    args.extend(more);
    rampart_json(&args)
}

fn probe_control<'a>(doc: &'a Value, h: &str) -> &'a Value {
    util::control(doc, h, "ports.only-ssh")
}

/// The probe's view of one port: (outside, owner).
fn port<'a>(doc: &'a Value, h: &str, proto: &str, p: u16) -> (&'a str, &'a str, &'a Value) {
    let v = host(doc, h)["probe"]["ports"]
        .as_array()
        .and_then(|ps| ps.iter().find(|x| x["proto"] == proto && x["port"] == p))
        .unwrap_or_else(|| panic!("no {p}/{proto} in {h}'s probe: {}", host(doc, h)["probe"]));
    (
        v["outside"].as_str().unwrap_or_default(),
        v["owner"].as_str().unwrap_or_default(),
        &v["found"],
    )
}

const UDP_ECHO: &str = "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('0.0.0.0',5514))\nwhile True:\n  d,a=s.recvfrom(512)\n  s.sendto(d,a)\n";

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn a_rogue_listener_and_a_udp_service_are_found_and_attributed_until_ufw_shields_them() {
    let lab = Lab::get();
    lab.reset(&["h47"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let inv = lab.inventory(dir.path(), &["h47"], "root");
    lab.sh(
        "h47",
        "systemd-run --unit rogue-tcp python3 -m http.server 8080 >/dev/null 2>&1",
    );
    lab.sh(
        "h47",
        &format!(
            "cat > /root/echo.py <<'EOF'\n{UDP_ECHO}EOF\nsystemd-run --unit rogue-udp python3 /root/echo.py >/dev/null 2>&1"
        ),
    );
    lab.wait_for(
        "h47",
        "grep -q ':1F90 00000000:0000 0A' /proc/net/tcp && grep -q ':158A ' /proc/net/udp",
        20,
    );

    // ufw off: both are reachable, found by the default probe, owned by python3.
    let (code, doc) = audit(&inv, "h47", &[]);
    assert_eq!(code, 5, "{doc}");
    let c = probe_control(&doc, "h47");
    assert_eq!(c["pass"], false, "{c}");
    let ev = c["evidence"].as_str().unwrap_or_default();
    assert!(ev.contains("unexpected open port 8080"), "{ev}");
    assert!(ev.contains("unexpected open port 5514/udp"), "{ev}");
    let (outside, owner, found) = port(&doc, "h47", "tcp", 8080);
    assert_eq!(outside, "open");
    assert!(owner.starts_with("python3 (pid "), "{owner}");
    assert!(
        found
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == "listening on 0.0.0.0")),
        "{found}"
    );
    let (outside, owner, _) = port(&doc, "h47", "udp", 5514);
    assert_eq!(outside, "open");
    assert!(owner.starts_with("python3 (pid "), "{owner}");
    // The default probe is targeted, not a sweep.
    let scanned = host(&doc, "h47")["probe"]["closed"].as_u64().unwrap_or(0)
        + host(&doc, "h47")["probe"]["filtered"].as_u64().unwrap_or(0)
        + 1;
    assert!(scanned < 1200, "{}", host(&doc, "h47")["probe"]);

    // ufw on (SSH allowed): nothing but SSH is reachable, and the report says what it shields.
    lab.sh(
        "h47",
        "ufw allow 22/tcp >/dev/null && ufw --force enable >/dev/null",
    );
    let (code, doc) = audit(&inv, "h47", &[]);
    let c = probe_control(&doc, "h47");
    assert_eq!(c["pass"], true, "{c}");
    let ev = c["evidence"].as_str().unwrap_or_default();
    assert!(
        ev.contains("listening on the host but not reachable from here"),
        "{ev}"
    );
    let (outside, owner, _) = port(&doc, "h47", "tcp", 8080);
    assert_eq!(outside, "filtered or closed");
    assert!(owner.starts_with("python3"), "{owner}");
    let (outside, _, _) = port(&doc, "h47", "udp", 5514);
    assert_eq!(
        outside, "open|filtered",
        "a dropped datagram cannot be told from a silent service"
    );
    assert!(
        host(&doc, "h47")["probe"]["filtered"].as_u64().unwrap_or(0) > 1000,
        "ufw drops: {}",
        host(&doc, "h47")["probe"]
    );
    assert_ne!(code, 2, "{doc}");
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn a_published_container_is_found_and_attributed_until_docker_user_drops_it() {
    let lab = Lab::get();
    lab.reset_docker(&["h48"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let inv = lab.inventory(dir.path(), &["h48"], "root");
    lab.sh(
        "h48",
        "echo 'deb [trusted=yes] file:/srv/lab-repo ./' > /etc/apt/sources.list.d/lab.list \
         && apt-get update -q >/dev/null && apt-get install -y -q docker.io busybox-static >/dev/null 2>&1 \
         && systemctl start docker \
         && rm -rf /tmp/tiny && mkdir -p /tmp/tiny/bin /tmp/tiny/www && cp /bin/busybox /tmp/tiny/bin/ \
         && echo hello > /tmp/tiny/www/index.html && tar -C /tmp/tiny -c . | docker import - tiny >/dev/null \
         && docker run -d --name web -p 80:80 tiny /bin/busybox httpd -f -p 80 -h /www >/dev/null \
         && iptables -F DOCKER-USER",
    );
    lab.wait_for(
        "h48",
        "iptables-save -t nat | grep -q 'dport 80 -j DNAT'",
        20,
    );

    let (_, doc) = audit(&inv, "h48", &[]);
    let c = probe_control(&doc, "h48");
    assert_eq!(c["pass"], false, "{c}");
    let (outside, owner, found) = port(&doc, "h48", "tcp", 80);
    assert_eq!(outside, "open", "{}", host(&doc, "h48")["probe"]);
    assert_eq!(owner, "container web");
    assert!(
        found.as_array().is_some_and(|f| f.iter().any(|x| x
            .as_str()
            .is_some_and(|s| s.starts_with("forwarded by the nat table")))),
        "{found}"
    );
    let ev = c["evidence"].as_str().unwrap_or_default();
    assert!(
        ev.contains("unexpected open port 80") && ev.contains("container web"),
        "{ev}"
    );

    // The firewall and the DOCKER-USER chain in place: the container is not reachable.
    lab.sh(
        "h48",
        "ufw allow 22/tcp >/dev/null && ufw --force enable >/dev/null \
         && iptables -A DOCKER-USER -i eth0 -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN \
         && iptables -A DOCKER-USER -i eth0 -j DROP",
    );
    let (_, doc) = audit(&inv, "h48", &[]);
    let c = probe_control(&doc, "h48");
    assert_eq!(c["pass"], true, "{c}");
    let (outside, owner, _) = port(&doc, "h48", "tcp", 80);
    assert_eq!(outside, "filtered or closed");
    assert_eq!(owner, "container web");
    let ev = c["evidence"].as_str().unwrap_or_default();
    assert!(
        ev.contains("not reachable from here: 80/tcp filtered or closed (container web)"),
        "{ev}"
    );
    lab.sh("h48", "docker rm -f web >/dev/null");
}

/// Loads a report in headless Chromium (file:// only) and returns the DOM after its script ran.
fn chromium_dom(html: &Path) -> String {
    let profile = tempfile::tempdir().expect("tempdir");
    let out = Command::new("timeout")
        .args([
            "60",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--virtual-time-budget=2000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("run chromium (Debian's `chromium` package; tests/run installs it)");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn scores_and_the_trend_are_in_every_format_and_in_the_browser() {
    let lab = Lab::get();
    lab.reset(&["h49", "h50"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let inv = lab.inventory(d, &["h49", "h50"], "root");
    let (_, first) = audit(&inv, "h49,h50", &[]);
    let first_file = d.join("first.json");
    std::fs::write(&first_file, first.to_string()).expect("write");
    // h50 gets better: its firewall comes on.
    lab.sh(
        "h50",
        "ufw allow 22/tcp >/dev/null && ufw --force enable >/dev/null",
    );
    let html = d.join("audit.html");
    let junit = d.join("audit.xml");
    let (code, doc) = audit(
        &inv,
        "h49,h50",
        &[
            "--baseline",
            first_file.to_str().expect("utf-8"),
            "--waive",
            "fail2ban.*",
            "--html",
            html.to_str().expect("utf-8"),
            "--junit",
            junit.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(code, 5, "{doc}");
    let fleet = doc["summary"]["compliance"].as_f64().expect("compliance");
    let was = first["summary"]["compliance"].as_f64().expect("compliance");
    assert!(fleet > was, "h50 got better: {was} -> {fleet}");
    assert_eq!(doc["scores"]["hosts"].as_array().map(Vec::len), Some(2));
    assert!(
        doc["scores"]["fleet"]["waived"].as_u64().unwrap_or(0) >= 2,
        "{}",
        doc["scores"]
    );
    assert_eq!(doc["trend"].as_array().map(Vec::len), Some(2));
    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert_eq!(
        xml.matches("<property name=\"fleet.compliance\"").count(),
        2
    );
    assert!(xml.contains("<skipped message=\"waived\">"), "{xml}");

    let dom = chromium_dom(&html);
    let n_controls = doc["summary"]["controls"].as_u64().expect("controls");
    assert!(
        dom.contains(&format!("data-hosts=\"2\" data-controls=\"{n_controls}\"")),
        "the matrix: {dom}"
    );
    assert_eq!(dom.matches("<tr class=\"host-score\"").count(), 2);
    assert!(
        dom.contains(&format!("id=\"score-fleet\" data-percent=\"{fleet}\"")),
        "fleet score {fleet}"
    );
    assert_eq!(dom.matches("<tr class=\"trend-point\"").count(), 2);
    assert_eq!(dom.matches("<tr class=\"trend-host ").count(), 2);
    assert!(
        dom.contains("<tr class=\"trend-host better\" data-host=\"h50\""),
        "h50 is better: {dom}"
    );
    assert!(dom.contains("<svg id=\"trend-chart\""));
}
