//! Moving sshd to another port in one run, and back, on every host kind: the firewall lets the
//! new port in before sshd moves, a fresh login on the new port confirms the change (else the
//! host rolls back), sshd ends up listening on the new port only, and the next run, connected
//! on the new port, lets ufw drop the old one. On the Ubuntu 24.04-like host sshd is
//! socket-activated: the move goes through ssh.socket's generated ListenStream.
//! A move whose confirming login cannot reach the new port is rolled back by the host (on the
//! Ubuntu-like host, its socket back on 22).
//! Hosts h31, h32 (Debian 12), h26 (Debian 13), h28, h29 (Ubuntu 24.04-like): tests/util/HOSTS.md.

mod util;

use std::path::Path;

use util::{Lab, brief, changed, host, rampart_json};

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.to_str().expect("utf-8").to_owned()
}

/// The site that puts sshd on `port`: ufw first, letting `port` in, then sshd.
fn site(dir: &Path, port: u16) -> String {
    write(
        dir,
        &format!("site-{port}.toml"),
        &format!(
            "[[play]]\nhosts = \"lab\"\nroles = [\"ufw\", \"sshd\"]\n\n\
             [roles.ufw]\nssh_ports = [{port}]\n\n\
             [roles.sshd]\nallow_users = [\"lab\"]\nport = {port}\n"
        ),
    )
}

/// The inventory reaching `h` as `lab` (sudo) on `port`, with the test's own copy of the lab's
/// known_hosts (a move records the key for the new port there).
fn inventory(lab: &Lab, dir: &Path, h: &str, port: u16) -> String {
    let known = dir.join("known_hosts");
    if !known.exists() {
        std::fs::copy(lab.dir.join("known_hosts"), &known).expect("copy known_hosts");
    }
    write(
        dir,
        &format!("inventory-{port}.toml"),
        &format!(
            "[defaults]\nuser = \"lab\"\nbecome = true\nport = {port}\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n\n\
             [hosts.{h}]\naddress = \"{}\"\n\n[groups.lab]\nhosts = [\"{h}\"]\n",
            lab.dir.join("id_lab").display(),
            known.display(),
            lab.address(h)
        ),
    )
}

/// The TCP ports the host listens on, sorted (`ss`, run inside the host).
fn listening(lab: &Lab, h: &str) -> Vec<u16> {
    let mut ports: Vec<u16> = lab
        .sh(h, "ss -Hltn | awk '{print $4}'")
        .lines()
        .filter_map(|l| l.rsplit(':').next()?.parse().ok())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// The TCP ports ufw allows (`ufw status`), sorted.
fn allowed(lab: &Lab, h: &str) -> Vec<u16> {
    let mut ports: Vec<u16> = lab
        .sh(
            h,
            "ufw status | awk '$2 == \"ALLOW\" && $1 ~ /\\/tcp$/ {print $1}'",
        )
        .lines()
        .filter_map(|l| l.split('/').next()?.parse().ok())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Moves sshd on `h` from `from` to `to` in one run, then lets the next run drop `from`.
fn move_port(lab: &Lab, dir: &Path, h: &str, from: u16, to: u16) {
    let site = site(dir, to);
    let inv = inventory(lab, dir, h, from);
    let (code, doc) = rampart_json(&["apply", "-i", &inv, &site]);
    assert_eq!(code, 0, "move {from} -> {to}: {}", brief(&doc));
    let r = host(&doc, h);
    let note = r["notes"][0].as_str().unwrap_or_default();
    assert!(
        note.contains(&format!("sshd moved from port {from} to {to}"))
            && note.contains(&format!("set `port = {to}`")),
        "the run tells the operator to update the inventory: {r}"
    );
    assert_eq!(r["rolled_back"], false, "{r}");
    let known = std::fs::read_to_string(dir.join("known_hosts")).expect("known_hosts");
    assert!(
        known.contains(&format!("[{}]:{to} ", lab.address(h))) || to == 22,
        "the host's key is recorded for its new port: {known}"
    );
    let ports = listening(lab, h);
    assert!(
        ports.contains(&to) && !ports.contains(&from),
        "{h}: sshd listens on {to} only, not {from}: {ports:?}"
    );
    assert_eq!(
        allowed(lab, h),
        {
            let mut v = vec![from, to];
            v.sort_unstable();
            v
        },
        "{h}: ufw let {to} in before sshd moved, and keeps {from} while rampart was on it"
    );
    // The operator updates the inventory; the run on the new port drops the old rule.
    let inv = inventory(lab, dir, h, to);
    let (code, doc) = rampart_json(&["apply", "-i", &inv, &site]);
    assert_eq!(code, 0, "the run on {to}: {}", brief(&doc));
    assert!(changed(&doc, h) > 0, "ufw drops {from}: {}", brief(&doc));
    assert_eq!(allowed(lab, h), vec![to], "{h}: only {to} is let in now");
    let (code, doc) = rampart_json(&["apply", "-i", &inv, &site]);
    assert_eq!(code, 0, "{}", brief(&doc));
    assert_eq!(changed(&doc, h), 0, "converged on {to}: {}", brief(&doc));
}

fn port_move_and_back(h: &str) {
    let lab = Lab::get();
    lab.reset(&[h]);
    let dir = tempfile::tempdir().expect("tempdir");
    move_port(&lab, dir.path(), h, 22, 2222);
    move_port(&lab, dir.path(), h, 2222, 22);
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn sshd_moves_port_in_one_run_and_back_on_debian_12() {
    port_move_and_back("h31");
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn sshd_moves_port_in_one_run_and_back_on_debian_13() {
    port_move_and_back("h26");
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn sshd_moves_port_in_one_run_and_back_on_the_socket_activated_ubuntu_host() {
    port_move_and_back("h29");
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn a_port_move_the_confirming_login_cannot_reach_is_rolled_back() {
    unconfirmed_move_rolls_back("h32");
}

/// On the socket-activated host the restore must also put ssh.socket back on 22: the
/// generator rewrites it from the restored config, and the socket is restarted under a stopped
/// sshd (systemd refuses it under a running one).
#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn a_port_move_the_confirming_login_cannot_reach_is_rolled_back_on_the_socket_activated_ubuntu_host()
 {
    unconfirmed_move_rolls_back("h28");
}

/// A move to 2222 that the confirming login cannot reach, on host `h`: rolled back by the host,
/// sshd back on 22 only (on its socket where it was socket-activated), a fresh login on 22.
fn unconfirmed_move_rolls_back(h: &str) {
    let lab = Lab::get();
    lab.reset(&[h]);
    let dir = tempfile::tempdir().expect("tempdir");
    // Something rampart does not manage drops the new port (the raw table, which ufw leaves
    // alone): the preflight cannot see it, the confirmation login times out.
    lab.sh(
        h,
        "iptables -t raw -I PREROUTING -p tcp --dport 2222 -j DROP",
    );
    let site = site(dir.path(), 2222);
    let inv = inventory(&lab, dir.path(), h, 22);
    let (code, doc) = rampart_json(&[
        "apply",
        "-i",
        &inv,
        &site,
        "--confirm-timeout",
        "10",
        "--connect-timeout",
        "3",
    ]);
    assert_eq!(code, 3, "{}", brief(&doc));
    let r = host(&doc, h);
    assert_eq!(r["rolled_back"], true, "{r}");
    assert!(r["notes"].is_null(), "no move to report: {r}");
    let ports = listening(&lab, h);
    assert!(
        ports.contains(&22) && !ports.contains(&2222),
        "sshd is back on 22 only: {ports:?}"
    );
    lab.sshd_back_on_its_socket(h);
    if util::os_of(h) == "Ubuntu 24.04" {
        assert!(
            lab.sh(h, "systemctl show -p Listen ssh.socket")
                .contains(":22 "),
            "the socket listens on 22 again"
        );
    }
    let (code, doc) = rampart_json(&["ping", "-i", &inv]);
    assert_eq!(
        code, 0,
        "a fresh login on 22 works after the rollback: {doc}"
    );
}
