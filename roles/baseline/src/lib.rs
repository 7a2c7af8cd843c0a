//! The `baseline` role: a CIS Level 1/2 server baseline as data.
//!
//! The catalogue (`controls/NN-SECTION.toml`, embedded) lists controls; each says, in the
//! engine's own resources, what a compliant host has. A site picks a profile
//! (`cis-l1-server`, `cis-l2-server`), variables and waivers; the host's release (os-release
//! ID and VERSION_ID) picks the controls that apply to it. Kinds that share a file are
//! aggregated, so a waived control simply drops its lines. See README.md for the format.

pub mod audit;
pub mod build;
pub mod catalogue;
pub mod waiver;

use std::collections::BTreeMap;

use rampart_core::facts::FactRequest;
use rampart_core::role::{
    ConfigError, Configured, HostContext, Role, RoleError, RolePlan, configure_typed,
};
use rampart_core::template::Templates;
use rampart_core::verify::Check;
use serde::{Deserialize, Serialize};

pub use catalogue::{Catalogue, Control, Level, Os, PROFILES, Profile, catalogue};
pub use waiver::{Date, Waiver};

/// The role's name in sites and reports.
pub const NAME: &str = "baseline";
/// The name the access part runs under (see [`Part`]).
pub const ACCESS_NAME: &str = "baseline-access";

/// Which of the baseline's resources a role instance plans. The CLI runs the baseline as two
/// roles: `baseline` (everything but access, with every audit check) and then
/// `baseline-access` (the risk Access changes: sshd, PAM, sudoers, ...). The dead-man switch
/// guards a whole role's apply, so the access part stays short: package installs and the
/// like never run inside the confirmation window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// Everything (one role).
    #[default]
    All,
    /// Everything but the risk Access resources.
    Main,
    /// Only the risk Access resources.
    Access,
}

/// A resource's risk as its change will carry it.
fn risk_of(r: &rampart_core::resource::Resource) -> rampart_core::plan::Risk {
    use rampart_core::plan::Risk;
    use rampart_core::resource::Resource as R;
    match r {
        R::File(f) => f.risk,
        R::Edit(e) => e.risk,
        R::Service(s) => s.risk,
        R::Command(c) => c.risk,
        _ => Risk::Low,
    }
}

/// The role's settings, as the CLI builds them from the site's `[baseline]` table and the
/// play's `baseline = "..."`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The profile ("cis-l1-server").
    #[serde(default = "default_profile")]
    pub profile: String,
    /// Site variables over defaults.toml.
    #[serde(default)]
    pub vars: serde_json::Map<String, serde_json::Value>,
    /// Waivers.
    #[serde(default)]
    pub waivers: Vec<Waiver>,
    /// Run command controls' checks in every probe.
    #[serde(default)]
    pub deep: bool,
    /// Today's date (the controller's clock, UTC), for waiver expiry: core reads no clock.
    #[serde(default)]
    pub today: Option<String>,
    /// Which resources this instance plans.
    #[serde(default)]
    pub part: Part,
}

fn default_profile() -> String {
    "cis-l1-server".into()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            profile: default_profile(),
            vars: serde_json::Map::new(),
            waivers: Vec::new(),
            deep: false,
            today: None,
            part: Part::All,
        }
    }
}

/// A validated configuration.
#[derive(Clone, Debug)]
pub struct Baseline {
    /// As given.
    pub config: Config,
    /// The profile.
    pub profile: Profile,
    /// Defaults merged with the site's variables.
    pub vars: serde_json::Value,
    /// Today, if the CLI said.
    pub today: Option<Date>,
}

/// The role.
#[derive(Debug, Default)]
pub struct RoleImpl;

/// The role, for the registry.
pub fn role() -> Box<dyn Role> {
    Box::new(RoleImpl)
}

impl Role for RoleImpl {
    fn name(&self) -> &'static str {
        NAME
    }
    fn summary(&self) -> &'static str {
        "a CIS Level 1/2 server baseline as data (profiles, waivers, per-release controls)"
    }
    fn configure(&self, config: serde_json::Value) -> Result<Box<dyn Configured>, ConfigError> {
        let c = configure_typed::<Config>(config)?;
        Ok(Box::new(Baseline::new(c)?))
    }
    fn defaults(&self) -> serde_json::Value {
        serde_json::to_value(Config::default()).unwrap_or_default()
    }
}

fn config_error(path: &str, message: String) -> ConfigError {
    ConfigError {
        path: path.into(),
        message,
        unknown_field: None,
        expected: Vec::new(),
    }
}

/// The JSON type name of a value, for messages.
fn type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "nothing",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a table",
    }
}

/// Checks site variables against defaults.toml: known names, same types. Returns the merged
/// variables.
pub fn merge_vars(
    site: &serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Value, ConfigError> {
    let cat = catalogue();
    let mut merged: serde_json::Map<String, serde_json::Value> = cat
        .defaults
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in site {
        let Some(d) = cat.defaults.get(k) else {
            let mut e = config_error(
                &format!("vars.{k}"),
                format!("unknown baseline variable `{k}`"),
            );
            e.unknown_field = Some(k.clone());
            e.expected = cat.defaults.keys().cloned().collect();
            return Err(e);
        };
        if type_name(d) != type_name(v) {
            return Err(config_error(
                &format!("vars.{k}"),
                format!(
                    "`{k}` must be {} (like {d}), not {}",
                    type_name(d),
                    type_name(v)
                ),
            ));
        }
        merged.insert(k.clone(), v.clone());
    }
    Ok(serde_json::Value::Object(merged))
}

impl Baseline {
    /// Validates a configuration: the profile, every variable, every waiver.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        let profile = Profile::named(&config.profile).ok_or_else(|| {
            config_error(
                "profile",
                format!(
                    "unknown baseline profile `{}`: use {}",
                    config.profile,
                    PROFILES
                        .iter()
                        .map(|p| p.name)
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            )
        })?;
        let vars = merge_vars(&config.vars)?;
        let cat = catalogue();
        for (i, w) in config.waivers.iter().enumerate() {
            w.validate(cat)
                .map_err(|(field, m)| config_error(&format!("waivers[{i}].{field}"), m))?;
        }
        let today = match &config.today {
            Some(t) => Some(Date::parse(t).map_err(|m| config_error("today", m))?),
            None => None,
        };
        // Every template of the profile must render with these variables.
        let templates = Templates::embedded();
        let opts = build::Options {
            vars: &vars,
            deep: config.deep,
            templates: &templates,
        };
        build::build(&cat.select(profile, None), &opts, None)
            .map_err(|m| config_error("vars", m))?;
        Ok(Baseline {
            config,
            profile,
            vars,
            today,
        })
    }

    /// The waiver covering a control, if any (the first that matches).
    pub fn waiver_for(&self, id: &str) -> Option<&Waiver> {
        self.config.waivers.iter().find(|w| w.matches(id))
    }

    /// Whether a waiver is past its date.
    pub fn expired(&self, w: &Waiver) -> bool {
        self.today.is_some_and(|t| w.expired_on(t))
    }

    /// The controls applied on a release: the profile's, minus the waived ones.
    pub fn applied(&self, os: Option<Os>) -> Vec<&'static Control> {
        catalogue()
            .select(self.profile, os)
            .into_iter()
            .filter(|c| self.waiver_for(&c.id).is_none())
            .collect()
    }

    /// The profile's controls on a release that a waiver covers, with it.
    pub fn waived(&self, os: Option<Os>) -> Vec<(&'static Control, &Waiver)> {
        catalogue()
            .select(self.profile, os)
            .into_iter()
            .filter_map(|c| self.waiver_for(&c.id).map(|w| (c, w)))
            .collect()
    }

    fn opts<'a>(&'a self, templates: &'a Templates) -> build::Options<'a> {
        build::Options {
            vars: &self.vars,
            deep: self.config.deep,
            templates,
        }
    }
}

impl Configured for Baseline {
    fn facts(&self, req: &mut FactRequest) {
        let templates = Templates::embedded();
        // Config alone: every release's controls (a host's release is a fact).
        let controls = self.applied(None);
        if let Ok(b) = build::build(&controls, &self.opts(&templates), None) {
            build::facts(&b, req);
        }
        build::condition_facts(&controls, req);
    }

    fn plan(&self, ctx: &HostContext<'_>) -> Result<RolePlan, RoleError> {
        let h = &ctx.facts.host;
        let os = Os::from_release(&h.os_id, &h.os_version_id).ok_or_else(|| {
            RoleError(format!(
                "baseline: {} runs {} {}, and the catalogue has controls for {} only. Fix: leave the host out of the play's baseline (baseline = \"none\")",
                ctx.host,
                h.os_id,
                h.os_version_id,
                Os::ALL.map(Os::name).join(", ")
            ))
        })?;
        let mut controls = self.applied(Some(os));
        if h.in_container() {
            controls.retain(|c| c.container);
        }
        controls.retain(|c| c.conditions_hold(ctx.facts));
        let built = build::build(&controls, &self.opts(ctx.templates), Some(ctx.facts))
            .map_err(RoleError)?;
        let overridden = build::overridden_at_boot(&built, ctx.facts);
        if !overridden.is_empty() {
            return Err(RoleError(format!(
                "baseline: {} sets {}, and at boot it is read after {}, so the baseline would not survive a reboot. Fix: remove those lines from {}",
                build::SYSCTL_CONF,
                overridden.join(", "),
                build::SYSCTL_FILE,
                build::SYSCTL_CONF
            )));
        }
        let handlers = built.handlers(ctx.facts);
        let part = self.config.part;
        let resources = built
            .resources
            .into_iter()
            .filter(|r| {
                let access = risk_of(r) == rampart_core::plan::Risk::Access;
                match part {
                    Part::All => true,
                    Part::Main => !access,
                    Part::Access => access,
                }
            })
            .collect();
        Ok(RolePlan {
            resources,
            handlers,
        })
    }

    fn checks(&self) -> Vec<Check> {
        if self.config.part == Part::Access {
            // The main part carries every control's check.
            return Vec::new();
        }
        let templates = Templates::embedded();
        audit::checks(self, &self.opts(&templates))
    }
}

/// One line per waiver, for the CLI's notes and warnings:
/// `baseline: waived ID (N controls): REASON (by BY, expires DATE)`, or
/// `baseline: EXPIRED waiver ...` once past its date.
pub fn waiver_lines(b: &Baseline) -> Vec<String> {
    b.config
        .waivers
        .iter()
        .map(|w| {
            let n = b
                .waived(None)
                .into_iter()
                .filter(|(_, x)| std::ptr::eq(*x, w))
                .count();
            let state = if b.expired(w) {
                "EXPIRED waiver"
            } else {
                "waived"
            };
            format!(
                "baseline: {state} {} ({n} control{}): {} (by {}, expires {})",
                w.control,
                if n == 1 { "" } else { "s" },
                w.reason,
                w.by,
                w.expires
            )
        })
        .collect()
}

/// `rampart baseline list` rows: every control of a profile (or all), for one release or all.
pub fn list(profile: Option<Profile>, os: Option<Os>) -> Vec<&'static Control> {
    catalogue()
        .controls
        .iter()
        .filter(|c| profile.is_none_or(|p| p.includes(c)) && os.is_none_or(|o| c.applies_to(o)))
        .collect()
}

/// Counts of controls per section, for summaries.
pub fn per_section(controls: &[&Control]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for c in controls {
        *out.entry(c.section.clone()).or_insert(0) += 1;
    }
    out
}

#[cfg(test)]
mod tests;
