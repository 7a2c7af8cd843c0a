//! The `docker-user` role: Layer 2 of the seeds' model. Docker publishes container ports with
//! its own DNAT and FORWARD rules, so ufw never sees that traffic; Docker does send it through
//! the DOCKER-USER chain first. This role fills that chain:
//!
//! ```text
//! -A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
//! -A DOCKER-USER -i lo -j ACCEPT
//! -A DOCKER-USER -i br-+ -j ACCEPT
//! -A DOCKER-USER -i docker0 -j ACCEPT
//! -A DOCKER-USER -i <external interface> -j DROP
//! ```
//!
//! from /etc/docker/iptables-rules.conf, loaded by the seed's oneshot `docker-iptables.service`
//! (`iptables-restore -n`), which is enabled, started, and restarted when the file changes.
//!
//! What differs from the seed, and why:
//! - The external interface comes from the host's default route (`facts.host.default_iface`),
//!   not the seed's hard-coded `ens3` (OVH's name; `eth0`, `enp1s0` elsewhere, and a wrong
//!   name silently drops nothing). `external_interface` overrides it.
//! - The file flushes the chain explicitly after declaring it. `iptables-restore -n` already
//!   flushes a user chain it redeclares (legacy and nft, measured in the lab), but a file
//!   without the `:DOCKER-USER` line appends duplicates on every restart; the explicit `-F`
//!   keeps the file correct even when edited that way.
//! - The unit `Wants=`/`PartOf=` docker.service instead of `Requires=`: the rules load on a
//!   host where Docker is not installed yet (the role may run first) instead of failing, and
//!   are reloaded whenever docker.service restarts (PartOf) or starts (WantedBy).
//! - IPv6: the same chain for ip6tables when `ipv6 = true` (Docker with `ip6tables: true`).
//! - Drift: the live chain is read with the facts (`iptables-save`); when it is not exactly
//!   the file's rules (the DROP rule deleted, rules flushed, Docker's RETURN appended), the
//!   rules are loaded again.

use rampart_core::facts::{FactRequest, Facts};
use rampart_core::plan::Risk;
use rampart_core::resource::{Command, File, Packages, Resource, Service};
use rampart_core::role::{
    ConfigError, Configured, Handler, HostContext, Role, RoleError, RolePlan, TypedRole,
};
use rampart_core::shell::Script;
use rampart_core::verify::{Check, Expect, FactQuery, check_command};
use serde::{Deserialize, Serialize};
use serde_json::json;

const RULES4: &str = "/etc/docker/iptables-rules.conf";
const RULES6: &str = "/etc/docker/ip6tables-rules.conf";
const UNIT: &str = "docker-iptables.service";
const UNIT_FILE: &str = "/etc/systemd/system/docker-iptables.service";
const RELOAD: &str = "reload DOCKER-USER rules";
const REAPPLY: &str = "load the DOCKER-USER rules again";
/// The check that the chain ends with the DROP from the external interface.
const DROP_LAST_SH: &str = include_str!("checks/drop_last.sh");
/// The check that the live chain(s) are the rules file(s)' (`Config::loaded` on the host).
const RULES_LOADED_SH: &str = include_str!("checks/rules_loaded.sh");
/// The check that the unit that loads the rules is enabled.
const UNIT_ENABLED_SH: &str = include_str!("checks/unit_enabled.sh");

/// The role's settings. Defaults are the seed's chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The interface traffic from the internet arrives on; default: the interface of the
    /// host's IPv4 default route. A trailing `+` matches a prefix (`ens+`).
    pub external_interface: Option<String>,
    /// Interfaces whose forwarded traffic is accepted before the DROP: loopback and Docker's
    /// own bridges (containers talking to each other and to the internet).
    pub trusted_interfaces: Vec<String>,
    /// Load the same chain into ip6tables (/etc/docker/ip6tables-rules.conf). Only useful with
    /// Docker's `ip6tables: true`; off like openclaw's Docker IPv6.
    pub ipv6: bool,
    /// The IPv6 external interface; default `external_interface`, else the interface of the
    /// IPv6 default route, else the IPv4 one.
    pub external_interface6: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            external_interface: None,
            trusted_interfaces: vec!["lo".into(), "br-+".into(), "docker0".into()],
            ipv6: false,
            external_interface6: None,
        }
    }
}

/// The role, for the registry.
pub fn role() -> Box<dyn Role> {
    TypedRole::<Config>::new(
        "docker-user",
        "DOCKER-USER chain: published container ports unreachable from the external interface",
    )
    .validated(Config::validate)
    .builtin_checks(controls::builtin)
    .boxed()
}

/// A Linux interface name as iptables takes it: up to 15 characters, a `+` only at the end.
pub fn valid_iface(name: &str) -> bool {
    let body = name.strip_suffix('+').unwrap_or(name);
    !body.is_empty()
        && name.len() <= 15
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:@-".contains(&b))
        && !matches!(name, "." | "..")
}

/// Whether iptables' `-i pattern` matches `iface`.
fn iface_matches(pattern: &str, iface: &str) -> bool {
    match pattern.strip_suffix('+') {
        Some(prefix) => iface.starts_with(prefix),
        None => pattern == iface,
    }
}

/// One rule of the chain and the comment above it in the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Why it is there.
    pub comment: String,
    /// The rule, exactly as `iptables -S` prints it.
    pub rule: String,
}

/// The chain for one external interface, in order; the DROP is last.
pub fn chain(trusted: &[String], external: &str) -> Vec<Rule> {
    let mut out = vec![Rule {
        comment: "Replies to connections the containers or the host opened".into(),
        rule: "-A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT".into(),
    }];
    for t in trusted {
        let comment = match t.as_str() {
            "lo" => "The host itself (localhost)".to_owned(),
            "br-+" => "Containers on user-defined Docker networks".to_owned(),
            "docker0" => "Containers on Docker's default bridge".to_owned(),
            other => format!("Trusted interface {other}"),
        };
        out.push(Rule {
            comment,
            rule: format!("-A DOCKER-USER -i {t} -j ACCEPT"),
        });
    }
    out.push(Rule {
        comment: format!("Everything else from {external} to a container: dropped"),
        rule: format!("-A DOCKER-USER -i {external} -j DROP"),
    });
    out
}

/// The `-A DOCKER-USER` rules of a rules file as the probe read it; `None` when it is not a
/// readable regular file.
fn file_chain(f: &Facts, path: &str) -> Option<Vec<String>> {
    let text = f.files.get(path)?.text()?;
    Some(
        text.lines()
            .filter(|l| l.starts_with("-A DOCKER-USER "))
            .map(|l| l.trim_end().to_owned())
            .collect(),
    )
}

/// The rules of the live DOCKER-USER chain in `iptables-save` output; `None` when the chain
/// does not exist.
pub fn live_chain(save: &str) -> Option<Vec<String>> {
    let mut exists = false;
    let mut rules = Vec::new();
    for l in save.lines() {
        if l.starts_with(":DOCKER-USER ") {
            exists = true;
        } else if l.starts_with("-A DOCKER-USER ") {
            rules.push(l.trim_end().to_owned());
        }
    }
    exists.then_some(rules)
}

impl Config {
    /// Checks interface names and that the external one is not also trusted.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (i, t) in self.trusted_interfaces.iter().enumerate() {
            if !valid_iface(t) {
                return Err(ConfigError::at(
                    format!("trusted_interfaces[{i}]"),
                    format!("invalid interface name `{t}`"),
                ));
            }
        }
        for (path, v) in [
            ("external_interface", &self.external_interface),
            ("external_interface6", &self.external_interface6),
        ] {
            if let Some(e) = v {
                if !valid_iface(e) {
                    return Err(ConfigError::at(
                        path,
                        format!(
                            "invalid interface name `{e}`: up to 15 letters, digits and _.:@-, a `+` only at the end"
                        ),
                    ));
                }
                self.not_trusted(e).map_err(|m| ConfigError::at(path, m))?;
            }
        }
        Ok(())
    }

    fn not_trusted(&self, external: &str) -> Result<(), String> {
        match self.trusted_interfaces.iter().find(|t| {
            iface_matches(t, external.trim_end_matches('+')) || iface_matches(external, t)
        }) {
            Some(t) => Err(format!(
                "the external interface `{external}` is also trusted (`{t}`): its traffic would be accepted before the DROP"
            )),
            None => Ok(()),
        }
    }

    /// The external interfaces (IPv4, IPv6) for this host, or why they are unknown.
    fn externals(&self, f: &Facts) -> Result<(String, Option<String>), RoleError> {
        let v4 = match self
            .external_interface
            .clone()
            .or_else(|| f.host.default_iface.clone())
        {
            Some(i) => i,
            None => {
                return Err(RoleError(
                    "docker-user: the host has no IPv4 default route, so the external interface is unknown and nothing would be \
                     dropped. Fix: set `external_interface` (see `ip route`) in [roles.docker-user]"
                        .into(),
                ));
            }
        };
        if !valid_iface(&v4) {
            return Err(RoleError(format!(
                "docker-user: the default route's interface `{v4}` is not a name iptables takes; set `external_interface`"
            )));
        }
        self.not_trusted(&v4)
            .map_err(|m| RoleError(format!("docker-user: {m}; set `external_interface`")))?;
        let v6 = if self.ipv6 {
            let i = self
                .external_interface6
                .clone()
                .or_else(|| self.external_interface.clone())
                .or_else(|| f.host.default_iface6.clone())
                .unwrap_or_else(|| v4.clone());
            if !valid_iface(&i) {
                return Err(RoleError(format!(
                    "docker-user: the IPv6 interface `{i}` is not a name ip6tables takes; set `external_interface6`"
                )));
            }
            self.not_trusted(&i)
                .map_err(|m| RoleError(format!("docker-user: {m}; set `external_interface6`")))?;
            Some(i)
        } else {
            None
        };
        Ok((v4, v6))
    }

    /// Whether the live chain(s) hold exactly the rules of the file(s) on the host, from the
    /// facts: the files' content and the `iptables-save` dump the probe already has.
    fn loaded(&self, f: &Facts) -> bool {
        let one = |key: &str, path: &str| {
            let Some(file) = file_chain(f, path) else {
                return false;
            };
            let live = f.iptables.get(key).cloned().flatten();
            file == live.and_then(|s| live_chain(&s)).unwrap_or_default()
        };
        one("v4/filter", RULES4) && (!self.ipv6 || one("v6/filter", RULES6))
    }

    /// The same test as [`Config::loaded`], in shell (`checks/rules_loaded.sh`), for the
    /// verify check and the audit: they must see the host as it is after the run, not the
    /// facts from before it.
    fn loaded_check(&self) -> String {
        let mut pairs = vec!["iptables", RULES4];
        if self.ipv6 {
            pairs.extend(["ip6tables", RULES6]);
        }
        check_command(RULES_LOADED_SH, &pairs)
    }

    /// Loads the chain again when it drifted from the file(s), unless the live chain is what
    /// the file on the host says (then the file changes in this run and its handler reloads).
    fn reapply(&self, f: &Facts) -> Command {
        let mut c = Command::decided(
            REAPPLY,
            Script::new().cmd(["systemctl", "restart", UNIT]).as_str(),
            self.loaded(f).then(|| {
                "the live chain is the rules file's; the file's change reloads it".to_owned()
            }),
        );
        c.risk = Risk::Service;
        c
    }

    fn rules_file(
        &self,
        ctx: &HostContext<'_>,
        tool: &str,
        rules: &[Rule],
    ) -> Result<String, RoleError> {
        ctx.templates
            .render(
                "docker-user/iptables-rules.conf.j2",
                json!({"tool": tool, "rules": rules}),
            )
            .map_err(|e| RoleError(e.to_string()))
    }

    /// Whether the live chain (from the facts) differs from `want`.
    fn drifted(f: &Facts, key: &str, want: &[Rule]) -> bool {
        let live = f
            .iptables
            .get(key)
            .cloned()
            .flatten()
            .and_then(|s| live_chain(&s));
        let want: Vec<&str> = want.iter().map(|r| r.rule.as_str()).collect();
        live.is_none_or(|l| l != want)
    }

    fn static_resources(&self) -> Vec<Resource> {
        vec![
            Resource::Packages(Packages::present(&["iptables"])),
            Resource::Service(Service::running(UNIT)),
        ]
    }
}

impl Configured for Config {
    fn facts(&self, req: &mut FactRequest) {
        for r in self.static_resources() {
            r.facts(req);
        }
        for p in [RULES4, RULES6, UNIT_FILE] {
            req.file(p);
        }
        req.iptables.insert((false, "filter".into()));
        if self.ipv6 {
            req.iptables.insert((true, "filter".into()));
        }
    }

    fn plan(&self, ctx: &HostContext<'_>) -> Result<RolePlan, RoleError> {
        let f = ctx.facts;
        let (ext4, ext6) = self.externals(f)?;
        let rules4 = chain(&self.trusted_interfaces, &ext4);
        let mut resources = vec![Resource::Packages(Packages::present(&["iptables"]))];
        resources.push(Resource::File(
            File::new(
                RULES4,
                self.rules_file(ctx, "iptables-restore", &rules4)?,
                0o644,
            )
            .notifies(RELOAD)
            .risk(Risk::Service),
        ));
        let mut drift = Self::drifted(f, "v4/filter", &rules4);
        let mut interfaces = ext4.clone();
        match &ext6 {
            Some(e6) => {
                let rules6 = chain(&self.trusted_interfaces, e6);
                resources.push(Resource::File(
                    File::new(
                        RULES6,
                        self.rules_file(ctx, "ip6tables-restore", &rules6)?,
                        0o644,
                    )
                    .notifies(RELOAD)
                    .risk(Risk::Service),
                ));
                drift |= Self::drifted(f, "v6/filter", &rules6);
                if *e6 != ext4 {
                    interfaces = format!("{ext4} and {e6}");
                }
            }
            None => resources.push(Resource::File(File::absent(RULES6))),
        }
        let unit = ctx
            .templates
            .render("docker-user/docker-iptables.service.j2", json!({"rules4": RULES4, "rules6": RULES6, "ipv6": ext6.is_some(), "interfaces": interfaces}))
            .map_err(|e| RoleError(e.to_string()))?;
        resources.push(Resource::File(
            File::new(UNIT_FILE, unit, 0o644)
                .notifies(RELOAD)
                .risk(Risk::Service),
        ));
        resources.push(Resource::Service(Service::running(UNIT)));
        if drift {
            resources.push(Resource::Command(self.reapply(f)));
        }
        let mut reload = Script::new();
        reload.raw("systemctl daemon-reload");
        reload.cmd(["systemctl", "restart", UNIT]);
        Ok(RolePlan {
            resources,
            handlers: vec![Handler {
                name: RELOAD.into(),
                script: reload,
            }],
        })
    }

    fn checks(&self) -> Vec<Check> {
        // The interface is a host fact; the check finds it on the host the same way.
        // (The IPv6 default falls back to the IPv4 route's interface, as the plan does.)
        // Judged from the `iptables-save` dump and the default routes the probe takes anyway;
        // the shell command is what a report shows as its equivalent.
        let drop_last = |tool: &str, configured: Option<&String>, route: &str| {
            check_command(
                DROP_LAST_SH,
                &[tool, configured.map_or("", String::as_str), route],
            )
        };
        let drop_fact = |ipv6: bool, configured: Option<&String>| FactQuery::ChainEndsWithDrop {
            ipv6,
            chain: "DOCKER-USER".into(),
            iface: configured.cloned(),
        };
        let mut out = vec![
            Check::from_fact(
                "docker-user.drop-last",
                "DOCKER-USER ends by dropping traffic from the external interface to containers",
                &drop_last("iptables", self.external_interface.as_ref(), "4"),
                drop_fact(false, self.external_interface.as_ref()),
                Expect::Line("ok".into()),
            ),
            Check::from_fact(
                "docker-user.rules-loaded",
                "the live DOCKER-USER chain is exactly /etc/docker/iptables-rules.conf",
                &self.loaded_check(),
                FactQuery::ChainIsFile {
                    chain: "DOCKER-USER".into(),
                    files: std::iter::once((false, RULES4.to_owned()))
                        .chain(self.ipv6.then(|| (true, RULES6.to_owned())))
                        .collect(),
                },
                Expect::Line("ok".into()),
            ),
            Check::from_fact(
                "docker-user.forward-jump",
                "forwarded traffic passes through DOCKER-USER",
                "iptables -w -S FORWARD",
                FactQuery::IptablesChain {
                    ipv6: false,
                    chain: "FORWARD".into(),
                },
                Expect::Line("-A FORWARD -j DOCKER-USER".into()),
            ),
            Check::from_fact(
                "docker-user.unit-enabled",
                "docker-iptables.service loads the rules at boot",
                &check_command(UNIT_ENABLED_SH, &[UNIT]),
                FactQuery::UnitEnabled(UNIT.into()),
                Expect::Equals("enabled".into()),
            ),
        ];
        if self.ipv6 {
            let i6 = self
                .external_interface6
                .as_ref()
                .or(self.external_interface.as_ref());
            out.push(Check::from_fact(
                "docker-user.drop-last-v6",
                "the IPv6 DOCKER-USER chain ends by dropping external traffic to containers",
                &drop_last("ip6tables", i6, "6"),
                drop_fact(true, i6),
                Expect::Line("ok".into()),
            ));
        }
        out
    }
}

pub mod controls;

#[cfg(test)]
mod tests;
