//! The `ufw` role: Layer 1 of the seeds' model. Deny incoming, allow outgoing, deny routed;
//! SSH, Tailscale and the operator's own rules allowed; IPv6 filtered too; logging low; on.
//!
//! Unlike the seeds (`ufw reset` then `ufw allow ssh` then `ufw enable`), the role:
//! - allows the SSH port rampart is *actually* connected through (`SSH_CONNECTION` as the host
//!   saw it), not the `ssh` service name's 22, and refuses to plan when its own rules could cut
//!   that connection off;
//! - never resets: a re-run changes nothing when nothing differs, stray rules are deleted one by
//!   one, and rules are added before the firewall is enabled (the core `Ufw` resource orders it).
//!
//! ufw itself is a package: on a host without it (a minimal Debian image) the core `Ufw`
//! resource cannot plan against files that do not exist yet, so the first run installs ufw and
//! configures it with one guarded command (see [`Config::bootstrap`]); every later run uses the
//! `Ufw` resource and its fine-grained diff.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use rampart_core::facts::{FactRequest, HostInfo};
use rampart_core::plan::Risk;
use rampart_core::resource::{
    AptUpdate, Command, Packages, Resource, Ufw, UfwAction, UfwPolicy, UfwRule,
};
use rampart_core::role::{
    ConfigError, Configured, HostContext, Role, RoleError, RolePlan, TypedRole,
};
use rampart_core::shell::join;
use rampart_core::types::{Cidr, Port};
use rampart_core::verify::{Check, Expect, FactQuery, SSHD_PORTS_FN, check_command};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The path whose existence means ufw was installed before this run.
const UFW_BIN: &str = "/usr/sbin/ufw";
/// The name of the first-run command (also its resource id).
const BOOTSTRAP: &str = "configure ufw right after installing it";
/// Tailscale's WireGuard port (direct connections; relays work without it).
const TAILSCALE_PORT: u16 = 41641;
/// ufw's default policies and IPv6 switch.
const DEFAULTS: &str = "/etc/default/ufw";
/// ufw's own settings (ENABLED, LOGLEVEL).
const UFW_CONF: &str = "/etc/ufw/ufw.conf";
/// The shell command that answers as [`FactQuery::UfwStatus`] does (ufw's own test).
const UFW_STATUS_EQUIVALENT: &str = "if iptables -w -S ufw-user-input >/dev/null 2>&1; then echo 'Status: active'; else echo 'Status: inactive'; fi";

/// A transport protocol for a rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Proto {
    /// TCP.
    #[default]
    Tcp,
    /// UDP.
    Udp,
    /// Both (ufw's "any"); not allowed with port ranges.
    Any,
}

impl Proto {
    fn word(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Any => "any",
        }
    }
}

/// ufw's logging level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Logging {
    /// No logging.
    Off,
    /// Blocked packets not matching the default policy, rate-limited (the seed's "on (low)").
    #[default]
    Low,
    /// Low plus invalid, new and allowed packets.
    Medium,
    /// Medium without rate limiting.
    High,
    /// Everything, unlimited.
    Full,
}

impl Logging {
    fn word(self) -> &'static str {
        match self {
            Logging::Off => "off",
            Logging::Low => "low",
            Logging::Medium => "medium",
            Logging::High => "high",
            Logging::Full => "full",
        }
    }
}

/// One port (`22`, `"22"`) or an inclusive range (`"60000:61000"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortRange {
    lo: u16,
    hi: u16,
}

impl PortRange {
    /// A single port.
    pub fn single(p: Port) -> Self {
        PortRange {
            lo: p.get(),
            hi: p.get(),
        }
    }

    fn is_range(self) -> bool {
        self.lo != self.hi
    }

    fn parse(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            None => s
                .parse::<Port>()
                .map(PortRange::single)
                .map_err(|e| e.to_string()),
            Some((a, b)) => {
                let lo: Port = a
                    .parse()
                    .map_err(|e: rampart_core::types::ValueError| e.to_string())?;
                let hi: Port = b
                    .parse()
                    .map_err(|e: rampart_core::types::ValueError| e.to_string())?;
                if lo >= hi {
                    return Err(format!(
                        "invalid port range `{s}`: the first port must be lower than the second"
                    ));
                }
                Ok(PortRange {
                    lo: lo.get(),
                    hi: hi.get(),
                })
            }
        }
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_range() {
            write!(f, "{}:{}", self.lo, self.hi)
        } else {
            write!(f, "{}", self.lo)
        }
    }
}

impl Serialize for PortRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.is_range() {
            s.collect_str(self)
        } else {
            s.serialize_u16(self.lo)
        }
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PortRange;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port (1 to 65535) or a range \"LOW:HIGH\"")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<PortRange, E> {
                Port::try_from(n).map(PortRange::single).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<PortRange, E> {
                Port::try_from(n).map(PortRange::single).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<PortRange, E> {
                PortRange::parse(s).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// An extra incoming rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowRule {
    /// Port or range (`443`, `"60000:61000"`).
    pub port: PortRange,
    /// `tcp` (default), `udp` or `any`. Ranges need `tcp` or `udp` (ufw's rule).
    #[serde(default)]
    pub proto: Proto,
    /// Source network (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`); anywhere when unset.
    #[serde(default)]
    pub from: Option<Cidr>,
    /// Shown by `ufw status`.
    #[serde(default)]
    pub comment: Option<String>,
}

/// The role's settings. Defaults are the seeds' firewall.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// TCP ports SSH must stay reachable on besides the one rampart is connected through (which
    /// is always allowed): list sshd's new port here before the sshd role moves it.
    pub ssh_ports: Vec<Port>,
    /// Sources allowed to reach SSH; empty means anywhere (the seeds). The role refuses a list
    /// that does not contain the address rampart connects from.
    pub ssh_from: Vec<Cidr>,
    /// Allow 41641/udp (Tailscale's direct WireGuard connections). Both seeds allow it, so the
    /// default is on; Tailscale still works through relays without it.
    pub tailscale: bool,
    /// Extra incoming rules.
    pub allow: Vec<AllowRule>,
    /// Filter IPv6 as well (`IPV6=yes` in /etc/default/ufw).
    pub ipv6: bool,
    /// `off`, `low`, `medium`, `high` or `full`.
    pub logging: Logging,
    /// Default for incoming traffic: `deny`, `reject` or `allow`.
    pub default_incoming: UfwPolicy,
    /// Default for outgoing traffic.
    pub default_outgoing: UfwPolicy,
    /// Default for routed (forwarded) traffic.
    pub default_routed: UfwPolicy,
    /// The firewall is on.
    pub enabled: bool,
    /// When ufw must be installed: apt lists younger than this many seconds are not refreshed
    /// first.
    pub apt_cache_valid_time: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ssh_ports: Vec::new(),
            ssh_from: Vec::new(),
            tailscale: true,
            allow: Vec::new(),
            ipv6: true,
            logging: Logging::Low,
            default_incoming: UfwPolicy::Deny,
            default_outgoing: UfwPolicy::Allow,
            default_routed: UfwPolicy::Deny,
            enabled: true,
            apt_cache_valid_time: 3600,
        }
    }
}

/// The role, for the registry.
pub fn role() -> Box<dyn Role> {
    TypedRole::<Config>::new(
        "ufw",
        "ufw firewall: deny incoming, SSH in use + Tailscale + your rules, IPv6, logging, on",
    )
    .validated(Config::validate)
    .builtin_checks(controls::builtin)
    .boxed()
}

/// The source as ufw writes it in its rules files: single addresses without a prefix.
fn ufw_source(c: &Cidr) -> String {
    let full = if c.addr().is_ipv4() { 32 } else { 128 };
    if c.prefix_len() == full {
        c.addr().to_string()
    } else {
        format!("{}/{}", c.addr(), c.prefix_len())
    }
}

/// ufw stores an IPv4 network with its host bits cleared (and warns), so a rule written with
/// them set would never match what the host has: refuse it and name the right form.
fn check_cidr(path: String, c: &Cidr) -> Result<(), ConfigError> {
    let network = match c.addr() {
        IpAddr::V4(a) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(c.prefix_len()))
                .unwrap_or(0);
            IpAddr::from(std::net::Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(c.prefix_len()))
                .unwrap_or(0);
            IpAddr::from(std::net::Ipv6Addr::from(u128::from(a) & mask))
        }
    };
    if network != c.addr() {
        return Err(ConfigError::at(
            path,
            format!(
                "`{c}` has host bits set: write the network, `{network}/{}`",
                c.prefix_len()
            ),
        ));
    }
    Ok(())
}

fn check_comment(path: String, comment: &str) -> Result<(), ConfigError> {
    let ok = !comment.is_empty()
        && comment.len() <= 64
        && comment.chars().all(|ch| ch.is_ascii_graphic() || ch == ' ')
        && !comment.contains(['\'', '"']);
    if ok {
        Ok(())
    } else {
        Err(ConfigError::at(
            path,
            format!(
                "invalid comment {comment:?}: use 1 to 64 printable ASCII characters without quotes"
            ),
        ))
    }
}

impl Config {
    /// Checks what serde cannot: ranges need a protocol, networks are written as ufw stores
    /// them, IPv6 sources need `ipv6 = true`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (i, c) in self.ssh_from.iter().enumerate() {
            check_cidr(format!("ssh_from[{i}]"), c)?;
            if c.addr().is_ipv6() && !self.ipv6 {
                return Err(ConfigError::at(
                    format!("ssh_from[{i}]"),
                    format!("`{c}` is IPv6 but `ipv6 = false`: ufw would not manage it"),
                ));
            }
        }
        for (i, r) in self.allow.iter().enumerate() {
            if r.port.is_range() && r.proto == Proto::Any {
                return Err(ConfigError::at(
                    format!("allow[{i}].proto"),
                    format!(
                        "the port range `{}` needs `proto = \"tcp\"` or `\"udp\"` (ufw refuses ranges for both)",
                        r.port
                    ),
                ));
            }
            if let Some(c) = &r.from {
                check_cidr(format!("allow[{i}].from"), c)?;
                if c.addr().is_ipv6() && !self.ipv6 {
                    return Err(ConfigError::at(
                        format!("allow[{i}].from"),
                        format!("`{c}` is IPv6 but `ipv6 = false`: ufw would not manage it"),
                    ));
                }
            }
            if let Some(c) = &r.comment {
                check_comment(format!("allow[{i}].comment"), c)?;
            }
        }
        Ok(())
    }

    /// The SSH ports to keep open on this host: the one in use plus `ssh_ports`.
    fn ssh_ports_for(&self, host: &HostInfo) -> Result<BTreeSet<u16>, RoleError> {
        let mut ports: BTreeSet<u16> = self.ssh_ports.iter().map(|p| p.get()).collect();
        if let Some(c) = &host.ssh_connection {
            ports.insert(c.server_port);
        }
        if ports.is_empty() {
            return Err(RoleError(
                "ufw: cannot tell which port SSH uses on this host (no SSH_CONNECTION) and `ssh_ports` is empty; \
                 enabling the firewall could lock everyone out. Fix: set `ssh_ports = [22]` (or sshd's port) in [roles.ufw]"
                    .into(),
            ));
        }
        Ok(ports)
    }

    /// Refuses an `ssh_from` that would not let rampart's own connection in.
    fn check_ssh_from(&self, host: &HostInfo) -> Result<(), RoleError> {
        if self.ssh_from.is_empty() || !self.enabled {
            return Ok(());
        }
        let list = self
            .ssh_from
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let Some(conn) = &host.ssh_connection else {
            return Err(RoleError(format!(
                "ufw: `ssh_from` limits SSH to [{list}] but this host did not report the address rampart connects from; \
                 refusing rather than risk a lockout. Fix: empty `ssh_from`, or connect over SSH"
            )));
        };
        let ip: Option<IpAddr> = conn.client_ip.parse().ok();
        if ip.is_some_and(|ip| self.ssh_from.iter().any(|c| c.contains(ip))) {
            return Ok(());
        }
        Err(RoleError(format!(
            "ufw: `ssh_from` limits SSH to [{list}] but rampart connects from {}, so enabling the firewall would cut this \
             connection. Fix: add `{}` (or its network) to `ssh_from` in [roles.ufw]",
            conn.client_ip, conn.client_ip
        )))
    }

    /// The rules, SSH first; duplicates (same port, protocol and source) are dropped.
    fn rules(&self, ssh_ports: &BTreeSet<u16>) -> Vec<UfwRule> {
        let mut out: Vec<UfwRule> = Vec::new();
        let mut seen = BTreeSet::new();
        let mut push = |port: String, proto: Proto, from: Option<String>, comment: Option<&str>| {
            if seen.insert((port.clone(), proto, from.clone())) {
                let mut r = UfwRule::new(UfwAction::Allow, port, proto.word(), comment);
                r.from = from;
                out.push(r);
            }
        };
        for p in ssh_ports {
            if self.ssh_from.is_empty() {
                push(p.to_string(), Proto::Tcp, None, Some("SSH"));
            }
            for c in &self.ssh_from {
                push(p.to_string(), Proto::Tcp, Some(ufw_source(c)), Some("SSH"));
            }
        }
        if self.tailscale {
            push(
                TAILSCALE_PORT.to_string(),
                Proto::Udp,
                None,
                Some("Tailscale"),
            );
        }
        for r in &self.allow {
            push(
                r.port.to_string(),
                r.proto,
                r.from.as_ref().map(ufw_source),
                r.comment.as_deref(),
            );
        }
        out
    }

    fn apt_update(&self) -> AptUpdate {
        AptUpdate {
            valid_secs: self.apt_cache_valid_time,
        }
    }

    fn ufw(&self, rules: Vec<UfwRule>) -> Ufw {
        Ufw {
            incoming: self.default_incoming,
            outgoing: self.default_outgoing,
            routed: self.default_routed,
            rules,
            ipv6: self.ipv6,
            logging: self.logging.word().to_owned(),
            enabled: self.enabled,
        }
    }

    /// The first-run configuration of a ufw installed in this same run: the package's files
    /// did not exist when the facts were gathered, so the `Ufw` resource (which guards on
    /// them) cannot plan yet. A fresh ufw has no rules, so the commands are the whole state;
    /// rules still come before `enable`. Guarded by `creates` on ufw's binary, so it never
    /// runs where ufw was already installed.
    fn bootstrap(&self, rules: &[UfwRule]) -> Command {
        let mut lines = vec![format!(
            "sed -i 's/^IPV6=.*/IPV6={}/' /etc/default/ufw",
            if self.ipv6 { "yes" } else { "no" }
        )];
        for r in rules {
            let mut argv = vec!["ufw".to_owned(), "allow".into()];
            if r.proto != "any" {
                argv.extend(["proto".into(), r.proto.clone()]);
            }
            argv.extend([
                "from".into(),
                r.from.clone().unwrap_or_else(|| "any".into()),
                "to".into(),
                "any".into(),
                "port".into(),
                r.port.clone(),
            ]);
            if let Some(c) = &r.comment {
                argv.extend(["comment".into(), c.clone()]);
            }
            lines.push(join(&argv));
        }
        for (p, dir) in [
            (self.default_incoming, "incoming"),
            (self.default_outgoing, "outgoing"),
            (self.default_routed, "routed"),
        ] {
            lines.push(join(["ufw", "default", policy_word(p), dir]));
        }
        lines.push(join(["ufw", "logging", self.logging.word()]));
        if self.enabled {
            lines.push("ufw --force enable".into());
        }
        Command {
            name: BOOTSTRAP.into(),
            run: lines.join("\n"),
            creates: Some(UFW_BIN.into()),
            unless: None,
            satisfied: None,
            notify: Vec::new(),
            risk: Risk::Access,
        }
    }

    /// The rules every check expects, as `action port/proto from src in` lines (how the
    /// tuples of user.rules read), without the SSH ports (the check asks sshd for those).
    fn expected_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut add = |port: String, proto: Proto, from: Option<&Cidr>| match from {
            None => {
                out.push(format!("allow {port}/{} from 0.0.0.0/0 in", proto.word()));
                if self.ipv6 {
                    out.push(format!("allow {port}/{} from ::/0 in", proto.word()));
                }
            }
            Some(c) => out.push(format!(
                "allow {port}/{} from {} in",
                proto.word(),
                ufw_source(c)
            )),
        };
        if self.tailscale {
            add(TAILSCALE_PORT.to_string(), Proto::Udp, None);
        }
        for r in &self.allow {
            add(r.port.to_string(), r.proto, r.from.as_ref());
        }
        out
    }

    /// The sources SSH is allowed from, as tuple sources.
    fn ssh_sources(&self) -> Vec<String> {
        if self.ssh_from.is_empty() {
            let mut v = vec!["0.0.0.0/0".to_owned()];
            if self.ipv6 {
                v.push("::/0".into());
            }
            v
        } else {
            self.ssh_from.iter().map(ufw_source).collect()
        }
    }
}

fn policy_word(p: UfwPolicy) -> &'static str {
    match p {
        UfwPolicy::Deny => "deny",
        UfwPolicy::Allow => "allow",
        UfwPolicy::Reject => "reject",
    }
}

fn policy_iptables(p: UfwPolicy) -> &'static str {
    match p {
        UfwPolicy::Deny => "DROP",
        UfwPolicy::Allow => "ACCEPT",
        UfwPolicy::Reject => "REJECT",
    }
}

impl Configured for Config {
    fn facts(&self, req: &mut FactRequest) {
        let mut r = FactRequest::new();
        Resource::Packages(Packages::present(&["ufw"])).facts(&mut r);
        Resource::AptUpdate(self.apt_update()).facts(&mut r);
        Resource::Ufw(self.ufw(Vec::new())).facts(&mut r);
        Resource::Command(self.bootstrap(&[])).facts(&mut r);
        req.merge(&r);
    }

    fn plan(&self, ctx: &HostContext<'_>) -> Result<RolePlan, RoleError> {
        let host = &ctx.facts.host;
        let ports = self.ssh_ports_for(host)?;
        self.check_ssh_from(host)?;
        let rules = self.rules(&ports);
        let installed = ctx.facts.packages.get("ufw").is_some_and(|p| p.installed);
        let resources = if installed {
            vec![
                Resource::Packages(Packages::present(&["ufw"])),
                Resource::Ufw(self.ufw(rules)),
            ]
        } else {
            // Fresh images often ship without apt lists: refresh them before installing.
            vec![
                Resource::AptUpdate(self.apt_update()),
                Resource::Packages(Packages::present(&["ufw"])),
                Resource::Command(self.bootstrap(&rules)),
            ]
        };
        Ok(RolePlan {
            resources,
            handlers: Vec::new(),
        })
    }

    fn checks(&self) -> Vec<Check> {
        let mut out = Vec::new();
        if self.enabled {
            // `ufw status verbose` (Python, ~60 ms of host CPU) is what these were asked of;
            // it prints the loaded chains' state and the configured defaults and level from
            // ufw's files, which the controller reads from the facts the probe gathers for
            // this role's own resources: no command runs.
            out.push(Check::from_fact(
                "ufw.active",
                "the ufw firewall is active",
                UFW_STATUS_EQUIVALENT,
                FactQuery::UfwStatus,
                Expect::Contains("Status: active".into()),
            ));
            out.push(Check::file_lines(
                "ufw.default-policy",
                &format!(
                    "ufw's default policy is {} incoming, {} outgoing",
                    policy_word(self.default_incoming),
                    policy_word(self.default_outgoing)
                ),
                DEFAULTS,
                &["DEFAULT_INPUT_POLICY=", "DEFAULT_OUTPUT_POLICY="],
                Expect::Lines(vec![
                    format!(
                        "DEFAULT_INPUT_POLICY=\"{}\"",
                        policy_iptables(self.default_incoming)
                    ),
                    format!(
                        "DEFAULT_OUTPUT_POLICY=\"{}\"",
                        policy_iptables(self.default_outgoing)
                    ),
                ]),
            ));
            // `ufw status` shows "disabled (routed)" while the kernel does not forward, so the
            // routed policy is read from its file.
            out.push(Check::file_lines(
                "ufw.routed-policy",
                &format!(
                    "ufw's default policy for routed traffic is {}",
                    policy_word(self.default_routed)
                ),
                DEFAULTS,
                &["DEFAULT_FORWARD_POLICY="],
                Expect::Equals(format!(
                    "DEFAULT_FORWARD_POLICY=\"{}\"",
                    policy_iptables(self.default_routed)
                )),
            ));
            out.push(Check::file_lines(
                "ufw.logging",
                &format!("ufw logs at level {}", self.logging.word()),
                UFW_CONF,
                &["LOGLEVEL="],
                Expect::Equals(format!("LOGLEVEL={}", self.logging.word())),
            ));
        }
        out.push(Check::file_lines(
            "ufw.ipv6",
            if self.ipv6 {
                "ufw filters IPv6 too"
            } else {
                "ufw leaves IPv6 alone"
            },
            DEFAULTS,
            &["IPV6="],
            Expect::Equals(format!("IPV6={}", if self.ipv6 { "yes" } else { "no" })),
        ));
        // Every port sshd listens on has an allow rule: the anti-lockout control.
        // Judged from `sshd -T` and the rules file the probe reads anyway.
        out.push(Check::from_fact(
            "ufw.ssh-allowed",
            "every port sshd listens on is allowed through ufw",
            &[SSHD_PORTS_FN, controls::SSH_ALLOWED].concat(),
            FactQuery::SshPortsAllowed("/etc/ufw/user.rules".into()),
            Expect::Lacks(vec!["FAIL".into()]),
        ));
        // Nothing is allowed beyond what the configuration says: the seeds' "only SSH and
        // Tailscale should be open", read from ufw's own rules files. The port rampart is
        // connected on (the probe's $1 is SSH_CONNECTION) counts as SSH: the plan keeps it
        // open, and right after sshd moved to another port it is the old one until the next
        // run, connected on the new port, drops it.
        let mut files = vec!["/etc/ufw/user.rules".to_owned()];
        if self.ipv6 {
            files.push("/etc/ufw/user6.rules".into());
        }
        let ssh_ports: Vec<String> = self.ssh_ports.iter().map(ToString::to_string).collect();
        // Judged from the rules files and `sshd -T`, which the probe reads anyway; the shell
        // command is what a report shows as its equivalent.
        out.push(Check::from_fact(
            "ufw.only-allowed",
            "ufw allows only the configured ports (SSH, Tailscale, the site's rules)",
            &check_command(
                &[SSHD_PORTS_FN, controls::ONLY_ALLOWED].concat(),
                &[
                    &self.expected_lines().join("\\n"),
                    &ssh_ports.join(" "),
                    &self.ssh_sources().join(" "),
                    &files.join(" "),
                ],
            ),
            FactQuery::UfwOnlyAllowed {
                allowed: self.expected_lines(),
                ports: ssh_ports,
                sources: self.ssh_sources(),
                files,
            },
            Expect::Lacks(vec!["unexpected:".into()]),
        ));
        out
    }
}

pub mod controls;

#[cfg(test)]
mod tests;
