//! One audit control per catalogue control (id = the control's id): a read-only shell check
//! that holds exactly when the control's resources would plan nothing on the host (the same
//! comparisons: the live value and the line in the aggregated file, a file's hash and
//! attributes, a package's state, a unit's state), or, for command controls, its check.
//! Waived controls pass with the waiver as evidence; an expired waiver fails.
//!
//! The shell is constant: each kind's comparisons are functions in `audit/*.sh`, sent once in
//! a check that uses them (their comment lines stripped), and the check calls them with the
//! control's values as quoted arguments ([`Script::cmd`]); nothing is formatted into shell
//! text. A command control's `check` is the catalogue's own shell code (embedded in the
//! binary, written as code like an operator's): `baseline_command` runs it as written.

use rampart_core::shell::Script;
use rampart_core::verify::{Check, Expect, check_command};

use crate::build::{MODPROBE_FILE, Options, SSHD_FILE, SYSCTL_FILE, render};
use crate::catalogue::{Control, Os, catalogue, parse_mode};
use crate::{Baseline, Waiver};

/// The checks of a configured baseline: every control of its profile, on every release
/// (each check says "not applicable" on a release the control does not cover).
pub fn checks(b: &Baseline, o: &Options<'_>) -> Vec<Check> {
    catalogue()
        .select(b.profile, None)
        .into_iter()
        .map(|c| match b.waiver_for(&c.id) {
            Some(w) => waived_check(c, w, b.expired(w)),
            None => check(c, o),
        })
        .collect()
}

/// The check of a waived control: its waiver as evidence, failing once expired.
const WAIVED: &str = include_str!("audit/waived.sh");
const EXPIRED: &str = include_str!("audit/expired.sh");

fn waived_check(c: &Control, w: &Waiver, expired: bool) -> Check {
    let script = if expired { EXPIRED } else { WAIVED };
    Check {
        fact: None,
        id: c.id.clone(),
        title: format!("{} [waived]", c.title),
        command: check_command(script, &[&w.reason, &w.by, &w.expires]),
        expect: Expect::Success,
    }
}

/// `f=0`: no FAIL yet.
const START: &str = include_str!("audit/start.sh");
/// `ok` unless a FAIL.
const END: &str = include_str!("audit/end.sh");
/// `baseline_os PATTERN...`.
const OS: &str = include_str!("audit/os.sh");
/// Passes, not applicable, inside a container.
const NOT_IN_CONTAINER: &str = include_str!("audit/not_in_container.sh");
/// `baseline_if_installed`, `baseline_installed`, `baseline_not_installed` PACKAGE.
const PACKAGES: &str = include_str!("audit/packages.sh");
/// `baseline_if_exists PATH`.
const IF_EXISTS: &str = include_str!("audit/if_exists.sh");
/// `baseline_sysctl KEY VALUE PROC_PATH SCOPE FILE`.
const SYSCTL: &str = include_str!("audit/sysctl.sh");
/// `baseline_modprobe MODULE FILE`.
const MODPROBE: &str = include_str!("audit/modprobe.sh");
/// Reads `sshd -T`; `baseline_sshd`, `baseline_sshd_removed`.
const SSHD: &str = include_str!("audit/sshd.sh");
/// `baseline_line PATH MATCH LINE`.
const LINE: &str = include_str!("audit/line.sh");
/// `baseline_block PATH NAME LINE...`.
const BLOCK: &str = include_str!("audit/block.sh");
/// `baseline_file PATH SHA256 "MODE OWNER GROUP"`, `baseline_absent PATH`.
const FILE: &str = include_str!("audit/file.sh");
/// `baseline_perms PATH MODE MAX_MODE OWNER GROUP`.
const PERMS: &str = include_str!("audit/perms.sh");
/// `baseline_unit_is UNIT STATE yes|no`, `baseline_active UNIT yes|no`.
const SERVICE: &str = include_str!("audit/service.sh");
/// `baseline_command CHECK`.
const COMMAND: &str = include_str!("audit/command.sh");

/// A check's script: each kind's functions sent once, before their first call.
struct Calls {
    script: Script,
    sent: Vec<&'static str>,
}

impl Calls {
    /// Calls a function of `lib` with `args`, each quoted.
    fn call<S: AsRef<str>>(&mut self, lib: &'static str, args: impl IntoIterator<Item = S>) {
        if !self.sent.contains(&lib) {
            self.sent.push(lib);
            self.script.source(lib);
        }
        self.script.cmd(args);
    }
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The check of one control.
pub fn check(c: &Control, o: &Options<'_>) -> Check {
    let mut s = Calls {
        script: Script::new(),
        sent: Vec::new(),
    };
    s.script.source(START);
    if c.os.len() < Os::ALL.len() {
        let mut args = vec!["baseline_os"];
        args.extend(c.os.iter().map(|os| match os {
            Os::Ubuntu2404 => "ubuntu-24.04",
            Os::Debian12 => "debian-12*",
            Os::Debian13 => "debian-13*",
        }));
        s.call(OS, args);
    }
    if !c.container {
        s.script.source(NOT_IN_CONTAINER);
    }
    for p in &c.if_installed {
        s.call(PACKAGES, ["baseline_if_installed", p]);
    }
    for p in &c.if_exists {
        s.call(IF_EXISTS, ["baseline_if_exists", p]);
    }
    let allowed: Vec<String> = o
        .vars
        .get("allowed_modules")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for (k, v) in c.sysctls() {
        let v = render(&v.0, o).unwrap_or_else(|e| e);
        let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
        let proc_path = ["/proc/sys/", &k.replace('.', "/")].concat();
        // As the build decides: inside a container only net.* is the host's own (a lab host's
        // /proc/sys is not mounted read-only, but writes to kernel-wide keys are refused).
        let scope = if rampart_core::resource::in_network_namespace(k) {
            "net"
        } else {
            "kernel"
        };
        s.call(
            SYSCTL,
            ["baseline_sysctl", k, &v, &proc_path, scope, SYSCTL_FILE],
        );
    }
    for m in c.modprobe.iter().filter(|m| !allowed.contains(m)) {
        s.call(MODPROBE, ["baseline_modprobe", m, MODPROBE_FILE]);
    }
    for (k, v) in c.sshd_settings() {
        let v = render(&v.0, o).unwrap_or_else(|e| e);
        let lk = k.to_ascii_lowercase();
        let mut args = vec![SSHD_FILE, k, &lk, &v];
        if let Some(removed) = v.strip_prefix('-') {
            // A removal list ("-a,b"): sshd -T offers none of them.
            args.insert(0, "baseline_sshd_removed");
            args.extend(removed.split(','));
        } else {
            args.insert(0, "baseline_sshd");
        }
        s.call(SSHD, args);
    }
    for l in &c.line {
        let line = render(&l.line, o).unwrap_or_else(|e| e);
        s.call(LINE, ["baseline_line", &l.path, &l.matches, &line]);
    }
    for b in &c.block {
        let body = render(&b.body, o).unwrap_or_else(|e| e);
        let mut args = vec!["baseline_block", &b.path, &b.name];
        args.extend(body.lines().filter(|l| !l.is_empty()));
        s.call(BLOCK, args);
    }
    for f in &c.file {
        match &f.content {
            None => s.call(FILE, ["baseline_absent", &f.path]),
            Some(t) => {
                let text = render(t, o).unwrap_or_else(|e| e);
                let sha = rampart_core::facts::sha256_hex(text.as_bytes());
                let mode = f.mode.as_deref().and_then(parse_mode).unwrap_or(0o644);
                let want = [
                    format!("{mode:o}").as_str(),
                    f.owner.as_deref().unwrap_or("root"),
                    f.group.as_deref().unwrap_or("root"),
                ]
                .join(" ");
                s.call(FILE, ["baseline_file", &f.path, &sha, &want]);
            }
        }
    }
    for pm in &c.perms {
        let octal = |m: Option<&str>| {
            m.and_then(parse_mode)
                .map(|m| format!("{m:o}"))
                .unwrap_or_default()
        };
        s.call(
            PERMS,
            [
                "baseline_perms",
                &pm.path,
                &octal(pm.mode.as_deref()),
                &octal(pm.max_mode.as_deref()),
                pm.owner.as_deref().unwrap_or_default(),
                pm.group.as_deref().unwrap_or_default(),
            ],
        );
    }
    for pk in &c.packages {
        for n in &pk.present {
            s.call(PACKAGES, ["baseline_installed", n]);
        }
        for n in &pk.absent {
            s.call(PACKAGES, ["baseline_not_installed", n]);
        }
    }
    for sv in &c.service {
        if let Some(m) = sv.masked {
            s.call(SERVICE, ["baseline_unit_is", &sv.name, "masked", yes(m)]);
        }
        if let Some(e) = sv.enabled {
            s.call(SERVICE, ["baseline_unit_is", &sv.name, "enabled", yes(e)]);
        }
        if let Some(r) = sv.running {
            s.call(SERVICE, ["baseline_active", &sv.name, yes(r)]);
        }
    }
    for cmd in &c.command {
        // The catalogue's code, as a quoted argument: `baseline_command` runs it as written.
        s.call(COMMAND, ["baseline_command", &cmd.check]);
    }
    s.script.source(END);
    Check {
        fact: None,
        id: c.id.clone(),
        title: c.title.clone(),
        command: s.script.as_str().to_owned(),
        expect: Expect::Line("ok".into()),
    }
}

#[cfg(test)]
mod tests;
