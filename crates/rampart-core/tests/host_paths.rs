//! Attacks on the host-side scripts, run for real by this machine's `/bin/sh` (dash on Debian,
//! as on the hosts) against a temporary root: a user who owns a directory on a rampart path
//! plants links to turn root's writes elsewhere (issue 18, finding 1), a path spliced into
//! shell (finding 7), a confirmation racing a restore (finding 9), and the host lock taken from
//! a living run (finding 3). Fake commands on `PATH` stand in for systemd and iptables, and
//! some wrap a real command to swap a path at the worst moment.
//!
//! Most of these need root (the attacker is `nobody`, a directory is chowned to it, and the
//! scripts act as root): without it they say so and pass.
#![cfg(target_os = "linux")]

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _, symlink};
use std::path::Path;
use std::process::{Command, Output};

use rampart_core::facts::{FactRequest, Facts, FileState};
use rampart_core::plan::Change;
use rampart_core::resource::{Directory, File, Resource, Validate};
use rampart_core::rollback;

const USER: &str = "nobody";
const GROUP: &str = "nogroup";
const UID: u32 = 65534;

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

macro_rules! needs_root {
    () => {
        if !is_root() {
            eprintln!("skipped: needs root (the attacker is `nobody`)");
            return;
        }
    };
}

/// A temporary root: `home/lab` owned by the attacker, `etc/cron.hourly` root's, and a bin
/// directory for fake commands (put first on PATH).
struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let r = Root { dir };
        std::fs::create_dir_all(r.p("home/lab")).unwrap();
        std::fs::create_dir_all(r.p("etc/cron.hourly")).unwrap();
        std::fs::create_dir_all(r.p("bin")).unwrap();
        std::fs::set_permissions(r.p("etc/cron.hourly"), perm(0o755)).unwrap();
        chown(&r.p("home/lab"));
        r
    }

    fn p(&self, rel: &str) -> String {
        format!("{}/{rel}", self.dir.path().display())
    }

    /// A fake command: `body` runs as `sh` with the real command's arguments.
    fn fake(&self, name: &str, body: &str) {
        let path = self.p(&format!("bin/{name}"));
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, perm(0o755)).unwrap();
    }

    fn path_var(&self) -> String {
        format!(
            "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            self.p("bin")
        )
    }

    /// Runs shell code as a step runs (`set -e`, in a subshell), with the fake commands.
    fn sh(&self, code: &str) -> Output {
        let script = format!("(\nset -e\n{code}\n) </dev/null\n");
        Command::new("sh")
            .args(["-c", &script])
            .env("PATH", self.path_var())
            .output()
            .unwrap()
    }

    fn listing(&self, rel: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.p(rel))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

fn perm(mode: u32) -> std::fs::Permissions {
    std::fs::Permissions::from_mode(mode)
}

fn chown(path: &str) {
    let st = Command::new("chown")
        .args(["-h", &format!("{USER}:{GROUP}"), path])
        .status()
        .unwrap();
    assert!(st.success());
}

/// The apply script of one resource planned against `facts`.
fn step(r: &Resource, facts: &Facts) -> String {
    match r.plan(facts).unwrap() {
        Change::Apply(a) => a.script.as_str().to_owned(),
        Change::Noop { why } => panic!("expected a change, got noop: {why}"),
    }
}

fn facts(entries: &[(&str, FileState)]) -> Facts {
    let mut f = Facts::default();
    for (p, s) in entries {
        f.files.insert((*p).to_owned(), s.clone());
    }
    f
}

fn dir_state(mode: u32) -> FileState {
    FileState::Dir {
        mode,
        owner: USER.into(),
        group: GROUP.into(),
    }
}

/// The base role's two resources for the admin's keys, inside the temporary root.
fn admin_ssh(root: &Root) -> (Resource, Resource) {
    (
        Resource::Directory(Directory::new(root.p("home/lab/.ssh"), 0o700, USER, GROUP)),
        Resource::File(
            File::new(
                root.p("home/lab/.ssh/authorized_keys"),
                "ssh-ed25519 AAAA attacker-wants-this-in-cron\n",
                0o600,
            )
            .owned_by(USER, GROUP),
        ),
    )
}

fn assert_cron_untouched(root: &Root) {
    assert!(
        root.listing("etc/cron.hourly").is_empty(),
        "root wrote into etc/cron.hourly: {:?}",
        root.listing("etc/cron.hourly")
    );
    let m = std::fs::metadata(root.p("etc/cron.hourly")).unwrap();
    assert_eq!(
        (m.uid(), m.mode() & 0o7777),
        (0, 0o755),
        "etc/cron.hourly was chowned or chmodded"
    );
}

/// Finding 1, the forgery: a link whose target holds a newline and a fake `find` record for
/// the same path made a symlinked `~lab/.ssh` look like a correct directory. The target never
/// reaches find's records now (it travels in the tar, framed by length), so the probe sees a
/// link, with its whole target, and the Directory refuses it.
#[test]
fn a_forged_newline_in_a_link_target_cannot_make_a_link_look_like_a_directory() {
    let root = Root::new();
    let ssh = root.p("home/lab/.ssh");
    let target = format!("x\nd|700|{USER}|{GROUP}|4096|0|0|1|{ssh}");
    symlink(&target, &ssh).unwrap();
    let mut req = FactRequest::new();
    req.file(ssh.clone());
    req.file(format!("{ssh}/authorized_keys"));
    let out = Command::new("sh")
        .args(["-c", &req.probe_script("n0nce"), "sh", ""])
        .output()
        .unwrap();
    let f = Facts::parse_output(&req, "n0nce", &out.stdout)
        .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(f.files[&ssh], FileState::Link { target });
    let (dir, _) = admin_ssh(&root);
    let err = dir.plan(&f).unwrap_err().to_string();
    assert!(err.contains("not a directory"), "{err}");
}

/// Finding 1: the parser refuses a path printed twice (a later record never wins).
#[test]
fn a_path_printed_twice_by_find_is_refused() {
    let mut req = FactRequest::new();
    req.file("/home/lab/.ssh");
    let out = "@@n stats -\nl|777|lab|lab|5|0|0|1|/home/lab/.ssh\nd|700|lab|lab|4096|0|0|1|/home/lab/.ssh\n@@n contents -\n@@n end -\n";
    let err = Facts::parse(&req, "n", out).unwrap_err().to_string();
    assert!(err.contains("twice"), "{err}");
}

/// Finding 1: even with facts that say `.ssh` is a correct directory (a probe fooled some
/// other way), the apply of the base role's resources through a symlinked `~lab/.ssh` writes,
/// chmods and chowns nothing outside lab's home.
#[test]
fn a_symlinked_ssh_directory_is_never_written_through() {
    needs_root!();
    let root = Root::new();
    symlink(root.p("etc/cron.hourly"), root.p("home/lab/.ssh")).unwrap();
    chown(&root.p("home/lab/.ssh"));
    let (dir, keys) = admin_ssh(&root);
    let fooled = facts(&[
        (&root.p("home/lab/.ssh"), dir_state(0o755)),
        (&root.p("home/lab/.ssh/authorized_keys"), FileState::Absent),
    ]);
    for r in [&dir, &keys] {
        let out = root.sh(&step(r, &fooled));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(75), "{}: {err}", r.id());
        assert!(
            err.contains("symbolic link") || err.contains("changed on the host"),
            "{err}"
        );
    }
    assert_cron_untouched(&root);
}

/// Finding 1: the probe saw a real `~lab/.ssh`; lab swaps it for a link before the apply, and
/// again at the worst moment inside a step (a fake `chown`, which runs right before the
/// `chmod`, swaps it; the write's `chmod` of its temporary file is raced the same way). Each
/// step fails and nothing outside lab's home changes.
#[test]
fn a_swap_between_probe_and_apply_changes_nothing_outside_the_home() {
    needs_root!();
    let root = Root::new();
    let ssh = root.p("home/lab/.ssh");
    std::fs::create_dir(&ssh).unwrap();
    std::fs::set_permissions(&ssh, perm(0o755)).unwrap();
    chown(&ssh);
    let (dir, keys) = admin_ssh(&root);
    let mut req = FactRequest::new();
    dir.facts(&mut req);
    keys.facts(&mut req);
    let out = Command::new("sh")
        .args(["-c", &req.probe_script("n"), "sh", ""])
        .output()
        .unwrap();
    let seen = Facts::parse_output(&req, "n", &out.stdout).unwrap();
    assert_eq!(seen.files[&ssh], dir_state(0o755));
    let dir_step = step(&dir, &seen);
    let keys_step = step(&keys, &seen);

    // Swapped before the apply.
    let swap = format!(
        "mv {ssh} {ssh}.real && ln -s {} {ssh}",
        root.p("etc/cron.hourly")
    );
    assert!(
        Command::new("sh")
            .args(["-c", &swap])
            .status()
            .unwrap()
            .success()
    );
    chown(&ssh);
    for s in [&dir_step, &keys_step] {
        let out = root.sh(s);
        assert_eq!(
            out.status.code(),
            Some(75),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_cron_untouched(&root);

    // Swapped inside the step, after every check (a fake `chmod`, run as lab, swaps it just
    // before the real one): the real `chmod` runs as lab and the kernel refuses.
    std::fs::remove_file(&ssh).unwrap();
    std::fs::rename(format!("{ssh}.real"), &ssh).unwrap();
    root.fake(
        "chmod",
        &format!(
            "(cd {home} && mv .ssh .ssh.real && ln -s {cron} .ssh); exec /bin/chmod \"$@\"",
            home = root.p("home/lab"),
            cron = root.p("etc/cron.hourly")
        ),
    );
    let out = root.sh(&dir_step);
    assert_ne!(
        out.status.code(),
        Some(0),
        "the chmod through the link failed"
    );
    assert!(
        Path::new(&format!("{ssh}.real")).is_dir(),
        "the fake swapped it"
    );
    assert_cron_untouched(&root);

    // The write: lab swaps the temporary file for a link to a root file before its chmod.
    std::fs::remove_file(&ssh).unwrap();
    std::fs::rename(format!("{ssh}.real"), &ssh).unwrap();
    std::fs::write(root.p("etc/cron.hourly/job"), "root's\n").unwrap();
    std::fs::set_permissions(root.p("etc/cron.hourly/job"), perm(0o644)).unwrap();
    root.fake(
        "chmod",
        &format!(
            "for a; do t=$a; done; rm -f \"$t\"; ln -s {job} \"$t\"; exec /bin/chmod \"$@\"",
            job = root.p("etc/cron.hourly/job")
        ),
    );
    let out = root.sh(&keys_step);
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(root.listing("etc/cron.hourly"), ["job"]);
    let m = std::fs::metadata(root.p("etc/cron.hourly/job")).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o7777), (0, 0o644));
    assert_eq!(
        std::fs::read_to_string(root.p("etc/cron.hourly/job")).unwrap(),
        "root's\n"
    );
}

/// Finding 1, the control: on an honest host the same steps converge, as lab owns its keys.
#[test]
fn an_honest_home_converges_with_the_files_owned_by_the_user() {
    needs_root!();
    let root = Root::new();
    let (dir, keys) = admin_ssh(&root);
    let absent = facts(&[
        (&root.p("home/lab/.ssh"), FileState::Absent),
        (&root.p("home/lab/.ssh/authorized_keys"), FileState::Absent),
    ]);
    for r in [&dir, &keys] {
        let out = root.sh(&step(r, &absent));
        assert!(
            out.status.success(),
            "{}: {}",
            r.id(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let d = std::fs::metadata(root.p("home/lab/.ssh")).unwrap();
    assert_eq!((d.uid(), d.mode() & 0o7777, d.is_dir()), (UID, 0o700, true));
    let k = std::fs::metadata(root.p("home/lab/.ssh/authorized_keys")).unwrap();
    assert_eq!((k.uid(), k.mode() & 0o7777), (UID, 0o600));
    assert!(
        std::fs::read_to_string(root.p("home/lab/.ssh/authorized_keys"))
            .unwrap()
            .starts_with("ssh-ed25519")
    );
    // A root-owned file in lab's directory is refused, not written as root.
    let rootfile = Resource::File(File::new(root.p("home/lab/.ssh/rootfile"), "x\n", 0o644));
    let out = root.sh(&step(
        &rootfile,
        &facts(&[(&root.p("home/lab/.ssh/rootfile"), FileState::Absent)]),
    ));
    assert!(!out.status.success());
    assert!(!Path::new(&root.p("home/lab/.ssh/rootfile")).exists());
}

fn fake_system(root: &Root) {
    for cmd in [
        "iptables-save",
        "ip6tables-save",
        "iptables-restore",
        "ip6tables-restore",
        "systemctl",
        "systemd-run",
        "setsid",
        "logger",
        "ufw",
    ] {
        root.fake(cmd, "exit 0");
    }
}

fn arm(root: &Root, paths: &[String]) -> String {
    arm_as(root, "r1", paths)
}

/// [`arm`] under snapshot id `id`.
fn arm_as(root: &Root, id: &str, paths: &[String]) -> String {
    let script = rollback::arm_script_in(&root.p("rollback"), id, paths, 3600, "M");
    let out = root.sh(&script);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("@@M armed"),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    root.p(&format!("rollback/{id}"))
}

/// Finding 1, the restore: lab plants a symlink on the way to a snapshotted path before the
/// rollback fires; the restore neither removes nor writes through it.
#[test]
fn a_symlink_planted_before_a_restore_is_not_followed() {
    needs_root!();
    let root = Root::new();
    fake_system(&root);
    let ssh = root.p("home/lab/.ssh");
    std::fs::create_dir(&ssh).unwrap();
    chown(&ssh);
    std::fs::write(format!("{ssh}/authorized_keys"), "old keys\n").unwrap();
    let keys = format!("{ssh}/authorized_keys");
    let added = format!("{ssh}/job");
    let snap = arm(&root, &[keys.clone(), added.clone()]);

    // The control: with the home as it was, the restore puts the keys back.
    std::fs::write(&keys, "new keys\n").unwrap();
    std::fs::write(&added, "added by the change\n").unwrap();
    let restore = std::fs::read_to_string(format!("{snap}/restore.sh")).unwrap();
    std::fs::copy(format!("{snap}/restore.sh"), root.p("restore-copy.sh")).unwrap();
    let out = root.sh(&format!("sh {snap}/restore.sh"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&keys).unwrap(), "old keys\n");
    assert!(!Path::new(&added).exists());

    // Armed again; lab replaces the files themselves with links to a root file: the restore
    // replaces the links, never writes or removes through them.
    std::fs::write(root.p("etc/cron.hourly/job"), "root's job\n").unwrap();
    std::fs::remove_dir_all(&snap).unwrap();
    let snap = arm(&root, &[keys.clone(), added.clone()]);
    std::fs::remove_file(&keys).unwrap();
    symlink(root.p("etc/cron.hourly/job"), &keys).unwrap();
    symlink(root.p("etc/cron.hourly/job"), &added).unwrap();
    let out = root.sh(&format!("sh {snap}/restore.sh"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&keys).unwrap(), "old keys\n");
    assert!(
        !std::fs::symlink_metadata(&keys)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(std::fs::symlink_metadata(&added).is_err());
    assert_eq!(
        std::fs::read_to_string(root.p("etc/cron.hourly/job")).unwrap(),
        "root's job\n"
    );
    std::fs::remove_file(root.p("etc/cron.hourly/job")).unwrap();

    // Armed again; lab swaps .ssh for a link to root's cron directory, which holds `job`.
    std::fs::remove_dir_all(&snap).unwrap();
    let snap = arm(&root, &[keys.clone(), added.clone()]);
    std::fs::rename(&ssh, format!("{ssh}.real")).unwrap();
    symlink(root.p("etc/cron.hourly"), &ssh).unwrap();
    chown(&ssh);
    std::fs::write(root.p("etc/cron.hourly/job"), "root's job\n").unwrap();
    let out = root.sh(&format!("sh {snap}/restore.sh"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("left") && err.contains("alone"), "{err}");
    assert_eq!(root.listing("etc/cron.hourly"), ["job"], "{restore}");
    assert_eq!(
        std::fs::read_to_string(root.p("etc/cron.hourly/job")).unwrap(),
        "root's job\n"
    );
}

/// Finding 9: the confirmation arrives while the restore runs (a fake `tar` makes it slow).
/// The disarm must not remove the snapshot under it nor say "disarmed": it waits for the
/// restore and says too late. And a restore that fires after a disarm claimed the snapshot
/// does nothing.
#[test]
fn a_confirmation_that_arrives_during_the_restore_waits_and_says_too_late() {
    needs_root!();
    let root = Root::new();
    fake_system(&root);
    let conf = root.p("etc/app.conf");
    std::fs::write(&conf, "before\n").unwrap();
    let snap = arm(&root, std::slice::from_ref(&conf));
    std::fs::write(&conf, "after\n").unwrap();
    root.fake("tar", "sleep 2; exec /bin/tar \"$@\"");
    let mut restore = Command::new("sh")
        .arg(format!("{snap}/restore.sh"))
        .env("PATH", root.path_var())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !Path::new(&format!("{snap}/claimed")).exists() {
        assert!(t0.elapsed().as_secs() < 10, "the restore never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = root.sh(&rollback::disarm_script_in(&root.p("rollback"), "r1", "M"));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("@@M too-late"), "{said}");
    assert!(!said.contains("disarmed"), "{said}");
    assert!(
        Path::new(&format!("{snap}/rolled-back")).exists(),
        "it waited for the restore"
    );
    assert!(restore.wait().unwrap().success());
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "before\n");

    // In time: the disarm claims the snapshot; a restore started anyway (the timer fired as
    // the disarm ran) finds the claim and leaves the confirmed change alone.
    // (A snapshot of its own: nothing of the first one can reach it.)
    std::fs::remove_file(root.p("bin/tar")).unwrap();
    let snap = arm_as(&root, "r2", std::slice::from_ref(&conf));
    std::fs::write(&conf, "confirmed\n").unwrap();
    std::fs::copy(format!("{snap}/restore.sh"), root.p("late-restore.sh")).unwrap();
    std::fs::create_dir(format!("{snap}/claimed")).unwrap();
    let out = root.sh(&format!("sh {}", root.p("late-restore.sh")));
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "confirmed\n");
    std::fs::remove_dir(format!("{snap}/claimed")).unwrap();
    let out = root.sh(&rollback::disarm_script_in(&root.p("rollback"), "r2", "M"));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("@@M disarmed"),
        "stdout: {} stderr: {} snapshot: {:?}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_dir(&snap).map(|d| d
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect::<Vec<_>>())
    );
    assert!(!Path::new(&snap).exists());
    let out = root.sh(&format!("sh {}", root.p("late-restore.sh")));
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "confirmed\n");
}

/// Finding 7: a path with `$(...)`, backticks and (at the resource level) a newline goes
/// through the quoter into the validation's error message: nothing in it runs.
#[test]
fn a_path_with_shell_syntax_is_never_run() {
    let root = Root::new();
    for name in [
        "a $(touch pwned1) b",
        "c `touch pwned2` d",
        "e\n$(touch pwned3)\nf",
    ] {
        let path = root.p(&format!("etc/{name}"));
        let f = Resource::File(
            File::new(path.clone(), "x\n", 0o644).validated(Validate::Temp("false %s".into())),
        );
        let out = root.sh(&step(&f, &facts(&[(&path, FileState::Absent)])));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("rampart: validation of {path} failed")),
            "{err}"
        );
        assert!(!Path::new(&path).exists());
    }
    for n in 1..=3 {
        assert!(!Path::new(&root.p(&format!("etc/pwned{n}"))).exists());
        assert!(!Path::new(&format!("pwned{n}")).exists());
    }
}

/// Finding 3: the lock is held while any of its holders lives, however old, and a lock whose
/// holders are not written yet is held for the grace period; only then is it taken over.
#[test]
fn the_host_lock_is_never_taken_from_a_living_run() {
    let root = Root::new();
    let lock = root.p("run/rampart.lock");
    std::fs::create_dir_all(root.p("run")).unwrap();
    // Run A takes the lock and keeps running (a long apt step).
    let mut a = Command::new("sh")
        .args([
            "-c",
            &format!(
                "{}echo took; exec sleep 3",
                rollback::lock_script_in(&lock, "run-a")
            ),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !Path::new(&format!("{lock}/holders")).exists() {
        assert!(t0.elapsed().as_secs() < 5);
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    // An hour old: age alone used to make it stale.
    let old = "touch -d '2 hours ago' {l}/owner {l}/holders {l}";
    root.sh(&old.replace("{l}", &lock));
    let b = root.sh(&rollback::lock_script_in(&lock, "run-b"));
    assert_eq!(
        b.status.code(),
        Some(73),
        "{}",
        String::from_utf8_lossy(&b.stderr)
    );
    assert!(String::from_utf8_lossy(&b.stderr).contains("run-a"));
    assert!(a.wait().unwrap().success());
    // A is gone: B takes it over at once.
    let b = root.sh(&rollback::lock_script_in(&lock, "run-b"));
    assert_eq!(
        b.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&b.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(format!("{lock}/owner")).unwrap(),
        "run-b\n"
    );

    // A lock whose owner and holders are not written yet (made a moment ago) is held...
    std::fs::remove_dir_all(&lock).unwrap();
    std::fs::create_dir(&lock).unwrap();
    let c = root.sh(&rollback::lock_script_in(&lock, "run-c"));
    assert_eq!(
        c.status.code(),
        Some(73),
        "{}",
        String::from_utf8_lossy(&c.stderr)
    );
    // ... for the grace period only.
    root.sh(&format!("touch -d '2 hours ago' {lock}"));
    let c = root.sh(&rollback::lock_script_in(&lock, "run-c"));
    assert_eq!(
        c.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&c.stderr)
    );
}

/// Finding 3: many runs find the same dead lock at once; exactly one takes it over.
#[test]
fn a_dead_lock_is_taken_over_by_exactly_one_run() {
    let root = Root::new();
    let lock = root.p("run/rampart.lock");
    std::fs::create_dir_all(&lock).unwrap();
    std::fs::write(format!("{lock}/owner"), "dead-run\n").unwrap();
    std::fs::write(format!("{lock}/holders"), "999999999 1\n").unwrap();
    let kids: Vec<_> = (0..8)
        .map(|i| {
            Command::new("sh")
                .args([
                    "-c",
                    &format!(
                        "{}echo took; exec sleep 2",
                        rollback::lock_script_in(&lock, &format!("run-{i}"))
                    ),
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let took = kids
        .into_iter()
        .map(|k| k.wait_with_output().unwrap())
        .filter(|o| String::from_utf8_lossy(&o.stdout).contains("took"))
        .count();
    assert_eq!(took, 1);
}
