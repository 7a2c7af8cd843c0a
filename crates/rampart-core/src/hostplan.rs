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
use crate::shell::Script;
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
        c.request(req);
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
    let mut s = Script::new();
    s.raw(APPLY_BEGIN).source(APPLY_SH);
    let mut notify_flags: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, h) in role.handlers.iter().enumerate() {
        notify_flags.insert(h.name.as_str(), i);
    }
    for (i, p) in role.items.iter().enumerate() {
        let Ok(Change::Apply(a)) = &p.change else {
            continue;
        };
        let flags: Vec<String> = a
            .notify
            .iter()
            .filter_map(|n| notify_flags.get(n.as_str()))
            .map(|h| h.to_string())
            .collect();
        s.call(STEP_OPEN, [m.clone(), i.to_string(), flags.join(" ")])
            .extend(&a.script)
            .raw(STEP_CLOSE);
    }
    for (i, h) in role.handlers.iter().enumerate() {
        s.call(HANDLER_OPEN, [m.clone(), i.to_string()])
            .extend(&h.script)
            .raw(HANDLER_CLOSE);
    }
    s.call(APPLY_END, [m]);
    s.as_str().to_owned()
}

/// The apply script's frame: one brace group (parsed whole before it runs), a known locale,
/// PATH and umask, then `hostplan/apply.sh`'s bookkeeping.
const APPLY_BEGIN: &str = "{\nexport LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\numask 022";
const APPLY_SH: &str = include_str!("hostplan/apply.sh");
/// A change, after `set -- MARKER INDEX "HANDLERS"`: skipped once one failed; its own
/// subshell starts with no positional parameters.
/// Every marker carries the host's uptime (`rampart_uptime`, a `read` builtin: no process),
/// so each step's duration is known without a controller clock per step.
const STEP_OPEN: &str = "if [ $rampart_ok = 1 ]; then\nrampart_uptime\necho \"$1 start $2 $rampart_up\"\n(\nset -e\nset --";
const STEP_CLOSE: &str = ") </dev/null 2>&1\nrampart_done $? \"$@\"\nfi";
/// A handler, after `set -- MARKER INDEX`: run when a change that worked notified it.
const HANDLER_OPEN: &str = "if rampart_notifies \"$2\"; then\nrampart_uptime\necho \"$1 handler $2 $rampart_up\"\n(\nset -e\nset --";
const HANDLER_CLOSE: &str = ") </dev/null 2>&1\nrampart_hdone $? \"$@\"\nfi";
/// After `set -- MARKER`.
const APPLY_END: &str = "echo \"$1 end\"\n} </dev/null";

/// What came back from an apply script.
#[derive(Debug, Default, PartialEq)]
pub struct ApplyResult {
    /// Per resource index: (exit status, output).
    pub resources: BTreeMap<usize, (i32, String)>,
    /// Per handler index: (exit status, output).
    pub handlers: BTreeMap<usize, (i32, String)>,
    /// The script reached its end (not cut off by a lost connection).
    pub complete: bool,
    /// Per resource index: seconds the step took on the host (from the markers' uptime; absent
    /// when the host has no /proc/uptime or the markers carry none).
    pub seconds: BTreeMap<usize, f64>,
    /// Per handler index: seconds the handler took on the host.
    pub handler_seconds: BTreeMap<usize, f64>,
}

/// The step index named by a start marker line (`@@NONCE start I ...`), for a live view that
/// reads the apply's output as it streams; `None` for any other line.
pub fn step_started(nonce: &str, line: &str) -> Option<usize> {
    let rest = line.strip_prefix("@@")?.strip_prefix(nonce)?;
    let mut f = rest.split_whitespace();
    match f.next()? {
        "start" => f.next()?.parse().ok(),
        _ => None,
    }
}

/// Reads an apply script's output.
pub fn parse_apply_output(nonce: &str, stdout: &str) -> ApplyResult {
    let m = format!("@@{nonce} ");
    let mut r = ApplyResult::default();
    let mut buf: Vec<&str> = Vec::new();
    // The uptime of the last start marker. Markers without one (older scripts) parse as before.
    let up = |f: Option<&&str>| f.and_then(|u| u.parse::<f64>().ok());
    let mut began: Option<f64> = None;
    let took = |began: Option<f64>, end: Option<f64>| match (began, end) {
        (Some(a), Some(b)) if b >= a => Some(b - a),
        _ => None,
    };
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix(&m) else {
            buf.push(line);
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        match f.as_slice() {
            ["start" | "handler", _, t @ ..] => {
                began = up(t.first());
                buf.clear();
            }
            ["start" | "handler", ..] => buf.clear(),
            ["rc", i, rc, t @ ..] => {
                if let (Ok(i), Ok(rc)) = (i.parse(), rc.parse()) {
                    r.resources.insert(i, (rc, buf.join("\n")));
                    if let Some(s) = took(began.take(), up(t.first())) {
                        r.seconds.insert(i, s);
                    }
                }
                buf.clear();
            }
            ["hrc", i, rc, t @ ..] => {
                if let (Ok(i), Ok(rc)) = (i.parse(), rc.parse()) {
                    r.handlers.insert(i, (rc, buf.join("\n")));
                    if let Some(s) = took(began.take(), up(t.first())) {
                        r.handler_seconds.insert(i, s);
                    }
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
                && (!r.tcp_listeners || req.tcp_listeners)
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
        assert!(s.contains("set -- @@N 0 0\nif [ $rampart_ok = 1 ]"), "{s}");
        assert!(s.contains("echo \"$1 start $2 $rampart_up\""), "{s}");
        assert!(s.contains("read -r rampart_up _ </proc/uptime"), "{s}");
    }

    /// The whole apply script under dash, with the files under a temporary root: a change
    /// that works notifies its handler; a failed one stops the role (later changes skipped)
    /// but the handler of the one that worked still runs; a handler nobody notified does not.
    #[test]
    fn the_apply_script_under_dash_runs_handlers_of_what_worked() {
        let Some(sh) = rampart_shtest::Sh::new() else {
            return;
        };
        std::fs::create_dir(sh.path("etc")).unwrap();
        let (a, b, c) = (sh.path("etc/a"), sh.path("etc/b"), sh.path("etc/c"));
        let mut facts = Facts::default();
        for p in [&a, &b, &c] {
            facts.files.insert(p.clone(), FileState::Absent);
        }
        sh.write("etc/b", "someone's\n"); // stale: b fails with 75
        let item = |r: Resource| Planned {
            change: r.plan(&facts),
            resource: r,
        };
        let id = |flag: &str| {
            let out = std::process::Command::new("id").arg(flag).output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        let (u, g) = (id("-un"), id("-gn"));
        let me = |f: File| Resource::File(f.owned_by(&u, &g));
        let mut reload = Script::new();
        reload.raw("systemctl reload x");
        let mut other = Script::new();
        other.raw("systemctl restart y");
        sh.stub("systemctl", 0);
        let role = PlannedRole {
            role: "r".into(),
            items: vec![
                item(me(File::new(&a, "a\n", 0o644).notifies("reload"))),
                item(me(File::new(&b, "b\n", 0o644).notifies("other"))),
                item(me(File::new(&c, "c\n", 0o644))),
            ],
            handlers: vec![
                Handler {
                    name: "reload".into(),
                    script: reload,
                },
                Handler {
                    name: "other".into(),
                    script: other,
                },
            ],
            error: None,
        };
        // The apply script sets its own PATH: put the stub where it looks first.
        let script = apply_script(&role, "N").replacen(
            "PATH=/usr/local/sbin",
            &format!("PATH={}:/usr/local/sbin", sh.bin()),
            1,
        );
        let out = sh.run(&script, &[]);
        assert!(out.ok(), "{out:?}");
        let res = parse_apply_output("N", &out.stdout_str());
        assert!(res.complete, "{out:?}");
        assert_eq!(res.resources[&0].0, 0, "{out:?}");
        assert_eq!(res.resources[&1].0, STALE_FACTS, "{out:?}");
        assert!(!res.resources.contains_key(&2), "skipped after the failure");
        assert_eq!(sh.read("etc/a").as_deref(), Some("a\n"));
        assert!(sh.read("etc/c").is_none());
        assert_eq!(sh.calls(), ["systemctl reload x"]);
        assert_eq!(res.handlers.keys().copied().collect::<Vec<_>>(), [0]);
        let o = apply_outcomes(&role, &res, &Redactor::new());
        assert_eq!(
            o.iter().map(|o| o.status.clone()).collect::<Vec<_>>(),
            [Status::Changed, Status::Failed, Status::Skipped]
        );
        // every marker carries the host's uptime, so each step has a duration
        assert!(
            res.seconds.contains_key(&0) && res.seconds.contains_key(&1),
            "{out:?}"
        );
        assert!(res.handler_seconds.contains_key(&0), "{out:?}");
    }

    #[test]
    fn markers_with_uptime_time_each_step_and_old_markers_still_parse() {
        let out = "@@N start 0 100.25\nwrote\n@@N rc 0 0 101.75\n@@N start 1 101.75\nboom\n@@N rc 1 3 104.00\n@@N handler 0 104.00\n@@N hrc 0 0 104.50\n@@N end\n";
        let res = parse_apply_output("N", out);
        assert!(res.complete);
        assert_eq!(res.resources[&0], (0, "wrote".to_owned()));
        assert_eq!(res.resources[&1], (3, "boom".to_owned()));
        assert_eq!(res.seconds[&0], 1.5);
        assert_eq!(res.seconds[&1], 2.25);
        assert_eq!(res.handler_seconds[&0], 0.5);
        // A host without /proc/uptime (`-`), and the old marker format: no duration, same result.
        let res = parse_apply_output(
            "N",
            "@@N start 0 -\nx\n@@N rc 0 0 -\n@@N start 1\n@@N rc 1 0\n@@N end\n",
        );
        assert_eq!(res.resources[&0], (0, "x".to_owned()));
        assert_eq!(res.resources[&1], (0, String::new()));
        assert!(res.seconds.is_empty());
        assert_eq!(step_started("N", "@@N start 7 12.5"), Some(7));
        assert_eq!(step_started("N", "@@N start 7"), Some(7));
        assert_eq!(step_started("N", "@@N rc 7 0 1.0"), None);
        assert_eq!(step_started("N", "@@M start 7"), None);
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
