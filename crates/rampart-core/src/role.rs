//! Roles: a pure function from a typed configuration and a host's facts to resources.
//!
//! **Invariant:** a role does no IO. It declares the facts it needs from its configuration
//! alone ([`Configured::facts`]), so all facts of a host are gathered in one round trip before
//! any role plans, and then turns config + facts into a [`RolePlan`].

use std::collections::BTreeMap;
use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::facts::{FactRequest, Facts};
use crate::resource::Resource;
use crate::secret::Secret;
use crate::shell::Script;
use crate::template::Templates;
use crate::verify::Check;

/// A role as the registry knows it: a name and a way to validate its configuration.
pub trait Role: Send + Sync + Debug {
    /// The name used in site files, `--tags` and reports ("sshd", "ufw").
    fn name(&self) -> &'static str;

    /// One line saying what the role does, for `--help` and `rampart roles`.
    fn summary(&self) -> &'static str;

    /// Validates a merged configuration value (defaults already NOT applied: missing fields take
    /// the role's defaults) into a configured role.
    fn configure(&self, config: serde_json::Value) -> Result<Box<dyn Configured>, ConfigError>;

    /// The role's default configuration, as a value (for `rampart init` and docs).
    fn defaults(&self) -> serde_json::Value;

    /// The audit's built-in controls this role stands behind: the seed's checklist as read-only
    /// checks for hosts no site gives this role. On a host the site assigns the role to, its
    /// own configuration-aware [`Configured::checks`] replace them. Default: none.
    fn builtin_checks(&self) -> Vec<Check> {
        Vec::new()
    }
}

/// The role kit: a [`Role`] made of a name, a summary and a typed configuration `C` that
/// plans (`C: Configured`). It deserialises with [`configure_typed`] (the path of the first
/// error), runs the role's own validation and gives `C::default()` as the defaults, so a role
/// writes none of that itself:
///
/// ```ignore
/// pub fn role() -> Box<dyn Role> {
///     TypedRole::<Config>::new("motd", "the login banner")
///         .validated(Config::validate)
///         .builtin_checks(controls::builtin)
///         .boxed()
/// }
/// ```
pub struct TypedRole<C> {
    name: &'static str,
    summary: &'static str,
    validate: fn(&C) -> Result<(), ConfigError>,
    builtin_checks: fn() -> Vec<Check>,
}

impl<C> Debug for TypedRole<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedRole")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<C> TypedRole<C>
where
    C: Configured + DeserializeOwned + Default + Serialize + 'static,
{
    /// A role named `name` (site files, `--tags`, reports) with a one-line `summary`; every
    /// configuration that deserialises is valid and it has no built-in audit controls.
    pub fn new(name: &'static str, summary: &'static str) -> Self {
        TypedRole {
            name,
            summary,
            validate: |_| Ok(()),
            builtin_checks: Vec::new,
        }
    }

    /// Checks a deserialised configuration further (ranges, cross-field rules).
    #[must_use]
    pub fn validated(mut self, validate: fn(&C) -> Result<(), ConfigError>) -> Self {
        self.validate = validate;
        self
    }

    /// The audit's built-in controls of this role ([`Role::builtin_checks`]).
    #[must_use]
    pub fn builtin_checks(mut self, checks: fn() -> Vec<Check>) -> Self {
        self.builtin_checks = checks;
        self
    }

    /// The role, for the registry.
    pub fn boxed(self) -> Box<dyn Role> {
        Box::new(self)
    }
}

impl<C> Role for TypedRole<C>
where
    C: Configured + DeserializeOwned + Default + Serialize + 'static,
{
    fn name(&self) -> &'static str {
        self.name
    }
    fn summary(&self) -> &'static str {
        self.summary
    }
    fn configure(&self, config: serde_json::Value) -> Result<Box<dyn Configured>, ConfigError> {
        let c = configure_typed::<C>(config)?;
        (self.validate)(&c)?;
        Ok(Box::new(c))
    }
    fn defaults(&self) -> serde_json::Value {
        serde_json::to_value(C::default()).unwrap_or_default()
    }
    fn builtin_checks(&self) -> Vec<Check> {
        (self.builtin_checks)()
    }
}

/// A role with a validated configuration, ready to plan any host.
pub trait Configured: Send + Sync + Debug {
    /// Adds every fact this role will read to the host's single fact request.
    fn facts(&self, req: &mut FactRequest);

    /// Turns facts into resources and handlers.
    fn plan(&self, ctx: &HostContext<'_>) -> Result<RolePlan, RoleError>;

    /// Read-only checks that prove the role's intent holds on a host: the role's verify step,
    /// the rolling health gate and `rampart audit` controls. They depend on the configuration
    /// only, so they can run in the same round trip as the facts.
    fn checks(&self) -> Vec<Check> {
        Vec::new()
    }

    /// The templates this role renders and the variables it puts in their context over the
    /// host's own, so a variable nothing defines is refused before any host is contacted.
    fn templates(&self) -> Vec<TemplateUse> {
        Vec::new()
    }

    /// Secrets this role derives from the site's secrets (a password computed from another),
    /// so the run's redactor scrubs them too. Default: none.
    fn derived_secrets(&self, secrets: &BTreeMap<String, Secret>) -> Vec<Secret> {
        let _ = secrets;
        Vec::new()
    }
}

/// A template a role renders for every host it plans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateUse {
    /// Where the operator asked for it ("custom.files[2]").
    pub at: String,
    /// The template's name.
    pub template: String,
    /// Top-level variables the role provides, besides the host's variables.
    pub provided: std::collections::BTreeSet<String>,
}

/// Everything a role may look at when it plans one host.
#[derive(Debug)]
pub struct HostContext<'a> {
    /// The inventory name of the host.
    pub host: &'a str,
    /// The facts gathered from it in this run.
    pub facts: &'a Facts,
    /// The host's resolved variables (all < group < host < extra vars).
    pub vars: &'a serde_json::Value,
    /// Templates, embedded and user-overridden.
    pub templates: &'a Templates,
    /// Decrypted secrets by name.
    pub secrets: &'a BTreeMap<String, Secret>,
    /// The user rampart is connected as (for lockout checks).
    pub connect_user: &'a str,
}

/// What a role wants on one host.
#[derive(Debug, Default)]
pub struct RolePlan {
    /// Resources in the order they converge.
    pub resources: Vec<Resource>,
    /// Handlers by name; run once at the end of the role, only when notified.
    pub handlers: Vec<Handler>,
}

/// Code that runs once at the end of a role when a changed resource notified it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Handler {
    /// The name resources notify ("restart ssh").
    pub name: String,
    /// What it runs, as root.
    #[serde(skip)]
    pub script: Script,
}

/// A configuration value that does not fit the role's schema.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// Dotted path of the offending field inside the role's configuration ("" for the root).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// The unknown field's name, when serde reported one, for "did you mean" hints.
    pub unknown_field: Option<String>,
    /// The fields the role accepts at that level, when known.
    pub expected: Vec<String>,
}

/// A role could not plan a host: its facts contradict its configuration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RoleError(pub String);

impl ConfigError {
    /// An invalid value at `path` (dotted, "" for the root) of a role's configuration.
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.into(),
            message: message.into(),
            unknown_field: None,
            expected: Vec::new(),
        }
    }
}

/// Deserialises a role configuration with the path of the first error, the way every role
/// does it. Unknown fields are errors (roles use `#[serde(deny_unknown_fields)]`).
pub fn configure_typed<C: DeserializeOwned>(value: serde_json::Value) -> Result<C, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.inner().to_string();
        let (unknown_field, expected) = parse_unknown_field(&message);
        ConfigError {
            path: if path == "." { String::new() } else { path },
            message,
            unknown_field,
            expected,
        }
    })
}

/// Pulls the field name and the accepted names out of serde's "unknown field `x`, expected one
/// of `a`, `b`" message.
fn parse_unknown_field(message: &str) -> (Option<String>, Vec<String>) {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return (None, Vec::new());
    };
    let Some((field, tail)) = rest.split_once('`') else {
        return (None, Vec::new());
    };
    let expected = tail
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    (Some(field.to_owned()), expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Cfg {
        port: u16,
        #[serde(default)]
        allow_users: Vec<String>,
    }

    #[test]
    fn unknown_field_names_the_field_and_the_choices() {
        let err =
            configure_typed::<Cfg>(serde_json::json!({"port": 22, "alow_users": []})).unwrap_err();
        assert_eq!(err.unknown_field.as_deref(), Some("alow_users"));
        assert_eq!(err.expected, vec!["port", "allow_users"]);
    }

    #[test]
    fn type_error_has_a_path() {
        let err = configure_typed::<Cfg>(serde_json::json!({"port": "x"})).unwrap_err();
        assert_eq!(err.path, "port");
        assert!(err.message.contains("invalid type"), "{}", err.message);
    }
}
