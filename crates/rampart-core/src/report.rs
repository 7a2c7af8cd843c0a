//! Outcomes and reports: what happened to each resource on each host, summed into a recap.
//!
//! The same [`RunReport`] feeds the terminal recap, `--json`, JUnit and HTML. Diffs in it are
//! rendered text that has already been through the run's secret redactor.

use std::borrow::Cow;

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
    /// Every step and handler the apply ran, with how long it took on the host.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepTime>,
    /// Where this host's time went: its phases, with each apply split into its steps and the
    /// rest of the apply (lock, transport, script start); the items add up to the host's time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub time: Vec<TimeItem>,
}

/// One applied step (or handler) and its duration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepTime {
    /// The role.
    pub role: String,
    /// The resource id, or `handler:NAME`.
    pub step: String,
    /// Seconds it took on the host (its markers' uptimes).
    pub seconds: f64,
    /// Its exit status.
    pub exit: i32,
}

/// One item of a host's time accounting.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimeItem {
    /// The phase: connect, facts, plan, wait, apply, confirm, verify, ...
    pub phase: String,
    /// The role, for a role's apply, confirm or re-probe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The step, for an apply's step; `None` for the apply's own cost (lock, transport).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Seconds.
    pub seconds: f64,
}

/// The phase kind and role of a timeline phase name ("apply sshd" -> ("apply", Some("sshd")),
/// "wait wave 2" -> ("wait", None)).
pub fn phase_kind(name: &str) -> (&str, Option<&str>) {
    match name.split_once(' ') {
        Some((k, r)) if matches!(k, "apply" | "confirm" | "facts") => (k, Some(r)),
        Some((k, _)) => (k, None),
        None => (name, None),
    }
}

/// A host's time accounting from its phases and steps: each phase as it is, except that a
/// role's apply becomes its steps plus the remainder (the apply's lock, transport and script
/// start; never negative). The items add up to the phases' total.
pub fn account(timeline: &[Phase], steps: &[StepTime]) -> Vec<TimeItem> {
    let mut out = Vec::new();
    for p in timeline {
        let (kind, role) = phase_kind(&p.name);
        let item = |step: Option<String>, seconds: f64| TimeItem {
            phase: kind.to_owned(),
            role: role.map(str::to_owned),
            step,
            seconds,
        };
        if kind == "apply" {
            let role = role.unwrap_or_default();
            let mine: Vec<&StepTime> = steps.iter().filter(|s| s.role == role).collect();
            let sum: f64 = mine.iter().map(|s| s.seconds).sum();
            // The steps' clock is the host's; a few milliseconds of skew against the
            // controller's clock must not make the sum exceed the phase.
            let scale = if sum > p.seconds && sum > 0.0 {
                p.seconds / sum
            } else {
                1.0
            };
            for s in mine {
                out.push(item(Some(s.step.clone()), s.seconds * scale));
            }
            out.push(item(None, (p.seconds - sum * scale).max(0.0)));
        } else {
            out.push(item(None, p.seconds));
        }
    }
    out
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

/// The one sanitiser for text that reaches a terminal: every control character but newline
/// and tab (C0, DEL, C1: ESC starts CSI/OSC sequences, CR rewrites a line) and the bidi
/// overrides that reorder what is shown are written escaped (`\x1b`, `\u{202e}`). Hosts
/// choose much of what rampart prints (OS names, errors, diffs, evidence), and a host must not
/// be able to forge a line, retitle the window or hide text.
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if !unsafe_char(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

fn safe(s: &mut String) {
    if let Cow::Owned(o) = terminal_safe(s) {
        *s = o;
    }
}

impl HostReport {
    /// A copy with every text passed through [`terminal_safe`]: what the terminal printers
    /// use (JSON and HTML escape on their own and keep the exact text).
    pub fn for_terminal(&self) -> HostReport {
        let mut h = self.clone();
        safe(&mut h.host);
        safe(&mut h.address);
        for t in [&mut h.error, &mut h.error_kind].into_iter().flatten() {
            safe(t);
        }
        for r in &mut h.resources {
            safe(&mut r.role);
            safe(&mut r.id);
            safe(&mut r.summary);
            safe(&mut r.diff);
            if let Some(e) = &mut r.error {
                safe(e);
            }
        }
        for v in &mut h.verify {
            safe(&mut v.id);
            safe(&mut v.title);
            safe(&mut v.evidence);
        }
        h.handlers.iter_mut().for_each(safe);
        for p in &mut h.timeline {
            safe(&mut p.name);
        }
        for s in &mut h.steps {
            safe(&mut s.role);
            safe(&mut s.step);
        }
        for t in &mut h.time {
            safe(&mut t.phase);
            for x in [&mut t.role, &mut t.step].into_iter().flatten() {
                safe(x);
            }
        }
        h
    }
}

impl RunReport {
    /// A copy with every host's text made safe for a terminal ([`HostReport::for_terminal`]).
    pub fn for_terminal(&self) -> RunReport {
        RunReport {
            hosts: self.hosts.iter().map(HostReport::for_terminal).collect(),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_text_shows_control_characters_escaped() {
        let pretty =
            "Debian\x1b]0;pwned\x07\r\x1b[2K\x1b[32mh2 reachable\x1b[0m \u{9b}31m \u{202e}txt";
        let shown = terminal_safe(pretty);
        assert_eq!(
            shown,
            "Debian\\x1b]0;pwned\\x07\\x0d\\x1b[2K\\x1b[32mh2 reachable\\x1b[0m \\x9b31m \\u{202e}txt"
        );
        assert!(!shown.chars().any(|c| c.is_control()));
        assert!(matches!(terminal_safe("plain\ttext\n"), Cow::Borrowed(_)));
        let h = HostReport {
            error: Some("bad\x1b[2J".into()),
            resources: vec![ResourceOutcome {
                role: "r".into(),
                id: "x".into(),
                status: Status::Changed,
                summary: "s\x1b".into(),
                diff: "+a\x1b]8;;http://x\x07\n".into(),
                risk: None,
                error: None,
            }],
            ..HostReport::default()
        }
        .for_terminal();
        assert_eq!(h.error.as_deref(), Some("bad\\x1b[2J"));
        assert_eq!(h.resources[0].diff, "+a\\x1b]8;;http://x\\x07\n");
    }

    #[test]
    fn the_accounting_adds_up_to_the_phases() {
        let ph = |name: &str, start: f64, seconds: f64| Phase {
            name: name.into(),
            start,
            seconds,
        };
        let timeline = vec![
            ph("connect", 0.0, 0.2),
            ph("facts", 0.2, 0.5),
            ph("plan", 0.7, 0.01),
            ph("wait wave 2", 0.71, 3.0),
            ph("apply base", 3.71, 10.0),
            ph("facts sshd", 13.71, 0.3),
            ph("apply sshd", 14.01, 1.0),
            ph("confirm sshd", 15.01, 0.4),
            ph("verify", 15.41, 0.2),
        ];
        let st = |role: &str, step: &str, seconds: f64| StepTime {
            role: role.into(),
            step: step.into(),
            seconds,
            exit: 0,
        };
        // sshd's steps say 1.2 s against a 1.0 s phase (clock skew): scaled to fit.
        let steps = vec![
            st("base", "package:docker.io", 8.5),
            st("base", "file:/etc/x", 0.5),
            st("sshd", "file:/etc/ssh/sshd_config.d/rampart.conf", 0.7),
            st("sshd", "handler:reload", 0.5),
        ];
        let items = account(&timeline, &steps);
        let total: f64 = timeline.iter().map(|p| p.seconds).sum();
        let sum: f64 = items.iter().map(|i| i.seconds).sum();
        assert!((total - sum).abs() < 1e-9, "{total} vs {sum}");
        assert!(items.iter().all(|i| i.seconds >= 0.0));
        let base: Vec<_> = items
            .iter()
            .filter(|i| i.role.as_deref() == Some("base") && i.phase == "apply")
            .collect();
        assert_eq!(base.len(), 3);
        assert_eq!(base[0].step.as_deref(), Some("package:docker.io"));
        assert!((base[2].seconds - 1.0).abs() < 1e-9);
        assert_eq!(phase_kind("wait wave 2"), ("wait", None));
        assert_eq!(phase_kind("confirm sshd"), ("confirm", Some("sshd")));
    }

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
