//! The `service-hardening` role: confine one application service (OpenClaw's `clawdbot`,
//! FleetClaw's agents) the way the seeds' layers 6 and 7 describe, minus their holes.
//!
//! - a systemd drop-in with `NoNewPrivileges`, `PrivateTmp`, `ProtectSystem=strict`,
//!   `ProtectHome=read-only` and the few `ReadWritePaths` the service needs (daemon-reload and
//!   a restart when it changes, so the running process is the sandboxed one);
//! - its `.env` files (the application's own secrets) made `0600` and owned by the service
//!   user, without rampart ever reading them;
//! - a sudoers file letting the service user manage its own unit, read its own logs and run a
//!   few `tailscale` commands, validated with `visudo` before it is installed.

use std::collections::{BTreeMap, BTreeSet};

use rampart_core::Risk;
use rampart_core::facts::{FactRequest, FileState};
use rampart_core::resource::{Command, Directory, File, Resource, Validate};
use rampart_core::role::{
    ConfigError, Configured, Handler, HostContext, Role, RoleError, RolePlan, TypedRole,
};
use rampart_core::shell::Script;
use rampart_core::verify::{Check, Expect, FactQuery, check_command, script_with_args};
use serde::{Deserialize, Serialize};

/// The drop-in template.
pub const DROPIN_TEMPLATE: &str = "service-hardening/hardening.conf.j2";
/// The sudoers template.
pub const SUDOERS_TEMPLATE: &str = "service-hardening/sudoers.j2";
/// The handler that reloads systemd and restarts the service.
pub const RESTART: &str = "reload systemd and restart the service";
/// The drop-in's file name.
pub const DROPIN_NAME: &str = "10-rampart-hardening.conf";
/// Where sudo's checker lives on Debian and Ubuntu.
const VISUDO: &str = "/usr/sbin/visudo";

// The role's host scripts (`scripts/`): values reach them as positional parameters.
/// The guard of an env file: absent, or mode 0600 with the right owner.
const ENV_FILE_OK: &str = include_str!("scripts/env_file_ok.sh");
/// Fixes an env file's mode and owner, never through a link.
const ENV_FILE: &str = include_str!("scripts/env_file.sh");
/// The handler: daemon-reload, then restart the unit when it runs.
const HANDLER_SCRIPT: &str = include_str!("scripts/handler.sh");
/// `service-hardening.sandbox-configured`.
const SANDBOX_CONFIGURED: &str = include_str!("scripts/sandbox_configured.sh");
/// `service-hardening.sandbox-running`.
const SANDBOX_RUNNING: &str = include_str!("scripts/sandbox_running.sh");
/// `service-hardening.env-files`.
const ENV_FILES_CHECK: &str = include_str!("scripts/env_files_check.sh");

/// `tailscale` subcommands that act as root on the file system or open the host to the
/// network: granting them is granting root (or a hole in the firewall), whatever the seed's
/// "tailscale commands" meant.
const TAILSCALE_REFUSED: &[(&str, &str)] = &[
    (
        "file",
        "`tailscale file get DIR` writes received files as root into any directory",
    ),
    (
        "cert",
        "`tailscale cert` writes key files as root wherever it is told",
    ),
    (
        "serve",
        "`tailscale serve` publishes local ports and files to the tailnet",
    ),
    (
        "funnel",
        "`tailscale funnel` publishes local ports to the internet",
    ),
    (
        "ssh",
        "`tailscale ssh` and `up --ssh` open a second way into the host",
    ),
    (
        "set",
        "`tailscale set` changes routing, SSH and exit-node settings",
    ),
    ("debug", "`tailscale debug` has root-level subcommands"),
    ("web", "`tailscale web` serves a management UI"),
    ("drive", "`tailscale drive` shares directories"),
    ("update", "`tailscale update` installs packages as root"),
    (
        "configure",
        "`tailscale configure` writes system configuration",
    ),
    ("nc", "`tailscale nc` tunnels arbitrary connections"),
];

/// The role's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The systemd service to confine (`clawdbot` means `clawdbot.service`).
    pub service: String,
    /// The account the service runs as: owner of the env files and the user granted the
    /// scoped sudo rules.
    pub user: String,
    /// Group of the env files; the user's name when unset (Debian's user-private groups).
    pub group: Option<String>,
    /// The service's env files (its own secrets): made 0600 and owned by `user` when they
    /// exist; rampart never reads them. Absolute paths.
    pub env_files: Vec<String>,
    /// `NoNewPrivileges=`: no setuid or file-capability escalation from inside the service.
    pub no_new_privileges: bool,
    /// `PrivateTmp=`: a /tmp and /var/tmp of its own.
    pub private_tmp: bool,
    /// `ProtectSystem=`: `strict` makes the whole file system read-only but `read_write_paths`.
    pub protect_system: String,
    /// `ProtectHome=`: `read-only`, `true` (hidden), `tmpfs` or `false`.
    pub protect_home: String,
    /// `ReadWritePaths=`: the only places the service may write (the seed: `~/.clawdbot`). A
    /// `-` prefix makes a path optional; a missing path without it stops the service from
    /// starting.
    pub read_write_paths: Vec<String>,
    /// More `[Service]` directives for the drop-in (`ProtectKernelTunables = "true"`).
    pub extra_directives: BTreeMap<String, String>,
    /// Restart the service when its sandbox changes (a running process keeps the sandbox it
    /// started with). Off: only `systemctl daemon-reload`.
    pub restart: bool,
    /// Install the scoped sudoers file.
    pub sudo: bool,
    /// The sudo rules need no password (service accounts have none).
    pub sudo_nopasswd: bool,
    /// `tailscale` argument lists the user may run as root, each exactly as written
    /// (`"status"`, `"ip -4"`).
    pub tailscale_commands: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            service: "clawdbot".into(),
            user: "clawdbot".into(),
            group: None,
            env_files: Vec::new(),
            no_new_privileges: true,
            private_tmp: true,
            protect_system: "strict".into(),
            protect_home: "read-only".into(),
            read_write_paths: vec!["/home/clawdbot/.clawdbot".into()],
            extra_directives: BTreeMap::new(),
            restart: true,
            sudo: true,
            sudo_nopasswd: true,
            tailscale_commands: vec![
                "status".into(),
                "ip".into(),
                "netcheck".into(),
                "up".into(),
                "down".into(),
            ],
        }
    }
}

/// The role, for the registry.
pub fn role() -> Box<dyn Role> {
    TypedRole::<Config>::new(
        "service-hardening",
        "systemd sandbox, 0600 env files and scoped sudo for one application service",
    )
    .validated(Config::validate)
    .boxed()
}

/// A canonical absolute path: no `..`, `.`, `//`, trailing slash, spaces or quotes. Env files
/// are compared with `realpath` on the host, so they must be written canonically.
fn canonical_path(p: &str) -> bool {
    p.starts_with('/')
        && p.len() > 1
        && !p.ends_with('/')
        && p[1..]
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
        && p.chars()
            .all(|c| c.is_ascii_graphic() && !"\"'\\$`".contains(c))
}

/// Debian's user name rule (`NAME_REGEX`), which also keeps names safe in sudoers.
fn valid_user(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_lowercase() || c == b'_')
        && s.len() <= 32
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
}

impl Config {
    /// Checks everything serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let svc = self
            .service
            .strip_suffix(".service")
            .unwrap_or(&self.service);
        if svc.is_empty()
            || svc.len() > 64
            || !svc
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_@-".contains(&b))
        {
            return Err(ConfigError::at(
                "service",
                format!(
                    "`{}`: service names are letters, digits, `_`, `-` and `@` (sudoers.d ignores file names with a dot)",
                    self.service
                ),
            ));
        }
        if !valid_user(&self.user) {
            return Err(ConfigError::at(
                "user",
                format!("`{}` is not a valid user name", self.user),
            ));
        }
        if self.user == "root" {
            return Err(ConfigError::at(
                "user",
                "the service must not run as root: sandboxing and scoped sudo are meaningless for root",
            ));
        }
        if let Some(g) = &self.group
            && !valid_user(g)
        {
            return Err(ConfigError::at(
                "group",
                format!("`{g}` is not a valid group name"),
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, p) in self.env_files.iter().enumerate() {
            if !canonical_path(p) {
                return Err(ConfigError::at(
                    format!("env_files[{i}]"),
                    format!(
                        "`{p}` must be a canonical absolute path (no `..`, `//`, spaces or quotes)"
                    ),
                ));
            }
            if !seen.insert(p) {
                return Err(ConfigError::at(
                    format!("env_files[{i}]"),
                    format!("`{p}` is listed twice"),
                ));
            }
        }
        for (i, p) in self.read_write_paths.iter().enumerate() {
            let bare = p.strip_prefix('-').unwrap_or(p);
            if bare == "/" {
                return Err(ConfigError::at(
                    format!("read_write_paths[{i}]"),
                    "`/` would make the whole file system writable again",
                ));
            }
            if !canonical_path(bare) {
                return Err(ConfigError::at(
                    format!("read_write_paths[{i}]"),
                    format!(
                        "`{p}` must be an absolute path (optionally prefixed by `-`) without spaces"
                    ),
                ));
            }
        }
        if !["true", "false", "full", "strict"].contains(&self.protect_system.as_str()) {
            return Err(ConfigError::at(
                "protect_system",
                format!(
                    "`{}`: one of strict, full, true, false",
                    self.protect_system
                ),
            ));
        }
        if !["true", "false", "read-only", "tmpfs"].contains(&self.protect_home.as_str()) {
            return Err(ConfigError::at(
                "protect_home",
                format!(
                    "`{}`: one of read-only, true, tmpfs, false",
                    self.protect_home
                ),
            ));
        }
        const MANAGED: &[&str] = &[
            "NoNewPrivileges",
            "PrivateTmp",
            "ProtectSystem",
            "ProtectHome",
            "ReadWritePaths",
        ];
        for (k, v) in &self.extra_directives {
            let path = format!("extra_directives.{k}");
            if MANAGED.contains(&k.as_str()) {
                return Err(ConfigError::at(
                    &path,
                    format!("`{k}` has its own setting in this role"),
                ));
            }
            if !k.starts_with(|c: char| c.is_ascii_uppercase())
                || !k.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(ConfigError::at(
                    &path,
                    format!("`{k}` is not a systemd directive name"),
                ));
            }
            if v.chars().any(char::is_control) {
                return Err(ConfigError::at(&path, "values are one line"));
            }
        }
        for (i, t) in self.tailscale_commands.iter().enumerate() {
            let path = format!("tailscale_commands[{i}]");
            let first = t.split_whitespace().next().unwrap_or_default();
            if let Some((_, why)) = TAILSCALE_REFUSED.iter().find(|(c, _)| *c == first) {
                return Err(ConfigError::at(
                    &path,
                    format!(
                        "`tailscale {t}` is refused: {why}; that is root, not a scoped permission"
                    ),
                ));
            }
            if t.trim().is_empty()
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b" ._-".contains(&b))
            {
                return Err(ConfigError::at(
                    &path,
                    format!(
                        "`{t}`: arguments are letters, digits, spaces, `.`, `_` and `-` (no wildcards: each entry is matched exactly)"
                    ),
                ));
            }
            if t.split_whitespace().any(|w| {
                w == "--ssh" || w.starts_with("--advertise") || w.starts_with("--exit-node")
            }) {
                return Err(ConfigError::at(
                    &path,
                    format!(
                        "`tailscale {t}` is refused: it opens SSH, routes or an exit node through the host"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The unit name with its suffix.
    pub fn unit(&self) -> String {
        if self.service.ends_with(".service") {
            self.service.clone()
        } else {
            format!("{}.service", self.service)
        }
    }

    fn name(&self) -> &str {
        self.service
            .strip_suffix(".service")
            .unwrap_or(&self.service)
    }

    fn group(&self) -> &str {
        self.group.as_deref().unwrap_or(&self.user)
    }

    /// The drop-in directory.
    pub fn dropin_dir(&self) -> String {
        format!("/etc/systemd/system/{}.d", self.unit())
    }

    /// The drop-in file.
    pub fn dropin(&self) -> String {
        format!("{}/{DROPIN_NAME}", self.dropin_dir())
    }

    /// The sudoers file.
    pub fn sudoers(&self) -> String {
        format!("/etc/sudoers.d/{}", self.name())
    }

    fn owner(&self) -> String {
        format!("{}:{}", self.user, self.group())
    }

    /// One guarded command per env file: it runs only when the file exists with the wrong
    /// mode or owner.
    fn env_commands(&self) -> Vec<Command> {
        self.env_files.iter().map(|p| self.env_command(p)).collect()
    }

    fn env_command(&self, path: &str) -> Command {
        let owner = self.owner();
        let mode_owner = format!("600 {owner}");
        // Read-only: passes when the file is absent or already right.
        let unless = script_with_args(ENV_FILE_OK, &[path, &mode_owner]);
        let run = script_with_args(ENV_FILE, &[path, &owner]);
        Command::unless(&format!("secure env file {path}"), &run, &unless)
    }

    fn directive(b: bool) -> &'static str {
        if b { "true" } else { "false" }
    }

    /// What `systemctl show` prints for a configured value.
    fn shown(v: &str) -> &str {
        match v {
            "true" => "yes",
            "false" => "no",
            other => other,
        }
    }

    fn handler(&self) -> Script {
        let restart = if self.restart { "yes" } else { "no" };
        let mut s = Script::new();
        s.call(HANDLER_SCRIPT, [self.unit().as_str(), restart]);
        s
    }

    fn render(&self, ctx: &HostContext<'_>) -> Result<(String, Option<String>), RoleError> {
        let extra: Vec<serde_json::Value> = self
            .extra_directives
            .iter()
            .map(|(k, v)| serde_json::json!({ "key": k, "value": v }))
            .collect();
        let dropin = ctx
            .templates
            .render(
                DROPIN_TEMPLATE,
                serde_json::json!({
                    "unit": self.unit(),
                    "no_new_privileges": Self::directive(self.no_new_privileges),
                    "private_tmp": Self::directive(self.private_tmp),
                    "protect_system": self.protect_system,
                    "protect_home": self.protect_home,
                    "read_write_paths": self.read_write_paths,
                    "extra": extra,
                }),
            )
            .map_err(|e| RoleError(format!("service-hardening: {e}")))?;
        if !self.sudo {
            return Ok((dropin, None));
        }
        let name = self.name();
        let alias = format!(
            "RAMPART_{}",
            name.to_ascii_uppercase().replace(['-', '@'], "_")
        );
        let unit_re = format!("{}(\\.service)?", name);
        let sudoers = ctx
            .templates
            .render(
                SUDOERS_TEMPLATE,
                serde_json::json!({
                    "user": self.user,
                    "unit": self.unit(),
                    "unit_re": unit_re,
                    "alias": alias,
                    "tag": if self.sudo_nopasswd { "NOPASSWD: " } else { "" },
                    "tailscale": self.tailscale_commands.iter().map(|t| t.split_whitespace().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>(),
                }),
            )
            .map_err(|e| RoleError(format!("service-hardening: {e}")))?;
        Ok((dropin, Some(sudoers)))
    }
}

impl Configured for Config {
    fn facts(&self, req: &mut FactRequest) {
        req.file(self.dropin_dir());
        req.file(self.dropin());
        if self.sudo {
            req.file(self.sudoers());
            req.stats.insert(VISUDO.into());
        }
        for c in self.env_commands() {
            Resource::Command(c).facts(req);
        }
    }

    fn plan(&self, ctx: &HostContext<'_>) -> Result<RolePlan, RoleError> {
        let (dropin, sudoers) = self.render(ctx)?;
        let mut resources = vec![
            Resource::Directory(Directory::new(self.dropin_dir(), 0o755, "root", "root")),
            Resource::File(
                File::new(self.dropin(), dropin, 0o644)
                    .notifies(RESTART)
                    .risk(Risk::Service),
            ),
        ];
        if let Some(text) = sudoers {
            if matches!(ctx.facts.files.get(VISUDO), Some(FileState::Absent) | None) {
                return Err(RoleError(format!(
                    "service-hardening: sudo is not installed on {} ({VISUDO} is missing): install it or set `sudo = false`",
                    ctx.host
                )));
            }
            resources.push(Resource::File(
                File::new(self.sudoers(), text, 0o440)
                    .validated(Validate::Temp("visudo -cf %s".into()))
                    .risk(Risk::Access),
            ));
        }
        resources.extend(self.env_commands().into_iter().map(Resource::Command));
        Ok(RolePlan {
            resources,
            handlers: vec![Handler {
                name: RESTART.into(),
                script: self.handler(),
            }],
        })
    }

    fn checks(&self) -> Vec<Check> {
        let unit = self.unit();
        let pairs = [
            (
                "NoNewPrivileges",
                Self::shown(Self::directive(self.no_new_privileges)),
            ),
            ("PrivateTmp", Self::shown(Self::directive(self.private_tmp))),
            ("ProtectSystem", Self::shown(&self.protect_system)),
            ("ProtectHome", Self::shown(&self.protect_home)),
        ];
        let want = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("|");
        // Judged from the probe's one query of the units, which answers these properties
        // too; the shell command is what a report shows as its equivalent.
        let mut checks = vec![Check::from_fact(
            "service-hardening.sandbox-configured",
            &format!(
                "{} is configured with no-new-privileges, a private /tmp, a read-only system and home",
                self.unit()
            ),
            &check_command(
                SANDBOX_CONFIGURED,
                &[&unit, &want, &self.read_write_paths.join(" ")],
            ),
            FactQuery::UnitSettings {
                unit: unit.clone(),
                want: pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.to_string()))
                    .collect(),
                paths: self.read_write_paths.clone(),
            },
            Expect::Equals("ok".into()),
        )];
        let yes = |b: bool| if b { "yes" } else { "no" };
        let (nnp, ro_root) = (self.no_new_privileges, self.protect_system == "strict");
        if nnp || ro_root {
            checks.push(Check {
                fact: None,
                id: "service-hardening.sandbox-running".into(),
                title: format!("the running {} process is sandboxed (no-new-privileges, read-only root), or the service is stopped", self.unit()),
                command: check_command(SANDBOX_RUNNING, &[&unit, yes(nnp), yes(ro_root)]),
                expect: Expect::Lacks(vec!["NoNewPrivs=0".into(), "root=rw".into()]),
            });
        }
        if !self.env_files.is_empty() {
            let mode_owner = format!("600 {}", self.owner());
            let mut args = vec![mode_owner.as_str()];
            args.extend(self.env_files.iter().map(String::as_str));
            checks.push(Check {
                fact: None,
                id: "service-hardening.env-files".into(),
                title: format!(
                    "the service's env files are mode 0600 and owned by {}",
                    self.owner()
                ),
                command: check_command(ENV_FILES_CHECK, &args),
                expect: Expect::Lacks(vec!["BAD ".into()]),
            });
        }
        if self.sudo {
            let sudoers = self.sudoers();
            checks.push(Check {
                fact: None,
                id: "service-hardening.sudoers-valid".into(),
                title: "the sudoers configuration parses (visudo -c)".into(),
                command:
                    "if out=$(visudo -c 2>&1); then echo valid; else printf '%s\\n' \"$out\"; fi"
                        .into(),
                expect: Expect::Equals("valid".into()),
            });
            checks.push(Check::from_fact(
                "service-hardening.sudoers-file",
                &format!("{} is read-only and owned by root", self.sudoers()),
                &check_command("stat -c '%a %U:%G' \"$2\" 2>&1\n", &[&sudoers]),
                FactQuery::Stat {
                    paths: vec![sudoers.clone()],
                    format: "%a %U:%G".into(),
                },
                Expect::Equals("440 root:root".into()),
            ));
            checks.push(Check {
                fact: None,
                id: "service-hardening.sudo-scoped".into(),
                title: format!("{} cannot run arbitrary commands as root", self.user),
                command: check_command(
                    "sudo -l -U \"$2\" 2>&1 | tr -s ' \\n' ' '\n",
                    &[&self.user],
                ),
                expect: Expect::Lacks(vec![
                    ") ALL".into(),
                    ", ALL".into(),
                    ": ALL".into(),
                    "unknown user".into(),
                ]),
            });
        }
        checks
    }
}

#[cfg(test)]
mod tests;
