//! The `unattended-upgrades` role: automatic security updates as the seed wants them
//! (section 8), without `dpkg-reconfigure`, on Debian as well as Ubuntu, and with the parts the
//! seed leaves out: the timers that actually run the upgrades, and the pending reboot.
//!
//! - `/etc/apt/apt.conf.d/50unattended-upgrades`: the origins to upgrade from, chosen by the OS
//!   (the seed's `Allowed-Origins` are Ubuntu's `${distro_id}:...` pockets; on Debian the
//!   security archive is only matched by `Origins-Pattern` with `label=Debian-Security`), the
//!   seed's Docker blacklist and `Automatic-Reboot "false"`.
//! - `/etc/apt/apt.conf.d/20auto-upgrades`: the two lines `dpkg-reconfigure -plow
//!   unattended-upgrades` writes, byte for byte, so a later dpkg-reconfigure is a no-op.
//! - Both files are checked with `apt-config` on a temporary copy before they replace anything:
//!   a syntax error in apt.conf.d breaks every apt command on the host.
//! - `unattended-upgrades.service` enabled and running, and `apt-daily.timer` /
//!   `apt-daily-upgrade.timer` unmasked, enabled and running: they are what runs the upgrades.
//! - A pending reboot (`/var/run/reboot-required`) is reported by the
//!   `unattended-upgrades.reboot-required` check, with the packages that asked for it.

use rampart_core::Risk;
use rampart_core::facts::{FactRequest, Facts};
use rampart_core::resource::{
    AptUpdate, File, Packages, Resource, Service, ServiceState, Validate,
};
use rampart_core::role::{
    ConfigError, Configured, HostContext, Role, RoleError, RolePlan, TypedRole,
};
use rampart_core::verify::{Check, Expect, FactQuery, check_command};
use serde::{Deserialize, Serialize};

/// The main configuration file (the package's conffile, replaced whole).
pub const UNATTENDED: &str = "/etc/apt/apt.conf.d/50unattended-upgrades";
/// The file that switches the daily runs on.
pub const AUTO: &str = "/etc/apt/apt.conf.d/20auto-upgrades";
/// What `dpkg-reconfigure -plow unattended-upgrades` writes when the answer is yes.
pub const AUTO_CONTENT: &str =
    "APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";\n";
/// The timers that refresh the lists and run unattended-upgrade.
pub const TIMERS: [&str; 2] = ["apt-daily.timer", "apt-daily-upgrade.timer"];
/// A syntax check of an apt configuration file that does not need it in place.
const APT_CONFIG_CHECK: &str = "apt-config -c %s dump >/dev/null";
const APT_WINDOW: u64 = 3600;
/// The `unattended-upgrades.timers` check.
const TIMERS_CHECK_SH: &str = include_str!("checks/timers.sh");
/// What `apt-config dump` prints before each blacklisted package's name.
const BLACKLIST: &str = "Unattended-Upgrade::Package-Blacklist:: ";
/// apt's whole configuration, as the apt tools read it: the four checks of it share one run.
const APT_CONFIG_DUMP: &str = "apt-config dump";

/// The seed's origins (Ubuntu): the release and security pockets, and ESM security.
pub const UBUNTU_ORIGINS: [&str; 4] = [
    "${distro_id}:${distro_codename}",
    "${distro_id}:${distro_codename}-security",
    "${distro_id}ESMApps:${distro_codename}-apps-security",
    "${distro_id}ESM:${distro_codename}-infra-security",
];

/// The same intent on Debian (Debian's own default): the stable release (point releases) and
/// the security archive, whose suite is `<codename>-security` since bullseye.
pub const DEBIAN_PATTERNS: [&str; 3] = [
    "origin=Debian,codename=${distro_codename},label=Debian",
    "origin=Debian,codename=${distro_codename},label=Debian-Security",
    "origin=Debian,codename=${distro_codename}-security,label=Debian-Security",
];

/// The role's settings; the defaults are the seed's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `Unattended-Upgrade::Allowed-Origins` ("origin:archive" entries). Unset (default) with
    /// `origins_pattern` unset: chosen by the OS, the seed's list on Ubuntu, none on Debian.
    pub allowed_origins: Option<Vec<String>>,
    /// `Unattended-Upgrade::Origins-Pattern` ("origin=...,label=..." entries). Unset (default)
    /// with `allowed_origins` unset: chosen by the OS, Debian's stable + security on Debian,
    /// none on Ubuntu. Setting either list makes both exactly as configured, on every OS.
    pub origins_pattern: Option<Vec<String>>,
    /// Packages never upgraded automatically (regular expressions, like the seed's): Docker's,
    /// so an upgrade never restarts the fleet's containers.
    pub package_blacklist: Vec<String>,
    /// More packages for the blacklist, added to `package_blacklist` (default none).
    pub extra_package_blacklist: Vec<String>,
    /// `Unattended-Upgrade::Automatic-Reboot` (seed: false; pending reboots are reported by a
    /// check instead).
    pub automatic_reboot: bool,
    /// `Unattended-Upgrade::Automatic-Reboot-Time`, written only when `automatic_reboot`
    /// (default "02:00").
    pub automatic_reboot_time: String,
    /// Unmask, enable and start apt-daily.timer and apt-daily-upgrade.timer (default true):
    /// without them nothing ever runs the upgrades.
    pub manage_timers: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            allowed_origins: None,
            origins_pattern: None,
            package_blacklist: ["docker-ce", "docker-ce-cli", "containerd.io"]
                .iter()
                .map(|p| (*p).to_owned())
                .collect(),
            extra_package_blacklist: Vec::new(),
            automatic_reboot: false,
            automatic_reboot_time: "02:00".into(),
            manage_timers: true,
        }
    }
}

/// apt.conf strings are double-quoted without escapes: a quote, backslash or line break would
/// end the string or the file's structure.
fn check_apt_string(path: &str, v: &str) -> Result<(), ConfigError> {
    if v.is_empty() || v.contains(['"', '\\', '\n', '\r', '\0']) {
        return Err(ConfigError::at(
            path,
            format!(
                "`{v}` cannot be an apt.conf string (non-empty, no quotes, backslashes or line breaks)"
            ),
        ));
    }
    Ok(())
}

impl Config {
    fn validate(&self) -> Result<(), ConfigError> {
        let lists: [(&str, &[String]); 4] = [
            (
                "allowed_origins",
                self.allowed_origins.as_deref().unwrap_or_default(),
            ),
            (
                "origins_pattern",
                self.origins_pattern.as_deref().unwrap_or_default(),
            ),
            ("package_blacklist", &self.package_blacklist),
            ("extra_package_blacklist", &self.extra_package_blacklist),
        ];
        for (name, list) in lists {
            for (i, v) in list.iter().enumerate() {
                check_apt_string(&format!("{name}[{i}]"), v)?;
            }
        }
        if self.allowed_origins.as_ref().is_some_and(Vec::is_empty)
            && self.origins_pattern.as_ref().is_none_or(Vec::is_empty)
        {
            return Err(ConfigError::at(
                "allowed_origins",
                "no origins: unattended-upgrades would upgrade nothing",
            ));
        }
        let t = &self.automatic_reboot_time;
        let ok = t == "now"
            || t.split_once(':').is_some_and(|(h, m)| {
                h.len() <= 2
                    && m.len() == 2
                    && h.parse::<u8>().is_ok_and(|h| h < 24)
                    && m.parse::<u8>().is_ok_and(|m| m < 60)
            });
        if !ok {
            return Err(ConfigError::at(
                "automatic_reboot_time",
                format!("`{t}` is not HH:MM or \"now\""),
            ));
        }
        Ok(())
    }

    /// The blacklist, both lists, without duplicates.
    pub fn blacklist(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in self
            .package_blacklist
            .iter()
            .chain(&self.extra_package_blacklist)
        {
            if !out.contains(p) {
                out.push(p.clone());
            }
        }
        out
    }

    /// (Allowed-Origins, Origins-Pattern) for this host.
    fn origins(&self, facts: &Facts, host: &str) -> Result<(Vec<String>, Vec<String>), RoleError> {
        if self.allowed_origins.is_some() || self.origins_pattern.is_some() {
            return Ok((
                self.allowed_origins.clone().unwrap_or_default(),
                self.origins_pattern.clone().unwrap_or_default(),
            ));
        }
        let owned = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        match facts.host.os_id.as_str() {
            "ubuntu" => Ok((owned(&UBUNTU_ORIGINS), Vec::new())),
            "debian" => Ok((Vec::new(), owned(&DEBIAN_PATTERNS))),
            other => Err(RoleError(format!(
                "no default update origins for OS `{other}` on {host}: set unattended-upgrades.allowed_origins or .origins_pattern"
            ))),
        }
    }
}

/// The role, for the registry.
pub fn role() -> Box<dyn Role> {
    TypedRole::<Config>::new(
        "unattended-upgrades",
        "automatic security updates (Debian and Ubuntu origins), Docker held back, pending reboots reported",
    )
    .validated(Config::validate)
    .builtin_checks(controls::builtin)
    .boxed()
}

impl Configured for Config {
    fn facts(&self, req: &mut FactRequest) {
        req.packages.insert("unattended-upgrades".into());
        // Also how the engine learns about a pending reboot (facts.apt.reboot_required).
        req.apt = true;
        req.file(UNATTENDED);
        req.file(AUTO);
        req.units.insert("unattended-upgrades".into());
        if self.manage_timers {
            req.units.extend(TIMERS.iter().map(|t| (*t).to_owned()));
        }
    }

    fn plan(&self, ctx: &HostContext<'_>) -> Result<RolePlan, RoleError> {
        let facts = ctx.facts;
        let (allowed, patterns) = self.origins(facts, ctx.host)?;
        let source = if self.allowed_origins.is_some() || self.origins_pattern.is_some() {
            "as configured".to_owned()
        } else {
            format!("the defaults for {}", facts.host.os_id)
        };
        let text = ctx
            .templates
            .render(
                "unattended-upgrades/50unattended-upgrades.j2",
                serde_json::json!({
                    "allowed_origins": allowed,
                    "origins_pattern": patterns,
                    "origins_source": source,
                    "blacklist": self.blacklist(),
                    "automatic_reboot": self.automatic_reboot,
                    "automatic_reboot_time": self.automatic_reboot_time,
                }),
            )
            .map_err(|e| RoleError(e.to_string()))?;
        let mut r = Vec::new();
        if !facts
            .packages
            .get("unattended-upgrades")
            .is_some_and(|p| p.installed)
        {
            r.push(Resource::AptUpdate(AptUpdate {
                valid_secs: APT_WINDOW,
            }));
        }
        r.push(Resource::Packages(Packages::present(&[
            "unattended-upgrades",
        ])));
        r.push(Resource::File(
            File::new(UNATTENDED, text, 0o644).validated(Validate::Temp(APT_CONFIG_CHECK.into())),
        ));
        r.push(Resource::File(
            File::new(AUTO, AUTO_CONTENT, 0o644).validated(Validate::Temp(APT_CONFIG_CHECK.into())),
        ));
        r.push(Resource::Service(Service::running("unattended-upgrades")));
        if self.manage_timers {
            for t in TIMERS {
                r.push(Resource::Service(Service {
                    name: t.into(),
                    enabled: Some(true),
                    state: Some(ServiceState::Started),
                    masked: Some(false),
                    risk: Risk::Low,
                }));
            }
        }
        Ok(RolePlan {
            resources: r,
            handlers: Vec::new(),
        })
    }

    fn checks(&self) -> Vec<Check> {
        let mut out = vec![Check::unit_active(
            "unattended-upgrades.service",
            "unattended-upgrades is running",
            "unattended-upgrades.service",
        )];
        if self.manage_timers {
            out.push(Check::from_fact(
                "unattended-upgrades.timers",
                "the apt timers that run the upgrades are active",
                &check_command(TIMERS_CHECK_SH, &TIMERS),
                FactQuery::UnitsActive(TIMERS.iter().map(|t| (*t).to_owned()).collect()),
                Expect::Equals("active\nactive".into()),
            ));
        }
        // Four checks read apt's configuration: one `apt-config dump` per probe answers them
        // all, and the controller picks each one's lines.
        let dump = |id: &str, title: &str, equivalent: &str, prefixes: &[&str], expect| {
            Check::from_fact(
                id,
                title,
                equivalent,
                FactQuery::SharedLines {
                    command: APT_CONFIG_DUMP.into(),
                    prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
                },
                expect,
            )
        };
        let blacklist: Vec<String> = self
            .blacklist()
            .iter()
            .map(|p| format!("{BLACKLIST}\"{p}\";"))
            .collect();
        out.extend([
            dump(
                "unattended-upgrades.enabled",
                "apt refreshes its lists and runs unattended-upgrade every day",
                "apt-config dump | grep -E '^APT::Periodic::(Update-Package-Lists|Unattended-Upgrade) '",
                &["APT::Periodic::Update-Package-Lists ", "APT::Periodic::Unattended-Upgrade "],
                Expect::Lines(vec![
                    "APT::Periodic::Update-Package-Lists \"1\";".into(),
                    "APT::Periodic::Unattended-Upgrade \"1\";".into(),
                ]),
            ),
            dump(
                "unattended-upgrades.security-origins",
                "unattended-upgrades installs security updates",
                "apt-config dump | grep -iE '^Unattended-Upgrade::(Allowed-Origins|Origins-Pattern):: .*security'",
                &[
                    "Unattended-Upgrade::Allowed-Origins:: ",
                    "Unattended-Upgrade::Origins-Pattern:: ",
                ],
                Expect::ContainsNoCase("security".into()),
            ),
            dump(
                "unattended-upgrades.blacklist",
                &format!("never upgraded automatically: {}", self.blacklist().join(", ")),
                "apt-config dump | grep -F 'Unattended-Upgrade::Package-Blacklist:: '",
                &[BLACKLIST],
                Expect::Lines(blacklist),
            ),
            dump(
                "unattended-upgrades.automatic-reboot",
                if self.automatic_reboot {
                    "hosts reboot by themselves after upgrades"
                } else {
                    "hosts never reboot by themselves"
                },
                "apt-config dump | grep -E '^Unattended-Upgrade::Automatic-Reboot '",
                &["Unattended-Upgrade::Automatic-Reboot "],
                Expect::Equals(format!(
                    "Unattended-Upgrade::Automatic-Reboot \"{}\";",
                    self.automatic_reboot
                )),
            ),
            Check {
                fact: None,
                id: "unattended-upgrades.reboot-required".into(),
                title: "no reboot is pending".into(),
                command: "if [ -e /var/run/reboot-required ]; then \
                          p=$(sort -u /var/run/reboot-required.pkgs 2>/dev/null | paste -sd' ' -); \
                          echo \"reboot required by: ${p:-(packages not recorded)}\"; exit 1; fi; echo 'no reboot required'"
                    .into(),
                expect: Expect::Success,
            },
        ]);
        out
    }
}

pub mod controls;

#[cfg(test)]
mod tests;
