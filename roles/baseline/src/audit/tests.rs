//! The check scripts' branches, run under dash in a temporary root with fake commands
//! (rampart-shtest): each function called with its values as the check calls it, between
//! start.sh and end.sh, as the probe runs a check (its SSH_CONNECTION as `$1`).

use rampart_shtest::{Out, Sh};

use super::*;

/// Runs `calls` (each a function of `lib` with its arguments) as one check.
fn run(sh: &Sh, lib: &'static str, calls: &[&[&str]]) -> Out {
    let mut s = Script::new();
    s.source(START).source(lib);
    for c in calls {
        s.cmd(c.iter());
    }
    s.source(END);
    sh.run_check(s.as_str())
}

/// The output of a check, asserting it exits 0 (a check's verdict is its `ok` line).
fn text(out: &Out) -> String {
    assert!(
        out.status == 0 || out.status == 1,
        "a check exits 0 or 1 (end.sh): {out:?}"
    );
    out.stdout_str()
}

/// Owner and group of a file below the root, as `stat` prints them.
fn owner(sh: &Sh, rel: &str) -> String {
    let out = std::process::Command::new("stat")
        .args(["-c", "%U %G", &sh.path(rel)])
        .output()
        .expect("stat runs");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn sysctl_compares_the_live_value_squeezed_and_the_file_line() {
    let Some(sh) = Sh::new() else { return };
    sh.stub("systemd-detect-virt", 1);
    let proc = sh.write("proc/sys/net/ipv4/tcp_rmem", "4096\t87380   6291456\n");
    let file = sh.write(
        "etc/sysctl.d/60.conf",
        "net.ipv4.tcp_rmem = 4096 87380 6291456\n",
    );
    let call = |value: &str, scope: &str, file: &str| {
        run(
            &sh,
            SYSCTL,
            &[&[
                "baseline_sysctl",
                "net.ipv4.tcp_rmem",
                value,
                &proc,
                scope,
                file,
            ]],
        )
    };
    assert_eq!(text(&call("4096 87380 6291456", "net", &file)), "ok\n");
    assert!(
        sh.calls().is_empty(),
        "a key of the network namespace is live everywhere: {:?}",
        sh.calls()
    );
    // A value wrong: live and in the file.
    let out = call("4096 1 2", "net", &file);
    assert_eq!(out.status, 1, "{out:?}");
    assert_eq!(
        out.stdout_str(),
        format!(
            "FAIL: net.ipv4.tcp_rmem is 4096 87380 6291456, not 4096 1 2\nFAIL: {file} does not set net.ipv4.tcp_rmem = 4096 1 2\n"
        )
    );
    // The file missing: grep's complaint is evidence too.
    let missing = sh.path("etc/sysctl.d/none.conf");
    let out = call("4096 87380 6291456", "net", &missing);
    assert_eq!(
        text(&out),
        format!("FAIL: {missing} does not set net.ipv4.tcp_rmem = 4096 87380 6291456\n")
    );
    assert!(out.stderr.contains("No such file"), "{out:?}");
    // A kernel-wide key in a container: the file only, said by a note.
    sh.stub("systemd-detect-virt", 0);
    assert_eq!(
        text(&call("9", "kernel", &file)),
        "note: net.ipv4.tcp_rmem is missing or read-only here (a container): the file only\nFAIL: "
            .to_owned()
            + &file
            + " does not set net.ipv4.tcp_rmem = 9\n"
    );
    assert_eq!(sh.calls(), ["systemd-detect-virt -cq"]);
    // A key the kernel does not have: the file only.
    sh.stub("systemd-detect-virt", 1);
    let gone = sh.path("proc/sys/none");
    let out = run(
        &sh,
        SYSCTL,
        &[&["baseline_sysctl", "k.none", "1", &gone, "kernel", &file]],
    );
    assert!(
        out.stdout_str()
            .starts_with("note: k.none is missing or read-only here"),
        "{out:?}"
    );
}

#[test]
fn modprobe_needs_both_lines() {
    let Some(sh) = Sh::new() else { return };
    let f = sh.write("m.conf", "install cramfs /bin/false\nblacklist cramfs\n");
    let call = |m: &str, f: &str| run(&sh, MODPROBE, &[&["baseline_modprobe", m, f]]);
    assert_eq!(text(&call("cramfs", &f)), "ok\n");
    sh.write("m.conf", "blacklist cramfs\n");
    assert_eq!(
        text(&call("cramfs", &f)),
        format!("FAIL: {f} does not blacklist cramfs\n")
    );
    let none = sh.path("none.conf");
    assert_eq!(
        text(&call("cramfs", &none)),
        format!("FAIL: {none} does not blacklist cramfs\n")
    );
}

#[test]
fn sshd_compares_the_drop_in_and_sshd_t() {
    let Some(sh) = Sh::new() else { return };
    let f = sh.write(
        "sshd.conf",
        "PermitRootLogin no\nCiphers -aes128-cbc,3des-cbc\n",
    );
    sh.stub_output(
        "sshd",
        0,
        "permitrootlogin no\nciphers aes256-gcm@openssh.com,chacha20-poly1305@openssh.com\n",
    );
    let set = [
        "baseline_sshd",
        &f,
        "PermitRootLogin",
        "permitrootlogin",
        "no",
    ];
    let removed = [
        "baseline_sshd_removed",
        &f,
        "Ciphers",
        "ciphers",
        "-aes128-cbc,3des-cbc",
        "aes128-cbc",
        "3des-cbc",
    ];
    assert_eq!(text(&run(&sh, SSHD, &[&set, &removed])), "ok\n");
    assert_eq!(sh.calls(), ["sshd -T"], "sshd -T runs once a check");
    // sshd -T says another value, and still offers a removed algorithm.
    sh.stub_output(
        "sshd",
        0,
        "permitrootlogin yes\nciphers 3des-cbc,aes256-gcm@openssh.com\n",
    );
    assert_eq!(
        text(&run(&sh, SSHD, &[&set, &removed])),
        "FAIL: sshd -T says: permitrootlogin yes\nFAIL: sshd -T still offers 3des-cbc\n"
    );
    // sshd -T failing (a broken configuration): nothing is effective.
    sh.stub("sshd", 255);
    assert_eq!(
        text(&run(&sh, SSHD, &[&set, &removed])),
        "FAIL: sshd -T says: \n"
    );
    // The drop-in missing.
    sh.stub_output("sshd", 0, "permitrootlogin no\n");
    let none = sh.path("none.conf");
    let set = [
        "baseline_sshd",
        &none,
        "PermitRootLogin",
        "permitrootlogin",
        "no",
    ];
    let out = run(&sh, SSHD, &[&set]);
    assert_eq!(
        text(&out),
        format!("FAIL: {none} does not set PermitRootLogin no\n")
    );
}

#[test]
fn line_wants_exactly_one_matching_line() {
    let Some(sh) = Sh::new() else { return };
    let f = sh.write("login.defs", "# UMASK\nUMASK 027\nPASS_MAX_DAYS 365\n");
    let call = |f: &str, line: &str| run(&sh, LINE, &[&["baseline_line", f, "UMASK", line]]);
    assert_eq!(text(&call(&f, "UMASK 027")), "ok\n");
    assert_eq!(
        text(&call(&f, "UMASK 077")),
        format!("FAIL: {f} does not have exactly one line UMASK 077\n")
    );
    sh.write("login.defs", "UMASK 027\nUMASK 027\n");
    assert_eq!(
        text(&call(&f, "UMASK 027")),
        format!("FAIL: {f} does not have exactly one line UMASK 027\n")
    );
    let none = sh.path("none");
    assert_eq!(
        text(&call(&none, "UMASK 027")),
        format!("FAIL: {none} does not have exactly one line UMASK 027\n")
    );
}

#[test]
fn block_wants_its_marker_and_every_line() {
    let Some(sh) = Sh::new() else { return };
    let f = sh.write(
        "pam",
        "a\n# BEGIN rampart faillock\nauth required x.so\n-w /etc/x -p wa\n# END rampart faillock\n",
    );
    let call = |f: &str, lines: &[&str]| {
        let mut args = vec!["baseline_block", f, "faillock"];
        args.extend(lines);
        run(&sh, BLOCK, &[&args])
    };
    assert_eq!(
        text(&call(&f, &["auth required x.so", "-w /etc/x -p wa"])),
        "ok\n"
    );
    assert_eq!(
        text(&call(&f, &["auth required y.so"])),
        format!("FAIL: {f} lacks auth required y.so\n")
    );
    sh.write("pam", "auth required x.so\n");
    assert_eq!(
        text(&call(&f, &["auth required x.so"])),
        format!("FAIL: {f} has no block faillock\n")
    );
    let none = sh.path("none");
    assert_eq!(
        text(&call(&none, &["x"])),
        format!("FAIL: {none} has no block faillock\nFAIL: {none} lacks x\n")
    );
}

#[test]
fn file_compares_hash_mode_and_owner_and_absent_wants_nothing() {
    let Some(sh) = Sh::new() else { return };
    let f = sh.write("etc/issue", "Authorized use only\n");
    std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let sha = rampart_core::facts::sha256_hex(b"Authorized use only\n");
    let who = owner(&sh, "etc/issue");
    let want = format!("644 {who}");
    let call = |p: &str, want: &str| run(&sh, FILE, &[&["baseline_file", p, &sha, want]]);
    assert_eq!(text(&call(&f, &want)), "ok\n");
    // Mode wrong.
    assert_eq!(
        text(&call(&f, &format!("600 {who}"))),
        format!("FAIL: {f} is 644 {who}, not 600 {who}\n")
    );
    // Content wrong.
    sh.write("etc/issue", "hello\n");
    assert_eq!(
        text(&call(&f, &want)),
        format!("FAIL: {f} is not the file rampart writes\n")
    );
    // A link to the right content is not the file rampart writes.
    sh.write("etc/real", "Authorized use only\n");
    let link = sh.path("etc/link");
    std::os::unix::fs::symlink(sh.path("etc/real"), &link).unwrap();
    assert!(
        text(&call(&link, &want))
            .starts_with(&format!("FAIL: {link} is not the file rampart writes\n"))
    );
    // Missing.
    let none = sh.path("etc/none");
    assert_eq!(
        text(&call(&none, &want)),
        format!("FAIL: {none} is not the file rampart writes\nFAIL: {none} is , not {want}\n")
    );
    // Absent: a file or a dangling link fails, nothing passes.
    let absent = |p: &str| run(&sh, FILE, &[&["baseline_absent", p]]);
    assert_eq!(text(&absent(&none)), "ok\n");
    assert_eq!(text(&absent(&f)), format!("FAIL: {f} exists\n"));
    let dangling = sh.path("etc/dangling");
    std::os::unix::fs::symlink(&none, &dangling).unwrap();
    assert_eq!(
        text(&absent(&dangling)),
        format!("FAIL: {dangling} exists\n")
    );
}

#[test]
fn perms_check_only_what_is_given_of_an_existing_file() {
    let Some(sh) = Sh::new() else { return };
    let f = sh.write("etc/shadow", "x\n");
    std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    let who = owner(&sh, "etc/shadow");
    let (u, g) = who.split_once(' ').unwrap();
    let call = |p: &str, mode: &str, max: &str, o: &str, gr: &str| {
        run(&sh, PERMS, &[&["baseline_perms", p, mode, max, o, gr]])
    };
    assert_eq!(text(&call(&f, "640", "", u, g)), "ok\n");
    assert_eq!(text(&call(&f, "", "640", "", "")), "ok\n");
    assert_eq!(text(&call(&f, "", "", "", "")), "ok\n");
    let fail = format!("FAIL: {f} is 640 {u}:{g}\n");
    assert_eq!(text(&call(&f, "600", "", "", "")), fail);
    assert_eq!(text(&call(&f, "", "600", "", "")), fail);
    assert_eq!(text(&call(&f, "", "", "nosuchuser", "")), fail);
    assert_eq!(text(&call(&f, "", "", "", "nosuchgroup")), fail);
    // Missing, or a link: nothing to judge (as the build's perms resource).
    assert_eq!(text(&call(&sh.path("etc/none"), "600", "", "", "")), "ok\n");
    let link = sh.path("etc/link");
    std::os::unix::fs::symlink(&f, &link).unwrap();
    assert_eq!(text(&call(&link, "600", "", "", "")), "ok\n");
}

#[test]
fn packages_as_dpkg_says_and_if_installed_makes_a_check_not_applicable() {
    let Some(sh) = Sh::new() else { return };
    sh.stub_output("dpkg-query", 0, "ii ");
    let out = run(
        &sh,
        PACKAGES,
        &[
            &["baseline_if_installed", "rsyslog"],
            &["baseline_installed", "auditd"],
            &["baseline_not_installed", "telnet"],
        ],
    );
    assert_eq!(text(&out), "FAIL: package telnet is installed\n");
    assert_eq!(
        sh.calls()[0],
        "dpkg-query -W -f=${db:Status-Abbrev} rsyslog"
    );
    // Removed with its configuration left ("rc"), or unknown to dpkg (a failing query).
    sh.stub_output("dpkg-query", 0, "rc ");
    let call = |f: &str| run(&sh, PACKAGES, &[&[f, "auditd"]]);
    assert_eq!(
        text(&call("baseline_installed")),
        "FAIL: package auditd is not installed\n"
    );
    assert_eq!(text(&call("baseline_not_installed")), "ok\n");
    sh.stub("dpkg-query", 1);
    assert_eq!(
        text(&call("baseline_installed")),
        "FAIL: package auditd is not installed\n"
    );
    let out = call("baseline_if_installed");
    assert!(out.ok(), "{out:?}");
    assert_eq!(
        out.stdout_str(),
        "not applicable: auditd is not installed\nok\n"
    );
}

#[test]
fn services_as_systemctl_says() {
    let Some(sh) = Sh::new() else { return };
    let systemctl = |enabled: &str, active: i32| {
        sh.stub_body(
            "systemctl",
            &format!("case $1 in is-enabled) echo {enabled} ;; is-active) exit {active} ;; esac"),
        );
    };
    let call = |args: &[&str]| text(&run(&sh, SERVICE, &[args]));
    systemctl("enabled", 0);
    assert_eq!(
        call(&["baseline_unit_is", "auditd", "enabled", "yes"]),
        "ok\n"
    );
    assert_eq!(call(&["baseline_active", "auditd", "yes"]), "ok\n");
    assert_eq!(
        call(&["baseline_unit_is", "auditd", "enabled", "no"]),
        "FAIL: auditd is enabled\n"
    );
    assert_eq!(
        call(&["baseline_unit_is", "auditd", "masked", "yes"]),
        "FAIL: auditd is not masked\n"
    );
    assert_eq!(
        call(&["baseline_active", "auditd", "no"]),
        "FAIL: auditd is running\n"
    );
    systemctl("masked", 3);
    assert_eq!(call(&["baseline_unit_is", "x", "masked", "yes"]), "ok\n");
    assert_eq!(
        call(&["baseline_unit_is", "x", "masked", "no"]),
        "FAIL: x is masked\n"
    );
    assert_eq!(
        call(&["baseline_active", "x", "yes"]),
        "FAIL: x is not running\n"
    );
    assert_eq!(call(&["baseline_active", "x", "no"]), "ok\n");
    // systemctl failing (no such unit): not enabled, not running.
    sh.stub("systemctl", 1);
    assert_eq!(
        call(&["baseline_unit_is", "y", "enabled", "yes"]),
        "FAIL: y is not enabled\n"
    );
    assert_eq!(call(&["baseline_unit_is", "y", "masked", "no"]), "ok\n");
}

#[test]
fn a_command_check_runs_as_written_and_only_its_status_counts() {
    let Some(sh) = Sh::new() else { return };
    let call = |check: &str| text(&run(&sh, COMMAND, &[&["baseline_command", check]]));
    assert_eq!(call("[ \"$(echo 'a  b')\" = 'a  b' ]"), "ok\n");
    assert_eq!(
        call("echo noise; echo more >&2; exit 1"),
        "FAIL: its check fails\n"
    );
    sh.stub("findmnt", 2);
    assert_eq!(call("findmnt -kn /tmp"), "FAIL: its check fails\n");
    assert_eq!(sh.calls(), ["findmnt -kn /tmp"]);
    // Its variables stay in its subshell: the verdict is not touched.
    assert_eq!(call("f=0; false"), "FAIL: its check fails\n");
}

#[test]
fn conditions_end_a_check_as_not_applicable() {
    let Some(sh) = Sh::new() else { return };
    // Not in a container: the check goes on; in one: ok, with why.
    let check = |lib_first: &'static str, calls: &[&[&str]]| {
        let mut s = Script::new();
        s.source(START).source(lib_first).source(IF_EXISTS);
        for c in calls {
            s.cmd(c.iter());
        }
        s.raw("echo 'FAIL: reached'; f=1").source(END);
        sh.run_check(s.as_str())
    };
    sh.stub("systemd-detect-virt", 1);
    let out = check(NOT_IN_CONTAINER, &[]);
    assert_eq!(out.stdout_str(), "FAIL: reached\n", "{out:?}");
    sh.stub_output("systemd-detect-virt", 0, "docker\n");
    let out = check(NOT_IN_CONTAINER, &[]);
    assert!(out.ok(), "{out:?}");
    assert_eq!(
        out.stdout_str(),
        "not applicable in a container (docker)\nok\n"
    );
    sh.stub("systemd-detect-virt", 1);
    // A path missing: not applicable; a dangling link exists.
    let none = sh.path("etc/none");
    let out = check(NOT_IN_CONTAINER, &[&["baseline_if_exists", &none]]);
    assert_eq!(
        out.stdout_str(),
        format!("not applicable: {none} does not exist\nok\n")
    );
    std::fs::create_dir_all(sh.path("etc")).unwrap();
    let link = sh.path("etc/link");
    std::os::unix::fs::symlink(&none, &link).unwrap();
    let out = check(NOT_IN_CONTAINER, &[&["baseline_if_exists", &link]]);
    assert_eq!(out.stdout_str(), "FAIL: reached\n");
    // The release: this machine's /etc/os-release decides (a Debian or Ubuntu host's has one).
    let Ok(release) = std::fs::read_to_string("/etc/os-release") else {
        eprintln!("SKIPPED: no /etc/os-release here");
        return;
    };
    let field = |k: &str| {
        release
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_default()
            .trim_matches('"')
            .to_owned()
    };
    let (id, version) = (field("ID"), field("VERSION_ID"));
    let glob = format!("{id}-*");
    let out = check(OS, &[&["baseline_os", "nosuch-1", &glob]]);
    assert_eq!(out.stdout_str(), "FAIL: reached\n", "{out:?}");
    let out = check(OS, &[&["baseline_os", "nosuch-1", "nosuch-2*"]]);
    assert!(out.ok(), "{out:?}");
    assert_eq!(
        out.stdout_str(),
        format!("not applicable on {id} {version}\nok\n")
    );
}

#[test]
fn values_reach_the_functions_as_data() {
    let Some(sh) = Sh::new() else { return };
    // A line with quotes, `$(...)` and a backquote, in a path with a space.
    let line = "K '$(touch pwned)' \"`touch pwned2`\" $HOME";
    let f = sh.write("etc/a b.conf", format!("{line}\n"));
    let out = run(&sh, LINE, &[&["baseline_line", &f, "K ", line]]);
    assert_eq!(text(&out), "ok\n");
    let out = run(
        &sh,
        LINE,
        &[&["baseline_line", &f, "K ", "K $(touch pwned3)"]],
    );
    assert_eq!(
        text(&out),
        format!("FAIL: {f} does not have exactly one line K $(touch pwned3)\n")
    );
    assert_eq!(sh.ls(""), ["etc"], "nothing ran");
}

#[test]
fn waivers_print_their_words_as_written() {
    let Some(sh) = Sh::new() else { return };
    let reason = "router 'a' $(touch pwned) \"b\"";
    let out = sh.run_check(&check_command(WAIVED, &[reason, "me", "2027-01-01"]));
    assert!(out.ok(), "{out:?}");
    assert_eq!(
        out.stdout_str(),
        format!("waived: {reason} (by me, expires 2027-01-01)\n")
    );
    let out = sh.run_check(&check_command(EXPIRED, &[reason, "me", "2027-01-01"]));
    assert_eq!(out.status, 1, "{out:?}");
    assert_eq!(
        out.stdout_str(),
        format!("waiver EXPIRED on 2027-01-01: {reason} (by me)\n")
    );
    assert!(sh.ls("").is_empty(), "nothing ran");
}
