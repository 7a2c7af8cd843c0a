//! The dead-man switch: before a change that can cut the operator off (sshd, the firewall,
//! iptables rules, sudoers), snapshot what it touches and arm a rollback on the host itself;
//! only a brand-new SSH connection that logs in and runs `sudo -n true` disarms it.
//!
//! The rollback is a transient systemd timer (a detached `sleep` where there is no systemd)
//! that restores the snapshot and reloads what it touched. It survives the loss of rampart's
//! connection, which is the point: a host that shut rampart out heals itself.
//!
//! Everything here builds shell code (the `.sh` files in `rollback/`, values as positional
//! parameters); the engine runs it.

use crate::shell::{SAFE_PATH_FNS, Script, quote};

/// Where snapshots live on the host.
pub const ROLLBACK_DIR: &str = "/var/lib/rampart/rollback";

/// The snapshot directory of one armed change.
pub fn snapshot_dir(id: &str) -> String {
    format!("{ROLLBACK_DIR}/{id}")
}

/// The arm step's code (a function, `rampart_arm`): see `rollback/arm.sh`.
const ARM_SH: &str = include_str!("rollback/arm.sh");
/// The restore script's body: see `rollback/restore.sh`.
const RESTORE_SH: &str = include_str!("rollback/restore.sh");
/// How the arm step is called (the restore script on its stdin), and a failure reported.
const ARM_CALL: &str = "rampart_arm \"$@\" 2>&1";
const ARM_END: &str = "if [ $? != 0 ]; then echo \"@@$4 arm-failed\"; exit 1; fi";
const DISARM_SH: &str = include_str!("rollback/disarm.sh");
const STATUS_SH: &str = include_str!("rollback/status.sh");
const LOCK_SH: &str = include_str!("rollback/lock.sh");
const UNLOCK_SH: &str = include_str!("rollback/unlock.sh");

/// Shell code that snapshots `paths`, writes the restore script and arms it to fire after
/// `delay_secs`. Prints `@@<marker> armed` when armed; otherwise prints
/// `@@<marker> arm-failed` and exits 1, and then nothing must be applied.
pub fn arm_script(id: &str, paths: &[String], delay_secs: u64, marker: &str) -> String {
    arm_script_in(ROLLBACK_DIR, id, paths, delay_secs, marker)
}

/// [`arm_script`] with the snapshots under `root` (tests run it in a temporary directory).
#[doc(hidden)]
pub fn arm_script_in(
    root: &str,
    id: &str,
    paths: &[String],
    delay_secs: u64,
    marker: &str,
) -> String {
    let ufw = paths
        .iter()
        .any(|p| p.starts_with("/etc/ufw") || p == "/etc/default/ufw");
    let sshd = paths
        .iter()
        .any(|p| p.starts_with("/etc/ssh/") || p.contains("ssh.socket"));
    let dir = format!("{root}/{id}");
    let unit = format!("rampart-rollback-{id}");
    let delay = delay_secs.to_string();
    let mut args = vec![
        dir.as_str(),
        unit.as_str(),
        delay.as_str(),
        marker,
        if ufw { "ufw" } else { "-" },
        if sshd { "sshd" } else { "-" },
    ];
    args.extend(paths.iter().map(String::as_str));
    let mut s = Script::new();
    s.call(ARM_SH, args)
        .feed_base64(ARM_CALL, restore_script(&dir).as_bytes())
        .raw(ARM_END);
    s.as_str().to_owned()
}

/// The script the timer runs (`/bin/sh SNAPSHOT/restore.sh`): put every touched path back as
/// it was, then make the services read it again. It is data to the arm step (a base64
/// here-document); its one value, the snapshot directory, is written by [`quote`].
///
/// It first claims the snapshot (`mkdir claimed`, atomic): a disarm that claimed it first
/// wins, and this restore does nothing; once this restore has claimed it, a disarm waits for
/// it and reports the rollback. Each path is put back from inside its parent directory,
/// entered without following a link a user other than root could have planted
/// ([`SAFE_PATH_FNS`]); a path whose way is such a link is left alone and logged. `rm -f`
/// and tar's extraction never follow a link at the last component. A socket-activated sshd is
/// brought back by the sshd handler's own steps (`sshd/socket_restart.sh`).
pub fn restore_script(dir: &str) -> String {
    let mut s = String::from("#!/bin/sh\nS=");
    s.push_str(&quote(dir));
    s.push('\n');
    s.push_str(SAFE_PATH_FNS);
    // A socket-activated sshd comes back the way the sshd handler moves it.
    s.push_str("rampart_sshd_on_socket() {\n");
    s.push_str(crate::sshd::SOCKET_RESTART_SH);
    s.push_str("}\n");
    s.push_str(RESTORE_SH);
    s
}

/// How long a disarm waits for a restore that already started to finish (the engine gives
/// the disarm 30 s).
pub const DISARM_WAIT_SECS: u32 = 25;

/// Shell code that disarms the rollback and removes the snapshot; prints `@@<marker> disarmed`.
///
/// It claims the snapshot the way the restore does (`mkdir claimed`, atomic), so exactly one
/// of them acts. Claimed by the disarm: the timer (or sleeper) is stopped, and if it fires
/// anyway its restore finds the claim or no snapshot and does nothing. Claimed by the restore
/// (it has started, or finished): nothing is stopped or removed under it; the disarm waits
/// for it to finish (at most [`DISARM_WAIT_SECS`]) and prints `@@<marker> too-late`, the
/// truth: the change is being or has been rolled back.
pub fn disarm_script(id: &str, marker: &str) -> String {
    disarm_script_in(ROLLBACK_DIR, id, marker)
}

/// [`disarm_script`] with the snapshots under `root`.
#[doc(hidden)]
pub fn disarm_script_in(root: &str, id: &str, marker: &str) -> String {
    let mut s = Script::new();
    s.call(
        DISARM_SH,
        [
            format!("{root}/{id}"),
            format!("rampart-rollback-{id}"),
            marker.to_owned(),
            DISARM_WAIT_SECS.to_string(),
        ],
    );
    s.as_str().to_owned()
}

/// Shell code that tells whether the rollback ran: prints `@@<marker> rolled-back <time>` or
/// `@@<marker> pending`.
pub fn status_script(id: &str, marker: &str) -> String {
    status_script_in(ROLLBACK_DIR, id, marker)
}

/// [`status_script`] with the snapshots under `root`.
#[doc(hidden)]
pub fn status_script_in(root: &str, id: &str, marker: &str) -> String {
    let mut s = Script::new();
    s.call(STATUS_SH, [format!("{root}/{id}").as_str(), marker]);
    s.as_str().to_owned()
}

/// Where the host lock lives: under /run, so a reboot clears it.
pub const LOCK_DIR: &str = "/run/rampart.lock";

/// Seconds during which a lock without holders (its owner and holders files not written yet,
/// or written by something other than rampart) counts as held, from its directory's mtime.
/// A rampart lock gets its holders a few milliseconds after its directory.
pub const LOCK_GRACE_SECS: u64 = 60;

/// Shell code that takes the host lock for run `owner` (or refreshes it if already ours), or
/// fails with exit 73 after printing who holds it. Two rampart runs never change one host at
/// the same time; a check never takes the lock (it writes nothing).
///
/// The lock records its holders: the sshd process serving the run's connection and the shell
/// of every script of the run that took it (pid and start time each); every script of the
/// run adds its own and touches the owner file. The lock is stale only when none of them is
/// alive: then the run is gone (aborted, its link cut, its controller dead) and nothing of it
/// still runs on the host, and the next run takes it over at once. Age alone never makes it
/// stale: a step that runs for an hour (an apt upgrade) keeps it. A lock with no holders
/// recorded is held for [`LOCK_GRACE_SECS`] after it was made (it is being written). A
/// take-over is itself claimed (`takeover`, atomic `mkdir`), goes ahead only if the lock
/// still has the owner and holders it was judged by, and moves the dead lock aside with one
/// `rename` (a claim made in it meanwhile moves with it), so two runs never both take it over.
pub fn lock_script(owner: &str) -> String {
    lock_script_in(LOCK_DIR, owner)
}

/// [`lock_script`] with the lock at `lock_dir` (tests use a temporary directory).
#[doc(hidden)]
pub fn lock_script_in(lock_dir: &str, owner: &str) -> String {
    let mut s = Script::new();
    s.call(
        LOCK_SH,
        [lock_dir, owner, LOCK_GRACE_SECS.to_string().as_str()],
    );
    s.as_str().to_owned()
}

/// Shell code that releases the host lock if `owner` holds it.
pub fn unlock_script(owner: &str) -> String {
    unlock_script_in(LOCK_DIR, owner)
}

/// [`unlock_script`] with the lock at `lock_dir`.
#[doc(hidden)]
pub fn unlock_script_in(lock_dir: &str, owner: &str) -> String {
    let mut s = Script::new();
    s.call(UNLOCK_SH, [lock_dir, owner]);
    s.as_str().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_shtest::Sh;

    /// A root with the system commands the scripts call stubbed out (both ways of arming work:
    /// systemd-run where this machine has /run/systemd/system, the sleeper elsewhere).
    fn host() -> Option<Sh> {
        let sh = Sh::new()?;
        for cmd in ["systemd-run", "setsid", "logger", "ufw", "iptables-restore"] {
            sh.stub(cmd, 0);
        }
        sh.stub_output("iptables-save", 0, "*filter\nCOMMIT\n")
            .stub("ip6tables-save", 0)
            .stub("systemctl", 0);
        Some(sh)
    }

    /// A systemctl whose ssh.socket is not active (everything else succeeds).
    const NO_SOCKET: &str = "case \"$*\" in *is-active*ssh.socket*) exit 3 ;; esac";

    fn arm(sh: &Sh, id: &str, paths: &[String]) -> rampart_shtest::Out {
        sh.run(&arm_script_in(&sh.path("rb"), id, paths, 30, "N"), &[])
    }

    #[test]
    fn arm_snapshots_and_a_restore_after_a_cut_puts_everything_back() {
        let Some(sh) = host() else { return };
        let conf = sh.write("etc/ssh/sshd_config.d/00-rampart.conf", "Port 22\n");
        let added = sh.path("etc/ufw/user.rules");
        let out = arm(&sh, "abc", &[conf.clone(), added.clone()]);
        assert!(out.ok(), "{out:?}");
        assert!(out.stdout_str().contains("@@N armed"), "{out:?}");
        let snap = sh.path("rb/abc");
        assert_eq!(sh.read("rb/abc/present").unwrap(), format!("{conf}\n"));
        assert_eq!(sh.read("rb/abc/absent").unwrap(), format!("{added}\n"));
        assert_eq!(sh.read("rb/abc/iptables.v4").unwrap(), "*filter\nCOMMIT\n");
        // The flags follow the real paths (/etc/ufw, /etc/ssh): these are below a temporary
        // root, so set them as a host's arm would.
        assert!(sh.read("rb/abc/ufw").is_none() && sh.read("rb/abc/sshd").is_none());
        sh.write("rb/abc/ufw", "");
        sh.write("rb/abc/sshd", "");
        let calls = sh.calls().join("\n");
        assert!(
            calls.contains(&format!(
                "systemd-run --quiet --unit=rampart-rollback-abc --on-active=30 --timer-property=AccuracySec=1s /bin/sh {snap}/restore.sh"
            )) || sh.read("rb/abc/sleeper.pid").is_some(),
            "{calls}"
        );

        // The change lands, then the link is cut: the timer runs the restore. sshd is not
        // socket-activated here.
        sh.write("etc/ssh/sshd_config.d/00-rampart.conf", "Port 2222\n");
        sh.write("etc/ufw/user.rules", "new\n");
        sh.stub_body("systemctl", NO_SOCKET);
        sh.clear_calls();
        let out = sh.run("dash \"$1/restore.sh\"", &[&snap]);
        assert!(out.ok(), "{out:?}");
        assert_eq!(
            sh.read("etc/ssh/sshd_config.d/00-rampart.conf").unwrap(),
            "Port 22\n"
        );
        assert!(sh.read("etc/ufw/user.rules").is_none());
        assert!(sh.read("rb/abc/rolled-back").is_some());
        let calls = sh.calls();
        assert!(
            calls.iter().any(|c| c.starts_with("ufw --force")),
            "{calls:?}"
        );
        assert!(
            calls.contains(&"systemctl reload ssh".to_owned()),
            "{calls:?}"
        );
        // A second firing (the sleeper and the timer both) finds the claim and does nothing.
        sh.clear_calls();
        let out = sh.run("dash \"$1/restore.sh\"", &[&snap]);
        assert!(out.ok() && sh.calls().is_empty(), "{out:?}");
    }

    /// Ubuntu 24.04's socket-activated sshd is brought back the way the sshd handler does it
    /// (never a SIGHUP, which makes that sshd exit without a socket), whether the socket was
    /// active when the change was armed or is active now.
    #[test]
    fn a_restore_brings_a_socket_activated_sshd_back_on_its_socket() {
        let Some(sh) = host() else { return };
        let conf = sh.write("etc/ssh/sshd_config.d/00-rampart.conf", "Port 22\n");
        assert!(arm(&sh, "s", std::slice::from_ref(&conf)).ok());
        sh.write("rb/s/sshd", "");
        let socket_path = [
            "systemctl stop ssh.service",
            "systemctl restart ssh.socket",
            "systemctl start ssh.service",
        ];
        // Armed on a socket-activated sshd; at the restore the socket is down (say the change's
        // handler failed half-way): still the socket path, and nothing else after it once sshd
        // is active.
        sh.write("rb/s/ssh.socket", "");
        sh.stub_body("systemctl", NO_SOCKET);
        sh.clear_calls();
        let out = sh.run("dash \"$1/restore.sh\"", &[&sh.path("rb/s")]);
        assert!(out.ok(), "{out:?}");
        let calls: Vec<String> = sh
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("systemctl") && !c.contains("is-active"))
            .collect();
        assert_eq!(calls[1..], socket_path, "{calls:?}");
        assert!(!calls.iter().any(|c| c.contains("reload ssh")), "{calls:?}");
    }

    /// Whatever the reload did, the restore ends with sshd running: a reload that "worked" but
    /// left no sshd (the race a SIGHUP of a socket-activated sshd has) is followed by a restart.
    #[test]
    fn a_restore_that_leaves_no_sshd_restarts_it() {
        let Some(sh) = host() else { return };
        let conf = sh.write("etc/ssh/sshd_config.d/00-rampart.conf", "Port 22\n");
        assert!(arm(&sh, "d", std::slice::from_ref(&conf)).ok());
        sh.write("rb/d/sshd", "");
        sh.stub_body("systemctl", "case \"$*\" in *is-active*) exit 3 ;; esac");
        sh.clear_calls();
        let out = sh.run("dash \"$1/restore.sh\"", &[&sh.path("rb/d")]);
        assert!(out.ok(), "{out:?}");
        let calls = sh.calls();
        let reload = calls.iter().position(|c| c == "systemctl reload ssh");
        let restart = calls.iter().position(|c| c == "systemctl restart ssh");
        assert!(
            matches!((reload, restart), (Some(a), Some(b)) if a < b),
            "{calls:?}"
        );
    }

    #[test]
    fn a_path_with_shell_syntax_is_only_ever_data() {
        let Some(sh) = host() else { return };
        let evil = sh.write("etc/x $(touch pwned) `touch pwned2` 'q'\"", "old\n");
        let out = arm(&sh, "e1", std::slice::from_ref(&evil));
        assert!(out.ok(), "{out:?}");
        std::fs::write(&evil, "new\n").unwrap();
        let out = sh.run("dash \"$1/restore.sh\"", &[&sh.path("rb/e1")]);
        assert!(out.ok(), "{out:?}");
        assert_eq!(std::fs::read_to_string(&evil).unwrap(), "old\n");
        assert!(
            sh.ls("").iter().all(|n| !n.starts_with("pwned")),
            "{:?}",
            sh.ls("")
        );
    }

    #[test]
    fn a_failed_snapshot_says_arm_failed_and_stops_the_script() {
        let Some(sh) = host() else { return };
        sh.stub("tar", 2);
        let conf = sh.write("etc/ssh/sshd_config", "Port 22\n");
        let script = format!(
            "{}echo applied\n",
            arm_script_in(&sh.path("rb"), "f1", &[conf], 30, "N")
        );
        let out = sh.run(&script, &[]);
        assert_eq!(out.status, 1, "{out:?}");
        assert!(out.stdout_str().contains("@@N arm-failed"), "{out:?}");
        assert!(!out.stdout_str().contains("@@N armed"));
        assert!(!out.stdout_str().contains("applied"));
        assert!(
            !sh.calls()
                .iter()
                .any(|c| c.starts_with("systemd-run") || c.starts_with("setsid"))
        );
    }

    #[test]
    fn disarm_first_wins_and_a_late_restore_does_nothing() {
        let Some(sh) = host() else { return };
        let conf = sh.write("etc/ssh/sshd_config", "Port 22\n");
        assert!(arm(&sh, "d1", std::slice::from_ref(&conf)).ok());
        sh.write("etc/ssh/sshd_config", "Port 2222\n");
        // Copy the restore script aside: the disarm removes the snapshot.
        let restore = sh.read("rb/d1/restore.sh").unwrap();
        let out = sh.run(&disarm_script_in(&sh.path("rb"), "d1", "N"), &[]);
        assert!(out.stdout_str().contains("@@N disarmed"), "{out:?}");
        assert!(
            sh.calls()
                .contains(&"systemctl stop rampart-rollback-d1.timer".to_owned())
        );
        assert!(sh.read("rb/d1/present").is_none());
        // The timer fires anyway (stop raced it): no snapshot, nothing restored.
        std::fs::create_dir_all(sh.path("rb/d1")).unwrap();
        sh.write("rb/d1/restore.sh", restore);
        std::fs::create_dir(sh.path("rb/d1/claimed")).unwrap();
        let out = sh.run("dash \"$1/restore.sh\"", &[&sh.path("rb/d1")]);
        assert!(out.ok(), "{out:?}");
        assert_eq!(sh.read("etc/ssh/sshd_config").unwrap(), "Port 2222\n");
        // Disarming twice (a retried confirm) is fine.
        std::fs::remove_dir_all(sh.path("rb/d1")).unwrap();
        let out = sh.run(&disarm_script_in(&sh.path("rb"), "d1", "N"), &[]);
        assert!(out.stdout_str().contains("@@N disarmed"), "{out:?}");
    }

    #[test]
    fn a_restore_that_claimed_first_makes_the_disarm_say_too_late() {
        let Some(sh) = host() else { return };
        let conf = sh.write("etc/ssh/sshd_config", "Port 22\n");
        assert!(arm(&sh, "r1", std::slice::from_ref(&conf)).ok());
        sh.write("etc/ssh/sshd_config", "Port 2222\n");
        let out = sh.run("dash \"$1/restore.sh\"", &[&sh.path("rb/r1")]);
        assert!(out.ok(), "{out:?}");
        let out = sh.run(&disarm_script_in(&sh.path("rb"), "r1", "N"), &[]);
        assert!(out.stdout_str().contains("@@N too-late"), "{out:?}");
        assert!(!out.stdout_str().contains("disarmed"));
        assert_eq!(sh.read("etc/ssh/sshd_config").unwrap(), "Port 22\n");
        assert!(sh.read("rb/r1/rolled-back").is_some(), "the snapshot stays");
        let out = sh.run(&status_script_in(&sh.path("rb"), "r1", "N"), &[]);
        assert!(out.stdout_str().starts_with("@@N rolled-back 2"), "{out:?}");
    }

    #[test]
    fn status_says_pending_before_a_rollback() {
        let Some(sh) = host() else { return };
        let out = sh.run(&status_script_in(&sh.path("rb"), "none", "N"), &[]);
        assert_eq!(out.stdout_str(), "@@N pending\n", "{out:?}");
    }

    #[test]
    fn the_lock_is_refused_while_a_holder_lives_and_taken_over_when_none_does() {
        let Some(sh) = host() else { return };
        let lock = sh.path("lock");
        // Taken, then refreshed by the same run.
        let out = sh.run(&lock_script_in(&lock, "run-a"), &[]);
        assert!(out.ok(), "{out:?}");
        assert_eq!(sh.read("lock/owner").unwrap(), "run-a\n");
        assert!(sh.run(&lock_script_in(&lock, "run-a"), &[]).ok());
        // Held by a living process (this test's own pid, with its real start time).
        let me = std::process::id();
        let stat = std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
        let started = stat
            .rsplit(") ")
            .next()
            .unwrap()
            .split(' ')
            .nth(19)
            .unwrap();
        sh.write("lock/holders", format!("{me} {started}\n"));
        let out = sh.run(&lock_script_in(&lock, "run-b"), &[]);
        assert_eq!(out.status, 73, "{out:?}");
        assert!(
            out.stderr.contains("locked by another rampart run (run-a"),
            "{out:?}"
        );
        assert_eq!(sh.read("lock/owner").unwrap(), "run-a\n");
        // The holder is gone (a start time that does not match): taken over at once.
        sh.write("lock/holders", format!("{me} 1\n"));
        let out = sh.run(&lock_script_in(&lock, "run-b"), &[]);
        assert!(out.ok(), "{out:?}");
        assert!(out.stderr.contains("took over the host lock"), "{out:?}");
        assert_eq!(sh.read("lock/owner").unwrap(), "run-b\n");
        // Unlock: only by its owner.
        assert!(sh.run(&unlock_script_in(&lock, "run-a"), &[]).ok());
        assert!(sh.read("lock/owner").is_some());
        assert!(sh.run(&unlock_script_in(&lock, "run-b"), &[]).ok());
        assert!(sh.read("lock/owner").is_none());
    }

    #[test]
    fn a_fresh_lock_without_holders_is_held_for_the_grace_time() {
        let Some(sh) = host() else { return };
        std::fs::create_dir(sh.path("lock")).unwrap();
        let out = sh.run(&lock_script_in(&sh.path("lock"), "run-b"), &[]);
        assert_eq!(out.status, 73, "{out:?}");
        // A lock made long ago with no holders is stale.
        sh.stub_output("stat", 0, "1000\n");
        let out = sh.run(&lock_script_in(&sh.path("lock"), "run-b"), &[]);
        assert!(out.ok(), "{out:?}");
    }

    #[test]
    fn the_restore_script_names_its_snapshot_quoted() {
        assert!(restore_script("/var/x y").starts_with("#!/bin/sh\nS='/var/x y'\n# shellcheck"));
    }
}
