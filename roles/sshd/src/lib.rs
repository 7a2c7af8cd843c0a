//! The `sshd` role: the seed's SSH hardening as a drop-in that wins, validated before it can
//! lock anyone out, proven with `sshd -T`, and never planned when it would shut rampart out.
//!
//! - The settings go to `/etc/ssh/sshd_config.d/00-rampart.conf`. sshd keeps the first value it
//!   reads and reads drop-ins in lexical order where sshd_config includes them (at its top on
//!   Debian and Ubuntu), so `00-` beats cloud-init's `50-cloud-init.conf` (`PasswordAuthentication
//!   yes`) and anything in sshd_config itself. A main file without that `Include`, or with
//!   directives above it, is fixed ([`main_config`]).
//! - Each file is validated in place with `sshd -t` and restored when that fails.
//! - The plan refuses settings that would lock rampart out ([`lockout`]) unless
//!   `allow_lockout = true`.
//! - The verify checks read the effective values from `sshd -T`; when one differs, something
//!   sshd reads earlier (or adds up, like `AllowUsers` and `Port`) overrides the drop-in, and the
//!   evidence lists every line of sshd_config and its drop-ins that sets the keyword.
//! - One handler applies the change: `systemctl try-reload-or-restart ssh` (or `sshd`), or on
//!   hosts where `ssh.socket` is active (Ubuntu 24.04), `systemctl daemon-reload` (which
//!   regenerates the socket's addresses from `Port`) and sshd stopped, the socket restarted and
//!   sshd started on it.

pub mod lockout;
pub mod main_config;
pub mod settings;

use std::collections::BTreeMap;

use rampart_core::Risk;
use rampart_core::facts::{FactRequest, Facts};
use rampart_core::resource::{File, Resource, Validate};
use rampart_core::role::{Configured, Handler, HostContext, Role, RoleError, RolePlan, TypedRole};
use rampart_core::types::Port;
use rampart_core::verify::{Check, Expect, FactQuery, SshdRead, check_command};
use serde::{Deserialize, Serialize};

pub use settings::{PermitRootLogin, Setting};

/// The main configuration file.
pub const MAIN: &str = "/etc/ssh/sshd_config";
/// The role's drop-in.
pub const DROPIN: &str = "/etc/ssh/sshd_config.d/00-rampart.conf";
/// The handler every file notifies.
pub const HANDLER: &str = "reload sshd";
/// `sshd -t` needs its privilege separation directory, which only exists while ssh.service
/// runs (RuntimeDirectory): socket-activated hosts may not have it.
const VALIDATE: &str = "mkdir -p -m 0755 /run/sshd && sshd -t";
/// Where the drop-ins are (sshd_config's `Include`).
const DROPIN_DIR: &str = "/etc/ssh/sshd_config.d";
/// The checks of the effective value of a keyword (`sshd -T`).
const EFFECTIVE_SH: &str = include_str!("checks/effective.sh");
/// The check that something listens on a port.
const LISTENING_SH: &str = include_str!("checks/listening.sh");

/// The role's settings. Defaults are the seed's (section 2), plus `KbdInteractiveAuthentication
/// no`, which the seed forgot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `PermitRootLogin`: "no" (seed), "prohibit-password", "forced-commands-only" or "yes".
    /// "no" is refused while rampart connects as root (it would lock rampart out).
    pub permit_root_login: PermitRootLogin,
    /// `PasswordAuthentication` (seed: false).
    pub password_authentication: bool,
    /// `PubkeyAuthentication` (seed: true; false is refused: rampart logs in with a key).
    pub pubkey_authentication: bool,
    /// `KbdInteractiveAuthentication` (default false). Not in the seed: with `UsePAM yes` it
    /// lets PAM ask for a password even when `PasswordAuthentication` is no.
    pub kbd_interactive_authentication: bool,
    /// `PermitEmptyPasswords` (seed: false).
    pub permit_empty_passwords: bool,
    /// `X11Forwarding` (seed: false).
    pub x11_forwarding: bool,
    /// `LoginGraceTime` in seconds (seed: 30).
    pub login_grace_time: u32,
    /// `MaxAuthTries` (seed: 3).
    pub max_auth_tries: u32,
    /// `AllowUsers`: who may log in; empty means no restriction (seed: fleetclaw, ubuntu).
    /// Must include the user rampart connects as.
    pub allow_users: Vec<String>,
    /// `AllowGroups`; empty means no restriction (default). The user rampart connects as must
    /// be in one of them.
    pub allow_groups: Vec<String>,
    /// `Port` (default 22). A move away from the port rampart is connected on is made in one
    /// run: the preflight wants the new port let in by the firewall first (the ufw role's
    /// `ssh_ports`, before sshd in the play), and the engine confirms the change with a fresh
    /// login on the new port, else the host rolls back. Then set the host's `port` in the
    /// inventory (the run says so); the next run, connected on the new port, lets ufw drop
    /// the old one.
    pub port: Option<Port>,
    /// More ports sshd listens on (default none), e.g. to keep the old port during a move
    /// made by hand in two runs.
    pub extra_ports: Vec<Port>,
    /// The strict profile: ClientAliveInterval 300, ClientAliveCountMax 2, AllowTcpForwarding
    /// no, AllowAgentForwarding no, AllowStreamLocalForwarding no, GatewayPorts no,
    /// PermitTunnel no, PermitUserEnvironment no, LogLevel VERBOSE, MaxStartups 10:30:60.
    /// Default false: it breaks the seed's own `ssh -L` tunnels and jump hosts.
    pub strict: bool,
    /// More directives, keyword -> value; a keyword the role already writes is replaced.
    pub extra: BTreeMap<String, String>,
    /// Plan even when the settings would lock rampart out (default false). Only for a run
    /// after which rampart reaches the host another way.
    pub allow_lockout: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            permit_root_login: PermitRootLogin::No,
            password_authentication: false,
            pubkey_authentication: true,
            kbd_interactive_authentication: false,
            permit_empty_passwords: false,
            x11_forwarding: false,
            login_grace_time: 30,
            max_auth_tries: 3,
            allow_users: vec!["fleetclaw".into(), "ubuntu".into()],
            allow_groups: Vec::new(),
            port: Port::new(22).ok(),
            extra_ports: Vec::new(),
            strict: false,
            extra: BTreeMap::new(),
            allow_lockout: false,
        }
    }
}

impl Config {
    /// The port sshd must listen on.
    pub fn port(&self) -> u16 {
        self.port.map_or(22, Port::get)
    }

    /// The drop-in's content.
    fn dropin(&self, ctx: &HostContext<'_>, settings: &[Setting]) -> Result<String, RoleError> {
        ctx.templates
            .render(
                "sshd/00-rampart.conf.j2",
                serde_json::json!({ "settings": settings, "strict": self.strict }),
            )
            .map_err(|e| RoleError(e.to_string()))
    }
}

/// The role, for the registry.
pub fn role() -> Box<dyn Role> {
    TypedRole::<Config>::new(
        "sshd",
        "SSH hardening as a validated sshd_config.d drop-in that wins, with lockout protection",
    )
    .validated(Config::validate)
    .builtin_checks(controls::builtin)
    .boxed()
}

/// The unit that runs sshd: Debian and Ubuntu call it `ssh` (with `sshd` as an alias that
/// systemd resolves to `ssh.service`), other distributions `sshd`.
fn service_unit(facts: &Facts, host: &str) -> Result<&'static str, RoleError> {
    let exists = |u: &str| facts.units.get(u).is_some_and(|s| s.exists());
    if exists("ssh") {
        Ok("ssh")
    } else if exists("sshd") {
        Ok("sshd")
    } else {
        Err(RoleError(format!(
            "neither ssh.service nor sshd.service is known to systemd on {host}: is openssh-server installed?"
        )))
    }
}

/// The handler: socket activation needs the socket regenerated from sshd_config (`Port`) and
/// restarted with sshd stopped around it; otherwise a reload (sshd re-executes itself and
/// re-binds its ports). Sessions survive both: systemd only stops the
/// listener (KillMode=process).
///
/// `systemctl reload` returns as soon as sshd got its SIGHUP, while sshd is still closing its
/// sockets and re-executing: a login in that window is refused (the engine's confirmation
/// login hit it). sshd rewrites its pid file right after it listens again, so the handler
/// waits for that, and the change is only reported done when sshd accepts logins.
fn handler(facts: &Facts, unit: &str) -> Handler {
    Handler {
        name: HANDLER.into(),
        script: rampart_core::sshd::reload_script(facts, unit),
    }
}

impl Configured for Config {
    fn facts(&self, req: &mut FactRequest) {
        req.file(MAIN);
        req.file(DROPIN);
        req.sshd_effective = true;
        req.units
            .extend(["ssh".to_owned(), "sshd".to_owned(), "ssh.socket".to_owned()]);
        let settings = self.settings();
        if settings
            .iter()
            .any(|s| s.lkey() == "allowgroups" || s.lkey() == "denygroups")
        {
            req.accounts = true;
        }
    }

    fn plan(&self, ctx: &HostContext<'_>) -> Result<RolePlan, RoleError> {
        let facts = ctx.facts;
        let settings = self.settings();
        if !self.allow_lockout {
            let conn = lockout::Connection {
                host: ctx.host,
                user: ctx.connect_user,
                facts,
            };
            let problems = lockout::problems(&settings, &conn);
            if !problems.is_empty() {
                return Err(RoleError(format!(
                    "refusing to plan sshd on {}: {}. (Set sshd.allow_lockout = true only if rampart will reach the host another way after this run.)",
                    ctx.host,
                    problems.join("; ")
                )));
            }
        }
        let unit = service_unit(facts, ctx.host)?;
        let main_text = match facts.files.get(MAIN) {
            Some(f) => f.text().map(str::to_owned).ok_or_else(|| {
                RoleError(format!(
                    "{MAIN} on {} is missing or not a readable text file: reinstall openssh-server",
                    ctx.host
                ))
            })?,
            None => {
                return Err(RoleError(format!(
                    "fact {MAIN} was not gathered (a bug in the sshd role)"
                )));
            }
        };
        let dropin = self.dropin(ctx, &settings)?;
        let main_fix = main_config::fixed(&main_text);
        let dropin_ok = facts.files.get(DROPIN).and_then(|f| f.text()) == Some(dropin.as_str());
        // With rampart's files in place, a failing `sshd -T` means something else broke the
        // configuration: the next restart of sshd (a reboot) would fail.
        if dropin_ok
            && main_fix.is_none()
            && let Some(e) = facts.sshd.as_ref().and_then(|e| e.error.as_deref())
            && !e.contains("privilege separation")
        {
            return Err(RoleError(format!(
                "`sshd -T` fails on {} although rampart's files are in place: {e}",
                ctx.host
            )));
        }
        // The drop-in first: without the Include it is inert, so the main file's fix (validated
        // second) is checked together with it.
        let mut resources = vec![Resource::File(
            File::new(DROPIN, dropin, 0o644)
                .validated(Validate::InPlace(VALIDATE.into()))
                .notifies(HANDLER)
                .risk(Risk::Access),
        )];
        if let Some(text) = main_fix {
            resources.push(Resource::File(
                File::new(MAIN, text, 0o644)
                    .validated(Validate::InPlace(VALIDATE.into()))
                    .notifies(HANDLER)
                    .risk(Risk::Access),
            ));
        }
        Ok(RolePlan {
            resources,
            handlers: vec![handler(facts, unit)],
        })
    }

    fn checks(&self) -> Vec<Check> {
        let settings = self.settings();
        let mut out: Vec<Check> = settings
            .iter()
            .filter_map(|s| {
                let (k, v) = s.effective.as_ref()?;
                Some(effective_check(
                    &format!("sshd.{k}"),
                    &format!("{} ({} {})", s.title, s.key, s.value),
                    k,
                    SshdRead::Line,
                    &format!("{k} {v}"),
                ))
            })
            .collect();
        if let Some(users) = Config::final_value(&settings, "allowusers") {
            let mut sorted: Vec<&str> = users.split_whitespace().collect();
            sorted.sort_unstable();
            sorted.dedup();
            let want = sorted.join(" ");
            out.push(effective_check(
                "sshd.allowusers",
                &format!(
                    "only {} may log in over SSH (AllowUsers)",
                    sorted.join(", ")
                ),
                "allowusers",
                SshdRead::Set,
                &want,
            ));
        }
        let ports =
            Config::final_value(&settings, "port").unwrap_or_else(|| self.port().to_string());
        out.push(effective_check(
            "sshd.port",
            &format!(
                "sshd is configured for port {} only",
                ports.replace(' ', ", ")
            ),
            "port",
            SshdRead::List,
            &ports,
        ));
        for p in ports
            .split_whitespace()
            .filter_map(|p| p.parse::<u16>().ok())
        {
            out.push(Check::from_fact(
                &if ports.contains(' ') {
                    format!("sshd.listening-{p}")
                } else {
                    "sshd.listening".into()
                },
                &format!("something accepts SSH connections on port {p}"),
                &check_command(LISTENING_SH, &[&p.to_string()]),
                FactQuery::TcpListening(p),
                Expect::Contains(format!(":{p} ")),
            ));
        }
        out
    }
}

/// A check that `sshd -T`'s value of a keyword, read as `read` says (`line`: the line
/// "keyword value"; `set`: the values sorted and unique on one line; `list`: the values in
/// order on one line), is the line `want`; when it is not, the evidence names every line of
/// sshd_config and its drop-ins that sets the keyword (the file that overrides, or adds to,
/// rampart's drop-in). Judged on the controller from the effective configuration the probe
/// gathers for this role's resources anyway (no command per check); `checks/effective.sh` is
/// its shell equivalent, shown in reports.
pub(crate) fn effective_check(
    id: &str,
    title: &str,
    lkey: &str,
    read: SshdRead,
    want: &str,
) -> Check {
    let mode = match read {
        SshdRead::Line => "line",
        SshdRead::Set => "set",
        SshdRead::List => "list",
    };
    Check::from_fact(
        id,
        title,
        &check_command(EFFECTIVE_SH, &[lkey, mode, want, MAIN, DROPIN_DIR]),
        FactQuery::Sshd {
            key: lkey.into(),
            read,
        },
        Expect::Line(want.into()),
    )
}

pub mod controls;

#[cfg(test)]
mod tests;
