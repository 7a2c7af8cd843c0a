//! Role fixtures: facts in, changes and scripts out, as data files.
//!
//! A role's `fixtures/` directory holds one `NAME.json` per case and its golden `NAME.out`.
//! The JSON gives the role's configuration and what the host has on top of a fresh lab host
//! ([`super::fresh_lab_facts`]); the runner plans the role against it (with every invariant
//! check of [`super::plan_checked`]) and compares with `NAME.out`, in text: each change it
//! would make (id, summary, risk, handlers notified; the script of a guarded command, the diff
//! of any other resource, whose script core owns and tests) and each handler's script.
//! Unless the case says `"converges": false`, the idempotence property holds too.
//!
//! `RAMPART_BLESS=1 cargo test -p rampart-role-NAME fixtures` writes the `.out` files from what
//! the role plans now: review their diff like code.
//!
//! ```json
//! {
//!   "about": "what the case shows",
//!   "config": { "maxretry": 3 },
//!   "secrets": { "redis/admin": "..." },
//!   "connect_user": "root",
//!   "host": { "os_id": "ubuntu", "os_version_id": "24.04", "os_codename": "noble",
//!             "has_auth_log": true, "virt": "none", "default_iface": "ens3" },
//!   "files": { "/etc/x.conf": { "text": "a\n", "mode": "0644", "owner": "root" },
//!              "/etc/gone": null },
//!   "packages": { "fail2ban": "1.0.2-2" },
//!   "units": { "fail2ban": "active" },
//!   "sysctls": { "vm.swappiness": "60" },
//!   "commands": { "unless:start x": { "rc": 0, "output": "" } },
//!   "refused": "a text the role's refusal must contain (then nothing else is compared)"
//! }
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use crate::facts::{CommandResult, Facts, FileState, PackageState, UnitState};
use crate::plan::Change;
use crate::role::Role;
use crate::secret::Secret;

/// One case, as its JSON file says it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    /// What the case shows (for the golden file's header).
    about: String,
    /// The role's configuration.
    #[serde(default)]
    config: serde_json::Value,
    /// Secrets by name.
    #[serde(default)]
    secrets: BTreeMap<String, String>,
    /// The user rampart connects as (default root).
    #[serde(default)]
    connect_user: Option<String>,
    /// Host basics over the lab host's.
    #[serde(default)]
    host: BTreeMap<String, serde_json::Value>,
    /// Files by path: a text file, or `null` for absent.
    #[serde(default)]
    files: BTreeMap<String, Option<FileFixture>>,
    /// Installed packages and their version.
    #[serde(default)]
    packages: BTreeMap<String, String>,
    /// Loaded units and their active state.
    #[serde(default)]
    units: BTreeMap<String, String>,
    /// Live sysctl values (`null`: the key does not exist).
    #[serde(default)]
    sysctls: BTreeMap<String, Option<String>>,
    /// Results of the role's read-only commands and guards, by fact id.
    #[serde(default)]
    commands: BTreeMap<String, CommandResult0>,
    /// The role must refuse to plan with an error containing this.
    #[serde(default)]
    refused: Option<String>,
    /// Whether to check the idempotence property (default true).
    #[serde(default = "yes")]
    converges: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFixture {
    text: String,
    #[serde(default = "mode_644")]
    mode: String,
    #[serde(default = "root")]
    owner: String,
    #[serde(default)]
    group: Option<String>,
}

fn mode_644() -> String {
    "0644".into()
}

fn root() -> String {
    "root".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandResult0 {
    rc: i32,
    #[serde(default)]
    output: String,
}

impl Fixture {
    /// The facts of a fresh lab host for this role's request, with the case's on top.
    fn facts(&self, configured: &dyn crate::role::Configured) -> Result<Facts, String> {
        let mut f = super::fresh_lab_facts(configured);
        let mut host = serde_json::to_value(&f.host).map_err(|e| e.to_string())?;
        for (k, v) in &self.host {
            let Some(slot) = host.get_mut(k) else {
                return Err(format!("host.{k}: no such host fact"));
            };
            *slot = v.clone();
        }
        apply_host(&mut f.host, &host)?;
        for (path, file) in &self.files {
            let state = match file {
                None => FileState::Absent,
                Some(file) => {
                    let mode = u32::from_str_radix(&file.mode, 8)
                        .map_err(|e| format!("files.{path}.mode: {e}"))?;
                    let mut s = super::text_file(&file.text, mode, &file.owner);
                    if let (FileState::File { group, .. }, Some(g)) = (&mut s, &file.group) {
                        group.clone_from(g);
                    }
                    s
                }
            };
            f.files.insert(path.clone(), state);
        }
        for (name, version) in &self.packages {
            f.packages.insert(
                name.clone(),
                PackageState {
                    installed: true,
                    version: version.clone(),
                    status: "ii".into(),
                },
            );
        }
        for (name, active) in &self.units {
            f.units.insert(
                name.clone(),
                UnitState {
                    load_state: "loaded".into(),
                    active_state: active.clone(),
                    sub_state: if active == "active" {
                        "running"
                    } else {
                        "dead"
                    }
                    .into(),
                    unit_file_state: "enabled".into(),
                    need_daemon_reload: false,
                    props: Default::default(),
                },
            );
        }
        for (k, v) in &self.sysctls {
            f.sysctls.insert(k.clone(), v.clone());
        }
        for (id, r) in &self.commands {
            f.commands.insert(
                id.clone(),
                CommandResult {
                    rc: r.rc,
                    output: r.output.clone(),
                },
            );
        }
        Ok(f)
    }
}

/// Sets the host basics from their JSON form (HostInfo is not `Deserialize`: field by field).
fn apply_host(h: &mut crate::facts::HostInfo, v: &serde_json::Value) -> Result<(), String> {
    let s = |k: &str| v[k].as_str().map(str::to_owned).unwrap_or_default();
    let opt = |k: &str| v[k].as_str().map(str::to_owned);
    h.os_id = s("os_id");
    h.os_version_id = s("os_version_id");
    h.os_codename = s("os_codename");
    h.os_pretty = s("os_pretty");
    h.hostname = s("hostname");
    h.kernel = s("kernel");
    h.arch = s("arch");
    h.virt = s("virt");
    h.default_iface = opt("default_iface");
    h.default_iface6 = opt("default_iface6");
    h.has_auth_log = v["has_auth_log"].as_bool().unwrap_or(false);
    h.systemd = v["systemd"].as_bool().unwrap_or(true);
    if v["ssh_connection"].is_null() {
        h.ssh_connection = None;
    }
    Ok(())
}

/// What the role plans for one case, as the golden file has it.
fn render(role: &dyn Role, name: &str, fx: &Fixture) -> Result<String, String> {
    let configured = role
        .configure(fx.config.clone())
        .map_err(|e| format!("config: {e}"))?;
    let facts = fx.facts(configured.as_ref())?;
    let secrets: BTreeMap<String, Secret> = fx
        .secrets
        .iter()
        .map(|(k, v)| (k.clone(), Secret::new(v.clone())))
        .collect();
    let user = fx.connect_user.as_deref().unwrap_or("root");
    let mut out = format!(
        "# {name}: {}\n# written by RAMPART_BLESS=1 cargo test -p rampart-role-{} fixtures\n",
        fx.about,
        role.name()
    );
    if let Some(want) = &fx.refused {
        return match super::try_plan(configured.as_ref(), &facts, &secrets, user) {
            Err(e) if e.0.contains(want.as_str()) => {
                let _ = writeln!(out, "refused: {}", e.0);
                Ok(out)
            }
            Err(e) => Err(format!("refused, but not with `{want}`: {}", e.0)),
            Ok(_) => Err(format!("planned, but must be refused with `{want}`")),
        };
    }
    let planned = super::plan_checked(configured.as_ref(), &facts, &secrets, user);
    for item in &planned.items {
        match &item.change {
            Ok(Change::Apply(a)) => {
                let _ = writeln!(
                    out,
                    "\n== change {}: {} (risk {:?}{})",
                    item.resource.id(),
                    a.summary,
                    a.risk,
                    if a.notify.is_empty() {
                        String::new()
                    } else {
                        format!(", notifies {}", a.notify.join(", "))
                    }
                );
                // The role's own shell (guarded commands) verbatim; for the other resources,
                // whose scripts core owns and tests, what changes: the diff.
                let id = item.resource.id();
                if id.starts_with("command:") {
                    out.push_str(a.script.as_str());
                } else {
                    let diff = a.diff.render();
                    out.push_str(&diff);
                    if !diff.is_empty() && !diff.ends_with('\n') {
                        out.push('\n');
                    }
                }
            }
            Ok(_) => {
                let _ = writeln!(out, "\n== ok {}", item.resource.id());
            }
            Err(e) => return Err(format!("{}: {e}", item.resource.id())),
        }
    }
    for h in &planned.handlers {
        let _ = writeln!(out, "\n== handler {}", h.name);
        out.push_str(h.script.as_str());
    }
    if fx.converges {
        super::assert_converges(configured.as_ref(), facts, &secrets, user);
    }
    Ok(out)
}

/// Runs every fixture in `dir` (`*.json` with its golden `*.out`) against `role`; panics with
/// every case that differs. With `RAMPART_BLESS=1` it writes the `.out` files instead.
pub fn run_fixtures(role: &dyn Role, dir: impl AsRef<Path>) {
    let dir = dir.as_ref();
    let bless = std::env::var_os("RAMPART_BLESS").is_some_and(|v| v == "1");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".json").map(str::to_owned)
        })
        .collect();
    names.sort();
    assert!(!names.is_empty(), "{}: no fixtures", dir.display());
    let mut failures = Vec::new();
    for name in &names {
        let json = dir.join(format!("{name}.json"));
        let golden = dir.join(format!("{name}.out"));
        let text =
            std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("{}: {e}", json.display()));
        let fx: Fixture = match serde_json::from_str(&text) {
            Ok(fx) => fx,
            Err(e) => {
                failures.push(format!("{}: {e}", json.display()));
                continue;
            }
        };
        let got = match render(role, name, &fx) {
            Ok(got) => got,
            Err(e) => {
                failures.push(format!("{}: {e}", json.display()));
                continue;
            }
        };
        if bless {
            std::fs::write(&golden, &got).unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if want != got {
            let diff = similar_lines(&want, &got);
            failures.push(format!(
                "{} differs from what the role plans now (RAMPART_BLESS=1 rewrites it):\n{diff}",
                golden.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A unified diff of the golden text (`-`) and what the role plans now (`+`).
fn similar_lines(want: &str, got: &str) -> String {
    similar::TextDiff::from_lines(want, got)
        .unified_diff()
        .context_radius(3)
        .to_string()
}
