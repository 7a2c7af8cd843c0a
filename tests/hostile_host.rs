//! One hostile host beside a healthy one, on loopback sshds (no lab): the hostile hosts are
//! sshds whose ForceCommand floods stdout or stderr (`yes`), or runs the real probe and then
//! replaces the file contents after its `end` marker with a tar header claiming 2^62 bytes or
//! with a gzip bomb. Each must fail itself with a clear error while the healthy host converges,
//! the recap, the JSON, the HTML and JUnit reports and the journal are complete, and the
//! controller's peak RSS stays bounded.

#[path = "../crates/rampart-ssh/tests/harness/mod.rs"]
mod harness;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::{Sshd, keygen, skip, whoami};

/// A ForceCommand that runs the real command, then swaps what follows the probe's end marker
/// for `tail`, announcing the contents as `contents` (`-` raw, `gz` gzipped).
fn forger(dir: &Path, name: &str, contents: &str, tail: &[u8]) -> String {
    let tail_path = dir.join(format!("{name}.tail"));
    std::fs::write(&tail_path, tail).expect("write tail");
    let script = dir.join(format!("{name}.sh"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nout=$(mktemp) || exit 1\nsh -c \"$SSH_ORIGINAL_COMMAND\" >\"$out\"; rc=$?\n\
             if grep -aq '^@@[^ ]* end -$' \"$out\"; then\n  \
             sed -n '1,/^@@[^ ]* end -$/p' \"$out\" | sed 's/^\\(@@[^ ]* contents\\) .*$/\\1 {contents}/'\n  \
             cat {tail}\nelse\n  cat \"$out\"\nfi\nrm -f \"$out\"\nexit $rc\n",
            tail = tail_path.display()
        ),
    )
    .expect("write forger");
    make_executable(&script);
    script.display().to_string()
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A GNU tar header for `path` claiming `size` bytes.
fn header(path: &str, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(0o644);
    h.as_gnu_mut().expect("gnu").name[..path.len()].copy_from_slice(path.as_bytes());
    h.set_cksum();
    h
}

/// Peak resident memory (VmHWM, KiB) of a running process, if it is still there.
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[test]
fn a_hostile_host_fails_itself_and_the_run_completes() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let key = keygen(d, "id", "ed25519", "");

    // The forged payloads.
    let mut huge = header("/x", 1 << 62).as_bytes().to_vec();
    huge.extend_from_slice(&[b'a'; 4096]);
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for i in 0..64 {
        bomb.write_all(header(&format!("/b{i}"), 1 << 20).as_bytes())
            .expect("gz");
        bomb.write_all(&zeros).expect("gz");
    }
    let bomb = bomb.finish().expect("gz");

    let good = Sshd::start();
    let hostile: Vec<(&str, Sshd)> = vec![
        ("flood", Sshd::start_with("ForceCommand yes")),
        ("flood-stderr", Sshd::start_with("ForceCommand yes >&2")),
        (
            "tar-size",
            Sshd::start_with(&format!("ForceCommand {}", forger(d, "tar", "-", &huge))),
        ),
        (
            "gzip-bomb",
            Sshd::start_with(&format!("ForceCommand {}", forger(d, "gz", "gz", &bomb))),
        ),
    ];
    let mut kh = good.known_hosts_line();
    good.authorize(&key);
    for (_, s) in &hostile {
        s.authorize(&key);
        kh.push_str(&s.known_hosts_line());
    }
    std::fs::write(d.join("known_hosts"), kh).expect("known_hosts");

    let mut inv = format!(
        "[defaults]\nuser = \"{}\"\naddress = \"127.0.0.1\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n\n[hosts.good]\nport = {}\n\n",
        whoami(),
        key.private.display(),
        d.join("known_hosts").display(),
        good.port
    );
    for (name, s) in &hostile {
        inv.push_str(&format!("[hosts.{name}]\nport = {}\n\n", s.port));
    }
    std::fs::write(d.join("inventory.toml"), inv).expect("inventory");
    let target = d.join("managed");
    std::fs::create_dir(&target).expect("mkdir");
    std::fs::write(target.join("app.conf"), "a = 0\n").expect("write");
    std::fs::write(
        d.join("site.toml"),
        format!(
            "[[play]]\nhosts = \"all\"\nroles = [\"custom\"]\n\n[roles.custom]\nfiles = [{{ path = \"{}\", content = \"a = 1\\n\" }}]\n",
            target.join("app.conf").display()
        ),
    )
    .expect("site");

    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .current_dir(d)
        .args([
            "apply",
            "-i",
            "inventory.toml",
            "site.toml",
            "--no-ssh-config",
            "--json",
            "--html",
            "report.html",
            "--junit",
            "junit.xml",
        ])
        .env("NO_COLOR", "1")
        .env("RAMPART_CACHE_DIR", "")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rampart");
    let pid = child.id();
    let sampler = std::thread::spawn(move || {
        let mut peak = 0;
        while let Some(kib) = peak_kib(pid) {
            peak = peak.max(kib);
            std::thread::sleep(Duration::from_millis(20));
        }
        peak
    });
    let out = child.wait_with_output().expect("rampart ends");
    let peak = sampler.join().expect("sampler");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "rampart took {:?}, peak RSS {} MiB\n{stderr}",
        started.elapsed(),
        peak >> 10
    );
    assert!(out.status.code().is_some(), "rampart was killed: {stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("one JSON document ({e}):\n{stdout}\n{stderr}"));
    let text = doc.to_string();
    assert_eq!(
        std::fs::read_to_string(target.join("app.conf")).expect("read"),
        "a = 1\n",
        "the healthy host converged: {text}"
    );
    for (name, _) in &hostile {
        assert!(text.contains(name), "{name} is in the JSON: {text}");
    }
    for clear in [
        "printed more than 16 MiB",
        "over the 1024 KiB a fetched file may have",
        "more than 32 MiB of file contents",
    ] {
        assert!(text.contains(clear), "{clear:?} in {text}");
    }
    // The reports and the journal are complete: every host is in each.
    let html = std::fs::read_to_string(d.join("report.html")).expect("html report");
    let junit = std::fs::read_to_string(d.join("junit.xml")).expect("junit report");
    let journal = std::fs::read_to_string(d.join(".rampart/journal-site.json")).expect("journal");
    for name in std::iter::once("good").chain(hostile.iter().map(|(n, _)| *n)) {
        assert!(html.contains(name), "{name} in the HTML report");
        assert!(junit.contains(name), "{name} in the JUnit report");
        assert!(journal.contains(name), "{name} in the journal: {journal}");
    }
    // Four hostile hosts at once: each can make the controller hold at most its caps.
    assert!(peak > 0, "the controller's memory was sampled");
    assert!(
        peak < 256 << 10,
        "controller peak RSS {} MiB with four hostile hosts",
        peak >> 10
    );

    // A 16-host run: the four hostile hosts beside 12 healthy ones (12 inventory names for the
    // healthy sshd; a check, which takes no host lock, so they may share the machine). Every
    // healthy host finishes, every host is in the JSON and both reports.
    let mut inv16 = format!(
        "[defaults]\nuser = \"{}\"\naddress = \"127.0.0.1\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n\n",
        whoami(),
        key.private.display(),
        d.join("known_hosts").display(),
    );
    let healthy: Vec<String> = (1..=12).map(|i| format!("good{i}")).collect();
    for h in &healthy {
        inv16.push_str(&format!("[hosts.{h}]\nport = {}\n\n", good.port));
    }
    for (name, s) in &hostile {
        inv16.push_str(&format!("[hosts.{name}]\nport = {}\n\n", s.port));
    }
    std::fs::write(d.join("inventory16.toml"), inv16).expect("inventory");
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .current_dir(d)
        .args([
            "check",
            "-i",
            "inventory16.toml",
            "site.toml",
            "--no-ssh-config",
            "--json",
            "--html",
            "report16.html",
            "--junit",
            "junit16.xml",
        ])
        .env("NO_COLOR", "1")
        .env("RAMPART_CACHE_DIR", "")
        .stdin(Stdio::null())
        .output()
        .expect("run rampart");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "one JSON document ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let hosts = doc["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 16, "{doc}");
    for h in hosts {
        let name = h["host"].as_str().unwrap_or_default();
        if name.starts_with("good") {
            assert!(
                h["error"].is_null() && h["changed"] == 0,
                "{name} finished converged: {h}"
            );
        } else {
            assert!(h["error"].is_string(), "{name} failed itself: {h}");
        }
    }
    let html = std::fs::read_to_string(d.join("report16.html")).expect("html report");
    let junit = std::fs::read_to_string(d.join("junit16.xml")).expect("junit report");
    for name in healthy
        .iter()
        .map(String::as_str)
        .chain(hostile.iter().map(|(n, _)| *n))
    {
        assert!(html.contains(name), "{name} in the HTML report");
        assert!(junit.contains(name), "{name} in the JUnit report");
    }
    drop(good);
}

/// A host's text reaches the terminal with its control characters escaped: an OSC title
/// change, a CR and CSI sequences in PRETTY_NAME (forging a "reachable" line), and in the
/// current content of a file that a check diffs.
#[test]
fn host_text_cannot_drive_the_terminal() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let key = keygen(d, "id", "ed25519", "");
    let wrapper = d.join("pretty.sh");
    std::fs::write(
        &wrapper,
        "#!/bin/sh\nevil=$(printf 'Debian\\033]0;pwned\\007\\r\\033[2K\\033[32mforged reachable\\033[0m')\n\
         case \"$SSH_ORIGINAL_COMMAND\" in\n  uname*) uname -sr; printf '%s\\n' \"$evil\" ;;\n           *) sh -c \"$SSH_ORIGINAL_COMMAND\" | sed \"s/^os_pretty=.*/os_pretty=$evil/\" ;;\nesac\n",
    )
    .expect("wrapper");
    make_executable(&wrapper);
    let sshd = Sshd::start_with(&format!("ForceCommand {}", wrapper.display()));
    sshd.authorize(&key);
    std::fs::write(d.join("known_hosts"), sshd.known_hosts_line()).expect("known_hosts");
    std::fs::write(
        d.join("inventory.toml"),
        format!(
            "[defaults]\nuser = \"{}\"\naddress = \"127.0.0.1\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n\n[hosts.evil]\nport = {}\n",
            whoami(),
            key.private.display(),
            d.join("known_hosts").display(),
            sshd.port
        ),
    )
    .expect("inventory");
    let file = d.join("motd");
    std::fs::write(&file, "hello\x1b]0;pwned\x07\x1b[2J\x1b[1A\rforged\n").expect("write");
    std::fs::write(
        d.join("site.toml"),
        format!(
            "[[play]]\nhosts = \"all\"\nroles = [\"custom\"]\n\n[roles.custom]\nfiles = [{{ path = \"{}\", content = \"hello\\n\" }}]\n",
            file.display()
        ),
    )
    .expect("site");
    for args in [
        &["ping", "-i", "inventory.toml", "--no-ssh-config"][..],
        &[
            "check",
            "-i",
            "inventory.toml",
            "site.toml",
            "--no-ssh-config",
            "-D",
        ][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
            .current_dir(d)
            .args(args)
            .env("NO_COLOR", "1")
            .env("RAMPART_CACHE_DIR", "")
            .stdin(Stdio::null())
            .output()
            .expect("run rampart");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // 0 for ping, 5 (changes pending) for check.
        assert!(matches!(out.status.code(), Some(0 | 5)), "{args:?}: {text}");
        assert!(
            !text.contains(['\x1b', '\x07', '\r']),
            "{args:?} printed raw control characters: {text:?}"
        );
        assert!(text.contains("\\x1b]0;pwned\\x07"), "{args:?}: {text}");
    }
}
