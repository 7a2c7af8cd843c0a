//! From selected controls to the engine's resources. Kinds that share a file are aggregated
//! (one sysctl drop-in, one modprobe drop-in, one sshd drop-in), so a waived or excluded
//! control simply drops its lines.

use std::collections::{BTreeMap, BTreeSet};

use rampart_core::facts::{FactRequest, Facts};
use rampart_core::plan::Risk;
use rampart_core::resource::{
    AptUpdate, Command, Edit, File, Packages, Perms, Resource, Service, ServiceState, Sysctl,
    Validate, settable_here,
};
use rampart_core::role::Handler;
use rampart_core::shell::Script;
use rampart_core::template::Templates;

use crate::catalogue::{Control, parse_mode};

/// The aggregated kernel parameters.
pub const SYSCTL_FILE: &str = "/etc/sysctl.d/60-rampart-baseline.conf";
/// The aggregated module blacklist.
pub const MODPROBE_FILE: &str = "/etc/modprobe.d/60-rampart-baseline.conf";
/// The aggregated sshd settings.
pub const SSHD_FILE: &str = "/etc/ssh/sshd_config.d/10-rampart-baseline.conf";
/// Where command controls with `rerun = false` leave their stamp after their first run.
pub const STAMP_DIR: &str = "/var/lib/rampart/baseline";
/// The handler the sshd drop-in notifies.
pub const SSHD_HANDLER: &str = "reload sshd (baseline)";
/// The validation of the sshd drop-in, in place (the whole configuration).
const SSHD_VALIDATE: &str = "sshd -t";

const HEADER: &str = "# Managed by rampart (role baseline): local changes are overwritten.\n";

/// How to build: the variables (defaults merged with the site's) and whether command
/// controls run their checks in every probe.
#[derive(Debug)]
pub struct Options<'a> {
    /// Every variable, defaults included.
    pub vars: &'a serde_json::Value,
    /// `[baseline] deep = true`.
    pub deep: bool,
    /// The template engine.
    pub templates: &'a Templates,
}

/// The resources of a set of controls.
#[derive(Debug, Default)]
pub struct Built {
    /// In converge order.
    pub resources: Vec<Resource>,
    /// The handlers they may notify.
    pub sshd: bool,
    /// `reload` commands, deduplicated: (handler name, shell code).
    pub reloads: Vec<(String, String)>,
}

impl Built {
    /// The handler name of a `reload` command, registering it once.
    fn reload(&mut self, code: &str) -> String {
        let name = format!("baseline: {}", code.lines().next().unwrap_or_default());
        if !self.reloads.iter().any(|(n, _)| *n == name) {
            self.reloads.push((name.clone(), code.to_owned()));
        }
        name
    }

    /// Every handler the resources may notify: the sshd reload and the `reload` commands.
    pub fn handlers(&self, facts: &Facts) -> Vec<Handler> {
        let mut out = vec![sshd_handler(facts)];
        for (name, code) in &self.reloads {
            // A `reload` is the catalogue's own shell code (embedded in the binary, written as
            // code like an operator's): it runs as written.
            let mut script = Script::new();
            script.operator_code(code);
            out.push(Handler {
                name: name.clone(),
                script,
            });
        }
        out
    }
}

/// A resource's risk when it also restarts something: at least Service.
fn with_reload(risk: Risk, reload: Option<&String>) -> Risk {
    match (risk, reload) {
        (Risk::Low, Some(_)) => Risk::Service,
        (r, _) => r,
    }
}

/// Renders a template string with the variables, or returns it as is.
pub fn render(s: &str, o: &Options<'_>) -> Result<String, String> {
    if !s.contains("{{") && !s.contains("{%") {
        return Ok(s.to_owned());
    }
    o.templates
        .render_str(s, o.vars)
        .map_err(|e| format!("template `{s}`: {}", e.message))
}

/// Files that decide who gets in (PAM, sudo, sshd, the firewall, accounts): a change to one of
/// them is risk Access, so the preflight reads it and the dead-man switch guards it.
pub const ACCESS_PATHS: &[&str] = &[
    "/etc/pam.d/",
    "/etc/security/",
    "/etc/sudoers",
    "/etc/ssh/",
    "/etc/ufw/",
    "/etc/default/ufw",
    "/etc/hosts.allow",
    "/etc/hosts.deny",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/gshadow",
];

/// The risk of changing a file.
pub fn path_risk(path: &str) -> Risk {
    if ACCESS_PATHS.iter().any(|p| path.starts_with(p)) {
        Risk::Access
    } else {
        Risk::Low
    }
}

fn mode_or(s: Option<&str>, default: u32) -> u32 {
    s.and_then(parse_mode).unwrap_or(default)
}

/// The name of a command control's stamp file.
pub fn stamp(id: &str, i: usize) -> String {
    format!("{STAMP_DIR}/{id}.{i}.done")
}

/// Writes a command control's stamp: `stamp.sh DIR STAMP`.
const STAMP_SH: &str = include_str!("build/stamp.sh");

/// The script of a command control with `rerun = false`: its fix unless its check passes,
/// then its stamp (`stamp` in `stamp_dir`, [`STAMP_DIR`] on a host). The check and the fix are the catalogue's own shell code (embedded in the
/// binary, written as code like an operator's), so they go in as written
/// ([`Script::operator_code`]), between constant lines: the fix runs in the step's `set -e`
/// shell exactly as spliced code (through `eval` a failing `a && b` would stop the step).
pub fn fix_once(check: &str, fix: &str, stamp_dir: &str, stamp: &str) -> Script {
    let mut s = Script::new();
    s.raw("if ! (")
        .operator_code(check)
        .raw(") >/dev/null 2>&1; then")
        .operator_code(fix)
        .raw("fi")
        .call(STAMP_SH, [stamp_dir, stamp]);
    s
}

/// The resource name of a command control.
pub fn command_name(id: &str, i: usize) -> String {
    format!("baseline {id} #{i}")
}

fn allowed_modules(vars: &serde_json::Value) -> BTreeSet<String> {
    vars.get("allowed_modules")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|m| m.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Builds every resource. `facts` is `None` when only the fact request is wanted (every
/// resource a host could need); with facts, kernel parameters the host does not have (a
/// namespaced key in a container) are persisted in the file only.
pub fn build(
    controls: &[&Control],
    o: &Options<'_>,
    facts: Option<&Facts>,
) -> Result<Built, String> {
    let mut out = Built::default();
    let mut absent: BTreeSet<String> = BTreeSet::new();
    let mut present: BTreeSet<String> = BTreeSet::new();
    let mut sysctls: BTreeMap<String, String> = BTreeMap::new();
    let mut modules: BTreeSet<String> = BTreeSet::new();
    let mut sshd: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut edits = Vec::new();
    let mut files = Vec::new();
    let mut perms = Vec::new();
    let mut services = Vec::new();
    let mut commands = Vec::new();
    let allowed = allowed_modules(o.vars);
    for c in controls {
        let ctx = |e: String| format!("control {}: {e}", c.id);
        for p in &c.packages {
            absent.extend(p.absent.iter().cloned());
            present.extend(p.present.iter().cloned());
        }
        for (k, v) in c.sysctls() {
            sysctls.insert(k.clone(), render(&v.0, o).map_err(ctx)?);
        }
        modules.extend(c.modprobe.iter().filter(|m| !allowed.contains(*m)).cloned());
        for (k, v) in c.sshd_settings() {
            let value = render(&v.0, o).map_err(ctx)?;
            if value.contains('\n') {
                return Err(ctx(format!("sshd {k} renders to more than one line")));
            }
            sshd.insert(k.to_ascii_lowercase(), (k.clone(), value));
        }
        for (i, l) in c.line.iter().enumerate() {
            let line = render(&l.line, o).map_err(ctx)?;
            let mut e = Edit::line(&l.path, &format!("{}.{i}", c.id), &l.matches, &line);
            e.create_mode = mode_or(l.create_mode.as_deref(), 0o644);
            e.risk = with_reload(path_risk(&l.path), l.reload.as_ref());
            if let Some(code) = &l.reload {
                e.notify.push(out.reload(code));
            }
            edits.push(Resource::Edit(e));
        }
        for b in &c.block {
            let body = render(&b.body, o).map_err(ctx)?;
            let mut e = Edit::block(&b.path, &b.name, &body);
            e.create_mode = mode_or(b.create_mode.as_deref(), 0o644);
            e.risk = with_reload(path_risk(&b.path), b.reload.as_ref());
            if let Some(code) = &b.reload {
                e.notify.push(out.reload(code));
            }
            edits.push(Resource::Edit(e));
        }
        for f in &c.file {
            let r = match &f.content {
                None => File::absent(&f.path),
                Some(t) => {
                    let mut file = File::new(
                        &f.path,
                        render(t, o).map_err(ctx)?,
                        mode_or(f.mode.as_deref(), 0o644),
                    )
                    .owned_by(
                        f.owner.as_deref().unwrap_or("root"),
                        f.group.as_deref().unwrap_or("root"),
                    );
                    if let Some(v) = &f.validate {
                        file = file.validated(Validate::Temp(v.clone()));
                    }
                    file
                }
            };
            let mut r = r.risk(with_reload(path_risk(&f.path), f.reload.as_ref()));
            if let Some(code) = &f.reload {
                r = r.notifies(&out.reload(code));
            }
            files.push(Resource::File(r));
        }
        for p in &c.perms {
            perms.push(Resource::Perms(Perms {
                path: p.path.clone(),
                mode: p.mode.as_deref().and_then(parse_mode),
                max_mode: p.max_mode.as_deref().and_then(parse_mode),
                owner: p.owner.clone(),
                group: p.group.clone(),
            }));
        }
        for s in &c.service {
            services.push(Resource::Service(Service {
                name: s.name.clone(),
                enabled: s.enabled,
                state: s.running.map(|r| {
                    if r {
                        ServiceState::Started
                    } else {
                        ServiceState::Stopped
                    }
                }),
                masked: s.masked,
                risk: Risk::Service,
            }));
        }
        for (i, cmd) in c.command.iter().enumerate() {
            let Some(fix) = &cmd.fix else {
                // A check without a fix is an audit control only.
                continue;
            };
            let name = command_name(&c.id, i);
            commands.push(Resource::Command(if cmd.rerun || o.deep {
                // The catalogue's check and fix, as written (see `fix_once`).
                Command::unless(&name, fix, &cmd.check)
            } else {
                // Checked and fixed once, then never again on a no-change rerun: the stamp
                // is one more path in the probe's single `find`, not a process.
                let st = stamp(&c.id, i);
                Command {
                    creates: Some(st.clone()),
                    ..Command::decided(
                        &name,
                        fix_once(&cmd.check, fix, STAMP_DIR, &st).as_str(),
                        None,
                    )
                }
            }));
        }
    }
    if !absent.is_empty() {
        out.resources.push(Resource::Packages(Packages::absent(
            &absent.iter().collect::<Vec<_>>(),
        )));
    }
    if !present.is_empty() {
        // The lists are refreshed (within a day's window) only when a package is missing: a
        // converged host's rerun never runs apt.
        let missing = facts.is_none_or(|f| {
            present
                .iter()
                .any(|p| !f.packages.get(p).is_some_and(|s| s.installed))
        });
        if missing {
            out.resources
                .push(Resource::AptUpdate(AptUpdate { valid_secs: 86_400 }));
        }
        out.resources.push(Resource::Packages(Packages::present(
            &present.iter().collect::<Vec<_>>(),
        )));
    }
    // The sysctl drop-in and each live value.
    if sysctls.is_empty() {
        out.resources
            .push(Resource::File(File::absent(SYSCTL_FILE)));
    } else {
        let mut text = HEADER.to_owned();
        for (k, v) in &sysctls {
            text.push_str(&format!("{k} = {v}\n"));
        }
        out.resources
            .push(Resource::File(File::new(SYSCTL_FILE, text, 0o644)));
        for (k, v) in &sysctls {
            if !live(k, facts) {
                continue;
            }
            {
                out.resources.push(Resource::Sysctl(Sysctl {
                    key: k.clone(),
                    value: v.clone(),
                }));
            }
        }
    }
    if modules.is_empty() {
        out.resources
            .push(Resource::File(File::absent(MODPROBE_FILE)));
    } else {
        let mut text = HEADER.to_owned();
        for m in &modules {
            text.push_str(&format!("install {m} /bin/false\nblacklist {m}\n"));
        }
        out.resources
            .push(Resource::File(File::new(MODPROBE_FILE, text, 0o644)));
    }
    out.resources.extend(edits);
    out.resources.extend(files);
    out.resources.extend(perms);
    // sshd last among the files: validated in place with everything else in place.
    let sshd_file = if sshd.is_empty() {
        File::absent(SSHD_FILE)
    } else {
        let mut text = HEADER.to_owned();
        for (k, v) in sshd.values() {
            text.push_str(&format!("{k} {v}\n"));
        }
        File::new(SSHD_FILE, text, 0o644).validated(Validate::InPlace(SSHD_VALIDATE.into()))
    };
    out.sshd = true;
    out.resources.push(Resource::File(
        sshd_file.notifies(SSHD_HANDLER).risk(Risk::Access),
    ));
    out.resources.extend(services);
    out.resources.extend(commands);
    Ok(out)
}

/// Whether a kernel parameter is set live on this host: not when the host lacks it (a
/// namespaced key in a container), nor where core's rule says it is not the host's own (in a
/// container, a key outside the network namespace): then the file only.
pub fn live(key: &str, facts: Option<&Facts>) -> bool {
    let Some(f) = facts else {
        return true;
    };
    let missing = matches!(f.sysctls.get(key), Some(None));
    !missing && settable_here(key, f)
}

/// The file systemd-sysctl reads last at boot (as /etc/sysctl.d/99-sysctl.conf).
pub const SYSCTL_CONF: &str = "/etc/sysctl.conf";

/// The kernel parameters /etc/sysctl.conf gives another value than the baseline's: at the
/// next boot it is read after the baseline's drop-in, and would win.
pub fn overridden_at_boot(built: &Built, facts: &Facts) -> Vec<String> {
    let Some(text) = facts.files.get(SYSCTL_CONF).and_then(|f| f.text()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in &built.resources {
        let Resource::Sysctl(s) = r else { continue };
        let other = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#') && !l.starts_with(';'))
            .filter_map(|l| l.trim_start_matches('-').split_once('='))
            .filter(|(k, _)| k.trim().replace('/', ".") == s.key)
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .next_back();
        if let Some(v) = other
            && v != s.value.split_whitespace().collect::<Vec<_>>().join(" ")
        {
            out.push(format!("{} = {v} (the baseline sets {})", s.key, s.value));
        }
    }
    out
}

/// Adds the facts the controls' conditions read (`if_installed`, `if_exists`).
pub fn condition_facts(controls: &[&Control], req: &mut FactRequest) {
    for c in controls {
        req.packages.extend(c.if_installed.iter().cloned());
        req.stats.extend(c.if_exists.iter().cloned());
    }
}

/// Adds what the resources and the sshd handler read.
pub fn facts(built: &Built, req: &mut FactRequest) {
    for r in &built.resources {
        r.facts(req);
    }
    if built
        .resources
        .iter()
        .any(|r| matches!(r, Resource::Sysctl(_)))
    {
        req.file(SYSCTL_CONF);
    }
    // The preflight judges the drop-in against the effective configuration (`sshd -T`, which
    // the fact cache answers on a rerun while no sshd file changed).
    if built
        .resources
        .iter()
        .any(|r| matches!(r, Resource::File(f) if f.path == SSHD_FILE && f.content.is_some()))
    {
        req.sshd_effective = true;
    }
    if built.sshd {
        req.units
            .extend(["ssh", "sshd", "ssh.socket"].into_iter().map(str::to_owned));
    }
}

/// The sshd reload after the drop-in changed: as the sshd role does it (socket activation on
/// Ubuntu 24.04 regenerates the socket; otherwise a reload, waiting until sshd listens again).
pub fn sshd_handler(facts: &Facts) -> Handler {
    Handler {
        name: SSHD_HANDLER.into(),
        script: rampart_core::sshd::reload_script(facts, rampart_core::sshd::unit(facts)),
    }
}
