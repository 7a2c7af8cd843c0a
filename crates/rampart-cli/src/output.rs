//! What the operator sees: a live progress view on a terminal (quiet lines otherwise), diffs,
//! the recap table, and `--json`. Data goes to stdout, progress and logs to stderr.

use std::io::Write;

use comfy_table::{Cell, Color, ContentArrangement, Table, presets};
use console::style;
use rampart_core::report::{HostReport, Mode, RunReport, Status, phase_kind};

pub use crate::live::Progress;

/// Whether to colour: not when NO_COLOR is set, `--no-color` was given, or stdout is no TTY.
pub fn init_colors(no_color: bool) {
    let off = no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    if off {
        console::set_colors_enabled(false);
        console::set_colors_enabled_stderr(false);
    }
}

/// One line per finished host: `h1  ok=12 changed=3  0.41s`.
pub(crate) fn host_line(r: &HostReport, mode: Mode) -> String {
    // Host text (errors, the OS name) is shown with its control characters escaped.
    let r = &r.for_terminal();
    let name = format!("{:<16}", r.host);
    if r.unreachable {
        return format!(
            "{} {} {}",
            style(name).red().bold(),
            style("UNREACHABLE").red(),
            r.error
                .as_deref()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
        );
    }
    if let Some(e) = &r.error {
        return format!(
            "{} {} {}",
            style(name).red().bold(),
            style("FAILED").red(),
            e.lines().next().unwrap_or("")
        );
    }
    if mode == Mode::Ping {
        let os = r.resources.first().map_or("", |o| o.summary.as_str());
        return format!(
            "{} {}  {os}  {:.2}s",
            style(name).green(),
            style("reachable").green(),
            r.seconds
        );
    }
    let verb = if mode == Mode::Check {
        "would change"
    } else {
        "changed"
    };
    let mut s = format!(
        "{name} ok={} {verb}={} failed={}",
        r.ok, r.changed, r.failed
    );
    if r.skipped > 0 {
        s.push_str(&format!(" skipped={}", r.skipped));
    }
    s.push_str(&format!("  {:.2}s", r.seconds));
    if r.failed > 0 {
        style(s).red().to_string()
    } else if r.changed > 0 {
        style(s).yellow().to_string()
    } else {
        style(s).green().to_string()
    }
}

/// Prints what changed (or would change) per host, with diffs when asked.
pub fn print_changes(report: &RunReport, diff: bool, verbose: bool) {
    let report = &report.for_terminal();
    let mut out = std::io::stdout().lock();
    for h in &report.hosts {
        let interesting: Vec<_> = h
            .resources
            .iter()
            .filter(|r| r.status != Status::Unchanged || verbose)
            .collect();
        if interesting.is_empty() && h.verify.iter().all(|v| v.pass) {
            continue;
        }
        let _ = writeln!(
            out,
            "{}",
            style(format!("── {} ({})", h.host, h.address)).bold()
        );
        for r in interesting {
            let (mark, text) = match r.status {
                Status::Unchanged => (
                    style("  ok     ").dim(),
                    style(format!("{} {}: {}", r.role, r.id, r.summary)).dim(),
                ),
                Status::Changed => (
                    style(if report.mode == Mode::Check {
                        "  change "
                    } else {
                        "  changed"
                    })
                    .yellow(),
                    style(format!("{} {}: {}", r.role, r.id, r.summary)),
                ),
                Status::Failed => (
                    style("  FAILED ").red().bold(),
                    style(format!(
                        "{} {}: {}",
                        r.role,
                        r.id,
                        r.error.as_deref().unwrap_or(&r.summary)
                    ))
                    .red(),
                ),
                Status::Skipped => (
                    style("  skipped").dim(),
                    style(format!("{} {}: {}", r.role, r.id, r.summary)).dim(),
                ),
            };
            let _ = writeln!(out, "{mark} {text}");
            if diff && !r.diff.is_empty() {
                for line in r.diff.lines() {
                    let l = if line.starts_with('+') && !line.starts_with("+++") {
                        style(line).green()
                    } else if line.starts_with('-') && !line.starts_with("---") {
                        style(line).red()
                    } else {
                        style(line).dim()
                    };
                    let _ = writeln!(out, "      {l}");
                }
            }
        }
        for v in h.verify.iter().filter(|v| !v.pass) {
            let _ = writeln!(
                out,
                "{} {}: {} — {}",
                style("  VERIFY ").red().bold(),
                v.id,
                v.title,
                v.evidence.lines().next().unwrap_or("")
            );
        }
    }
}

/// The recap table on stdout.
pub fn print_recap(report: &RunReport) {
    let report = &report.for_terminal();
    let mut t = Table::new();
    t.load_style(presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic);
    let changed_head = if report.mode == Mode::Check {
        "would change"
    } else {
        "changed"
    };
    t.set_header(vec![
        "host",
        "ok",
        changed_head,
        "failed",
        "skipped",
        "unreachable",
        "verify",
        "trips",
        "time",
    ]);
    let colors = console::colors_enabled();
    let paint = |c: Cell, color: Color, on: bool| if colors && on { c.fg(color) } else { c };
    for h in &report.hosts {
        let verify = if h.verify.is_empty() {
            "-".to_owned()
        } else {
            format!(
                "{}/{}",
                h.verify.iter().filter(|v| v.pass).count(),
                h.verify.len()
            )
        };
        t.add_row(vec![
            paint(Cell::new(&h.host), Color::Red, h.is_failure()),
            Cell::new(h.ok),
            paint(Cell::new(h.changed), Color::Yellow, h.changed > 0),
            paint(Cell::new(h.failed), Color::Red, h.failed > 0),
            Cell::new(h.skipped),
            paint(
                Cell::new(if h.unreachable { "yes" } else { "" }),
                Color::Red,
                h.unreachable,
            ),
            paint(
                Cell::new(verify),
                Color::Red,
                h.verify.iter().any(|v| !v.pass),
            ),
            Cell::new(h.round_trips),
            Cell::new(format!("{:.2}s", h.seconds)),
        ]);
    }
    let (ok, changed, failed, skipped, unreachable) = report.totals();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{t}");
    let _ = writeln!(
        out,
        "{} hosts in {:.2}s: ok={ok} {changed_head}={changed} failed={failed} skipped={skipped} unreachable={unreachable}",
        report.hosts.len(),
        report.seconds
    );
    for h in report.hosts.iter().filter(|h| h.error.is_some()) {
        let _ = writeln!(
            out,
            "{} {}: {}",
            style("error:").red().bold(),
            h.host,
            h.error.as_deref().unwrap_or_default()
        );
    }
    for h in &report.hosts {
        for n in &h.notes {
            let _ = writeln!(out, "{} {}: {n}", style("note:").yellow().bold(), h.host);
        }
    }
    let _ = write!(out, "{}", where_the_time_went(report));
}

/// The recap's tail: the 5 slowest steps across the fleet and the time each phase took, summed
/// over the hosts (hosts run side by side: the sums exceed the wall time).
pub fn where_the_time_went(report: &RunReport) -> String {
    let mut s = String::new();
    let mut steps: Vec<(&str, &rampart_core::report::StepTime)> = report
        .hosts
        .iter()
        .flat_map(|h| h.steps.iter().map(move |st| (h.host.as_str(), st)))
        .collect();
    steps.sort_by(|a, b| b.1.seconds.total_cmp(&a.1.seconds));
    if !steps.is_empty() {
        s.push_str("slowest steps:\n");
        for (host, st) in steps.iter().take(5) {
            let failed = if st.exit == 0 {
                String::new()
            } else {
                format!("  (exit {})", st.exit)
            };
            s.push_str(&format!(
                "  {:>8.2}s  {host}  {}: {}{failed}\n",
                st.seconds, st.role, st.step
            ));
        }
    }
    let order = [
        "connect", "ping", "facts", "plan", "wait", "apply", "confirm", "rollback", "verify",
    ];
    let mut phases: Vec<(String, f64)> = Vec::new();
    for h in &report.hosts {
        for p in &h.timeline {
            let (kind, role) = phase_kind(&p.name);
            let kind = match (kind, role) {
                ("facts", Some(_)) => "re-probe".to_owned(),
                ("facts", None) => "probe".to_owned(),
                (k, _) => k.to_owned(),
            };
            match phases.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, t)) => *t += p.seconds,
                None => phases.push((kind, p.seconds)),
            }
        }
    }
    let rank = |k: &str| {
        let k = match k {
            "probe" | "re-probe" => "facts",
            k => k,
        };
        order.iter().position(|o| *o == k).unwrap_or(order.len())
    };
    phases.sort_by_key(|(k, _)| (rank(k), k == "re-probe"));
    if !phases.is_empty() {
        s.push_str("time by phase (all hosts):");
        for (k, t) in &phases {
            s.push_str(&format!(" {k} {t:.2}s"));
        }
        s.push('\n');
    }
    s
}

/// Prints a document as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(doc: &T) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, doc);
    let _ = writeln!(out);
}
