//! The fact probe's shell code, run for real by this machine's `/bin/sh` (dash on Debian, as on
//! the hosts) with GNU find and tar, against files in a temporary directory: awkward names,
//! links, stat-only paths, absent ones, and apt's timestamps with the host clock.
//! The lab tests run the same probe on real hosts; this one needs no root and no lab.
#![cfg(target_os = "linux")]

use std::os::unix::fs::{PermissionsExt, symlink};
use std::process::Command;

use rampart_core::facts::{FactRequest, Facts, FileState};

/// The probe's raw stdout, run by `sh` with an SSH_CONNECTION as its argument.
fn output(req: &FactRequest) -> Vec<u8> {
    let script = req.probe_script("t3st");
    Command::new("sh")
        .args(["-c", &script, "sh", "10.0.0.1 5000 10.0.0.2 22"])
        .output()
        .expect("sh runs")
        .stdout
}

fn run(req: &FactRequest) -> Facts {
    let out = output(req);
    Facts::parse_output(req, "t3st", &out)
        .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&out)))
}

#[test]
fn the_batched_probe_reads_stats_and_contents_as_the_shell_prints_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    let plain = format!("{d}/plain.conf");
    let odd = format!("{d}/we ird|na\\me 'q'.conf");
    let big = format!("{d}/big.bin");
    let stat_only = format!("{d}/swapfile");
    let link = format!("{d}/link");
    let absent = format!("{d}/absent");
    let sub = format!("{d}/sub");
    std::fs::write(&plain, "a = 1\n").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::write(&odd, "odd\nname\n").unwrap();
    std::fs::write(&big, vec![b'x'; (1 << 20) + 10]).unwrap();
    std::fs::write(&stat_only, "not to be read").unwrap();
    symlink("plain.conf", &link).unwrap();
    std::fs::create_dir(&sub).unwrap();

    let mut req = FactRequest::new();
    for p in [&plain, &odd, &big, &link, &absent, &sub] {
        req.file(p.clone());
    }
    req.stats.insert(stat_only.clone());
    req.apt = true;
    let f = run(&req);

    assert_eq!(f.files[&plain].text(), Some("a = 1\n"));
    assert!(matches!(
        f.files[&plain],
        FileState::File { mode: 0o640, .. }
    ));
    assert_eq!(f.files[&odd].text(), Some("odd\nname\n"));
    // Over 1 MiB: hashed on the host, not fetched.
    let FileState::File {
        content, sha256, ..
    } = &f.files[&big]
    else {
        panic!("{:?}", f.files[&big])
    };
    assert!(content.is_none());
    assert_eq!(
        sha256,
        &rampart_core::facts::sha256_hex(&vec![b'x'; (1 << 20) + 10])
    );
    // Stat only: its size, never its content.
    let FileState::File { size, content, .. } = &f.files[&stat_only] else {
        panic!("{:?}", f.files[&stat_only])
    };
    assert_eq!((*size, content.is_none()), (14, true));
    assert_eq!(
        f.files[&link],
        FileState::Link {
            target: "plain.conf".into()
        }
    );
    assert_eq!(f.files[&absent], FileState::Absent);
    assert!(matches!(f.files[&sub], FileState::Dir { .. }));
    // The host's clock came from find, not `date`: the lists' age is sane (or "never").
    let apt = f.apt.clone().expect("apt facts");
    let lists = std::path::Path::new("/var/lib/apt/lists");
    if lists.exists() {
        let mtime = std::fs::metadata(lists).unwrap().modified().unwrap();
        let age = std::time::SystemTime::now()
            .duration_since(mtime)
            .unwrap_or_default()
            .as_secs();
        assert!(apt.lists_age_secs.abs_diff(age) <= 2, "{apt:?} vs {age}");
    } else {
        assert_eq!(apt.lists_age_secs, u64::MAX);
    }
    // The repositories without lists are the ones apt itself lists targets for only when
    // told to ignore the release files it has (none for a repository never indexed).
    let targets = |extra: &[&str]| -> Option<std::collections::BTreeSet<String>> {
        let o = Command::new("apt-get")
            .arg("indextargets")
            .args(extra)
            .args(["--format", "$(REPO_URI) $(RELEASE)"])
            .output()
            .ok()?;
        o.status.success().then(|| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        })
    };
    if let (Some(all), Some(indexed)) = (targets(&["--no-release-info"]), targets(&[])) {
        let want: Vec<&String> = all.difference(&indexed).collect();
        let got: Vec<&str> = apt
            .unindexed
            .iter()
            .map(|l| l.split_once(' ').map_or(l.as_str(), |(_, rest)| rest))
            .collect();
        assert_eq!(got, want, "{apt:?}");
    }
    assert_eq!(
        f.host.ssh_connection.map(|c| c.server_port),
        Some(22),
        "the probe's argument reaches it"
    );
}

#[test]
fn contents_over_the_threshold_travel_gzipped_and_read_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    let large = format!("{d}/redis.conf");
    let small = format!("{d}/small.conf");
    let text: String = (0..4000)
        .map(|i| format!("# line {i} of a stock config\n"))
        .collect();
    assert!(text.len() as u64 > rampart_core::facts::GZIP_ABOVE);
    std::fs::write(&large, &text).unwrap();
    std::fs::write(&small, "x\n").unwrap();
    let mut req = FactRequest::new();
    req.file(large.clone());
    req.file(small.clone());
    let out = output(&req);
    let stdout = String::from_utf8_lossy(&out);
    assert!(stdout.contains("@@t3st contents gz\n"), "{stdout}");
    assert!(
        out.len() < text.len() / 4,
        "gzip shrinks the probe's output: {} bytes",
        out.len()
    );
    let f = Facts::parse_output(&req, "t3st", &out).unwrap();
    assert_eq!(f.files[&large].text(), Some(text.as_str()));
    assert_eq!(f.files[&small].text(), Some("x\n"));
}

/// The threshold counts the tar, not the text: a hundred small files are 20 KB of text but a
/// 100 KiB tar of headers and padding, and that travels gzipped; two of them do not.
#[test]
fn many_small_files_travel_gzipped_by_the_size_of_their_tar() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    let line = "key = value # a setting of a drop-in file\n".repeat(5);
    let mut req = FactRequest::new();
    let mut paths = Vec::new();
    for i in 0..100 {
        let p = format!("{d}/{i}.conf");
        std::fs::write(&p, &line).unwrap();
        req.file(p.clone());
        paths.push(p);
    }
    assert!(100 * line.len() as u64 <= rampart_core::facts::GZIP_ABOVE / 2);
    let out = output(&req);
    let stdout = String::from_utf8_lossy(&out);
    assert!(stdout.contains("@@t3st contents gz\n"), "{stdout}");
    assert!(
        out.len() < 100 * 1024 / 4,
        "gzip shrinks the headers and padding: {} bytes",
        out.len()
    );
    let f = Facts::parse_output(&req, "t3st", &out).unwrap();
    for p in &paths {
        assert_eq!(f.files[p].text(), Some(line.as_str()));
    }

    let mut two = FactRequest::new();
    two.file(paths[0].clone());
    two.file(paths[1].clone());
    let out = output(&two);
    assert!(
        String::from_utf8_lossy(&out).contains("@@t3st contents -\n"),
        "two small files travel as they are"
    );
    let f = Facts::parse_output(&two, "t3st", &out).unwrap();
    assert_eq!(f.files[&paths[1]].text(), Some(line.as_str()));
}

#[test]
fn a_remembered_section_is_not_run_again_while_its_inputs_are_unchanged() {
    if !std::path::Path::new("/var/lib/dpkg/status").exists() {
        eprintln!("skipped: no dpkg on this machine");
        return;
    }
    let mut req = FactRequest::new();
    req.packages.insert("dpkg".into());
    req.packages.insert("no-such-package-rampart".into());
    let first = run(&req);
    assert!(first.packages["dpkg"].installed);
    let update = first.cache_updates["packages"].clone();
    assert!(update.fp.contains("/var/lib/dpkg/status"), "{update:?}");
    assert_eq!(update.args, req.packages_args());

    // The fingerprint does not depend on what else the probe reads (a verify probe reads no
    // file; the main probe may read some of the inputs).
    let mut reading = req.clone();
    reading.file("/var/lib/dpkg/status");
    reading.file("/etc/hostname");
    assert_eq!(run(&reading).cache_updates["packages"].fp, update.fp);

    // Remembered: the host answers `@cached`, and the facts are the same.
    req.cached.insert("packages".into(), update.clone());
    let out = output(&req);
    let stdout = String::from_utf8_lossy(&out);
    assert!(stdout.contains("@@t3st packages -\n@cached\n"), "{stdout}");
    let second = Facts::parse_output(&req, "t3st", &out).unwrap();
    assert_eq!(second.packages, first.packages);
    assert!(second.cache_updates.is_empty());

    // Another fingerprint (dpkg ran since) or another question: asked afresh.
    let mut stale = update.clone();
    stale.fp = stale
        .fp
        .replace("/var/lib/dpkg/status", "/var/lib/dpkg/status-old");
    req.cached.insert("packages".into(), stale);
    assert!(run(&req).cache_updates.contains_key("packages"));
    req.cached.insert("packages".into(), update);
    req.packages.insert("tar".into());
    let third = run(&req);
    assert!(third.packages["tar"].installed);
    assert!(third.cache_updates.contains_key("packages"));
}

/// `apt-config dump` (the unattended-upgrades controls' shared command) is remembered like
/// `sshd -T`: this machine's real apt-config runs once, then the host answers `@cached` while
/// its inputs' fingerprint is the same, and the controls read the same lines either way.
#[test]
fn apt_config_dump_is_remembered_while_its_inputs_are_unchanged() {
    use rampart_core::facts::APT_CONFIG_DUMP;
    if !std::path::Path::new("/usr/bin/apt-config").exists() {
        eprintln!("skipped: no apt-config on this machine");
        return;
    }
    let mut req = FactRequest::new();
    req.commands
        .insert(APT_CONFIG_DUMP.into(), "apt-config dump".into());
    let first = run(&req);
    let dump = first.commands[APT_CONFIG_DUMP].clone();
    assert_eq!(dump.rc, 0, "{dump:?}");
    assert!(dump.output.contains("APT::Architecture "), "{dump:?}");
    let Some(update) = first.cache_updates.get("aptconf").cloned() else {
        // This machine's apt configuration has an #include, a Dir::Etc or a link: apt-config
        // runs every time, which is the point.
        eprintln!("skipped the cached half: this machine's apt configuration is not covered");
        return;
    };
    assert!(update.fp.contains("/usr/bin/apt-config"), "{update:?}");
    assert!(update.fp.contains("/libapt-pkg.so."), "{update:?}");
    assert!(update.fp.contains("/etc/apt/apt.conf.d"), "{update:?}");

    req.cached.insert("aptconf".into(), update.clone());
    let out = output(&req);
    let stdout = String::from_utf8_lossy(&out);
    assert!(
        stdout.contains("@@t3st cmd shared:apt-config dump\n@cached\n"),
        "{stdout}"
    );
    let second = Facts::parse_output(&req, "t3st", &out).unwrap();
    assert_eq!(second.commands[APT_CONFIG_DUMP], dump);
    assert!(second.cache_updates.is_empty());

    // Another fingerprint (a file of apt.conf.d changed since): asked afresh.
    let mut stale = update;
    stale.fp = stale
        .fp
        .replace("/etc/apt/apt.conf.d;", "/etc/apt/apt.conf.d-old;");
    req.cached.insert("aptconf".into(), stale);
    let third = run(&req);
    assert_eq!(third.commands[APT_CONFIG_DUMP], dump);
    assert!(third.cache_updates.contains_key("aptconf"));
}

/// A file whose content the controller remembers stays on the host while find's record of it
/// is the same: the tar leaves it out and the parser takes the remembered content. A file only
/// root may read, that no resource declares whole, travels every time; so does one changed
/// since (the same size, its mtime set back: a new ctime). Fresh records are not remembered.
#[test]
fn a_remembered_file_stays_on_the_host_while_its_record_is_the_same() {
    use rampart_core::facts::{Cached, file_key};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    let written = std::time::Instant::now();
    let (open, closed) = (format!("{d}/open.conf"), format!("{d}/closed.conf"));
    std::fs::write(&open, "alpha\n").unwrap();
    std::fs::write(&closed, "bravo\n").unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut req = FactRequest::new();
    req.file(open.clone());
    req.file(closed.clone());
    let out = output(&req);
    let first = Facts::parse_output(&req, "t3st", &out).unwrap();
    // (Whole seconds: a record is surely too young within one second of its write.)
    assert!(
        written.elapsed().as_millis() >= 900 || first.cache_updates.is_empty(),
        "records younger than the clock's margin are not remembered: {:?}",
        first.cache_updates
    );
    // Remember both as a later run would have: as find printed them.
    let text = String::from_utf8_lossy(&out).into_owned();
    let record = |p: &str| {
        text.lines()
            .find(|l| l.starts_with("f|") && l.ends_with(&format!("|{p}")))
            .unwrap_or_else(|| panic!("no record of {p}: {text}"))
            .to_owned()
    };
    for (p, body) in [(&open, "alpha\n"), (&closed, "bravo\n")] {
        let c = Cached {
            fp: record(p),
            args: String::new(),
            output: body.into(),
        };
        req.cached.insert(file_key(p), c);
    }
    let out = output(&req);
    let raw = String::from_utf8_lossy(&out);
    assert!(!raw.contains("alpha"), "the open file stayed: {raw}");
    assert!(
        raw.contains("bravo"),
        "a file only root reads travels: {raw}"
    );
    assert_eq!(
        Facts::parse_output(&req, "t3st", &out).unwrap().files,
        first.files
    );
    req.declared.insert(closed.clone());
    let out = output(&req);
    assert!(
        !String::from_utf8_lossy(&out).contains("bravo"),
        "declared whole by a resource: it stays too"
    );
    assert_eq!(
        Facts::parse_output(&req, "t3st", &out).unwrap().files,
        first.files
    );

    // Changed in place, same size, mtime put back: the ctime tells.
    let mtime = std::fs::metadata(&open).unwrap().modified().unwrap();
    std::fs::write(&open, "ALPHA\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&open)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let f = run(&req);
    assert_eq!(f.files[&open].text(), Some("ALPHA\n"));
    assert_eq!(f.files[&closed].text(), Some("bravo\n"));
}
