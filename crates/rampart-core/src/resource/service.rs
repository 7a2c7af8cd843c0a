//! systemd units: enabled at boot, running, masked.

use serde::Serialize;

use super::PlanError;
use crate::facts::{FactRequest, Facts};
use crate::plan::{Apply, AttrChange, Change, Diff, Risk};
use crate::shell::Script;

/// Whether a unit should run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    /// Running.
    Started,
    /// Not running.
    Stopped,
}

/// A systemd unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Service {
    /// Unit name; `.service` is implied when there is no suffix.
    pub name: String,
    /// Start at boot (`None`: leave as is).
    pub enabled: Option<bool>,
    /// Run state (`None`: leave as is).
    pub state: Option<ServiceState>,
    /// Masked (`Some(true)`) or unmasked (`Some(false)`).
    pub masked: Option<bool>,
    /// How risky a change is (ssh.socket is `Access`).
    pub risk: Risk,
}

impl Service {
    /// A unit enabled and started.
    pub fn running(name: &str) -> Self {
        Service {
            name: name.into(),
            enabled: Some(true),
            state: Some(ServiceState::Started),
            masked: None,
            risk: Risk::Service,
        }
    }

    pub(super) fn facts(&self, req: &mut FactRequest) {
        req.units.insert(self.name.clone());
    }

    pub(super) fn plan(&self, facts: &Facts) -> Result<Change, PlanError> {
        let u = facts
            .units
            .get(&self.name)
            .ok_or_else(|| PlanError::MissingFact(format!("unit {}", self.name)))?;
        let n = self.name.as_str();
        let mut attrs = Vec::new();
        let mut script = Script::new();
        // A unit written earlier in this run, or edited on the host, is only seen by systemd
        // after a daemon-reload.
        if !u.exists() || u.need_daemon_reload {
            script.raw("systemctl daemon-reload");
        }
        if let Some(masked) = self.masked
            && masked != u.is_masked()
        {
            attrs.push(AttrChange::new("masked", u.is_masked(), masked));
            script.cmd(["systemctl", if masked { "mask" } else { "unmask" }, n]);
        }
        if let Some(enabled) = self.enabled
            && enabled != u.is_enabled()
        {
            attrs.push(AttrChange::new(
                "enabled",
                state_word(&u.unit_file_state),
                enabled,
            ));
            script.cmd([
                "systemctl",
                if enabled { "enable" } else { "disable" },
                "--quiet",
                n,
            ]);
        }
        if let Some(state) = self.state {
            let want_active = state == ServiceState::Started;
            if want_active != u.is_active() {
                attrs.push(AttrChange::new(
                    "state",
                    state_word(&u.active_state),
                    if want_active { "active" } else { "inactive" },
                ));
                script.cmd(["systemctl", if want_active { "start" } else { "stop" }, n]);
            }
        }
        if attrs.is_empty() {
            return Ok(Change::noop("unit state matches"));
        }
        let summary = format!(
            "{} {}",
            attrs
                .iter()
                .map(|a| format!("{}={}", a.name, a.after))
                .collect::<Vec<_>>()
                .join(" "),
            self.name
        );
        Ok(Change::Apply(Apply {
            summary,
            diff: Diff::Attrs(attrs),
            script,
            notify: Vec::new(),
            risk: self.risk,
            touches: Vec::new(),
        }))
    }

    pub(super) fn simulate(&self, facts: &mut Facts) {
        let u = facts.units.entry(self.name.clone()).or_default();
        u.load_state = "loaded".into();
        u.need_daemon_reload = false;
        if let Some(m) = self.masked {
            u.unit_file_state = if m {
                "masked".into()
            } else {
                "disabled".into()
            };
        }
        if let Some(e) = self.enabled {
            u.unit_file_state = if e {
                "enabled".into()
            } else {
                "disabled".into()
            };
        }
        if let Some(s) = self.state {
            u.active_state = if s == ServiceState::Started {
                "active".into()
            } else {
                "inactive".into()
            };
        }
    }
}

fn state_word(s: &str) -> &str {
    if s.is_empty() { "(none)" } else { s }
}

#[cfg(test)]
mod tests {
    use super::super::Resource;
    use super::super::testkit::assert_idempotent;
    use super::*;
    use crate::facts::UnitState;

    #[test]
    fn unknown_unit_is_reloaded_enabled_and_started() {
        let mut facts = Facts::default();
        facts.units.insert(
            "docker-iptables".into(),
            UnitState {
                load_state: "not-found".into(),
                ..Default::default()
            },
        );
        let s = Service::running("docker-iptables");
        let Change::Apply(a) = s.plan(&facts).unwrap() else {
            panic!()
        };
        assert_eq!(
            a.script.as_str(),
            "systemctl daemon-reload\nsystemctl enable --quiet docker-iptables\nsystemctl start docker-iptables\n"
        );
        assert_idempotent(&Resource::Service(s), facts);
    }

    #[test]
    fn running_unit_is_a_noop_and_stopped_one_starts() {
        let mut facts = Facts::default();
        let mut u = UnitState {
            load_state: "loaded".into(),
            active_state: "active".into(),
            unit_file_state: "enabled".into(),
            ..Default::default()
        };
        facts.units.insert("fail2ban".into(), u.clone());
        assert!(
            !Service::running("fail2ban")
                .plan(&facts)
                .unwrap()
                .is_apply()
        );
        u.active_state = "inactive".into();
        facts.units.insert("fail2ban".into(), u);
        let Change::Apply(a) = Service::running("fail2ban").plan(&facts).unwrap() else {
            panic!()
        };
        assert_eq!(a.script.as_str(), "systemctl start fail2ban\n");
    }
}
