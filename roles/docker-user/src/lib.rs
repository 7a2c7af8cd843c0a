//! The `docker-user` role (being written).

use rampart_core::role::{ConfigError, Configured, HostContext, Role, RoleError, RolePlan, configure_typed};
use rampart_core::facts::FactRequest;
use serde::{Deserialize, Serialize};

/// The role's settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {}

/// The role.
#[derive(Debug, Default)]
pub struct RoleImpl;

/// The role, for the registry.
pub fn role() -> Box<dyn Role> {
    Box::new(RoleImpl)
}

impl Role for RoleImpl {
    fn name(&self) -> &'static str {
        "docker-user"
    }
    fn summary(&self) -> &'static str {
        "(being written)"
    }
    fn configure(&self, config: serde_json::Value) -> Result<Box<dyn Configured>, ConfigError> {
        Ok(Box::new(configure_typed::<Config>(config)?))
    }
    fn defaults(&self) -> serde_json::Value {
        serde_json::to_value(Config::default()).unwrap_or_default()
    }
}

impl Configured for Config {
    fn facts(&self, _req: &mut FactRequest) {}
    fn plan(&self, _ctx: &HostContext<'_>) -> Result<RolePlan, RoleError> {
        Ok(RolePlan::default())
    }
}
