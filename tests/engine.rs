//! The engine against real hosts, through the real binary: check previews and writes nothing,
//! apply converges 16 hosts in parallel, a second apply changes nothing in one round trip, a
//! file changed by hand is reported and repaired, an Ansible YAML inventory with group_vars
//! drives the same run as the TOML one, and bad input is refused with file:line:col before any
//! host is contacted. Hosts h5 - h20 (the parallel run), h3 and h4 (Ansible inventory), h21 (bad input), h22 (init).

mod util;

use std::path::Path;

use util::{Lab, brief, changed, host, rampart, rampart_json};

fn token() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )
}

/// A site of a few simple resources per host: a file, a directory, a sysctl, a unit file and
/// its service. The token makes the first apply change even on a host an earlier test used.
fn site(dir: &Path, token: &str) -> String {
    let p = dir.join("site.toml");
    std::fs::write(
        &p,
        format!(
            r#"[[play]]
hosts = "lab"
roles = ["custom"]

[roles.custom]
directories = [{{ path = "/opt/engine-test", mode = "0750" }}]
files = [
  {{ path = "/opt/engine-test/app.conf", content = "token = {token}\nmode = strict\n", mode = "0640" }},
  {{ path = "/etc/systemd/system/engine-test.service", content = "[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n" }},
]
sysctls = {{ "net.ipv4.tcp_syncookies" = 1, "net.core.somaxconn" = 1024 }}
services = [{{ name = "engine-test", enabled = true, state = "started" }}]
"#
        ),
    )
    .expect("write site");
    p.to_str().expect("utf-8").to_owned()
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn check_writes_nothing_apply_converges_16_hosts_and_repairs_drift() {
    let lab = Lab::get();
    // h5 - h20: the other tests of this binary own h3 and h4 and run at the same time.
    let hosts: Vec<String> = (5..=20).map(|i| format!("h{i}")).collect();
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    // Other test binaries harden these hosts (root logins off, firewalls on): start fresh.
    lab.reset(&hosts);
    let dir = tempfile::tempdir().expect("tempdir");
    let inv = lab.inventory(dir.path(), &hosts, "root");
    let i = inv.to_str().expect("utf-8");
    let s = site(dir.path(), &token());

    // check: every host would change, and nothing on any host changed.
    let before: Vec<String> = hosts.iter().map(|h| lab.state_hash(h)).collect();
    let (code, doc) = rampart_json(&["check", "-i", i, &s, "--diff"]);
    assert_eq!(
        code,
        5,
        "check exits 5 when changes are pending: {}",
        brief(&doc)
    );
    for h in &hosts {
        assert!(changed(&doc, h) >= 3, "{h}: {}", brief(&doc));
        let diffs: Vec<&str> = host(&doc, h)["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .filter_map(|r| r["diff"].as_str())
            .collect();
        assert!(
            diffs.iter().any(|d| d.contains("+token = ")),
            "check --diff shows unified diffs: {diffs:?}"
        );
    }
    let after: Vec<String> = hosts.iter().map(|h| lab.state_hash(h)).collect();
    assert_eq!(before, after, "check must write nothing on any host");

    // apply: all 16 in parallel, one connection each.
    let (code, doc) = rampart_json(&["apply", "-i", i, &s]);
    assert_eq!(code, 0, "{}", brief(&doc));
    for h in &hosts {
        let r = host(&doc, h);
        assert!(
            r["changed"].as_u64().unwrap_or(0) >= 3 && r["failed"] == 0,
            "{h}: {}",
            brief(&doc)
        );
        assert_eq!(r["connections"], 1, "{h}: one connection for the whole run");
    }
    assert_eq!(
        lab.sh("h7", "tail -1 /opt/engine-test/app.conf"),
        "mode = strict\n"
    );
    assert_eq!(lab.sh("h7", "systemctl is-active engine-test"), "active\n");
    assert_eq!(lab.sh("h7", "cat /proc/sys/net/core/somaxconn"), "1024\n");

    // apply again: nothing changes, one connection and one exec per host.
    let (code, doc) = rampart_json(&["apply", "-i", i, &s]);
    assert_eq!(code, 0, "{}", brief(&doc));
    for h in &hosts {
        let r = host(&doc, h);
        assert_eq!(r["changed"], 0, "{h}: {}", brief(&doc));
        assert_eq!(r["connections"], 1);
        assert_eq!(r["round_trips"], 1, "{h}: a no-change run is one exec");
    }

    // drift on one host: reported by check on that host only, repaired by apply.
    lab.sh(
        "h5",
        "echo 'mode = lax' >> /opt/engine-test/app.conf; chmod 0666 /opt/engine-test/app.conf",
    );
    let (code, doc) = rampart_json(&["check", "-i", i, &s, "--diff"]);
    assert_eq!(code, 5, "{}", brief(&doc));
    for h in &hosts {
        assert_eq!(
            changed(&doc, h),
            u64::from(*h == "h5"),
            "{h}: {}",
            brief(&doc)
        );
    }
    let drift = host(&doc, "h5")["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["status"] == "changed")
        .cloned()
        .unwrap_or_default();
    assert!(
        drift["diff"]
            .as_str()
            .unwrap_or_default()
            .contains("-mode = lax"),
        "{drift}"
    );
    let (code, doc) = rampart_json(&["apply", "-i", i, &s, "--limit", "h5"]);
    assert_eq!(code, 0, "{}", brief(&doc));
    assert_eq!(
        lab.sh("h5", "stat -c %a /opt/engine-test/app.conf"),
        "640\n"
    );
    let (code, _) = rampart_json(&["check", "-i", i, &s]);
    assert_eq!(code, 0, "after the repair nothing is pending");
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn an_ansible_yaml_inventory_with_group_vars_drives_the_same_run() {
    let lab = Lab::get();
    lab.reset(&["h3", "h4"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let key = lab.dir.join("id_lab");
    let kh = lab.dir.join("known_hosts");
    // TOML: a group var overrides a role setting for group `web` (h3 only).
    let toml = dir.path().join("inv.toml");
    std::fs::write(
        &toml,
        format!(
            "[defaults]\nuser = \"root\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n\n[hosts.h3]\naddress = \"10.213.3.2\"\n[hosts.h4]\naddress = \"10.213.4.2\"\n\n[groups.lab]\nhosts = [\"h3\", \"h4\"]\nchildren = [\"web\"]\n[groups.web]\nhosts = [\"h3\"]\nvars = {{ custom = {{ sysctls = {{ \"net.core.somaxconn\" = 2048 }} }} }}\n",
            key.display(),
            kh.display()
        ),
    )
    .expect("write toml");
    // The same as an Ansible YAML inventory with group_vars/ and host_vars/.
    let ans = dir.path().join("ansible");
    std::fs::create_dir_all(ans.join("group_vars")).expect("mkdir");
    std::fs::write(
        ans.join("hosts.yml"),
        "all:\n  children:\n    lab:\n      hosts:\n        h3:\n        h4:\n      children:\n        web:\n          hosts:\n            h3:\n",
    )
    .expect("write yaml");
    std::fs::write(
        ans.join("group_vars/all.yml"),
        format!(
            "ansible_user: root\nansible_ssh_private_key_file: {}\n",
            key.display()
        ),
    )
    .expect("write all.yml");
    std::fs::write(
        ans.join("group_vars/web.yml"),
        "custom:\n  sysctls:\n    net.core.somaxconn: 2048\n",
    )
    .expect("write web.yml");
    std::fs::create_dir_all(ans.join("host_vars")).expect("mkdir");
    std::fs::write(ans.join("host_vars/h3.yml"), "ansible_host: 10.213.3.2\n").expect("write h3");
    std::fs::write(ans.join("host_vars/h4.yml"), "ansible_host: 10.213.4.2\n").expect("write h4");
    let s = dir.path().join("site.toml");
    std::fs::write(&s, "[[play]]\nhosts = \"lab\"\nroles = [\"custom\"]\n\n[roles.custom]\nsysctls = { \"net.core.somaxconn\" = 1024 }\n").expect("write site");
    let s = s.to_str().expect("utf-8");

    let summary = |doc: &serde_json::Value| -> Vec<(String, String, String)> {
        doc["hosts"]
            .as_array()
            .expect("hosts")
            .iter()
            .flat_map(|h| {
                h["resources"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(move |r| {
                        (
                            h["host"].as_str().unwrap_or_default().to_owned(),
                            r["id"].as_str().unwrap_or_default().to_owned(),
                            r["diff"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
            })
            .collect()
    };
    // Set somaxconn to something else on both hosts, so both runs have the same diff to show.
    for h in ["h3", "h4"] {
        lab.sh(h, "echo 100 > /proc/sys/net/core/somaxconn");
    }
    // Host keys come from the lab's ssh_config (UserKnownHostsFile), as an Ansible user's
    // would: never from the operator's own ~/.ssh/known_hosts.
    let ssh_config = lab.dir.join("ssh_config");
    let f = ssh_config.to_str().expect("utf-8");
    let (c1, from_toml) = rampart_json(&["check", "-i", toml.to_str().expect("utf-8"), s, "-F", f]);
    let hosts_yml = ans.join("hosts.yml");
    let (c2, from_yaml) = rampart_json(&[
        "check",
        "-i",
        hosts_yml.to_str().expect("utf-8"),
        s,
        "-F",
        f,
    ]);
    assert_eq!(c1, 5, "{}", brief(&from_toml));
    assert_eq!(c2, 5, "{}", brief(&from_yaml));
    assert_eq!(summary(&from_toml), summary(&from_yaml));
    let h3 = summary(&from_toml)
        .into_iter()
        .find(|(h, id, _)| h == "h3" && id.contains("somaxconn"))
        .expect("h3 somaxconn");
    assert!(
        h3.2.contains("2048"),
        "the group var wins over the site for h3: {h3:?}"
    );
    let h4 = summary(&from_toml)
        .into_iter()
        .find(|(h, id, _)| h == "h4" && id.contains("somaxconn"))
        .expect("h4 somaxconn");
    assert!(h4.2.contains("1024"), "h4 keeps the site's value: {h4:?}");
}

/// sshd's count of accepted logins on a host, to prove bad input never connected.
fn logins(lab: &Lab, h: &str) -> usize {
    lab.sh(
        h,
        "journalctl -u ssh --no-pager -q 2>/dev/null | grep -c 'Accepted publickey' || true",
    )
    .trim()
    .parse()
    .unwrap_or(0)
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn bad_input_is_refused_with_file_line_col_and_touches_no_host() {
    let lab = Lab::get();
    lab.reset(&["h21"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let good_inv = lab.inventory(dir.path(), &["h21"], "root");
    let good_site = dir.path().join("good.toml");
    std::fs::write(
        &good_site,
        "[[play]]\nhosts = \"lab\"\nroles = [\"custom\"]\n",
    )
    .expect("write");
    let w = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p.to_str().expect("utf-8").to_owned()
    };
    let gi = good_inv.to_str().expect("utf-8").to_owned();
    let gs = good_site.to_str().expect("utf-8").to_owned();
    let cases: Vec<(Vec<String>, String, &str)> = vec![
        (
            vec![
                w("syntax.toml", "[hosts.h21\naddress = \"10.213.21.2\"\n"),
                gs.clone(),
            ],
            "syntax.toml:1:".into(),
            "invalid TOML",
        ),
        (
            vec![
                w("key.toml", "[hosts.h21]\nadress = \"10.213.21.2\"\n"),
                gs.clone(),
            ],
            "key.toml:2:1".into(),
            "address",
        ),
        (
            vec![
                w(
                    "port.ini",
                    "[lab]\nh21 ansible_host=10.213.21.2 ansible_port=70000\n",
                ),
                gs.clone(),
            ],
            "port.ini:2:".into(),
            "port",
        ),
        (
            vec![
                gi.clone(),
                w(
                    "role.toml",
                    "[[play]]\nhosts = \"lab\"\nroles = [\"custom\"]\n[roles.custom]\nfiels = []\n",
                ),
            ],
            "role.toml:5:".into(),
            "files",
        ),
        (
            vec![
                gi.clone(),
                w(
                    "unknown-role.toml",
                    "[[play]]\nhosts = \"lab\"\nroles = [\"sshh\"]\n",
                ),
            ],
            "unknown-role.toml:3:".into(),
            "sshd",
        ),
        (
            vec![
                gi.clone(),
                w(
                    "group.toml",
                    "[[play]]\nhosts = \"labb\"\nroles = [\"custom\"]\n",
                ),
            ],
            "group.toml:2:".into(),
            "lab",
        ),
    ];
    // A template that reads a variable nothing defines.
    std::fs::create_dir(dir.path().join("tpl")).expect("mkdir");
    std::fs::write(
        dir.path().join("tpl/motd.j2"),
        "Welcome to {{ inventory_hostname }}\n{{ banner }}\n",
    )
    .expect("write template");
    // A secrets file encrypted for another identity than the one given.
    let key = |name: &str| {
        let p = dir.path().join(name);
        let out = rampart(&["secrets", "keygen", "-o", p.to_str().expect("utf-8")]);
        assert!(out.status.success());
        p.to_str().expect("utf-8").to_owned()
    };
    let (mine, theirs) = (key("mine.key"), key("theirs.key"));
    let plain = w("plain.toml", "[app]\ntoken = \"a-long-enough-token\"\n");
    let sealed = dir.path().join("secrets.age");
    let out = rampart(&[
        "secrets",
        "--identity",
        &theirs,
        "encrypt",
        &plain,
        "-o",
        sealed.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cases = cases;
    cases.extend([
        (
            vec![
                w(
                    "broken.yml",
                    "all:\n  hosts:\n    h21: {ansible_host: 10.213.21.2\n",
                ),
                gs.clone(),
            ],
            "broken.yml:".into(),
            "YAML",
        ),
        (
            vec![
                w(
                    "dup.toml",
                    "[hosts.h21]\naddress = \"10.213.21.2\"\n\n[hosts.h21]\naddress = \"10.213.21.3\"\n",
                ),
                gs.clone(),
            ],
            "dup.toml:4:".into(),
            "duplicate",
        ),
        (
            vec![
                w(
                    "nokey.toml",
                    "[defaults]\nuser = \"root\"\nidentity_file = \"/nonexistent/id_ed25519\"\n\n[hosts.h21]\naddress = \"10.213.21.2\"\n\n[groups.lab]\nhosts = [\"h21\"]\n",
                ),
                gs.clone(),
            ],
            "nokey.toml:3:".into(),
            "identity_file",
        ),
        (
            vec![
                gi.clone(),
                w(
                    "cidr.toml",
                    "[[play]]\nhosts = \"lab\"\nroles = [\"ufw\"]\n\n[roles.ufw]\nssh_from = [\"10.0.0.0/33\"]\n",
                ),
            ],
            "cidr.toml:6:".into(),
            "10.0.0.0/33",
        ),
        (
            vec![
                gi.clone(),
                w(
                    "tpl.toml",
                    "templates = \"tpl\"\n\n[[play]]\nhosts = \"lab\"\nroles = [\"custom\"]\n\n[roles.custom]\nfiles = [{ path = \"/etc/motd\", template = \"motd.j2\" }]\n",
                ),
            ],
            "motd.j2:2".into(),
            "banner",
        ),
        (
            vec![
                gi.clone(),
                gs.clone(),
                "--secrets".into(),
                sealed.to_str().expect("utf-8").to_owned(),
                "--identity".into(),
                mine.clone(),
            ],
            "secrets.age".into(),
            "identity",
        ),
    ]);
    let before = logins(&lab, "h21");
    for (args, located, hint) in cases {
        let mut a = vec!["check".to_owned(), "-i".to_owned()];
        a.extend(args.iter().cloned());
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = rampart(&a);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{a:?}: {err}");
        assert!(err.contains(&located), "{a:?} must name {located}: {err}");
        assert!(err.contains(hint), "{a:?} must hint at `{hint}`: {err}");
    }
    let out = rampart(&["check", "-i", &gi, &gs, "--limit", "hh21"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("h21"),
        "--limit suggests the closest host"
    );
    assert_eq!(
        logins(&lab, "h21"),
        before,
        "bad input must not reach any host"
    );
}

#[test]
#[ignore = "needs the lab (sudo tests/run)"]
fn init_scaffolds_a_project_that_works_and_extra_vars_win() {
    let lab = Lab::get();
    let dir = tempfile::tempdir().expect("tempdir");
    let proj = dir.path().join("fleet");
    let out = rampart(&["init", proj.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inv = proj.join("inventory/hosts.toml");
    let out = rampart(&["inventory", "-i", inv.to_str().expect("utf-8"), "graph"]);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("web1"));
    // Point the scaffold at a lab host (it ships a documentation address) and run it.
    let text = std::fs::read_to_string(&inv).expect("read");
    let text = text.replace("203.0.113.10", "10.213.22.2").replace(
        "user = \"fleetclaw\"",
        &format!(
            "user = \"lab\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"",
            lab.dir.join("id_lab").display(),
            lab.dir.join("known_hosts").display()
        ),
    );
    std::fs::write(&inv, text).expect("write");
    let site = proj.join("site.toml");
    let (code, doc) = rampart_json(&[
        "check",
        "-i",
        inv.to_str().expect("utf-8"),
        site.to_str().expect("utf-8"),
        "-e",
        "sshd.allow_users=[\"lab\",\"fleetclaw\"]",
    ]);
    assert!(code == 0 || code == 5, "the scaffold runs: {}", brief(&doc));
    assert!(host(&doc, "web1")["error"].is_null(), "{}", brief(&doc));
}
