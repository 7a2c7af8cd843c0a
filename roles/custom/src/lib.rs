//! The `custom` role: the operator's own files, directories, kernel parameters, packages,
//! services, lines and (as a last resort) guarded commands, declared in the site file.
//!
//! It is also what the engine's own tests converge. Every entry is validated when the site
//! is loaded (absolute paths, modes, names, one of `content` / `template`), so a typo fails
//! before anything is sent to a host.
//!
//! Resources converge in this order: directories and files under /etc/apt (a source written
//! there refreshes the apt lists at once), apt lists, packages, removed packages, the other
//! directories and files, lines, sysctls, commands, services; then the handlers (`systemctl daemon-reload`
//! when a unit file changed, then `systemctl try-restart` of each unit named in `restart`).

mod mode;

use std::collections::{BTreeMap, BTreeSet};

pub use mode::Mode;
use rampart_core::facts::FactRequest;
use rampart_core::resource::{
    AptUpdate, Command, Directory, Edit, File, Packages, Resource, Service, ServiceState, Sysctl,
    Validate,
};
use rampart_core::role::{
    ConfigError, Configured, Handler, HostContext, Role, RoleError, RolePlan, TemplateUse,
    TypedRole,
};
use rampart_core::shell::Script;
use rampart_core::verify::{Check, Expect, check_command};
use serde::{Deserialize, Serialize};

/// The handler that reloads systemd's view of unit files.
pub const DAEMON_RELOAD: &str = "systemd daemon-reload";

/// The `&str`s of owned values, for [`check_command`].
fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The `custom.paths` check: each path's mode and owner, or whether it exists.
const PATHS_SH: &str = include_str!("checks/paths.sh");
/// The `custom.lines` check: each managed line there exactly once.
const LINES_SH: &str = include_str!("checks/lines.sh");
/// The `custom.sysctls` check: each kernel parameter's live value.
const SYSCTLS_SH: &str = include_str!("checks/sysctls.sh");
/// The `custom.services` check: each unit enabled or not, running or not.
const SERVICES_SH: &str = include_str!("checks/services.sh");

/// Whether a file should exist.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    /// The file exists with the given content.
    #[default]
    Present,
    /// The file does not exist.
    Absent,
}

/// A whole file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Absolute path.
    pub path: String,
    /// Literal content (exclusive with `template`).
    #[serde(default)]
    pub content: Option<String>,
    /// A template name, from the shipped templates or the site's `templates` directory
    /// (`"motd.j2"`), rendered with the host's variables, `inventory_hostname`, `host` (the
    /// host's facts) and `vars`.
    #[serde(default)]
    pub template: Option<String>,
    /// Variables for the template, over the host's own.
    #[serde(default)]
    pub vars: serde_json::Map<String, serde_json::Value>,
    /// Permission bits: `"0644"` or `644` (octal digits either way). Default 0644.
    #[serde(default = "Mode::file_default")]
    pub mode: Mode,
    /// Owner. Default root.
    #[serde(default = "root")]
    pub owner: String,
    /// Group. Default root.
    #[serde(default = "root")]
    pub group: String,
    /// A command that checks the new content before it is installed; `%s` is its temporary
    /// path (`"visudo -cf %s"`).
    #[serde(default)]
    pub validate: Option<String>,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub state: FileState,
    /// The content holds secrets: diffs are redacted, and templates also see `secrets` (the
    /// run's decrypted secrets by name).
    #[serde(default)]
    pub sensitive: bool,
    /// Units to `systemctl try-restart` when the file changes.
    #[serde(default)]
    pub restart: Vec<String>,
}

/// A directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryEntry {
    /// Absolute path.
    pub path: String,
    /// Permission bits; default 0755.
    #[serde(default = "Mode::dir_default")]
    pub mode: Mode,
    /// Owner. Default root.
    #[serde(default = "root")]
    pub owner: String,
    /// Group. Default root.
    #[serde(default = "root")]
    pub group: String,
}

/// Whether a unit should run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Running.
    Started,
    /// Not running.
    Stopped,
}

/// A systemd unit's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceEntry {
    /// Unit name (`nginx`, `ssh.socket`).
    pub name: String,
    /// Start at boot; unset leaves it as it is.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `started` or `stopped`; unset leaves it as it is.
    #[serde(default)]
    pub state: Option<RunState>,
}

/// One line in a file the host otherwise owns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineEntry {
    /// Absolute path (created 0644 root:root if missing).
    pub path: String,
    /// Lines starting with this text are the line; all but one are removed.
    #[serde(rename = "match")]
    pub matches: String,
    /// The line that must be there.
    pub line: String,
    /// Units to `systemctl try-restart` when the line changes.
    #[serde(default)]
    pub restart: Vec<String>,
}

/// A guarded shell command: the last resort.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandEntry {
    /// A unique name (shown in reports).
    pub name: String,
    /// Shell code, run as root.
    pub run: String,
    /// Skip when this path exists.
    #[serde(default)]
    pub creates: Option<String>,
    /// Skip when this read-only shell check exits 0 (it runs with the facts).
    #[serde(default)]
    pub unless: Option<String>,
}

fn root() -> String {
    "root".to_owned()
}

/// The role's settings. Everything is empty by default: the role does nothing unless told.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Whole files.
    pub files: Vec<FileEntry>,
    /// Directories.
    pub directories: Vec<DirectoryEntry>,
    /// Kernel parameters (`"net.core.somaxconn" = 1024`): set live and persisted in
    /// `sysctl_file`.
    pub sysctls: BTreeMap<String, serde_json::Value>,
    /// Where `sysctls` persist (a `.conf` file under /etc/sysctl.d).
    pub sysctl_file: String,
    /// Debian packages to install.
    pub packages: Vec<String>,
    /// Debian packages to remove.
    pub absent_packages: Vec<String>,
    /// Refresh the apt lists before installing when they are older than this (seconds).
    pub apt_cache_valid_secs: u64,
    /// systemd units.
    pub services: Vec<ServiceEntry>,
    /// Single lines in files the host owns.
    pub lines: Vec<LineEntry>,
    /// Guarded commands.
    pub commands: Vec<CommandEntry>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            files: Vec::new(),
            directories: Vec::new(),
            sysctls: BTreeMap::new(),
            sysctl_file: "/etc/sysctl.d/90-rampart.conf".into(),
            packages: Vec::new(),
            absent_packages: Vec::new(),
            apt_cache_valid_secs: 86_400,
            services: Vec::new(),
            lines: Vec::new(),
            commands: Vec::new(),
        }
    }
}

/// The role, for the registry.
pub fn role() -> Box<dyn Role> {
    TypedRole::<Config>::new(
        "custom",
        "the operator's own files, directories, sysctls, packages, services, lines and guarded commands",
    )
    .validated(Config::validate)
    .boxed()
}

/// An absolute path without `..`, empty components, a trailing slash or control characters.
fn check_path(path: &str, p: &str) -> Result<(), ConfigError> {
    let ok = p.starts_with('/')
        && p.len() > 1
        && !p.ends_with('/')
        && p[1..]
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
        && !p.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(ConfigError::at(
            path,
            format!(
                "`{p}` must be an absolute path (no `..`, `//`, trailing `/` or control characters)"
            ),
        ))
    }
}

fn check_account(path: &str, name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::at(
            path,
            format!("`{name}` is not a user or group name"),
        ))
    }
}

fn check_unit(path: &str, name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@_.:-\\".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::at(
            path,
            format!("`{name}` is not a systemd unit name"),
        ))
    }
}

fn one_line(path: &str, what: &str, v: &str) -> Result<(), ConfigError> {
    if v.contains('\n') || v.contains('\r') {
        Err(ConfigError::at(
            path,
            format!("{what} must be a single line"),
        ))
    } else {
        Ok(())
    }
}

/// The value of a sysctl as written in the site file: a string or an integer.
fn sysctl_value(path: &str, v: &serde_json::Value) -> Result<String, ConfigError> {
    let s = match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        other => {
            return Err(ConfigError::at(
                path,
                format!("`{other}`: a sysctl value is a string or an integer"),
            ));
        }
    };
    if s.trim().is_empty() || s.contains(['\n', '\r']) {
        return Err(ConfigError::at(
            path,
            "a sysctl value is a non-empty single line",
        ));
    }
    Ok(rampart_core::facts::normalize_sysctl(&s))
}

fn valid_sysctl_key(k: &str) -> bool {
    k.split('.').count() >= 2
        && k.split('.').all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

fn valid_package(p: &str) -> bool {
    p.len() >= 2
        && p.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && p.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+.-".contains(&b))
}

impl Config {
    /// Checks every entry; the error names the first offending field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut paths: BTreeMap<&str, String> = BTreeMap::new();
        for (i, f) in self.files.iter().enumerate() {
            let at = format!("files[{i}]");
            check_path(&format!("{at}.path"), &f.path)?;
            if let Some(prev) = paths.insert(&f.path, at.clone()) {
                return Err(ConfigError::at(
                    format!("{at}.path"),
                    format!("`{}` is already managed by {prev}", f.path),
                ));
            }
            match (f.state, &f.content, &f.template) {
                (FileState::Present, Some(_), Some(_)) => {
                    return Err(ConfigError::at(
                        &at,
                        "give `content` or `template`, not both",
                    ));
                }
                (FileState::Present, None, None) => {
                    return Err(ConfigError::at(
                        &at,
                        "give `content` or `template` (or `state = \"absent\"`)",
                    ));
                }
                (FileState::Absent, c, t) if c.is_some() || t.is_some() || f.validate.is_some() => {
                    return Err(ConfigError::at(
                        &at,
                        "an absent file has no `content`, `template` or `validate`",
                    ));
                }
                _ => {}
            }
            if !f.vars.is_empty() && f.template.is_none() {
                return Err(ConfigError::at(
                    format!("{at}.vars"),
                    "`vars` only feed a `template`",
                ));
            }
            if let Some(t) = &f.template
                && (t.is_empty() || t.starts_with('/') || t.split('/').any(|c| c == ".."))
            {
                return Err(ConfigError::at(
                    format!("{at}.template"),
                    format!("`{t}` is a template name relative to the templates directory"),
                ));
            }
            check_account(&format!("{at}.owner"), &f.owner)?;
            check_account(&format!("{at}.group"), &f.group)?;
            if let Some(v) = &f.validate
                && !v.contains("%s")
            {
                return Err(ConfigError::at(
                    format!("{at}.validate"),
                    format!("`{v}` must contain `%s`, the path of the new content"),
                ));
            }
            for (j, u) in f.restart.iter().enumerate() {
                check_unit(&format!("{at}.restart[{j}]"), u)?;
            }
        }
        for (i, d) in self.directories.iter().enumerate() {
            let at = format!("directories[{i}]");
            check_path(&format!("{at}.path"), &d.path)?;
            if let Some(prev) = paths.insert(&d.path, at.clone()) {
                return Err(ConfigError::at(
                    format!("{at}.path"),
                    format!("`{}` is already managed by {prev}", d.path),
                ));
            }
            check_account(&format!("{at}.owner"), &d.owner)?;
            check_account(&format!("{at}.group"), &d.group)?;
        }
        let mut line_keys = BTreeSet::new();
        for (i, l) in self.lines.iter().enumerate() {
            let at = format!("lines[{i}]");
            check_path(&format!("{at}.path"), &l.path)?;
            if let Some(prev) = paths.get(l.path.as_str()) {
                return Err(ConfigError::at(
                    format!("{at}.path"),
                    format!(
                        "`{}` is a whole file of {prev}: put the line in its content",
                        l.path
                    ),
                ));
            }
            if l.matches.is_empty() {
                return Err(ConfigError::at(
                    format!("{at}.match"),
                    "an empty `match` would match every line",
                ));
            }
            one_line(&format!("{at}.match"), "`match`", &l.matches)?;
            one_line(&format!("{at}.line"), "`line`", &l.line)?;
            if !line_keys.insert((l.path.as_str(), l.matches.as_str())) {
                return Err(ConfigError::at(
                    format!("{at}.match"),
                    format!("`{}` in {} is already managed", l.matches, l.path),
                ));
            }
            for (j, u) in l.restart.iter().enumerate() {
                check_unit(&format!("{at}.restart[{j}]"), u)?;
            }
        }
        if !self.sysctls.is_empty() {
            check_path("sysctl_file", &self.sysctl_file)?;
            if !self.sysctl_file.starts_with("/etc/sysctl.d/")
                || !self.sysctl_file.ends_with(".conf")
            {
                return Err(ConfigError::at(
                    "sysctl_file",
                    format!(
                        "`{}`: systemd-sysctl reads only /etc/sysctl.d/*.conf at boot",
                        self.sysctl_file
                    ),
                ));
            }
            if paths.contains_key(self.sysctl_file.as_str()) {
                return Err(ConfigError::at(
                    "sysctl_file",
                    format!("`{}` is also in `files`", self.sysctl_file),
                ));
            }
        }
        for (k, v) in &self.sysctls {
            let at = format!("sysctls.{k}");
            if !valid_sysctl_key(k) {
                return Err(ConfigError::at(
                    &at,
                    format!("`{k}` is not a sysctl key (dotted words: net.core.somaxconn)"),
                ));
            }
            sysctl_value(&at, v)?;
        }
        for (i, p) in self.packages.iter().enumerate() {
            if !valid_package(p) {
                return Err(ConfigError::at(
                    format!("packages[{i}]"),
                    format!("`{p}` is not a Debian package name"),
                ));
            }
        }
        for (i, p) in self.absent_packages.iter().enumerate() {
            if !valid_package(p) {
                return Err(ConfigError::at(
                    format!("absent_packages[{i}]"),
                    format!("`{p}` is not a Debian package name"),
                ));
            }
            if self.packages.contains(p) {
                return Err(ConfigError::at(
                    format!("absent_packages[{i}]"),
                    format!("`{p}` is also in `packages`"),
                ));
            }
        }
        let mut units = BTreeSet::new();
        for (i, s) in self.services.iter().enumerate() {
            let at = format!("services[{i}]");
            check_unit(&format!("{at}.name"), &s.name)?;
            if s.enabled.is_none() && s.state.is_none() {
                return Err(ConfigError::at(&at, "say `enabled` and/or `state`"));
            }
            if !units.insert(s.name.as_str()) {
                return Err(ConfigError::at(
                    format!("{at}.name"),
                    format!("`{}` is listed twice", s.name),
                ));
            }
        }
        let mut names = BTreeSet::new();
        for (i, c) in self.commands.iter().enumerate() {
            let at = format!("commands[{i}]");
            if c.name.trim().is_empty() {
                return Err(ConfigError::at(
                    format!("{at}.name"),
                    "a command needs a name",
                ));
            }
            if !names.insert(c.name.as_str()) {
                return Err(ConfigError::at(
                    format!("{at}.name"),
                    format!("`{}` is used twice", c.name),
                ));
            }
            if c.run.trim().is_empty() {
                return Err(ConfigError::at(format!("{at}.run"), "nothing to run"));
            }
            if c.creates.is_none() && c.unless.is_none() {
                return Err(ConfigError::at(
                    &at,
                    "an unguarded command runs on every apply and never converges: give `creates` or `unless`",
                ));
            }
            if let Some(p) = &c.creates {
                check_path(&format!("{at}.creates"), p)?;
            }
            if c.unless.as_deref().is_some_and(|u| u.trim().is_empty()) {
                return Err(ConfigError::at(format!("{at}.unless"), "an empty check"));
            }
        }
        Ok(())
    }

    fn sysctl_entries(&self) -> Vec<(String, String)> {
        self.sysctls
            .iter()
            .map(|(k, v)| (k.clone(), sysctl_value(k, v).unwrap_or_default()))
            .collect()
    }

    fn command(c: &CommandEntry) -> Command {
        Command {
            name: c.name.clone(),
            run: c.run.clone(),
            creates: c.creates.clone(),
            unless: c.unless.clone(),
            satisfied: None,
            notify: Vec::new(),
            risk: rampart_core::Risk::Low,
        }
    }

    /// Handlers a changed path notifies: daemon-reload for unit files, then restarts.
    fn notifies(path: &str, restart: &[String]) -> Vec<String> {
        let mut n = Vec::new();
        if [
            "/etc/systemd/",
            "/usr/lib/systemd/",
            "/lib/systemd/",
            "/usr/local/lib/systemd/",
        ]
        .iter()
        .any(|d| path.starts_with(d))
        {
            n.push(DAEMON_RELOAD.to_owned());
        }
        n.extend(restart.iter().map(|u| format!("restart {u}")));
        n
    }

    fn handlers(&self) -> Vec<Handler> {
        let mut out = Vec::new();
        let mut reload = false;
        let mut restarts: Vec<&str> = Vec::new();
        let changed = self
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.restart.as_slice()))
            .chain(
                self.lines
                    .iter()
                    .map(|l| (l.path.as_str(), l.restart.as_slice())),
            );
        for (path, restart) in changed {
            for n in Self::notifies(path, restart) {
                if n == DAEMON_RELOAD {
                    reload = true;
                }
            }
            for u in restart {
                if !restarts.contains(&u.as_str()) {
                    restarts.push(u);
                }
            }
        }
        if reload {
            let mut s = Script::new();
            s.raw("systemctl daemon-reload");
            out.push(Handler {
                name: DAEMON_RELOAD.into(),
                script: s,
            });
        }
        for u in restarts {
            let mut s = Script::new();
            s.cmd(["systemctl", "try-restart", u]);
            out.push(Handler {
                name: format!("restart {u}"),
                script: s,
            });
        }
        out
    }

    fn render(&self, i: usize, f: &FileEntry, ctx: &HostContext<'_>) -> Result<String, RoleError> {
        if let Some(c) = &f.content {
            return Ok(c.clone());
        }
        let name = f.template.as_deref().unwrap_or_default();
        let mut vars = match ctx.vars {
            serde_json::Value::Object(m) => m.clone(),
            _ => serde_json::Map::new(),
        };
        vars.insert("inventory_hostname".into(), ctx.host.into());
        vars.insert(
            "host".into(),
            serde_json::to_value(&ctx.facts.host).unwrap_or_default(),
        );
        if f.sensitive {
            let secrets: serde_json::Map<String, serde_json::Value> = ctx
                .secrets
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().into()))
                .collect();
            vars.insert("secrets".into(), secrets.into());
        }
        for (k, v) in &f.vars {
            vars.insert(k.clone(), v.clone());
        }
        ctx.templates
            .render(name, serde_json::Value::Object(vars))
            .map_err(|e| RoleError(format!("custom: files[{i}] ({}): {e}", f.path)))
    }
}

impl Configured for Config {
    fn facts(&self, req: &mut FactRequest) {
        // The resources' own declarations are the single source of truth: build them with
        // placeholder content (content does not change what a resource reads).
        for r in self.resources(|_, _| Ok(String::new())).unwrap_or_default() {
            r.facts(req);
        }
    }

    fn plan(&self, ctx: &HostContext<'_>) -> Result<RolePlan, RoleError> {
        let resources = self.resources(|i, f| self.render(i, f, ctx))?;
        Ok(RolePlan {
            resources,
            handlers: self.handlers(),
        })
    }

    fn templates(&self) -> Vec<TemplateUse> {
        self.files
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                let template = f.template.clone()?;
                let mut provided: std::collections::BTreeSet<String> =
                    f.vars.keys().cloned().collect();
                provided.extend(["inventory_hostname".to_owned(), "host".to_owned()]);
                if f.sensitive {
                    provided.insert("secrets".into());
                }
                Some(TemplateUse {
                    at: format!("custom.files[{i}]"),
                    template,
                    provided,
                })
            })
            .collect()
    }

    fn checks(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        // Each check is one constant script (`checks/*.sh`) with the paths, lines and units
        // as its parameters.
        let mut args: Vec<String> = Vec::new();
        let mut want = Vec::new();
        for f in &self.files {
            match f.state {
                FileState::Present => {
                    args.extend(["stat".to_owned(), f.path.clone()]);
                    want.push(format!(
                        "{} {:o} {}:{}",
                        f.path,
                        f.mode.get(),
                        f.owner,
                        f.group
                    ));
                }
                FileState::Absent => {
                    args.extend(["absent".to_owned(), f.path.clone()]);
                    want.push(format!("{} absent", f.path));
                }
            }
        }
        for d in &self.directories {
            args.extend(["stat".to_owned(), d.path.clone()]);
            want.push(format!(
                "{} {:o} {}:{}",
                d.path,
                d.mode.get(),
                d.owner,
                d.group
            ));
        }
        if !args.is_empty() {
            checks.push(Check {
                fact: None,
                id: "custom.paths".into(),
                title: "managed files and directories exist (or not) with their mode and owner"
                    .into(),
                command: check_command(PATHS_SH, &strs(&args)),
                expect: Expect::Equals(want.join("\n")),
            });
        }
        if !self.lines.is_empty() {
            let args: Vec<&str> = self
                .lines
                .iter()
                .flat_map(|l| [l.matches.as_str(), l.line.as_str(), l.path.as_str()])
                .collect();
            checks.push(Check {
                fact: None,
                id: "custom.lines".into(),
                title: "each managed line is there exactly once".into(),
                command: check_command(LINES_SH, &args),
                expect: Expect::Lacks(vec!["WRONG ".into(), "cannot open".into()]),
            });
        }
        if !self.sysctls.is_empty() {
            let entries = self.sysctl_entries();
            let args: Vec<String> = entries
                .iter()
                .flat_map(|(k, _)| [k.clone(), format!("/proc/sys/{}", k.replace('.', "/"))])
                .collect();
            checks.push(Check {
                fact: None,
                id: "custom.sysctls".into(),
                title: "kernel parameters have their configured values".into(),
                command: check_command(SYSCTLS_SH, &strs(&args)),
                expect: Expect::Equals(
                    entries
                        .iter()
                        .map(|(k, v)| format!("{k} = {v}"))
                        .collect::<Vec<_>>()
                        .join("\n"),
                ),
            });
        }
        if !self.services.is_empty() {
            let mut args = Vec::new();
            let mut want = Vec::new();
            for s in &self.services {
                if let Some(e) = s.enabled {
                    args.extend(["enabled", s.name.as_str()]);
                    want.push(format!(
                        "{} {}",
                        s.name,
                        if e { "enabled" } else { "disabled" }
                    ));
                }
                if let Some(st) = s.state {
                    args.extend(["active", s.name.as_str()]);
                    want.push(format!(
                        "{} {}",
                        s.name,
                        if st == RunState::Started {
                            "started"
                        } else {
                            "stopped"
                        }
                    ));
                }
            }
            checks.push(Check {
                fact: None,
                id: "custom.services".into(),
                title: "managed units are enabled and running as configured".into(),
                command: check_command(SERVICES_SH, &args),
                expect: Expect::Equals(want.join("\n")),
            });
        }
        checks
    }
}

impl Config {
    /// The role's resources in convergence order; `content` renders each present file.
    fn resources(
        &self,
        mut content: impl FnMut(usize, &FileEntry) -> Result<String, RoleError>,
    ) -> Result<Vec<Resource>, RoleError> {
        let mut out = Vec::new();
        // apt's own configuration (a source, its key, pinning) first: the packages below may
        // come from a repository this very run adds, and a new source refreshes the lists as
        // soon as it is written.
        let apt_conf = |path: &str| path.starts_with("/etc/apt/");
        for first in [true, false] {
            if !first {
                if !self.packages.is_empty() {
                    out.push(Resource::AptUpdate(AptUpdate {
                        valid_secs: self.apt_cache_valid_secs,
                    }));
                    out.push(Resource::Packages(Packages::present(&self.packages)));
                }
                if !self.absent_packages.is_empty() {
                    out.push(Resource::Packages(Packages::absent(&self.absent_packages)));
                }
            }
            for d in self
                .directories
                .iter()
                .filter(|d| apt_conf(&d.path) == first)
            {
                out.push(Resource::Directory(Directory::new(
                    &d.path,
                    d.mode.get(),
                    &d.owner,
                    &d.group,
                )));
            }
            for (i, f) in self.files.iter().enumerate() {
                if apt_conf(&f.path) != first {
                    continue;
                }
                let mut file = match f.state {
                    FileState::Absent => File::absent(&f.path),
                    FileState::Present => File::new(&f.path, content(i, f)?, f.mode.get())
                        .owned_by(&f.owner, &f.group),
                };
                if f.sensitive {
                    file = file.sensitive();
                }
                if let Some(v) = &f.validate {
                    file = file.validated(Validate::Temp(v.clone()));
                }
                file.notify = Self::notifies(&f.path, &f.restart);
                out.push(Resource::File(file));
            }
        }
        for l in &self.lines {
            let mut e = Edit::line(&l.path, &l.matches, &l.matches, &l.line);
            e.notify = Self::notifies(&l.path, &l.restart);
            out.push(Resource::Edit(e));
        }
        if !self.sysctls.is_empty() {
            out.extend(Sysctl::persisted(
                &self.sysctl_file,
                "Managed by rampart (role custom).",
                &self.sysctl_entries(),
            ));
        }
        out.extend(
            self.commands
                .iter()
                .map(|c| Resource::Command(Self::command(c))),
        );
        for s in &self.services {
            let state = s.state.map(|st| match st {
                RunState::Started => ServiceState::Started,
                RunState::Stopped => ServiceState::Stopped,
            });
            out.push(Resource::Service(Service {
                name: s.name.clone(),
                enabled: s.enabled,
                state,
                masked: None,
                risk: rampart_core::Risk::Service,
            }));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
