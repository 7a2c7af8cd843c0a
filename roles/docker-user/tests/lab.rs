//! The docker-user role against a real lab host, through the real binary, with the seeds' own
//! acceptance test ("`docker run -p` + curl from outside times out, curl from the host works")
//! rebuilt without Docker: inside h64, a nested network namespace on a bridge named `docker0`
//! runs a web server, a DNAT rule publishes it on port 8080 like Docker's, and FORWARD jumps to
//! DOCKER-USER like Docker's. Before the role, the machine (outside h64) reaches the server;
//! after it, only h64 itself does. A second apply changes nothing; check writes nothing; the
//! unit restarted twice loads no duplicates; the DROP rule deleted by hand is reported by
//! check and put back by apply. (h8, in roles/docker/tests/lab.rs, repeats the proof with the real
//! Docker.) Host: h64 (tests/util/HOSTS.md).

use crate::util;

use std::process::Command;

use util::{Lab, Site, changed, changed_ids, failed_checks, host};

/// Whether an HTTP GET from the machine (outside every lab host) gets an answer.
fn reachable(url: &str) -> bool {
    Command::new("curl")
        .args(["-s", "-o", "/dev/null", "--max-time", "3", url])
        .status()
        .is_ok_and(|s| s.success())
}

/// A Docker-style published port without Docker: netns `ctr` on bridge `docker0`
/// (172.17.0.0/16), a web server in it, DNAT of h64:8080 to it, FORWARD -> DOCKER-USER.
const FAKE_DOCKER: &str = "set -e
ip netns add ctr
ip link add docker0 type bridge
ip addr add 172.17.0.1/16 dev docker0
ip link set docker0 up
ip link add veth-host type veth peer name veth-ctr
ip link set veth-host master docker0 up
ip link set veth-ctr netns ctr
ip -n ctr addr add 172.17.0.2/16 dev veth-ctr
ip -n ctr link set veth-ctr up
ip -n ctr link set lo up
ip -n ctr route add default via 172.17.0.1
sysctl -qw net.ipv4.ip_forward=1
iptables -N DOCKER-USER
iptables -I FORWARD -j DOCKER-USER
iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:8080
systemd-run --quiet --unit=rampart-test-ctr ip netns exec ctr python3 -m http.server 8080 --bind 172.17.0.2
for i in 1 2 3 4 5 6 7 8 9 10; do curl -s -o /dev/null --max-time 1 http://172.17.0.2:8080/ && exit 0; sleep 0.5; done
exit 1";

const RULES: &str = "-N DOCKER-USER
-A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A DOCKER-USER -i lo -j ACCEPT
-A DOCKER-USER -i br-+ -j ACCEPT
-A DOCKER-USER -i docker0 -j ACCEPT
-A DOCKER-USER -i eth0 -j DROP
";

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn a_published_port_is_reachable_from_the_host_only_on_h64() {
    let lab = Lab::get();
    lab.reset(&["h64"]);
    lab.sh("h64", FAKE_DOCKER);
    let outside = "http://10.213.64.2:8080/";
    let inside = "curl -s -o /dev/null --max-time 3 http://172.17.0.2:8080/";
    assert!(
        reachable(outside),
        "before the role, the published port answers from outside: the path works"
    );

    // check: everything would change, nothing is written.
    let s = Site::new(&lab, &["h64"], "root", "", &["docker-user"]);
    let before = lab.state_hash("h64");
    let (code, doc) = s.run("check", &[]);
    assert_eq!(code, 5, "{doc}");
    assert_eq!(lab.state_hash("h64"), before, "check wrote to the host");
    assert!(reachable(outside));

    // apply: the chain is loaded (interface eth0 from the host's default route), the unit is
    // enabled; verify passes; outside is cut off, the host itself still gets in.
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    let ids = changed_ids(&doc, "h64");
    for want in [
        "file:/etc/docker/iptables-rules.conf",
        "file:/etc/systemd/system/docker-iptables.service",
        "service:docker-iptables.service",
    ] {
        assert!(ids.iter().any(|i| i == want), "{want} not in {ids:?}");
    }
    assert_eq!(failed_checks(&doc, "h64"), Vec::<String>::new());
    assert_eq!(lab.sh("h64", "iptables -S DOCKER-USER"), RULES);
    assert!(
        !reachable(outside),
        "after the role, the DROP rule must stop outside traffic to the container"
    );
    assert_eq!(
        lab.exec("h64", inside).0,
        0,
        "the host itself must still reach the container"
    );
    assert_eq!(
        lab.sh("h64", "systemctl is-enabled docker-iptables.service"),
        "enabled\n"
    );

    // Second apply: nothing. check --verify: nothing, every control passes, nothing written.
    let (code, doc) = s.run("apply", &[]);
    assert_eq!((code, changed(&doc, "h64")), (0, 0), "{doc}");
    let before = lab.state_hash("h64");
    let (code, doc) = s.run("check", &["--verify"]);
    assert_eq!((code, changed(&doc, "h64")), (0, 0), "{doc}");
    assert_eq!(failed_checks(&doc, "h64"), Vec::<String>::new());
    assert_eq!(lab.state_hash("h64"), before, "check wrote to the host");

    // Restarting the unit (as every docker restart does) loads the chain again: no duplicates.
    lab.sh(
        "h64",
        "systemctl restart docker-iptables.service; systemctl restart docker-iptables.service",
    );
    assert_eq!(lab.sh("h64", "iptables -S DOCKER-USER"), RULES);

    // Drift: the DROP rule deleted by hand reopens the port; check reports it (and verify
    // fails), apply loads the rules again.
    lab.sh("h64", "iptables -D DOCKER-USER -i eth0 -j DROP");
    assert!(
        reachable(outside),
        "without the DROP the port is open again"
    );
    let (code, doc) = s.run("check", &["--verify"]);
    assert_ne!(code, 0, "{doc}");
    assert_eq!(
        changed_ids(&doc, "h64"),
        ["command:load the DOCKER-USER rules again"],
        "{doc}"
    );
    let failed = failed_checks(&doc, "h64");
    assert!(
        failed.iter().any(|f| f.contains("docker-user.drop-last")),
        "{failed:?}"
    );
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(failed_checks(&doc, "h64"), Vec::<String>::new());
    assert_eq!(lab.sh("h64", "iptables -S DOCKER-USER"), RULES);
    assert!(!reachable(outside));
    let (code, doc) = s.run("apply", &[]);
    assert_eq!((code, changed(&doc, "h64")), (0, 0), "{doc}");

    // The rules file edited by hand: rewritten, and the handler loads it.
    lab.sh("h64", "sed -i '/-j DROP/d' /etc/docker/iptables-rules.conf && systemctl restart docker-iptables.service");
    assert!(reachable(outside));
    let (code, doc) = s.run("apply", &[]);
    assert_eq!(code, 0, "{doc}");
    assert!(
        changed_ids(&doc, "h64").contains(&"file:/etc/docker/iptables-rules.conf".to_owned()),
        "{doc}"
    );
    assert_eq!(
        host(&doc, "h64")["handlers"],
        serde_json::json!(["docker-user: reload DOCKER-USER rules"]),
        "{doc}"
    );
    assert!(!reachable(outside));

    // A fresh network namespace (what a reboot gives): the enabled unit loads the chain at boot.
    let reboot = Command::new(lab.scripts.join("reboot.sh"))
        .arg("h64")
        .output()
        .expect("reboot.sh");
    assert!(
        reboot.status.success(),
        "{}",
        String::from_utf8_lossy(&reboot.stderr)
    );
    assert_eq!(
        lab.sh("h64", "systemctl is-active docker-iptables.service"),
        "active\n"
    );
    assert_eq!(lab.sh("h64", "iptables -S DOCKER-USER"), RULES);
}
