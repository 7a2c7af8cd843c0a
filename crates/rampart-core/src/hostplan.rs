//! Planning one host: roles -> resources -> changes, and the batched apply script of a role.
//!
//! Everything here is pure. The engine gathers facts with [`fact_request`]'s probe, calls
//! [`plan_role`] per role, sends [`apply_script`] in one round trip per changed role, and reads
//! the result back with [`parse_apply_output`].

use std::collections::BTreeMap;

use crate::facts::{FactRequest, Facts};
use crate::plan::{Change, Risk};
use crate::report::{ResourceOutcome, Status};
use crate::resource::{PlanError, Resource, STALE_FACTS};
use crate::role::{Configured, Handler, HostContext};
use crate::secret::Redactor;
use crate::shell::quote;
use crate::verify::Check;

/// A role configured for a host.
#[derive(Debug, Clone, Copy)]
pub struct RoleInstance<'a> {
    /// The role's name.
    pub name: &'a str,
    /// Its validated configuration.
    pub configured: &'a dyn Configured,
}

/// The union of every fact the roles will read, plus `extra` (verify checks, audit).
pub fn fact_request(roles: &[RoleInstance<'_>]) -> FactRequest {
    let mut req = FactRequest::new();
    for r in roles {
        r.configured.facts(&mut req);
    }
    req
}

/// Adds verify checks to a request, so they run in the same probe.
pub fn add_checks(req: &mut FactRequest, checks: &[Check]) {
    for c in checks {
        req.commands.insert(c.fact_id(), c.command.clone());
    }
}

/// One resource and its verdict.
#[derive(Debug)]
pub struct Planned {
    /// The resource.
    pub resource: Resource,
    /// What it would take.
    pub change: Result<Change, PlanError>,
}

/// One role planned on one host.
#[derive(Debug, Default)]
pub struct PlannedRole {
    /// The role's name.
    pub role: String,
    /// Resources with their changes, in order.
    pub items: Vec<Planned>,
    /// The role's handlers.
    pub handlers: Vec<Handler>,
    /// The role itself could not plan (config contradicts facts).
    pub error: Option<String>,
}

impl PlannedRole {
    /// True when at least one resource would change.
    pub fn has_changes(&self) -> bool {
        self.items
            .iter()
            .any(|p| matches!(p.change, Ok(Change::Apply(_))))
    }

    /// True when a resource or the role could not be planned.
    pub fn has_errors(&self) -> bool {
        self.error.is_some() || self.items.iter().any(|p| p.change.is_err())
    }

    /// The highest risk among the changes.
    pub fn risk(&self) -> Risk {
        self.items
            .iter()
            .filter_map(|p| match &p.change {
                Ok(Change::Apply(a)) => Some(a.risk),
                _ => None,
            })
            .max()
            .unwrap_or(Risk::Low)
    }

    /// Paths the changes may write (for the dead-man switch's snapshot).
    pub fn touches(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .items
            .iter()
            .filter_map(|p| match &p.change {
                Ok(Change::Apply(a)) => Some(a.touches.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Outcomes as a check run reports them: would-change is `Changed`.
    pub fn outcomes(&self, redactor: &Redactor) -> Vec<ResourceOutcome> {
        if let Some(e) = &self.error {
            return vec![failed(&self.role, "role", redactor.redact(e))];
        }
        self.items
            .iter()
            .map(|p| outcome_of(&self.role, p, redactor))
            .collect()
    }
}

fn failed(role: &str, id: &str, error: String) -> ResourceOutcome {
    ResourceOutcome {
        role: role.into(),
        id: id.into(),
        status: Status::Failed,
        summary: error.clone(),
        diff: String::new(),
        risk: None,
        error: Some(error),
    }
}

fn outcome_of(role: &str, p: &Planned, redactor: &Redactor) -> ResourceOutcome {
    let id = p.resource.id();
    match &p.change {
        Err(e) => failed(role, &id, redactor.redact(&e.to_string())),
        Ok(Change::Noop { why }) => ResourceOutcome {
            role: role.into(),
            id,
            status: Status::Unchanged,
            summary: why.clone(),
            diff: String::new(),
            risk: None,
            error: None,
        },
        Ok(Change::Apply(a)) => ResourceOutcome {
            role: role.into(),
            id,
            status: Status::Changed,
            summary: redactor.redact(&a.summary),
            diff: redactor.redact(&a.diff.render()),
            risk: Some(a.risk),
            error: None,
        },
    }
}

/// Plans one role on a host. Facts a resource declares but the probe did not gather are a
/// bug in the role (its `facts()` and `plan()` disagree) and fail that resource loudly.
pub fn plan_role(name: &str, configured: &dyn Configured, ctx: &HostContext<'_>) -> PlannedRole {
    let plan = match configured.plan(ctx) {
        Ok(p) => p,
        Err(e) => {
            return PlannedRole {
                role: name.into(),
                error: Some(e.to_string()),
                ..PlannedRole::default()
            };
        }
    };
    // Edits of one file plan one after another: each against the file as the earlier ones
    // leave it, so the second edit's guard expects the first one's result, not the gathered
    // text (a catalogue edits /etc/login.defs line by line).
    let mut edited: Option<Facts> = None;
    let mut items = Vec::with_capacity(plan.resources.len());
    for resource in plan.resources {
        let change = resource.plan(edited.as_ref().unwrap_or(ctx.facts));
        if matches!(resource, Resource::Edit(_)) && matches!(change, Ok(Change::Apply(_))) {
            resource.simulate(edited.get_or_insert_with(|| ctx.facts.clone()));
        }
        items.push(Planned { resource, change });
    }
    PlannedRole {
        role: name.into(),
        items,
        handlers: plan.handlers,
        error: None,
    }
}

/// The one script that applies every change of a role, then its notified handlers.
///
/// Each change runs in its own `set -e` subshell; its output and exit status are framed by
/// marker lines. The first failure stops the role, but handlers notified by the changes that
/// did succeed still run (otherwise a written sshd drop-in would never be reloaded: the next
/// run sees the file already right and notifies nothing).
pub fn apply_script(role: &PlannedRole, nonce: &str) -> String {
    let m = format!("@@{nonce}");
    let mut s = String::from(
        "{\nexport LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\numask 022\nrampart_ok=1\n",
    );
    let mut notify_flags: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, h) in role.handlers.iter().enumerate() {
        notify_flags.insert(h.name.as_str(), i);
        s.push_str(&format!("rampart_h{i}=0\n"));
    }
    for (i, p) in role.items.iter().enumerate() {
        let Ok(Change::Apply(a)) = &p.change else {
            continue;
        };
        s.push_str(&format!(
            "if [ $rampart_ok = 1 ]; then\necho {}\n(\nset -e\n",
            quote(&format!("{m} start {i}"))
        ));
        s.push_str(a.script.as_str());
        s.push_str(&format!(
            ") </dev/null 2>&1\nrc=$?\necho \"{m} rc {i} $rc\"\n"
        ));
        let flags: Vec<String> = a
            .notify
            .iter()
            .filter_map(|n| notify_flags.get(n.as_str()))
            .map(|h| format!("rampart_h{h}=1"))
            .collect();
        if flags.is_empty() {
            s.push_str("[ $rc = 0 ] || rampart_ok=0\nfi\n");
        } else {
            s.push_str(&format!(
                "if [ $rc = 0 ]; then {}; else rampart_ok=0; fi\nfi\n",
                flags.join("; ")
            ));
        }
    }
    for (i, h) in role.handlers.iter().enumerate() {
        s.push_str(&format!(
            "if [ $rampart_h{i} = 1 ]; then\necho {}\n(\nset -e\n",
            quote(&format!("{m} handler {i}"))
        ));
        s.push_str(h.script.as_str());
        s.push_str(&format!(
            ") </dev/null 2>&1\nrc=$?\necho \"{m} hrc {i} $rc\"\nfi\n"
        ));
    }
    s.push_str(&format!(
        "echo {}\n}} </dev/null\n",
        quote(&format!("{m} end"))
    ));
    s
}

/// What came back from an apply script.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ApplyResult {
    /// Per resource index: (exit status, output).
    pub resources: BTreeMap<usize, (i32, String)>,
    /// Per handler index: (exit status, output).
    pub handlers: BTreeMap<usize, (i32, String)>,
    /// The script reached its end (not cut off by a lost connection).
    pub complete: bool,
}

/// Reads an apply script's output.
pub fn parse_apply_output(nonce: &str, stdout: &str) -> ApplyResult {
    let m = format!("@@{nonce} ");
    let mut r = ApplyResult::default();
    let mut buf: Vec<&str> = Vec::new();
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix(&m) else {
            buf.push(line);
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        match f.as_slice() {
            ["start" | "handler", ..] => buf.clear(),
            ["rc", i, rc] => {
                if let (Ok(i), Ok(rc)) = (i.parse(), rc.parse()) {
                    r.resources.insert(i, (rc, buf.join("\n")));
                }
                buf.clear();
            }
            ["hrc", i, rc] => {
                if let (Ok(i), Ok(rc)) = (i.parse(), rc.parse()) {
                    r.handlers.insert(i, (rc, buf.join("\n")));
                }
                buf.clear();
            }
            ["end"] => r.complete = true,
            _ => {}
        }
    }
    r
}

/// Turns an apply result into outcomes, in plan order.
pub fn apply_outcomes(
    role: &PlannedRole,
    res: &ApplyResult,
    redactor: &Redactor,
) -> Vec<ResourceOutcome> {
    if let Some(e) = &role.error {
        return vec![failed(&role.role, "role", redactor.redact(e))];
    }
    let mut out = Vec::new();
    let mut stopped = false;
    for (i, p) in role.items.iter().enumerate() {
        let mut o = outcome_of(&role.role, p, redactor);
        if let Ok(Change::Apply(_)) = &p.change {
            match res.resources.get(&i) {
                _ if stopped => {
                    o.status = Status::Skipped;
                    o.summary = format!("skipped after an earlier failure: {}", o.summary);
                }
                Some((0, _)) => {}
                Some((rc, output)) => {
                    stopped = true;
                    o.status = Status::Failed;
                    let output = redactor.redact(output.trim());
                    let what = if *rc == STALE_FACTS {
                        "the host changed under rampart"
                    } else {
                        "the step failed"
                    };
                    o.error = Some(format!("{what} (exit {rc}): {}", last_lines(&output, 12)));
                }
                None => {
                    stopped = true;
                    o.status = Status::Failed;
                    o.error = Some(if res.complete {
                        "the step did not run".into()
                    } else {
                        "the connection ended before this step reported back; the host may or may not have it".into()
                    });
                }
            }
        }
        out.push(o);
    }
    out
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(n);
    lines[from..].join("\n")
}

/// Handler failures, by name, with their output.
pub fn handler_results(
    role: &PlannedRole,
    res: &ApplyResult,
    redactor: &Redactor,
) -> Vec<(String, Result<(), String>)> {
    res.handlers
        .iter()
        .filter_map(|(i, (rc, out))| {
            let h = role.handlers.get(*i)?;
            let r = if *rc == 0 {
                Ok(())
            } else {
                Err(format!(
                    "handler `{}` failed (exit {rc}): {}",
                    h.name,
                    last_lines(&redactor.redact(out.trim()), 12)
                ))
            };
            Some((h.name.clone(), r))
        })
        .collect()
}

/// Checks that every fact the planned resources declare is in `facts`: the invariant that all
/// facts come from the single probe. Returns the resources that read something not gathered.
pub fn undeclared_facts(role: &PlannedRole, req: &FactRequest) -> Vec<String> {
    role.items
        .iter()
        .filter(|p| {
            let mut r = FactRequest::new();
            p.resource.facts(&mut r);
            !(r.files.is_subset(&req.files)
                && r.stats
                    .iter()
                    .all(|s| req.stats.contains(s) || req.files.contains(s))
                && r.sysctls.is_subset(&req.sysctls)
                && r.packages.is_subset(&req.packages)
                && r.units.is_subset(&req.units)
                && r.iptables.is_subset(&req.iptables)
                && (!r.accounts || req.accounts)
                && (!r.swaps || req.swaps)
                && (!r.ufw_live || req.ufw_live)
                && (!r.sshd_effective || req.sshd_effective)
                && (!r.apt || req.apt)
                && r.commands.keys().all(|k| req.commands.contains_key(k)))
        })
        .map(|p| p.resource.id())
        .collect()
}

/// The facts of `facts` after every successful change of a role, as the plan predicts them.
pub fn predicted(role: &PlannedRole, facts: &Facts) -> Facts {
    let mut f = facts.clone();
    for p in &role.items {
        if let Ok(Change::Apply(_)) = p.change {
            p.resource.simulate(&mut f);
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::FileState;
    use crate::resource::File;
    use crate::shell::Script;

    fn role() -> PlannedRole {
        let mut facts = Facts::default();
        facts.files.insert("/etc/a".into(), FileState::Absent);
        facts.files.insert("/etc/b".into(), FileState::Absent);
        let a = Resource::File(File::new("/etc/a", "a\n", 0o644).notifies("reload"));
        let b = Resource::File(File::new("/etc/b", "b\n", 0o644));
        let mut script = Script::new();
        script.raw("systemctl reload x");
        PlannedRole {
            role: "r".into(),
            items: vec![
                Planned {
                    change: a.plan(&facts),
                    resource: a,
                },
                Planned {
                    change: b.plan(&facts),
                    resource: b,
                },
            ],
            handlers: vec![Handler {
                name: "reload".into(),
                script,
            }],
            error: None,
        }
    }

    #[test]
    fn script_frames_each_step_and_gates_handlers() {
        let s = apply_script(&role(), "N");
        assert!(s.starts_with("{\n") && s.ends_with("} </dev/null\n"));
        assert!(s.contains("echo '@@N start 0'"));
        assert!(s.contains("if [ $rc = 0 ]; then rampart_h0=1; else rampart_ok=0; fi"));
        assert!(s.contains(
            "if [ $rampart_h0 = 1 ]; then\necho '@@N handler 0'\n(\nset -e\nsystemctl reload x\n"
        ));
    }

    #[test]
    fn a_failure_stops_the_role_and_later_steps_are_skipped() {
        let r = role();
        let out = "@@N start 0\n@@N rc 0 0\n@@N start 1\nmv: cannot move\n@@N rc 1 1\n@@N handler 0\n@@N hrc 0 0\n@@N end\n";
        let res = parse_apply_output("N", out);
        assert!(res.complete);
        let o = apply_outcomes(&r, &res, &Redactor::new());
        assert_eq!(o[0].status, Status::Changed);
        assert_eq!(o[1].status, Status::Failed);
        assert!(
            o[1].error
                .as_deref()
                .unwrap_or_default()
                .contains("mv: cannot move")
        );
        assert_eq!(
            handler_results(&r, &res, &Redactor::new()),
            vec![("reload".to_owned(), Ok(()))]
        );
    }

    #[test]
    fn a_cut_connection_is_reported_as_unknown() {
        let r = role();
        let res = parse_apply_output("N", "@@N start 0\n");
        let o = apply_outcomes(&r, &res, &Redactor::new());
        assert_eq!(o[0].status, Status::Failed);
        assert!(
            o[0].error
                .as_deref()
                .unwrap_or_default()
                .contains("connection ended")
        );
        assert_eq!(o[1].status, Status::Skipped);
    }

    #[test]
    fn predicted_facts_plan_nothing() {
        let r = role();
        let mut facts = Facts::default();
        facts.files.insert("/etc/a".into(), FileState::Absent);
        facts.files.insert("/etc/b".into(), FileState::Absent);
        let after = predicted(&r, &facts);
        for p in &r.items {
            assert!(!p.resource.plan(&after).unwrap().is_apply());
        }
    }

    #[derive(Debug)]
    struct TwoLines;

    impl Configured for TwoLines {
        fn facts(&self, req: &mut FactRequest) {
            req.files.insert("/etc/login.defs".into());
        }
        fn plan(
            &self,
            _: &HostContext<'_>,
        ) -> Result<crate::role::RolePlan, crate::role::RoleError> {
            Ok(crate::role::RolePlan {
                resources: vec![
                    Resource::Edit(crate::resource::Edit::line(
                        "/etc/login.defs",
                        "a",
                        "A ",
                        "A 1",
                    )),
                    Resource::Edit(crate::resource::Edit::line(
                        "/etc/login.defs",
                        "b",
                        "B ",
                        "B 2",
                    )),
                ],
                handlers: Vec::new(),
            })
        }
    }

    #[test]
    fn two_edits_of_one_file_plan_one_after_the_other() {
        let mut facts = Facts::default();
        let before = "A 0\nB 0\n";
        facts.files.insert(
            "/etc/login.defs".into(),
            crate::testing::text_file(before, 0o644, "root"),
        );
        let planned = crate::testing::plan_checked(&TwoLines, &facts, &BTreeMap::new(), "lab");
        let after_first = crate::testing::text_file("A 1\nB 0\n", 0o644, "root");
        let FileState::File { sha256, .. } = after_first else {
            unreachable!()
        };
        let second = match &planned.items[1].change {
            Ok(Change::Apply(a)) => a.script.as_str().to_owned(),
            other => panic!("{other:?}"),
        };
        // The second edit's stale-facts guard expects the file as the first edit leaves it.
        assert!(second.contains(&sha256), "{second}");
        let after = predicted(&planned, &facts);
        assert_eq!(after.files["/etc/login.defs"].text(), Some("A 1\nB 2\n"));
    }
}
