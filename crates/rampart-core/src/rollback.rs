//! The dead-man switch: before a change that can cut the operator off (sshd, the firewall,
//! iptables rules, sudoers), snapshot what it touches and arm a rollback on the host itself;
//! only a brand-new SSH connection that logs in and runs `sudo -n true` disarms it.
//!
//! The rollback is a transient systemd timer (a detached `sleep` where there is no systemd)
//! that restores the snapshot and reloads what it touched. It survives the loss of rampart's
//! connection, which is the point: a host that shut rampart out heals itself.
//!
//! Everything here builds shell code; the engine runs it.

use crate::shell::{SAFE_PATH_FNS, quote};

/// Where snapshots live on the host.
pub const ROLLBACK_DIR: &str = "/var/lib/rampart/rollback";

/// The snapshot directory of one armed change.
pub fn snapshot_dir(id: &str) -> String {
    format!("{ROLLBACK_DIR}/{id}")
}

/// Shell code that snapshots `paths`, writes the restore script and arms it to fire after
/// `delay_secs`. Prints `@@<marker> armed` when armed; fails (non-zero) otherwise, and then
/// nothing must be applied.
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
    let dir = format!("{root}/{id}");
    let d = quote(&dir);
    let mut s = String::new();
    s.push_str("(\nset -e\n");
    s.push_str(&format!(
        "umask 077\nmkdir -p {d}\n: > {d}/absent\n: > {d}/present\n"
    ));
    let mut ufw = false;
    let mut sshd = false;
    for p in paths {
        let q = quote(p);
        s.push_str(&format!("if [ -e {q} ] || [ -L {q} ]; then printf '%s\\n' {q} >> {d}/present; else printf '%s\\n' {q} >> {d}/absent; fi\n"));
        ufw |= p.starts_with("/etc/ufw") || p == "/etc/default/ufw";
        sshd |= p.starts_with("/etc/ssh/") || p.contains("ssh.socket");
    }
    // tar of the listed files only (no directories as members): restoring it never touches
    // the mode or owner of a parent directory, `/` included.
    s.push_str(&format!(
        "sed 's|^/||' {d}/present | tar -cpf {d}/files.tar -C / --no-recursion -T -\n"
    ));
    s.push_str(&format!("if command -v iptables-save >/dev/null; then iptables-save > {d}/iptables.v4 2>/dev/null || true; ip6tables-save > {d}/iptables.v6 2>/dev/null || true; fi\n"));
    if ufw {
        s.push_str(&format!("touch {d}/ufw\n"));
    }
    if sshd {
        s.push_str(&format!("touch {d}/sshd\n"));
    }
    s.push_str(&format!(
        "cat > {d}/restore.sh <<'RAMPART_EOF'\n{}RAMPART_EOF\n",
        restore_script(&dir)
    ));
    let unit = format!("rampart-rollback-{id}");
    s.push_str(&format!(
        "if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null; then\n  systemd-run --quiet --unit={unit} --on-active={delay_secs} --timer-property=AccuracySec=1s /bin/sh {d}/restore.sh\nelse\n  setsid nohup sh -c 'sleep {delay_secs}; [ -e {d}/restore.sh ] && sh {d}/restore.sh' >/dev/null 2>&1 < /dev/null &\n  echo $! > {d}/sleeper.pid\nfi\n"
    ));
    s.push_str(&format!(
        "echo {}\n) </dev/null 2>&1\n",
        quote(&format!("@@{marker} armed"))
    ));
    s
}

/// The script the timer runs: put every touched path back as it was, then make the services
/// read it again.
///
/// It first claims the snapshot (`mkdir claimed`, atomic): a disarm that claimed it first
/// wins, and this restore does nothing; once this restore has claimed it, a disarm waits for
/// it and reports the rollback. Each path is put back from inside its parent directory,
/// entered without following a link a user other than root could have planted
/// ([`SAFE_PATH_FNS`]); a path whose way is such a link is left alone and logged. `rm -f`
/// and tar's extraction never follow a link at the last component.
fn restore_script(dir: &str) -> String {
    let d = quote(dir);
    format!(
        r#"#!/bin/sh
# rampart dead-man switch: rampart could not confirm a change over a fresh connection in time.
S={d}
mkdir "$S/claimed" 2>/dev/null || exit 0
{fns}
rampart_skip() {{
  logger -t rampart "rollback: left $1 alone: its directory could not be entered safely" 2>/dev/null
  echo "rampart: rollback left $1 alone" >&2
}}
while IFS= read -r p; do
  [ -n "$p" ] || continue
  (rampart_cd "${{p%/*}}" && rm -f -- "./${{p##*/}}") || rampart_skip "$p"
done < "$S/absent"
while IFS= read -r p; do
  [ -n "$p" ] || continue
  n=0 r=${{p#/}}
  while :; do case $r in */*) r=${{r#*/}}; n=$((n + 1)) ;; *) break ;; esac; done
  (rampart_cd "${{p%/*}}" && tar -xpf "$S/files.tar" --strip-components="$n" -- "${{p#/}}") || rampart_skip "$p"
done < "$S/present"
if [ -e "$S/ufw" ]; then
  if grep -q '^ENABLED=yes' /etc/ufw/ufw.conf 2>/dev/null; then ufw --force enable; else ufw --force disable >/dev/null 2>&1 || ufw disable; fi
elif [ -e "$S/iptables.v4" ]; then
  iptables-restore < "$S/iptables.v4"; [ -s "$S/iptables.v6" ] && ip6tables-restore < "$S/iptables.v6"
fi
systemctl daemon-reload 2>/dev/null
if [ -e "$S/sshd" ]; then
  mkdir -p /run/sshd
  if systemctl is-active --quiet ssh.socket 2>/dev/null; then systemctl restart ssh.socket; fi
  systemctl reload ssh 2>/dev/null || systemctl reload sshd 2>/dev/null || systemctl restart ssh 2>/dev/null || systemctl restart sshd
fi
date -u +%Y-%m-%dT%H:%M:%SZ > "$S/rolled-back"
logger -t rampart "rolled back an unconfirmed change (snapshot $S)" 2>/dev/null
exit 0
"#,
        fns = SAFE_PATH_FNS.trim_end()
    )
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
    let d = quote(&format!("{root}/{id}")).into_owned();
    let unit = format!("rampart-rollback-{id}");
    format!(
        "{{\nif [ ! -d {d} ]; then echo {ok}; exit 0; fi\nif mkdir {d}/claimed 2>/dev/null; then\nsystemctl stop {unit}.timer >/dev/null 2>&1; systemctl reset-failed {unit}.service {unit}.timer >/dev/null 2>&1\nif [ -e {d}/sleeper.pid ]; then kill \"$(cat {d}/sleeper.pid)\" 2>/dev/null; fi\nrm -rf {d}\necho {ok}\nexit 0\nfi\nrampart_i=0\nwhile [ ! -e {d}/rolled-back ] && [ $rampart_i -lt {DISARM_WAIT_SECS} ]; do sleep 1; rampart_i=$((rampart_i + 1)); done\necho {late}\n}} </dev/null\n",
        late = quote(&format!("@@{marker} too-late")),
        ok = quote(&format!("@@{marker} disarmed")),
    )
}

/// Shell code that tells whether the rollback ran: prints `@@<marker> rolled-back <time>` or
/// `@@<marker> pending`.
pub fn status_script(id: &str, marker: &str) -> String {
    let d = quote(&snapshot_dir(id)).into_owned();
    format!(
        "if [ -e {d}/rolled-back ]; then echo \"@@{marker} rolled-back $(cat {d}/rolled-back)\"; else echo '@@{marker} pending'; fi\n"
    )
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
    let o = quote(owner);
    let l = quote(lock_dir);
    format!(
        r#"rampart_holders() {{
  awk -v p=$$ 'BEGIN {{ while (p > 1) {{ f = "/proc/" p "/stat"; if ((getline l < f) <= 0) exit; close(f)
    s = l; sub(/^.*\) /, "", s); split(s, a, " ")
    if (l ~ /^[0-9]+ \(sshd/) {{ print p, a[20]; exit }}
    p = a[2] }} }}' 2>/dev/null
  printf '%s %s\n' $$ "$(rampart_started $$)"
}}
rampart_started() {{
  awk '{{ sub(/^.*\) /, ""); print $20 }}' /proc/"$1"/stat 2>/dev/null
}}
rampart_alive() {{
  if [ -s {l}/holders ]; then
    while read -r hp hs; do
      [ "$(rampart_started "$hp")" = "$hs" ] && return 0
    done <{l}/holders
    return 1
  fi
  [ $(( $(date +%s) - $(stat -c %Y {l} 2>/dev/null || date +%s) )) -le {LOCK_GRACE_SECS} ]
}}
rampart_take() {{
  mkdir {l} 2>/dev/null && printf '%s\n' {o} > {l}/owner && rampart_holders >> {l}/holders
}}
rampart_lock() {{
  if rampart_take; then return 0; fi
  if [ "$(cat {l}/owner 2>/dev/null)" = {o} ]; then touch {l}/owner; rampart_holders >> {l}/holders; return 0; fi
  rampart_was=$(cat {l}/owner {l}/holders 2>/dev/null)
  if ! rampart_alive && mkdir {l}/takeover 2>/dev/null; then
    if [ "$(cat {l}/owner {l}/holders 2>/dev/null)" = "$rampart_was" ]; then
      echo "rampart: took over the host lock of an interrupted run ($(cat {l}/owner 2>/dev/null)): none of its processes runs any more" >&2
      mv -T {l} {l}.dead.$$ && rm -rf {l}.dead.$$
      if rampart_take; then return 0; fi
    else
      rmdir {l}/takeover 2>/dev/null
    fi
  fi
  age=$(( $(date +%s) - $(stat -c %Y {l}/owner 2>/dev/null || date +%s) ))
  echo "rampart: this host is locked by another rampart run ($(cat {l}/owner 2>/dev/null), last active ${{age}} s ago, still running on the host); wait for it to finish. The lock is released as soon as none of that run's processes runs on the host; remove {l} by hand only if you know it is gone" >&2
  return 1
}}
rampart_lock || exit 73
"#
    )
}

/// Shell code that releases the host lock if `owner` holds it.
pub fn unlock_script(owner: &str) -> String {
    unlock_script_in(LOCK_DIR, owner)
}

/// [`unlock_script`] with the lock at `lock_dir`.
#[doc(hidden)]
pub fn unlock_script_in(lock_dir: &str, owner: &str) -> String {
    let l = quote(lock_dir);
    format!(
        "if [ \"$(cat {l}/owner 2>/dev/null)\" = {} ]; then rm -rf {l}; fi\n",
        quote(owner)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_snapshots_every_path_and_schedules_a_restore() {
        let s = arm_script(
            "abc",
            &[
                "/etc/ssh/sshd_config.d/00-rampart.conf".into(),
                "/etc/ufw/user.rules".into(),
            ],
            30,
            "N",
        );
        assert!(s.contains("printf '%s\\n' /etc/ssh/sshd_config.d/00-rampart.conf >> /var/lib/rampart/rollback/abc/present"), "{s}");
        assert!(
            s.contains("tar -cpf /var/lib/rampart/rollback/abc/files.tar -C / --no-recursion -T -")
        );
        assert!(!s.contains("cp -a"));
        assert!(s.contains("touch /var/lib/rampart/rollback/abc/ufw"));
        assert!(s.contains("touch /var/lib/rampart/rollback/abc/sshd"));
        assert!(s.contains("--unit=rampart-rollback-abc --on-active=30"));
        assert!(s.contains("echo '@@N armed'"));
        assert!(s.contains("systemctl reload ssh"));
    }

    #[test]
    fn disarm_reports_a_rollback_that_already_fired() {
        let s = disarm_script("abc", "N");
        assert!(s.contains("@@N too-late"));
        assert!(s.contains("systemctl stop rampart-rollback-abc.timer"));
        assert!(s.contains("rm -rf /var/lib/rampart/rollback/abc"));
        assert!(s.contains("mkdir /var/lib/rampart/rollback/abc/claimed"));
    }
}
