//! Outcomes and reports: what happened to each resource on each host, summed into a recap.
//!
//! The same [`RunReport`] feeds the terminal recap, `--json`, JUnit and HTML. Diffs in it are
//! rendered text that has already been through the run's secret redactor.

use serde::Serialize;

use crate::plan::Risk;
use crate::verify::Verdict;

/// What happened to one resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Already as desired.
    Unchanged,
    /// Changed on the host (apply), or would be changed (check).
    Changed,
    /// Could not be planned or applied.
    Failed,
    /// Not attempted: an earlier failure on the host, or a filter.
    Skipped,
}

/// One resource's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResourceOutcome {
    /// The role the resource belongs to.
    pub role: String,
    /// The resource id.
    pub id: String,
    /// What happened.
    pub status: Status,
    /// A one-line summary of the change, or why nothing changed.
    pub summary: String,
    /// The rendered diff (redacted), empty when unchanged.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub diff: String,
    /// How risky the change was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
    /// The error, for failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the run did on one host.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HostReport {
    /// Inventory name.
    pub host: String,
    /// The address dialled.
    pub address: String,
    /// Resources already as desired.
    pub ok: usize,
    /// Resources changed (or that would change, in check).
    pub changed: usize,
    /// Resources that failed.
    pub failed: usize,
    /// Resources skipped.
    pub skipped: usize,
    /// The host could not be reached or logged into.
    pub unreachable: bool,
    /// The host rolled itself back (dead-man switch).
    pub rolled_back: bool,
    /// Host-level error (unreachable, facts unreadable, lock held), with what to do.
    pub error: Option<String>,
    /// The error's kind, for machines ("refused", "host_key_changed", ...).
    pub error_kind: Option<String>,
    /// SSH connections opened for this host (jump hops included).
    pub connections: u32,
    /// Exec round trips on those connections.
    pub round_trips: u32,
    /// Wall time for this host.
    pub seconds: f64,
    /// Every resource's outcome, in plan order.
    pub resources: Vec<ResourceOutcome>,
    /// Verify checks run after the change (or in audit).
    pub verify: Vec<Verdict>,
    /// Handlers that ran.
    pub handlers: Vec<String>,
    /// Timeline of the host's phases: (phase, seconds from the run's start, duration).
    pub timeline: Vec<Phase>,
    /// What the operator must do or know after this run (e.g. sshd moved to another port:
    /// update the inventory).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A timed phase of one host's run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Phase {
    /// "connect", "facts", "apply sshd", "verify".
    pub name: String,
    /// Seconds from the start of the run.
    pub start: f64,
    /// Seconds it took.
    pub seconds: f64,
}

impl HostReport {
    /// Recounts ok/changed/failed/skipped from the outcomes.
    pub fn tally(&mut self) {
        self.ok = self.count(&Status::Unchanged);
        self.changed = self.count(&Status::Changed);
        self.failed = self.count(&Status::Failed);
        self.skipped = self.count(&Status::Skipped);
    }

    fn count(&self, s: &Status) -> usize {
        self.resources.iter().filter(|r| r.status == *s).count()
    }

    /// The host ended badly: unreachable, a host-level error, a failed resource or check.
    pub fn is_failure(&self) -> bool {
        self.unreachable
            || self.error.is_some()
            || self.failed > 0
            || self.verify.iter().any(|v| !v.pass)
    }
}

/// The kind of run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Connect and report who answers.
    Ping,
    /// Preview: nothing written.
    Check,
    /// Converge.
    Apply,
    /// Read-only compliance.
    Audit,
}

/// A whole run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReport {
    /// What ran.
    pub mode: Mode,
    /// rampart's version.
    pub version: String,
    /// Wall time of the whole run.
    pub seconds: f64,
    /// Per host, in inventory order.
    pub hosts: Vec<HostReport>,
}

impl RunReport {
    /// Totals over all hosts: (ok, changed, failed, skipped, unreachable hosts).
    pub fn totals(&self) -> (usize, usize, usize, usize, usize) {
        self.hosts.iter().fold((0, 0, 0, 0, 0), |t, h| {
            (
                t.0 + h.ok,
                t.1 + h.changed,
                t.2 + h.failed,
                t.3 + h.skipped,
                t.4 + usize::from(h.unreachable),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_counts_statuses() {
        let mut h = HostReport::default();
        for s in [
            Status::Unchanged,
            Status::Changed,
            Status::Changed,
            Status::Failed,
        ] {
            h.resources.push(ResourceOutcome {
                role: "r".into(),
                id: "x".into(),
                status: s,
                summary: String::new(),
                diff: String::new(),
                risk: None,
                error: None,
            });
        }
        h.tally();
        assert_eq!((h.ok, h.changed, h.failed, h.skipped), (1, 2, 1, 0));
        assert!(h.is_failure());
    }
}
