//! The `fail2ban` role: the seed's jail (section 7) that actually starts on minimal hosts and
//! never bans the operator.
//!
//! - `/etc/fail2ban/jail.local` as the seed writes it, with two fixes: the sshd jail reads the
//!   journal (`backend = systemd`) when `/var/log/auth.log` does not exist (Debian 12 and
//!   Ubuntu 24.04 without rsyslog: the seed's `logpath` makes fail2ban fail at start), and the
//!   controller's own address (as the host sees the SSH connection) joins `ignoreip`, so a few
//!   mistyped runs cannot ban the machine that manages the fleet.
//! - The file is checked with `fail2ban-client --test` in place (the old one is restored if it
//!   fails), then fail2ban is restarted by a handler; the service is enabled and running. Starts
//!   and restarts wait until fail2ban answers: systemd reports it started long before its
//!   Python server has loaded the jails.
//! - `fail2ban-client` is Python and slow: it runs in verify checks and validation only, never
//!   in the fact probe.

use std::net::IpAddr;

use rampart_core::Risk;
use rampart_core::facts::{FactRequest, Facts};
use rampart_core::resource::{AptUpdate, Command, File, Packages, Resource, Service, Validate};
use rampart_core::role::{
    ConfigError, Configured, Handler, HostContext, Role, RoleError, RolePlan, TypedRole,
};
use rampart_core::shell::Script;
use rampart_core::types::{Cidr, Port};
use rampart_core::verify::{Check, Expect};
use serde::{Deserialize, Serialize};

mod duration;

pub use duration::seconds;

/// The file the role owns.
pub const JAIL_LOCAL: &str = "/etc/fail2ban/jail.local";
/// The handler the file notifies.
pub const HANDLER: &str = "restart fail2ban";
/// Whether sshd logs to a file fail2ban can read.
const AUTH_LOG: &str = "/var/log/auth.log";
/// How old the apt lists may be when a package must be installed.
const APT_WINDOW: u64 = 3600;

/// Where fail2ban reads sshd's log from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The journal (needs python3-systemd, installed by the role).
    Systemd,
    /// `/var/log/auth.log`, with fail2ban's own choice of file watcher.
    Auto,
    /// `/var/log/auth.log`, polled.
    Polling,
    /// `/var/log/auth.log`, watched with inotify.
    Pyinotify,
}

/// The role's settings; the defaults are the seed's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[DEFAULT] bantime` (seed: "1h"). fail2ban durations: "600", "10m", "1h30m", "1d", "-1".
    pub bantime: String,
    /// `[DEFAULT] findtime` (seed: "10m").
    pub findtime: String,
    /// `[DEFAULT] maxretry` (seed: 5).
    pub maxretry: u32,
    /// Put the controller's address (as the host sees rampart's SSH connection: after NAT or a
    /// bastion) into `ignoreip` (default true). Turn it off for a team whose controllers move:
    /// list their networks in `ignoreip` instead, or the file changes with every address.
    pub ignore_controller: bool,
    /// More addresses or networks never banned (default none); 127.0.0.1/8 and ::1 always are.
    pub ignoreip: Vec<Cidr>,
    /// Where the sshd jail reads from. Unset (default): the journal when /var/log/auth.log does
    /// not exist, else the seed's `logpath = /var/log/auth.log`.
    pub backend: Option<Backend>,
    /// The `[sshd]` jail.
    pub sshd: SshdJail,
}

/// The `[sshd]` jail of the seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SshdJail {
    /// Jail on (seed: true).
    pub enabled: bool,
    /// The port bans block. Unset (default): the port rampart's SSH connection uses (the seed
    /// writes `ssh`, i.e. 22, which is wrong once sshd moves).
    pub port: Option<Port>,
    /// Failures before a ban (seed: 3).
    pub maxretry: u32,
    /// How long a ban lasts (seed: "24h").
    pub bantime: String,
}

/// Waits (30 s at most) until fail2ban's sshd jail answers.
/// The one command of the `fail2ban.sshd-jail`, `.sshd-policy` and `.ignores-controller` checks.
const JAIL_CHECK_SH: &str = include_str!("checks/jail.sh");
/// The jail checks' client of fail2ban's socket (perl, no module), `$2` of [`JAIL_CHECK_SH`].
const JAIL_CLIENT_PL: &str = include_str!("checks/jail_client.pl");
const WAIT_READY_SSHD: &str = "i=0; until fail2ban-client status sshd >/dev/null 2>&1; do i=$((i + 1)); if [ \"$i\" -gt 60 ]; then echo 'rampart: fail2ban did not answer within 30 s of its start' >&2; systemctl status fail2ban.service --no-pager -n 20 >&2 || true; exit 1; fi; sleep 0.5; done";
/// Waits (30 s at most) until fail2ban answers a ping (no sshd jail).
const WAIT_READY_PING: &str = "i=0; until fail2ban-client ping >/dev/null 2>&1; do i=$((i + 1)); if [ \"$i\" -gt 60 ]; then echo 'rampart: fail2ban did not answer within 30 s of its start' >&2; systemctl status fail2ban.service --no-pager -n 20 >&2 || true; exit 1; fi; sleep 0.5; done";

impl Default for Config {
    fn default() -> Self {
        Config {
            bantime: "1h".into(),
            findtime: "10m".into(),
            maxretry: 5,
            ignore_controller: true,
            ignoreip: Vec::new(),
            backend: None,
            sshd: SshdJail::default(),
        }
    }
}

impl Default for SshdJail {
    fn default() -> Self {
        SshdJail {
            enabled: true,
            port: None,
            maxretry: 3,
            bantime: "24h".into(),
        }
    }
}

impl Config {
    fn validate(&self) -> Result<(), ConfigError> {
        for (path, v) in [
            ("bantime", &self.bantime),
            ("findtime", &self.findtime),
            ("sshd.bantime", &self.sshd.bantime),
        ] {
            seconds(v).map_err(|m| ConfigError::at(path, format!("`{v}`: {m}")))?;
        }
        for (path, n) in [
            ("maxretry", self.maxretry),
            ("sshd.maxretry", self.sshd.maxretry),
        ] {
            if n == 0 {
                return Err(ConfigError::at(
                    path,
                    "0 bans on the first failure of anyone, you included; the seed uses 5 and 3",
                ));
            }
        }
        Ok(())
    }

    /// Shell code that waits until fail2ban answers (its sshd jail is up, when enabled).
    fn wait_ready(&self) -> &'static str {
        if self.sshd.enabled {
            WAIT_READY_SSHD
        } else {
            WAIT_READY_PING
        }
    }

    /// Starts fail2ban when the facts show it not running, and waits until it answers. Decided
    /// from the unit state the probe already has: no `systemctl is-active` of its own.
    fn start_command(&self, facts: &Facts) -> Command {
        let running = facts
            .units
            .get("fail2ban")
            .is_some_and(|u| u.active_state == "active");
        let mut c = Command::decided(
            "start fail2ban",
            &["systemctl start fail2ban.service\n", self.wait_ready()].concat(),
            running.then(|| "fail2ban is running".to_owned()),
        );
        c.risk = Risk::Service;
        c
    }

    /// The backend for this host.
    fn backend(&self, facts: &Facts) -> Backend {
        self.backend.unwrap_or(if facts.host.has_auth_log {
            Backend::Auto
        } else {
            Backend::Systemd
        })
    }

    fn packages(backend: Backend) -> Vec<&'static str> {
        if backend == Backend::Systemd {
            vec!["fail2ban", "python3-systemd"]
        } else {
            vec!["fail2ban"]
        }
    }

    /// The controller's address, when rampart should never be banned.
    fn controller(&self, facts: &Facts) -> Option<IpAddr> {
        if !self.ignore_controller {
            return None;
        }
        let ip: IpAddr = facts.host.ssh_connection.as_ref()?.client_ip.parse().ok()?;
        Some(ip.to_canonical())
    }

    fn port(&self, facts: &Facts) -> u16 {
        self.sshd
            .port
            .map(Port::get)
            .or_else(|| facts.host.ssh_connection.as_ref().map(|c| c.server_port))
            .unwrap_or(22)
    }
}

/// The role, for the registry.
pub fn role() -> Box<dyn Role> {
    TypedRole::<Config>::new(
        "fail2ban",
        "fail2ban's sshd jail (journal backend where there is no auth.log), never banning the controller",
    )
    .validated(Config::validate)
    .builtin_checks(controls::builtin)
    .boxed()
}

impl Configured for Config {
    fn facts(&self, req: &mut FactRequest) {
        // Which backend applies is only known from the host basics, so both packages are asked.
        req.packages.extend(
            Config::packages(Backend::Systemd)
                .into_iter()
                .map(str::to_owned),
        );
        req.apt = true;
        req.file(JAIL_LOCAL);
        req.units.insert("fail2ban".into());
    }

    fn plan(&self, ctx: &HostContext<'_>) -> Result<RolePlan, RoleError> {
        let facts = ctx.facts;
        let backend = self.backend(facts);
        let packages = Config::packages(backend);
        let controller = self.controller(facts);
        let mut ignoreip = vec!["127.0.0.1/8".to_owned(), "::1".to_owned()];
        if let Some(c) = controller {
            ignoreip.push(c.to_string());
        }
        for net in &self.ignoreip {
            let net = net.to_string();
            if !ignoreip.contains(&net) {
                ignoreip.push(net);
            }
        }
        let ctx_value = serde_json::json!({
            "bantime": self.bantime,
            "findtime": self.findtime,
            "maxretry": self.maxretry,
            "ignoreip": ignoreip,
            "controller": controller.map(|c| c.to_string()),
            "backend": match backend {
                Backend::Systemd => "systemd",
                Backend::Auto => "",
                Backend::Polling => "polling",
                Backend::Pyinotify => "pyinotify",
            },
            "auth_log": AUTH_LOG,
            "sshd": {
                "enabled": self.sshd.enabled,
                "port": self.port(facts),
                "maxretry": self.sshd.maxretry,
                "bantime": self.sshd.bantime,
            },
        });
        let text = ctx
            .templates
            .render("fail2ban/jail.local.j2", ctx_value)
            .map_err(|e| RoleError(e.to_string()))?;
        let mut resources = Vec::new();
        // Refresh the lists only when something must be installed.
        if packages
            .iter()
            .any(|p| !facts.packages.get(*p).is_some_and(|s| s.installed))
        {
            resources.push(Resource::AptUpdate(AptUpdate {
                valid_secs: APT_WINDOW,
            }));
        }
        resources.push(Resource::Packages(Packages::present(&packages)));
        resources.push(Resource::File(
            File::new(JAIL_LOCAL, text, 0o644)
                .validated(Validate::InPlace("fail2ban-client --test".into()))
                .notifies(HANDLER),
        ));
        // Enabled at boot by the Service resource; started (and waited for) by a guarded
        // command, because `systemctl start` returns long before fail2ban's Python server
        // answers, and verify would then find no socket.
        resources.push(Resource::Service(Service {
            name: "fail2ban".into(),
            enabled: Some(true),
            state: None,
            masked: None,
            risk: Risk::Service,
        }));
        resources.push(Resource::Command(self.start_command(facts)));
        let was_running = facts.units.get("fail2ban").is_some_and(|u| u.is_active());
        let mut script = Script::new();
        if was_running {
            script.raw("systemctl restart fail2ban.service");
        }
        // When fail2ban was down, the start above already read the new jail.local: only wait.
        // (`source` takes `&'static str` only: the wait is one of two constants.)
        script.source(self.wait_ready());
        Ok(RolePlan {
            resources,
            handlers: vec![Handler {
                name: HANDLER.into(),
                script,
            }],
        })
    }

    fn checks(&self) -> Vec<Check> {
        let mut out = vec![Check::unit_active(
            "fail2ban.service",
            "fail2ban is running",
            "fail2ban.service",
        )];
        if !self.sshd.enabled {
            return out;
        }
        // One command for the three jail checks: the probe runs it once, in one fail2ban-client
        // session; each check judges its own part of the answer.
        let jail = rampart_core::verify::check_command(JAIL_CHECK_SH, &[JAIL_CLIENT_PL]);
        out.push(Check {
            fact: None,
            id: "fail2ban.sshd-jail".into(),
            title: "fail2ban's sshd jail is active".into(),
            command: jail.clone(),
            expect: Expect::Contains("Status for the jail: sshd".into()),
        });
        // Durations were validated by configure(); a failure here would only blank the value.
        let secs = |d: &str| seconds(d).map_or_else(|_| d.to_owned(), |s| s.to_string());
        out.push(Check {
            fact: None,
            id: "fail2ban.sshd-policy".into(),
            title: format!(
                "the sshd jail bans after {} failures within {} for {}",
                self.sshd.maxretry, self.findtime, self.sshd.bantime
            ),
            command: jail.clone(),
            expect: Expect::Line(format!(
                "maxretry {} findtime {} bantime {}",
                self.sshd.maxretry,
                secs(&self.findtime),
                secs(&self.sshd.bantime)
            )),
        });
        if self.ignore_controller {
            // The controller's address is the first word of SSH_CONNECTION, which the engine
            // passes to the probe (and so to every check) as $1.
            out.push(Check {
                fact: None,
                id: "fail2ban.ignores-controller".into(),
                title: "fail2ban never bans the controller rampart runs from".into(),
                command: jail,
                expect: Expect::Contains("is never banned".into()),
            });
        }
        out
    }
}

pub mod controls;

#[cfg(test)]
mod tests;
