//! The terminal report of an audit: a hosts x controls matrix, one character per control,
//! controls grouped by role, then every failing control with its evidence.
//!
//! It stays readable at 64 hosts (one line per host) and 50 controls (about 110 columns).
//! When the terminal is narrower than the matrix, each group collapses into one cell that says
//! how many of its controls fail. Colour is a choice of the caller ([`Options::colors`]): the
//! glyphs differ by shape too, so the matrix reads the same with NO_COLOR.

use std::fmt::Write as _;

use console::Style;
use rampart_core::report::RunReport;

use super::{Cell, Extras, Matrix};

/// How to render.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// ANSI colours.
    pub colors: bool,
    /// The terminal's width, if known; the matrix collapses groups to fit it.
    pub width: Option<usize>,
}

const PASS: &str = "✓";
const FAIL: &str = "✗";
const NONE: &str = "·";
/// Group headings longer than this are cut (their full names are in the legend).
const GROUP_NAME_MAX: usize = 8;
const HOST_MAX: usize = 24;

struct Paint {
    ok: Style,
    bad: Style,
    dim: Style,
    bold: Style,
    warn: Style,
}

impl Paint {
    fn new(colors: bool) -> Self {
        let s = || Style::new().force_styling(colors);
        Paint {
            ok: s().green(),
            bad: s().red().bold(),
            dim: s().dim(),
            bold: s().bold(),
            warn: s().yellow(),
        }
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    format!("{s}{}", " ".repeat(width.saturating_sub(n)))
}

/// Renders the audit's terminal report.
pub fn render(run: &RunReport, extras: &Extras<'_>, opts: Options) -> String {
    // Host text (evidence, errors) is shown with its control characters escaped.
    let run = &run.for_terminal();
    let p = Paint::new(opts.colors);
    let m = Matrix::of(run);
    let mut out = String::new();
    let groups = m.groups();
    let host_w = m
        .rows
        .iter()
        .map(|r| r.host.host.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, HOST_MAX);
    let full_w: Vec<usize> = groups
        .iter()
        .map(|(g, n)| (*n).max(g.chars().count().min(GROUP_NAME_MAX)))
        .collect();
    let total_full = host_w + 2 + full_w.iter().map(|w| w + 2).sum::<usize>() + 14;
    let compact = opts.width.is_some_and(|w| total_full > w);
    let widths: Vec<usize> = if compact {
        groups
            .iter()
            .map(|(g, _)| g.chars().count().clamp(3, GROUP_NAME_MAX))
            .collect()
    } else {
        full_w
    };

    // Heading row: group names over their cells.
    let mut head = pad("host", host_w + 2);
    for ((g, _), w) in groups.iter().zip(&widths) {
        head.push_str(&pad(&cut(g, *w), *w + 2));
    }
    let _ = writeln!(out, "{}", p.bold.apply_to(head.trim_end()));

    for r in &m.rows {
        let h = r.host;
        let name = pad(&cut(&h.host, host_w), host_w + 2);
        if h.unreachable || (h.error.is_some() && h.verify.is_empty()) {
            let what = if h.unreachable {
                "UNREACHABLE"
            } else {
                "ERROR"
            };
            let why = h
                .error
                .as_deref()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("");
            let _ = writeln!(
                out,
                "{}{} {}",
                p.bad.apply_to(name),
                p.bad.apply_to(what),
                cut(why, 100)
            );
            continue;
        }
        let mut line = if r.failing() > 0 || h.error.is_some() {
            p.bad.apply_to(name).to_string()
        } else {
            name
        };
        let mut col = 0;
        for ((_, n), w) in groups.iter().zip(&widths) {
            let cells = &r.cells[col..col + n];
            col += n;
            if compact {
                let fails = cells.iter().filter(|c| **c == Cell::Fail).count();
                let ran = cells.iter().filter(|c| **c != Cell::None).count();
                let (text, style) = if fails > 0 {
                    (format!("{FAIL}{fails}"), &p.bad)
                } else if ran > 0 {
                    (PASS.to_owned(), &p.ok)
                } else {
                    (NONE.to_owned(), &p.dim)
                };
                let _ = write!(line, "{}", style.apply_to(pad(&text, *w + 2)));
            } else {
                for c in cells {
                    let _ = write!(
                        line,
                        "{}",
                        match c {
                            Cell::Pass => p.ok.apply_to(PASS),
                            Cell::Fail => p.bad.apply_to(FAIL),
                            Cell::None => p.dim.apply_to(NONE),
                        }
                    );
                }
                line.push_str(&" ".repeat(*w + 2 - n));
            }
        }
        let ran = r.ran();
        let passed = ran - r.failing();
        let tally = format!("{passed}/{ran}");
        let _ = write!(
            line,
            "{}",
            if r.failing() > 0 {
                p.bad.apply_to(tally)
            } else {
                p.ok.apply_to(tally)
            }
        );
        if let Some(e) = &h.error {
            let _ = write!(
                line,
                "  {}",
                p.bad.apply_to(cut(e.lines().next().unwrap_or(""), 80))
            );
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }

    // Legend: the glyphs, then each group's controls in column order.
    let _ = writeln!(
        out,
        "\n{} pass  {} fail  {} not run on that host{}",
        p.ok.apply_to(PASS),
        p.bad.apply_to(FAIL),
        p.dim.apply_to(NONE),
        if compact {
            "  (groups collapsed to fit the terminal: ✗N = N controls fail)"
        } else {
            ""
        }
    );
    let wrap = opts.width.unwrap_or(120).max(40);
    for (g, _) in &groups {
        let names: Vec<&str> = m
            .columns
            .iter()
            .filter(|c| c.group == *g)
            .map(|c| c.id.split_once('.').map_or(c.id.as_str(), |(_, rest)| rest))
            .collect();
        let mut line = format!("  {}:", p.bold.apply_to(g));
        let mut len = g.chars().count() + 3;
        for n in names {
            if len + n.len() + 1 > wrap {
                let _ = writeln!(out, "{line}");
                line = " ".repeat(g.chars().count() + 3);
                len = line.len();
            }
            line.push(' ');
            line.push_str(n);
            len += n.len() + 1;
        }
        let _ = writeln!(out, "{line}");
    }

    // Failures with their evidence, host by host.
    let failing = m.failing();
    if failing > 0 {
        let _ = writeln!(
            out,
            "\n{}",
            p.bad.apply_to(format!("FAILING CONTROLS ({failing})"))
        );
        for r in m.rows.iter().filter(|r| r.failing() > 0) {
            for (c, cell) in m.columns.iter().zip(&r.cells) {
                if *cell != Cell::Fail {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "  {}  {}  {}",
                    p.bold.apply_to(&r.host.host),
                    p.bad.apply_to(&c.id),
                    c.title
                );
                for v in r.host.verify.iter().filter(|v| v.id == c.id && !v.pass) {
                    let ev: Vec<&str> = v
                        .evidence
                        .lines()
                        .filter(|l| !l.trim().is_empty())
                        .collect();
                    if ev.is_empty() {
                        let _ = writeln!(out, "      {}", p.dim.apply_to("(no output)"));
                    }
                    for l in ev.iter().take(6) {
                        let _ = writeln!(
                            out,
                            "      {}",
                            p.dim.apply_to(cut(l, wrap.saturating_sub(6)))
                        );
                    }
                    if ev.len() > 6 {
                        let _ = writeln!(
                            out,
                            "      {}",
                            p.dim.apply_to(format!(
                                "… {} more lines (--json or --html for all)",
                                ev.len() - 6
                            ))
                        );
                    }
                }
            }
        }
    }

    if let Some(b) = extras.baseline {
        let _ = writeln!(
            out,
            "\n{} {}{}: {} newly failing, {} fixed, {} still failing",
            p.bold.apply_to("SINCE BASELINE"),
            b.file,
            b.generated
                .as_deref()
                .map(|g| format!(" ({g})"))
                .unwrap_or_default(),
            b.newly_failing.len(),
            b.fixed.len(),
            b.still_failing
        );
        for c in &b.newly_failing {
            let _ = writeln!(
                out,
                "  {}  {}  {}  (was {})",
                p.bad.apply_to("worse"),
                c.host,
                c.id,
                c.was
            );
        }
        for h in &b.newly_unreachable {
            let _ = writeln!(out, "  {}  {h}  unreachable now", p.bad.apply_to("worse"));
        }
        for c in &b.fixed {
            let _ = writeln!(out, "  {}  {}  {}", p.ok.apply_to("fixed"), c.host, c.id);
        }
        if !b.new_hosts.is_empty() {
            let _ = writeln!(out, "  new hosts: {}", b.new_hosts.join(", "));
        }
        if !b.missing_hosts.is_empty() {
            let _ = writeln!(
                out,
                "  not audited this time: {}",
                b.missing_hosts.join(", ")
            );
        }
    }
    for n in &extras.notes {
        let _ = writeln!(
            out,
            "{} {}",
            p.warn.apply_to("note:"),
            rampart_core::report::terminal_safe(n)
        );
    }
    if let Some(sc) = extras.scores {
        out.push_str(&scores_text(sc, &extras.trend));
    }

    let unreachable = run.hosts.iter().filter(|h| h.unreachable).count();
    let bad_hosts = m
        .rows
        .iter()
        .filter(|r| r.failing() > 0 || r.host.error.is_some())
        .count();
    let summary = format!(
        "{} hosts x {} controls in {:.1}s: {} hosts pass, {} fail ({} failing cells), {} unreachable",
        run.hosts.len(),
        m.columns.len(),
        run.seconds,
        run.hosts.len() - bad_hosts,
        bad_hosts - unreachable.min(bad_hosts),
        failing,
        unreachable
    );
    let _ = writeln!(
        out,
        "\n{}",
        if bad_hosts > 0 {
            p.bad.apply_to(summary)
        } else {
            p.ok.apply_to(summary)
        }
    );
    out
}

/// The scores block: the fleet, each section and level, each host; and the fleet's score over
/// the reports given, when there is a history.
pub fn scores_text(sc: &super::scores::Scores, trend: &[super::scores::TrendPoint]) -> String {
    use super::scores::{Tally, show};
    use rampart_core::report::terminal_safe;
    let t = |x: &Tally| {
        format!(
            "{} ({} passed, {} failed, {} waived)",
            show(x.percent),
            x.passed,
            x.failed,
            x.waived
        )
    };
    let mut out = format!("\ncompliance: {}\n", t(&sc.fleet));
    if !sc.by_level.is_empty() {
        let levels: Vec<String> = sc
            .by_level
            .iter()
            .map(|(l, x)| format!("level {} {}", terminal_safe(l), show(x.percent)))
            .collect();
        let _ = writeln!(out, "  by level:   {}", levels.join(" · "));
    }
    let sections: Vec<String> = sc
        .by_section
        .iter()
        .map(|(s, x)| format!("{} {}", terminal_safe(s), show(x.percent)))
        .collect();
    let _ = writeln!(out, "  by section: {}", sections.join(" · "));
    let hosts: Vec<String> = sc
        .hosts
        .iter()
        .map(|h| {
            format!(
                "{} {}",
                terminal_safe(&h.host),
                if h.ran {
                    show(h.total.percent)
                } else {
                    "unreachable".to_owned()
                }
            )
        })
        .collect();
    let _ = writeln!(out, "  by host:    {}", hosts.join(" · "));
    if trend.len() > 1 {
        let points: Vec<String> = trend
            .iter()
            .map(|p| {
                format!(
                    "{} {}",
                    terminal_safe(p.generated.as_deref().unwrap_or(&p.label)),
                    show(p.fleet.percent)
                )
            })
            .collect();
        let _ = writeln!(out, "  trend:      {}", points.join(" → "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::fleet;

    fn plain(width: Option<usize>) -> String {
        render(
            &fleet(),
            &Extras::default(),
            Options {
                colors: false,
                width,
            },
        )
    }

    #[test]
    fn one_line_per_host_one_glyph_per_control() {
        let s = plain(None);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "host    ufw  sshd  ports");
        assert_eq!(lines[1], "web1    ✓✓   ✓     ✓      4/4");
        assert_eq!(lines[2], "web<2>  ✓✓   ✓     ✗      3/4");
        assert_eq!(lines[3], "db1     ✓·   ✓     ✓      3/3");
        assert!(
            lines[4].starts_with("gone    UNREACHABLE connection timed out"),
            "{}",
            lines[4]
        );
        assert!(s.contains("  ufw: active only-allowed"), "{s}");
        assert!(s.contains("FAILING CONTROLS (1)"));
        assert!(s.contains(
            "  web<2>  ports.only-ssh  title of ports.only-ssh\n      unexpected open port 8080"
        ));
        assert!(s.contains("4 hosts x 4 controls in 2.0s: 2 hosts pass, 1 fail (1 failing cells), 1 unreachable"), "{s}");
        assert!(!s.contains('\u{1b}'), "no escape codes without colour");
    }

    #[test]
    fn collapses_groups_on_a_narrow_terminal() {
        let s = plain(Some(30));
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[1], "web1    ✓    ✓     ✓      4/4");
        assert_eq!(lines[2], "web<2>  ✓    ✓     ✗1     3/4");
        assert!(s.contains("collapsed"));
    }

    #[test]
    fn colours_when_asked() {
        let s = render(
            &fleet(),
            &Extras::default(),
            Options {
                colors: true,
                width: None,
            },
        );
        assert!(s.contains('\u{1b}'));
    }

    #[test]
    fn sixty_four_hosts_stay_one_line_each() {
        let mut run = fleet();
        let one = run.hosts[0].clone();
        run.hosts = (0..64)
            .map(|i| {
                let mut h = one.clone();
                h.host = format!("fleet-{i:02}");
                h
            })
            .collect();
        let s = render(
            &run,
            &Extras::default(),
            Options {
                colors: false,
                width: Some(100),
            },
        );
        let rows = s.lines().filter(|l| l.starts_with("fleet-")).count();
        assert_eq!(rows, 64);
        assert!(s.lines().all(|l| l.chars().count() <= 120), "{s}");
    }
}
