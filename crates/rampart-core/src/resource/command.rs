//! A guarded command: the last resort when no resource fits. It runs only when its guard says
//! the work is not done yet (`creates` is absent, `unless` fails), so a re-run is a no-op.

use serde::Serialize;

use super::PlanError;
use crate::facts::{CommandResult, FactRequest, Facts, FileState};
use crate::plan::{Apply, Change, Diff, Risk};
use crate::shell::Script;

/// A command with a guard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Command {
    /// A short name, unique per host ("set hostname").
    pub name: String,
    /// Shell code to run, as root.
    pub run: String,
    /// Skip when this path exists.
    pub creates: Option<String>,
    /// Skip when this read-only check exits 0. It runs in the fact probe.
    pub unless: Option<String>,
    /// Skip, for this reason: the role already saw in the host's facts that the work is done.
    /// Cheaper than `unless` (no process in the probe), for roles that can tell from facts.
    pub satisfied: Option<String>,
    /// Handlers to notify when it ran.
    pub notify: Vec<String>,
    /// How risky running it is.
    pub risk: Risk,
}

impl Command {
    /// A command guarded by `unless`.
    pub fn unless(name: &str, run: &str, unless: &str) -> Self {
        Command {
            name: name.into(),
            run: run.into(),
            creates: None,
            unless: Some(unless.into()),
            satisfied: None,
            notify: Vec::new(),
            risk: Risk::Low,
        }
    }

    /// A command whose need the role decides from the facts: it runs unless `satisfied` holds
    /// a reason why the work is already done.
    pub fn decided(name: &str, run: &str, satisfied: Option<String>) -> Self {
        Command {
            name: name.into(),
            run: run.into(),
            creates: None,
            unless: None,
            satisfied,
            notify: Vec::new(),
            risk: Risk::Low,
        }
    }

    fn check_id(&self) -> String {
        format!("unless:{}", self.name)
    }

    /// The fact a simulated run leaves behind for a command without a host-side guard, so a
    /// re-plan of the simulated state sees the work done. Never probed.
    fn done_id(&self) -> String {
        format!("done:{}", self.name)
    }

    fn unguarded(&self) -> bool {
        self.creates.is_none() && self.unless.is_none()
    }

    pub(super) fn facts(&self, req: &mut FactRequest) {
        if let Some(p) = &self.creates {
            req.stats.insert(p.clone());
        }
        if let Some(u) = &self.unless {
            req.commands.insert(self.check_id(), u.clone());
        }
    }

    pub(super) fn plan(&self, facts: &Facts) -> Result<Change, PlanError> {
        if let Some(why) = &self.satisfied {
            return Ok(Change::noop(why.clone()));
        }
        if self.unguarded() && facts.commands.contains_key(&self.done_id()) {
            return Ok(Change::noop("done in this run"));
        }
        if let Some(p) = &self.creates {
            let st = facts
                .files
                .get(p)
                .ok_or_else(|| PlanError::MissingFact(format!("file {p}")))?;
            if *st != FileState::Absent {
                return Ok(Change::noop(format!("{p} exists")));
            }
        }
        if self.unless.is_some() {
            let r = facts
                .commands
                .get(&self.check_id())
                .ok_or_else(|| PlanError::MissingFact(self.check_id()))?;
            if r.rc == 0 {
                return Ok(Change::noop("its check passes"));
            }
        }
        let mut script = Script::new();
        script.operator_code(&self.run);
        Ok(Change::Apply(Apply {
            summary: self.name.clone(),
            diff: Diff::None,
            script,
            notify: self.notify.clone(),
            risk: self.risk,
            touches: Vec::new(),
        }))
    }

    pub(super) fn simulate(&self, facts: &mut Facts) {
        if self.satisfied.is_none() && self.unguarded() {
            facts.commands.insert(
                self.done_id(),
                CommandResult {
                    rc: 0,
                    output: String::new(),
                },
            );
        }
        if let Some(p) = &self.creates {
            facts.files.insert(p.clone(), FileState::Other);
        }
        if self.unless.is_some() {
            facts.commands.insert(
                self.check_id(),
                CommandResult {
                    rc: 0,
                    output: String::new(),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Resource;
    use super::super::testkit::assert_idempotent;
    use super::*;

    #[test]
    fn a_decided_command_runs_unless_the_role_saw_it_done_and_probes_nothing() {
        let todo = Command::decided("start x", "systemctl start x", None);
        let done = Command::decided("start x", "systemctl start x", Some("x is running".into()));
        let mut req = FactRequest::new();
        todo.facts(&mut req);
        done.facts(&mut req);
        assert_eq!(
            req,
            FactRequest::new(),
            "no probe section for a decided command"
        );
        assert!(todo.plan(&Facts::default()).unwrap().is_apply());
        assert!(!done.plan(&Facts::default()).unwrap().is_apply());
        assert_idempotent(&Resource::Command(todo), Facts::default());
    }

    #[test]
    fn runs_only_while_its_guard_fails() {
        let c = Command::unless(
            "set hostname",
            "hostname web1",
            "[ \"$(hostname)\" = web1 ]",
        );
        let mut facts = Facts::default();
        facts.commands.insert(
            "unless:set hostname".into(),
            CommandResult {
                rc: 1,
                output: String::new(),
            },
        );
        assert!(c.plan(&facts).unwrap().is_apply());
        assert_idempotent(&Resource::Command(c.clone()), facts.clone());
        let mut req = FactRequest::new();
        c.facts(&mut req);
        assert_eq!(
            req.commands["unless:set hostname"],
            "[ \"$(hostname)\" = web1 ]"
        );
    }
}
