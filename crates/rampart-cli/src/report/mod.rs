//! Fleet-wide reports, as pure functions of a finished run: the hosts x controls matrix for the
//! terminal ([`matrix`]), JUnit XML ([`junit`]), one self-contained HTML file ([`html`]), the
//! audit's JSON document ([`audit_json`]), and the comparison with an earlier audit
//! ([`baseline`]).
//!
//! Every run (check, apply, audit) can write the same HTML and JUnit files: an audit's matrix is
//! its controls; a check or apply shows what changed where and how long each host took, plus
//! its verify controls when it ran them. Nothing here does IO but [`write_files`].

pub mod baseline;
pub mod html;
pub mod junit;
pub mod matrix;
pub mod merge;
pub mod scores;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use rampart_core::report::{HostReport, Mode, RunReport, Status};
use serde_json::json;

use crate::error::CliError;
use baseline::BaselineDiff;
use scores::{Scores, TrendPoint};

/// What a report shows beyond the run itself.
#[derive(Debug, Default, Clone)]
pub struct Extras<'a> {
    /// When the run started, for the reader ("2025-01-31 12:00:00 UTC").
    pub generated: Option<String>,
    /// The comparison with an earlier audit (`--baseline`).
    pub baseline: Option<&'a BaselineDiff>,
    /// Notes for the reader (hosts the port probe skipped, ...).
    pub notes: Vec<String>,
    /// The site audited (its name, else its file), for merging shard reports.
    pub site: Option<String>,
    /// `--shard I/N`, when the run was one slice of a fleet.
    pub shard: Option<String>,
    /// Failing controls waived with `--waive`: (host, control id).
    pub waived: BTreeSet<(String, String)>,
    /// Each host's position in the whole (unsharded) selection, so merged shards come out in
    /// the fleet's order.
    pub positions: HashMap<String, usize>,
    /// The report's scores, once computed ([`scores::of_doc`]).
    pub scores: Option<&'a Scores>,
    /// The fleet's score over the reports given (`--baseline`, oldest first, this run last).
    pub trend: Vec<TrendPoint>,
}

/// One matrix column: a control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The control's id ("ufw.active").
    pub id: String,
    /// Its title, as the first host that ran it reported it.
    pub title: String,
    /// The group it is shown under: the id up to the first dot ("ufw").
    pub group: String,
}

/// One matrix cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// Every check with this id passed on the host.
    Pass,
    /// At least one failed.
    Fail,
    /// The host did not run this control (not applicable, or unreachable).
    None,
}

/// The hosts x controls matrix of a run's verify verdicts.
#[derive(Debug)]
pub struct Matrix<'a> {
    /// Columns, grouped: groups in order of first appearance, controls likewise within each.
    pub columns: Vec<Column>,
    /// Rows, in the run's host order.
    pub rows: Vec<Row<'a>>,
}

/// One matrix row: a host.
#[derive(Debug)]
pub struct Row<'a> {
    /// The host's report.
    pub host: &'a HostReport,
    /// One cell per column.
    pub cells: Vec<Cell>,
}

impl Row<'_> {
    /// Failing cells.
    pub fn failing(&self) -> usize {
        self.cells.iter().filter(|c| **c == Cell::Fail).count()
    }
    /// Cells that ran.
    pub fn ran(&self) -> usize {
        self.cells.iter().filter(|c| **c != Cell::None).count()
    }
}

/// The group of a control id: everything before the first dot.
pub fn group_of(id: &str) -> &str {
    id.split_once('.').map_or(id, |(g, _)| g)
}

impl<'a> Matrix<'a> {
    /// Builds the matrix of a run.
    pub fn of(run: &'a RunReport) -> Matrix<'a> {
        let mut groups: Vec<String> = Vec::new();
        let mut by_group: Vec<Vec<Column>> = Vec::new();
        for h in &run.hosts {
            for v in &h.verify {
                let g = group_of(&v.id);
                let gi = match groups.iter().position(|x| x == g) {
                    Some(i) => i,
                    None => {
                        groups.push(g.to_owned());
                        by_group.push(Vec::new());
                        groups.len() - 1
                    }
                };
                if !by_group[gi].iter().any(|c| c.id == v.id) {
                    by_group[gi].push(Column {
                        id: v.id.clone(),
                        title: v.title.clone(),
                        group: g.to_owned(),
                    });
                }
            }
        }
        // The external probe's column comes last whatever order hosts reported in: it is the
        // outside view, after everything read on the hosts.
        let mut grouped: Vec<(String, Vec<Column>)> = groups.into_iter().zip(by_group).collect();
        grouped.sort_by_key(|(g, _)| g == "ports");
        let columns: Vec<Column> = grouped.into_iter().flat_map(|(_, c)| c).collect();
        let rows = run
            .hosts
            .iter()
            .map(|h| Row {
                host: h,
                cells: columns
                    .iter()
                    .map(|c| {
                        let mut seen = h.verify.iter().filter(|v| v.id == c.id).peekable();
                        if seen.peek().is_none() {
                            Cell::None
                        } else if seen.all(|v| v.pass) {
                            Cell::Pass
                        } else {
                            Cell::Fail
                        }
                    })
                    .collect(),
            })
            .collect();
        Matrix { columns, rows }
    }

    /// Failing cells over all hosts.
    pub fn failing(&self) -> usize {
        self.rows.iter().map(Row::failing).sum()
    }

    /// Groups with the number of columns each spans, in order.
    pub fn groups(&self) -> Vec<(&str, usize)> {
        let mut out: Vec<(&str, usize)> = Vec::new();
        for c in &self.columns {
            match out.last_mut() {
                Some((g, n)) if *g == c.group => *n += 1,
                _ => out.push((&c.group, 1)),
            }
        }
        out
    }
}

/// How a host ended, in one word, for the reports. In a check, a host with changes to make has
/// drifted (exit code 5); in an apply, changed is a success; in an audit only controls count.
pub fn host_state(h: &HostReport, mode: Mode) -> &'static str {
    if h.unreachable {
        "unreachable"
    } else if h.error.is_some() {
        "error"
    } else if h.failed > 0 || h.verify.iter().any(|v| !v.pass) {
        "failing"
    } else if mode == Mode::Check && h.changed > 0 {
        "drift"
    } else if mode == Mode::Apply && h.changed > 0 {
        "changed"
    } else {
        "passing"
    }
}

/// Whether a host's state counts as good.
pub fn state_ok(state: &str) -> bool {
    matches!(state, "passing" | "changed")
}

/// The audit's JSON document: per host its controls (`id`, `title`, `pass`, `evidence`), what
/// would change (drift), its timeline; the column catalogue; totals; the baseline comparison.
pub fn audit_json(run: &RunReport, extras: &Extras<'_>) -> serde_json::Value {
    let m = Matrix::of(run);
    let controls: Vec<_> = m
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let failing: Vec<&str> = m
                .rows
                .iter()
                .filter(|r| r.cells[i] == Cell::Fail)
                .map(|r| r.host.host.as_str())
                .collect();
            json!({ "id": c.id, "title": c.title, "failing_hosts": failing })
        })
        .collect();
    let hosts: Vec<_> = m
        .rows
        .iter()
        .map(|r| {
            let h = r.host;
            let drift: Vec<_> = h
                .resources
                .iter()
                .filter(|o| o.status != Status::Unchanged)
                .map(|o| json!({ "role": o.role, "id": o.id, "status": o.status, "summary": o.summary }))
                .collect();
            json!({
                "host": h.host,
                "address": h.address,
                "state": host_state(h, run.mode),
                "pass": !h.unreachable && h.error.is_none() && r.failing() == 0,
                "unreachable": h.unreachable,
                "error": h.error,
                "error_kind": h.error_kind,
                "failing": r.failing(),
                "seconds": h.seconds,
                "controls": control_entries(h, extras),
                "drift": drift,
                "timeline": h.timeline,
                "index": extras.positions.get(&h.host),
            })
        })
        .collect();
    let failing_hosts = m
        .rows
        .iter()
        .filter(|r| r.failing() > 0 || r.host.unreachable || r.host.error.is_some())
        .count();
    let mut doc = json!({
        "mode": "audit",
        "version": run.version,
        "site": extras.site,
        "shard": extras.shard,
        "generated": extras.generated,
        "seconds": run.seconds,
        "summary": {
            "hosts": run.hosts.len(),
            "hosts_passing": run.hosts.len() - failing_hosts,
            "hosts_failing": failing_hosts,
            "unreachable": run.hosts.iter().filter(|h| h.unreachable).count(),
            "controls": m.columns.len(),
            "checks": m.rows.iter().map(Row::ran).sum::<usize>(),
            "failing": m.failing(),
        },
        "controls": controls,
        "hosts": hosts,
        "notes": extras.notes,
    });
    if let Some(b) = extras.baseline {
        doc["baseline"] = serde_json::to_value(b).unwrap_or_default();
    }
    let scores = scores::of_doc(&doc);
    doc["summary"]["compliance"] = json!(scores.fleet.percent);
    doc["summary"]["waived"] = json!(scores.fleet.waived);
    doc["scores"] = serde_json::to_value(&scores).unwrap_or_default();
    if !extras.trend.is_empty() {
        doc["trend"] = serde_json::to_value(&extras.trend).unwrap_or_default();
    }
    doc
}

/// A host's control entries: each verdict, with its section (its own, else its id's group)
/// and, when it was waived, `"waived": true`.
fn control_entries(h: &HostReport, extras: &Extras<'_>) -> Vec<serde_json::Value> {
    h.verify
        .iter()
        .map(|v| {
            let mut e = serde_json::to_value(v).unwrap_or_default();
            if let Some(o) = e.as_object_mut() {
                o.entry("section").or_insert_with(|| json!(group_of(&v.id)));
                if !v.pass && extras.waived.contains(&(h.host.clone(), v.id.clone())) {
                    o.insert("waived".into(), json!(true));
                }
            }
            e
        })
        .collect()
}

/// The run an audit document describes, as far as the renderers need it: hosts with their
/// controls, errors, drift and timeline (the inverse of [`audit_json`] for merged reports).
pub fn run_of_doc(doc: &serde_json::Value) -> RunReport {
    use rampart_core::report::{Phase, ResourceOutcome};
    use rampart_core::verify::Verdict;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let hosts = doc["hosts"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|h| {
            let list = |k: &str| h[k].as_array().map(Vec::as_slice).unwrap_or_default();
            let mut r = HostReport {
                host: text(&h["host"]),
                address: text(&h["address"]),
                unreachable: h["unreachable"].as_bool().unwrap_or(false),
                error: h["error"].as_str().map(str::to_owned),
                error_kind: h["error_kind"].as_str().map(str::to_owned),
                seconds: h["seconds"].as_f64().unwrap_or(0.0),
                verify: list("controls")
                    .iter()
                    .map(|c| Verdict {
                        id: text(&c["id"]),
                        title: text(&c["title"]),
                        pass: c["pass"].as_bool().unwrap_or(false),
                        evidence: text(&c["evidence"]),
                    })
                    .collect(),
                timeline: list("timeline")
                    .iter()
                    .map(|p| Phase {
                        name: text(&p["name"]),
                        start: p["start"].as_f64().unwrap_or(0.0),
                        seconds: p["seconds"].as_f64().unwrap_or(0.0),
                    })
                    .collect(),
                resources: list("drift")
                    .iter()
                    .map(|d| ResourceOutcome {
                        role: text(&d["role"]),
                        id: text(&d["id"]),
                        status: match d["status"].as_str() {
                            Some("failed") => Status::Failed,
                            Some("skipped") => Status::Skipped,
                            Some("unchanged") => Status::Unchanged,
                            _ => Status::Changed,
                        },
                        summary: text(&d["summary"]),
                        diff: String::new(),
                        risk: None,
                        error: None,
                    })
                    .collect(),
                ..HostReport::default()
            };
            r.tally();
            r
        })
        .collect();
    RunReport {
        mode: Mode::Audit,
        version: text(&doc["version"]),
        seconds: doc["seconds"].as_f64().unwrap_or(0.0),
        hosts,
    }
}

/// Writes the `--html` and `--junit` files of a run, each atomically (a temporary file beside
/// it, renamed), so a reader never sees half a report.
pub fn write_files(
    run: &RunReport,
    html_path: Option<&Path>,
    junit_path: Option<&Path>,
    extras: &Extras<'_>,
) -> Result<(), CliError> {
    if let Some(p) = html_path {
        write_atomic(p, &html::render(run, extras))?;
    }
    if let Some(p) = junit_path {
        write_atomic(p, &junit::render_scored(run, extras.scores))?;
    }
    Ok(())
}

fn write_atomic(path: &Path, text: &str) -> Result<(), CliError> {
    // Shared, not private: a report is meant to be read, by CI and by people.
    rampart_engine::localfs::write_atomic(
        path,
        text.as_bytes(),
        rampart_engine::localfs::Access::Shared,
    )
    .map_err(|e| CliError::internal(format!("cannot write {}: {e}", path.display())))
}

/// A Unix time as `YYYY-MM-DD HH:MM:SS UTC` (no time-zone database needed).
pub fn format_utc(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Now, formatted with [`format_utc`].
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

#[cfg(test)]
pub(crate) mod testdata {
    //! A small fleet report shared by the renderers' tests.
    use rampart_core::report::{HostReport, Mode, Phase, ResourceOutcome, RunReport, Status};
    use rampart_core::verify::Verdict;

    pub fn verdict(id: &str, pass: bool, evidence: &str) -> Verdict {
        Verdict {
            id: id.into(),
            title: format!("title of {id}"),
            pass,
            evidence: evidence.into(),
        }
    }

    pub fn fleet() -> RunReport {
        let ok = |host: &str| HostReport {
            host: host.into(),
            address: format!("10.0.0.{}", host.len()),
            seconds: 1.5,
            verify: vec![
                verdict("ufw.active", true, "Status: active"),
                verdict("ufw.only-allowed", true, "ok"),
                verdict("sshd.permitrootlogin", true, "permitrootlogin no"),
                verdict("ports.only-ssh", true, "open: 22"),
            ],
            timeline: vec![
                Phase {
                    name: "connect".into(),
                    start: 0.0,
                    seconds: 0.2,
                },
                Phase {
                    name: "facts".into(),
                    start: 0.2,
                    seconds: 0.5,
                },
            ],
            ..HostReport::default()
        };
        let mut bad = ok("web<2>");
        bad.verify[3] = verdict(
            "ports.only-ssh",
            false,
            "unexpected open port 8080 & <script>alert(1)</script>",
        );
        bad.resources.push(ResourceOutcome {
            role: "ufw".into(),
            id: "ufw".into(),
            status: Status::Changed,
            summary: "enable ufw".into(),
            diff: "-Status: inactive\n+Status: active".into(),
            risk: None,
            error: None,
        });
        bad.changed = 1;
        let mut partial = ok("db1");
        partial.verify.retain(|v| v.id != "ufw.only-allowed");
        let gone = HostReport {
            host: "gone".into(),
            address: "10.0.0.99".into(),
            unreachable: true,
            error: Some("connection timed out".into()),
            error_kind: Some("timeout".into()),
            ..HostReport::default()
        };
        RunReport {
            mode: Mode::Audit,
            version: "0.1.0".into(),
            seconds: 2.0,
            hosts: vec![ok("web1"), bad, partial, gone],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_groups_columns_and_marks_missing_cells() {
        let run = testdata::fleet();
        let m = Matrix::of(&run);
        let ids: Vec<&str> = m.columns.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "ufw.active",
                "ufw.only-allowed",
                "sshd.permitrootlogin",
                "ports.only-ssh"
            ]
        );
        assert_eq!(m.groups(), [("ufw", 2), ("sshd", 1), ("ports", 1)]);
        assert_eq!(m.failing(), 1);
        assert_eq!(m.rows[1].cells[3], Cell::Fail);
        assert_eq!(m.rows[2].cells[1], Cell::None);
        assert!(m.rows[3].cells.iter().all(|c| *c == Cell::None));
    }

    #[test]
    fn the_json_document_has_hosts_with_controls() {
        let run = testdata::fleet();
        let doc = audit_json(&run, &Extras::default());
        assert_eq!(doc["summary"]["hosts"], 4);
        assert_eq!(doc["summary"]["controls"], 4);
        assert_eq!(doc["summary"]["failing"], 1);
        assert_eq!(
            doc["summary"]["hosts_failing"], 2,
            "the failing and the unreachable host"
        );
        let h = &doc["hosts"][1];
        assert_eq!(h["host"], "web<2>");
        assert_eq!(h["pass"], false);
        let c = &h["controls"][3];
        assert_eq!(c["id"], "ports.only-ssh");
        assert_eq!(c["pass"], false);
        assert!(c["title"].is_string() && c["evidence"].is_string());
        assert_eq!(h["drift"][0]["summary"], "enable ufw");
        assert_eq!(doc["controls"][3]["failing_hosts"][0], "web<2>");
    }

    #[test]
    fn writes_both_files_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (h, j) = (dir.path().join("r.html"), dir.path().join("r.xml"));
        write_files(&testdata::fleet(), Some(&h), Some(&j), &Extras::default()).expect("write");
        assert!(
            std::fs::read_to_string(&h)
                .expect("html")
                .starts_with("<!DOCTYPE html>")
        );
        assert!(
            std::fs::read_to_string(&j)
                .expect("xml")
                .starts_with("<?xml")
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        let missing = dir.path().join("no/such/dir/r.html");
        assert!(write_files(&testdata::fleet(), Some(&missing), None, &Extras::default()).is_err());
    }

    #[test]
    fn formats_utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_utc(1_735_689_599), "2024-12-31 23:59:59 UTC");
    }
}
