//! The HTML report: one self-contained file (its CSS and script are embedded; it loads nothing
//! from anywhere) that opens in any browser, from a CI artifact or an e-mail.
//!
//! It shows the hosts x controls matrix (each cell links to its evidence), the failures, what
//! got worse since a baseline, what changed (check, apply) or drifted (audit) on each host by
//! role, a timeline of every host's phases, and per-host details with evidence and diffs. The
//! page is complete without its script (the matrix and details are rendered here); the script
//! adds filtering and jumping to evidence. Every text from a host is HTML-escaped.

use std::fmt::Write as _;

use rampart_core::report::{HostReport, Mode, Phase, RunReport, Status};

use super::scores::{Scores, Tally, show};
use super::{Cell, Extras, Matrix, host_state, state_ok};

const CSS: &str = include_str!("assets/report.css");
const JS: &str = include_str!("assets/report.js");

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Ping => "ping",
        Mode::Check => "check",
        Mode::Apply => "apply",
        Mode::Audit => "audit",
    }
}

fn status_name(s: &Status) -> &'static str {
    match s {
        Status::Unchanged => "unchanged",
        Status::Changed => "changed",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
    }
}

fn secs(s: f64) -> String {
    if s >= 60.0 {
        format!("{}m{:04.1}s", (s / 60.0).floor(), s % 60.0)
    } else {
        format!("{s:.2}s")
    }
}

/// Renders a run as one HTML document.
pub fn render(run: &RunReport, extras: &Extras<'_>) -> String {
    let m = Matrix::of(run);
    let mode = mode_name(run.mode);
    let mut s = String::with_capacity(64 * 1024);
    let unreachable = run.hosts.iter().filter(|h| h.unreachable).count();
    let bad_hosts = run
        .hosts
        .iter()
        .filter(|h| !state_ok(host_state(h, run.mode)))
        .count();
    let (ok, changed, failed, skipped, _) = run.totals();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"rampart {v}\">\n\
         <title>rampart {mode}: {n} hosts{when}</title>\n<style>\n{CSS}</style>\n</head>\n\
         <body data-mode=\"{mode}\" data-hosts=\"{n}\" data-controls=\"{c}\" data-failing=\"{f}\">\n",
        v = esc(&run.version),
        n = run.hosts.len(),
        when = extras
            .generated
            .as_deref()
            .map(|g| format!(", {}", esc(g)))
            .unwrap_or_default(),
        c = m.columns.len(),
        f = m.failing(),
    );

    // Header and summary cards.
    let _ = write!(
        s,
        "<header>\n<h1>rampart <span class=\"mode\">{mode}</span></h1>\n<p class=\"meta\">{} hosts",
        run.hosts.len()
    );
    if !m.columns.is_empty() {
        let _ = write!(s, " &middot; {} controls", m.columns.len());
    }
    let _ = write!(s, " &middot; {} wall time", secs(run.seconds));
    if let Some(g) = &extras.generated {
        let _ = write!(s, " &middot; {}", esc(g));
    }
    let _ = write!(
        s,
        " &middot; rampart {}</p>\n<div class=\"cards\">\n",
        esc(&run.version)
    );
    let card = |s: &mut String, class: &str, value: String, label: &str| {
        let _ = writeln!(
            s,
            "<div class=\"card {class}\"><b>{value}</b><span>{label}</span></div>"
        );
    };
    card(
        &mut s,
        if bad_hosts > 0 { "bad" } else { "good" },
        format!("{}/{}", run.hosts.len() - bad_hosts, run.hosts.len()),
        "hosts passing",
    );
    if !m.columns.is_empty() {
        card(
            &mut s,
            if m.failing() > 0 { "bad" } else { "good" },
            m.failing().to_string(),
            "failing controls",
        );
    }
    if run.mode != Mode::Audit {
        card(
            &mut s,
            if changed > 0 { "warn" } else { "good" },
            changed.to_string(),
            if run.mode == Mode::Check {
                "would change"
            } else {
                "changed"
            },
        );
        card(
            &mut s,
            if failed > 0 { "bad" } else { "good" },
            failed.to_string(),
            "failed resources",
        );
        card(&mut s, "", ok.to_string(), "unchanged");
        if skipped > 0 {
            card(&mut s, "warn", skipped.to_string(), "skipped");
        }
    }
    card(
        &mut s,
        if unreachable > 0 { "bad" } else { "good" },
        unreachable.to_string(),
        "unreachable",
    );
    if let Some(sc) = extras.scores {
        let _ = writeln!(
            s,
            "<div class=\"card {}\" id=\"score-fleet\" data-percent=\"{}\"><b>{}</b><span>compliance</span></div>",
            if sc.fleet.failed > 0 { "bad" } else { "good" },
            sc.fleet.percent.map(|p| p.to_string()).unwrap_or_default(),
            show(sc.fleet.percent)
        );
    }
    if let Some(b) = extras.baseline {
        card(
            &mut s,
            if b.worse() { "bad" } else { "good" },
            (b.newly_failing.len() + b.newly_unreachable.len()).to_string(),
            "worse since baseline",
        );
    }
    s.push_str("</div>\n");
    for n in &extras.notes {
        let _ = writeln!(s, "<p class=\"notes\">note: {}</p>", esc(n));
    }
    s.push_str("</header>\n<nav>");
    if !m.columns.is_empty() {
        s.push_str("<a href=\"#matrix\">Matrix</a><a href=\"#failures\">Failures</a>");
    }
    if extras.scores.is_some() {
        s.push_str("<a href=\"#scores\">Scores</a>");
    }
    if !extras.trend.is_empty() {
        s.push_str("<a href=\"#trend\">Trend</a>");
    }
    if extras.baseline.is_some() {
        s.push_str("<a href=\"#baseline\">Baseline</a>");
    }
    let any_changes = run
        .hosts
        .iter()
        .any(|h| h.resources.iter().any(|r| r.status != Status::Unchanged));
    if run.mode != Mode::Audit || any_changes {
        s.push_str("<a href=\"#changes\">Changes</a>");
    }
    s.push_str("<a href=\"#timeline\">Timeline</a><a href=\"#hosts\">Hosts</a></nav>\n");

    if !m.columns.is_empty() {
        matrix(&mut s, &m);
        failures(&mut s, &m);
    }
    if let Some(sc) = extras.scores {
        scores_section(&mut s, sc);
    }
    if !extras.trend.is_empty() {
        trend_section(&mut s, extras);
    }
    if let Some(b) = extras.baseline {
        let _ = write!(
            s,
            "<section id=\"baseline\">\n<h2>Since the baseline</h2>\n<p class=\"meta\">{}{}: \
             {} newly failing, {} fixed, {} still failing.</p>\n",
            esc(&b.file),
            b.generated
                .as_deref()
                .map(|g| format!(" ({})", esc(g)))
                .unwrap_or_default(),
            b.newly_failing.len(),
            b.fixed.len(),
            b.still_failing
        );
        if !b.newly_failing.is_empty() || !b.fixed.is_empty() || !b.newly_unreachable.is_empty() {
            s.push_str("<table class=\"list\" id=\"baseline-changes\"><thead><tr><th></th><th>host</th><th>control</th><th>was</th><th>evidence now</th></tr></thead><tbody>\n");
            for c in &b.newly_failing {
                let _ = writeln!(
                    s,
                    "<tr class=\"worse\"><td><span class=\"badge worse\">worse</span></td><td>{}</td><td><code>{}</code><br>{}</td><td>{}</td><td><pre class=\"evidence\">{}</pre></td></tr>",
                    esc(&c.host),
                    esc(&c.id),
                    esc(&c.title),
                    c.was,
                    esc(&c.evidence)
                );
            }
            for h in &b.newly_unreachable {
                let _ = writeln!(
                    s,
                    "<tr class=\"worse\"><td><span class=\"badge worse\">worse</span></td><td>{}</td><td>unreachable now</td><td>reachable</td><td></td></tr>",
                    esc(h)
                );
            }
            for c in &b.fixed {
                let _ = writeln!(
                    s,
                    "<tr class=\"fixed\"><td><span class=\"badge fixed\">fixed</span></td><td>{}</td><td><code>{}</code><br>{}</td><td>fail</td><td><pre class=\"evidence\">{}</pre></td></tr>",
                    esc(&c.host),
                    esc(&c.id),
                    esc(&c.title),
                    esc(&c.evidence)
                );
            }
            s.push_str("</tbody></table>\n");
        }
        if !b.new_hosts.is_empty() {
            let _ = writeln!(s, "<p>New hosts: {}</p>", esc(&b.new_hosts.join(", ")));
        }
        if !b.missing_hosts.is_empty() {
            let _ = writeln!(
                s,
                "<p>Not audited this time: {}</p>",
                esc(&b.missing_hosts.join(", "))
            );
        }
        s.push_str("</section>\n");
    }
    if run.mode != Mode::Audit || any_changes {
        changes(&mut s, run);
    }
    timeline(&mut s, run);
    hosts(&mut s, run, &m);
    let _ = write!(
        s,
        "<footer>Written by rampart {} &middot; self-contained: this file loads nothing from the network.</footer>\n\
         <script>\n{JS}</script>\n</body>\n</html>\n",
        esc(&run.version)
    );
    s
}

fn matrix(s: &mut String, m: &Matrix<'_>) {
    s.push_str(
        "<section id=\"matrix\">\n<h2>Controls</h2>\n<div class=\"toolbar\">\
         <input type=\"search\" id=\"filter\" placeholder=\"filter hosts\" aria-label=\"filter hosts\">\
         <label><input type=\"checkbox\" id=\"only-failing\"> only failing</label>\
         <span id=\"js-status\"></span></div>\n",
    );
    let _ = write!(
        s,
        "<div class=\"matrix-wrap\"><table class=\"matrix\" id=\"matrix-table\" data-hosts=\"{}\" data-controls=\"{}\">\n<thead><tr><th class=\"corner\" rowspan=\"2\">host</th>",
        m.rows.len(),
        m.columns.len()
    );
    let mut first = 0;
    for (g, n) in m.groups() {
        let _ = write!(
            s,
            "<th class=\"group\" colspan=\"{n}\" data-first=\"{first}\" data-span=\"{n}\" title=\"{}\">{}</th>",
            esc(g),
            esc(g)
        );
        first += n;
    }
    s.push_str("<th class=\"corner\" rowspan=\"2\"></th></tr>\n<tr>");
    let starts: Vec<bool> = m
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| i == 0 || m.columns[i - 1].group != c.group)
        .collect();
    for (i, c) in m.columns.iter().enumerate() {
        // The full id, its group dimmed: narrow groups cannot show their name above.
        let (group, rest) = c.id.split_once('.').unwrap_or(("", c.id.as_str()));
        let _ = write!(
            s,
            "<th class=\"control{}\" data-control=\"{}\" title=\"{}: {}\"><span><i>{}{}</i>{}</span></th>",
            if starts[i] { " g0" } else { "" },
            esc(&c.id),
            esc(&c.id),
            esc(&c.title),
            esc(group),
            if group.is_empty() { "" } else { "." },
            esc(rest)
        );
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for (hi, r) in m.rows.iter().enumerate() {
        let h = r.host;
        let failing = r.failing() > 0 || h.unreachable || h.error.is_some();
        let _ = write!(
            s,
            "<tr class=\"host-row{}\" data-host=\"{}\" data-failing=\"{}\"><th class=\"host\"><a href=\"#h{hi}\" title=\"{}\">{}</a></th>",
            if failing { " failing" } else { "" },
            esc(&h.host),
            r.failing() + usize::from(h.unreachable || h.error.is_some()),
            esc(&h.address),
            esc(&h.host)
        );
        if h.unreachable || (h.error.is_some() && h.verify.is_empty()) {
            let _ = writeln!(
                s,
                "<td class=\"unreach\" colspan=\"{}\">{}: {}</td><td class=\"tally\"></td></tr>",
                m.columns.len().max(1),
                if h.unreachable {
                    "unreachable"
                } else {
                    "error"
                },
                esc(h
                    .error
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or(""))
            );
            continue;
        }
        for (ci, (c, cell)) in m.columns.iter().zip(&r.cells).enumerate() {
            let g0 = if starts[ci] { " g0" } else { "" };
            match cell {
                Cell::None => {
                    let _ = write!(
                        s,
                        "<td class=\"cell none{g0}\" data-col=\"{ci}\" title=\"{}: not run on {}\">&middot;</td>",
                        esc(&c.id),
                        esc(&h.host)
                    );
                }
                Cell::Pass | Cell::Fail => {
                    let (class, glyph, word) = if *cell == Cell::Pass {
                        ("pass", "✓", "pass")
                    } else {
                        ("fail", "✗", "FAIL")
                    };
                    let _ = write!(
                        s,
                        "<td class=\"cell {class}{g0}\" data-col=\"{ci}\" data-control=\"{}\"><a href=\"#c{hi}-{ci}\" title=\"{} &middot; {}: {word}\">{glyph}</a></td>",
                        esc(&c.id),
                        esc(&h.host),
                        esc(&c.id)
                    );
                }
            }
        }
        match &h.error {
            // The SSH side failed but the port probe ran: its cell shows, the error says why
            // the others are empty.
            Some(e) => {
                let _ = writeln!(
                    s,
                    "<td class=\"tally\" title=\"{}\">error: {}</td></tr>",
                    esc(e),
                    esc(h.error_kind.as_deref().unwrap_or("see details"))
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "<td class=\"tally\">{}/{}</td></tr>",
                    r.ran() - r.failing(),
                    r.ran()
                );
            }
        }
    }
    s.push_str(
        "</tbody></table></div>\n<p class=\"legend\"><i class=\"p\">✓</i> pass \
         <i class=\"f\">✗</i> fail <i>&middot;</i> not run on that host (not applicable). \
         Click a cell for its evidence.</p>\n</section>\n",
    );
}

fn failures(s: &mut String, m: &Matrix<'_>) {
    let _ = write!(
        s,
        "<section id=\"failures\">\n<h2>Failures ({})</h2>\n",
        m.failing()
    );
    if m.failing() == 0 {
        s.push_str("<p>Every control passes on every host that was reached.</p>\n</section>\n");
        return;
    }
    s.push_str("<table class=\"list\" id=\"failure-list\"><thead><tr><th>host</th><th>control</th><th>evidence</th></tr></thead><tbody>\n");
    for (hi, r) in m.rows.iter().enumerate() {
        for (ci, (c, cell)) in m.columns.iter().zip(&r.cells).enumerate() {
            if *cell != Cell::Fail {
                continue;
            }
            let evidence: Vec<&str> = r
                .host
                .verify
                .iter()
                .filter(|v| v.id == c.id && !v.pass)
                .map(|v| v.evidence.as_str())
                .collect();
            let _ = writeln!(
                s,
                "<tr><td><a href=\"#h{hi}\">{}</a></td><td><a href=\"#c{hi}-{ci}\"><code>{}</code></a><br>{}</td><td><pre class=\"evidence\">{}</pre></td></tr>",
                esc(&r.host.host),
                esc(&c.id),
                esc(&c.title),
                esc(&evidence.join("\n"))
            );
        }
    }
    s.push_str("</tbody></table>\n</section>\n");
}

fn changes(s: &mut String, run: &RunReport) {
    let mut roles: Vec<&str> = Vec::new();
    for h in &run.hosts {
        for r in &h.resources {
            if !roles.contains(&r.role.as_str()) {
                roles.push(&r.role);
            }
        }
    }
    let title = if run.mode == Mode::Audit {
        "Drift: what an apply would change"
    } else if run.mode == Mode::Check {
        "Changes an apply would make"
    } else {
        "Changes"
    };
    let _ = writeln!(s, "<section id=\"changes\">\n<h2>{title}</h2>");
    if roles.is_empty() {
        s.push_str("<p>No role ran.</p>\n</section>\n");
        return;
    }
    s.push_str("<div class=\"matrix-wrap\"><table class=\"list\" id=\"changes-table\"><thead><tr><th>host</th>");
    for r in &roles {
        let _ = write!(s, "<th>{}</th>", esc(r));
    }
    s.push_str("<th>time</th></tr></thead><tbody>\n");
    for (hi, h) in run.hosts.iter().enumerate() {
        let _ = write!(
            s,
            "<tr class=\"change-row\" data-host=\"{}\"><td><a href=\"#h{hi}\">{}</a></td>",
            esc(&h.host),
            esc(&h.host)
        );
        for role in &roles {
            let rs: Vec<_> = h.resources.iter().filter(|r| r.role == *role).collect();
            let n = |st: Status| rs.iter().filter(|r| r.status == st).count();
            let (failed, changed, skipped) =
                (n(Status::Failed), n(Status::Changed), n(Status::Skipped));
            let tip: Vec<String> = rs
                .iter()
                .filter(|r| r.status != Status::Unchanged)
                .map(|r| format!("{} {}: {}", status_name(&r.status), r.id, r.summary))
                .collect();
            let (class, text) = if rs.is_empty() {
                ("", "&middot;".to_owned())
            } else if failed > 0 {
                ("failed", format!("✗ {failed}"))
            } else if changed > 0 {
                ("changed", format!("+{changed}"))
            } else if skipped > 0 {
                ("skipped", format!("skipped {skipped}"))
            } else {
                ("ok", "✓".to_owned())
            };
            let _ = write!(
                s,
                "<td class=\"chg {class}\" title=\"{}\">{text}</td>",
                esc(&tip.join("\n"))
            );
        }
        let _ = writeln!(s, "<td>{}</td></tr>", secs(h.seconds));
    }
    s.push_str("</tbody></table></div>\n<p class=\"legend\">+N resources changed (or would change), ✗N failed, ✓ nothing to change. Hover for what.</p>\n</section>\n");
}

fn phase_class(p: &Phase) -> &'static str {
    match p.name.split_whitespace().next().unwrap_or("") {
        "connect" => "connect",
        "facts" => "facts",
        "plan" => "plan",
        "apply" => "apply",
        "verify" => "verify",
        "ping" => "ping",
        "port" => "probe",
        _ => "other",
    }
}

fn timeline(s: &mut String, run: &RunReport) {
    let end = run
        .hosts
        .iter()
        .flat_map(|h| h.timeline.iter().map(|p| p.start + p.seconds))
        .fold(run.seconds, f64::max)
        .max(0.001);
    let probed = run
        .hosts
        .iter()
        .any(|h| h.timeline.iter().any(|p| phase_class(p) == "probe"));
    s.push_str("<section id=\"timeline\">\n<h2>Timeline</h2>\n<div class=\"timeline\">\n");
    for (hi, h) in run.hosts.iter().enumerate() {
        let two = h.timeline.iter().any(|p| phase_class(p) == "probe");
        let _ = write!(
            s,
            "<div class=\"tl-row\"><a class=\"name\" href=\"#h{hi}\">{}</a><div class=\"tl-track{}\">",
            esc(&h.host),
            if two { " two" } else { "" }
        );
        for p in &h.timeline {
            let class = phase_class(p);
            let lane = if class == "probe" { "lane1" } else { "lane0" };
            // A role's apply bar names its steps and their times (the `--json` step times).
            let steps: String = match rampart_core::report::phase_kind(&p.name) {
                ("apply", Some(role)) => h
                    .steps
                    .iter()
                    .filter(|t| t.role == role)
                    .map(|t| format!("&#10;{} {}", esc(&t.step), secs(t.seconds)))
                    .collect(),
                _ => String::new(),
            };
            let _ = write!(
                s,
                "<span class=\"bar {class} {lane}\" style=\"left:{:.3}%;width:{:.3}%\" title=\"{}: {} (from {}){steps}\"></span>",
                (p.start / end * 100.0).clamp(0.0, 100.0),
                (p.seconds / end * 100.0).clamp(0.0, 100.0),
                esc(&p.name),
                secs(p.seconds),
                secs(p.start)
            );
        }
        let _ = writeln!(
            s,
            "</div><span class=\"secs\">{}</span></div>",
            secs(h.seconds)
        );
    }
    s.push_str("<div class=\"tl-axis\"><span></span><div class=\"ticks\">");
    for i in 0..=4 {
        let t = end * f64::from(i) / 4.0;
        let _ = write!(s, "<span style=\"left:{}%\">{}</span>", i * 25, secs(t));
    }
    s.push_str("</div><span></span></div>\n</div>\n<p class=\"tl-legend\">");
    for (class, label) in [
        ("connect", "connect"),
        ("facts", "facts and checks (one round trip)"),
        ("plan", "plan"),
        ("apply", "apply"),
        ("verify", "verify"),
        ("probe", "port probe from the controller"),
    ] {
        if class == "probe" && !probed {
            continue;
        }
        let _ = write!(s, "<i class=\"{class}\"></i>{label}");
    }
    s.push_str("</p>\n</section>\n");
}

fn diff_html(diff: &str) -> String {
    diff.lines()
        .map(|l| {
            let class = if l.starts_with("+++") || l.starts_with("---") {
                ""
            } else if l.starts_with('+') {
                "ins"
            } else if l.starts_with('-') {
                "del"
            } else if l.starts_with("@@") {
                "hunk"
            } else {
                ""
            };
            if class.is_empty() {
                esc(l)
            } else {
                format!("<span class=\"{class}\">{}</span>", esc(l))
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn hosts(s: &mut String, run: &RunReport, m: &Matrix<'_>) {
    let mode = run.mode;
    s.push_str("<section id=\"hosts\">\n<h2>Hosts <a href=\"#\" id=\"expand-all\" style=\"font-size:12px;font-weight:400\">expand all</a></h2>\n");
    for (hi, h) in run.hosts.iter().enumerate() {
        host(s, hi, h, m, mode);
    }
    s.push_str("</section>\n");
}

fn host(s: &mut String, hi: usize, h: &HostReport, m: &Matrix<'_>, mode: Mode) {
    let state = host_state(h, mode);
    let _ = write!(
        s,
        "<details class=\"host\" id=\"h{hi}\" data-host=\"{}\"{}><summary>{} <span class=\"badge {state}\">{state}</span>\
         <span class=\"sub\">{} &middot; {} &middot; {} connection{} &middot; {} round trip{}</span></summary>\n<div>\n",
        esc(&h.host),
        if state == "passing" { "" } else { " open" },
        esc(&h.host),
        esc(&h.address),
        secs(h.seconds),
        h.connections,
        if h.connections == 1 { "" } else { "s" },
        h.round_trips,
        if h.round_trips == 1 { "" } else { "s" },
    );
    if let Some(e) = &h.error {
        let _ = writeln!(
            s,
            "<p><span class=\"badge error\">{}</span></p><pre class=\"evidence\">{}</pre>",
            esc(h.error_kind.as_deref().unwrap_or("error")),
            esc(e)
        );
    }
    if !h.verify.is_empty() {
        s.push_str("<h3>Controls</h3>\n<table class=\"list\"><thead><tr><th></th><th>control</th><th>evidence</th></tr></thead><tbody>\n");
        for v in &h.verify {
            let ci = m.columns.iter().position(|c| c.id == v.id).unwrap_or(0);
            let (class, word) = if v.pass {
                ("pass", "pass")
            } else {
                ("fail", "fail")
            };
            let _ = writeln!(
                s,
                "<tr id=\"c{hi}-{ci}\" class=\"control-row {class}\"><td><span class=\"badge {class}\">{word}</span></td><td><code>{}</code><br>{}</td><td><pre class=\"evidence\">{}</pre></td></tr>",
                esc(&v.id),
                esc(&v.title),
                esc(&v.evidence)
            );
        }
        s.push_str("</tbody></table>\n");
    }
    let changed: Vec<_> = h
        .resources
        .iter()
        .filter(|r| r.status != Status::Unchanged)
        .collect();
    if !changed.is_empty() {
        let _ = writeln!(s, "<h3>Changes ({})</h3>", changed.len());
        s.push_str("<table class=\"list\"><tbody>\n");
        for r in changed {
            let _ = write!(
                s,
                "<tr><td><span class=\"badge {st}\">{st}</span></td><td><code>{} {}</code><br>{}",
                esc(&r.role),
                esc(&r.id),
                esc(r.error.as_deref().unwrap_or(&r.summary)),
                st = status_name(&r.status)
            );
            if !r.diff.is_empty() {
                let _ = write!(s, "<pre class=\"diff\">{}</pre>", diff_html(&r.diff));
            }
            s.push_str("</td></tr>\n");
        }
        s.push_str("</tbody></table>\n");
    }
    let unchanged = h
        .resources
        .iter()
        .filter(|r| r.status == Status::Unchanged)
        .count();
    if unchanged > 0 {
        let _ = writeln!(
            s,
            "<p class=\"meta\">{unchanged} resources already as desired.</p>"
        );
    }
    if !h.handlers.is_empty() {
        let _ = writeln!(s, "<p>Handlers run: {}</p>", esc(&h.handlers.join(", ")));
    }
    if !h.timeline.is_empty() {
        s.push_str("<h3>Phases</h3>\n<p class=\"meta\">");
        let parts: Vec<String> = h
            .timeline
            .iter()
            .map(|p| format!("{} {}", esc(&p.name), secs(p.seconds)))
            .collect();
        s.push_str(&parts.join(" &middot; "));
        s.push_str("</p>\n");
    }
    if !h.steps.is_empty() {
        // The same step times as `--json` and the recap: the slowest first.
        let mut steps: Vec<_> = h.steps.iter().collect();
        steps.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
        s.push_str("<h3>Slowest steps</h3>\n<p class=\"meta\">");
        let parts: Vec<String> = steps
            .iter()
            .take(10)
            .map(|t| format!("{}: {} {}", esc(&t.role), esc(&t.step), secs(t.seconds)))
            .collect();
        s.push_str(&parts.join(" &middot; "));
        s.push_str("</p>\n");
    }
    s.push_str("</div>\n</details>\n");
}

fn tally_cells(t: &Tally) -> String {
    format!(
        "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\"><b>{}</b></td>",
        t.passed,
        t.failed,
        t.waived,
        show(t.percent)
    )
}

/// Scores: the fleet's by section and level, and each host's.
fn scores_section(s: &mut String, sc: &Scores) {
    let head = "<thead><tr><th></th><th>passed</th><th>failed</th><th>waived</th><th>compliance</th></tr></thead><tbody>\n";
    let _ = write!(
        s,
        "<section id=\"scores\">\n<h2>Scores</h2>\n<p class=\"meta\">Compliance is the share of \
         controls that passed of those that passed or failed; waived controls count neither way.</p>\n\
         <table class=\"list\" id=\"score-sections\">{head}"
    );
    for (name, t) in &sc.by_section {
        let _ = writeln!(
            s,
            "<tr class=\"section-score\" data-section=\"{}\" data-percent=\"{}\"><td>{}</td>{}</tr>",
            esc(name),
            t.percent.map(|p| p.to_string()).unwrap_or_default(),
            esc(name),
            tally_cells(t)
        );
    }
    let _ = writeln!(
        s,
        "<tr class=\"fleet-score\"><td><b>fleet</b></td>{}</tr>\n</tbody></table>",
        tally_cells(&sc.fleet)
    );
    if !sc.by_level.is_empty() {
        let _ = write!(s, "<table class=\"list\" id=\"score-levels\">{head}");
        for (name, t) in &sc.by_level {
            let _ = writeln!(
                s,
                "<tr class=\"level-score\" data-level=\"{}\" data-percent=\"{}\"><td>level {}</td>{}</tr>",
                esc(name),
                t.percent.map(|p| p.to_string()).unwrap_or_default(),
                esc(name),
                tally_cells(t)
            );
        }
        s.push_str("</tbody></table>\n");
    }
    let _ = write!(s, "<table class=\"list\" id=\"score-hosts\">{head}");
    for h in &sc.hosts {
        let _ = writeln!(
            s,
            "<tr class=\"host-score\" data-host=\"{}\" data-percent=\"{}\" data-passed=\"{}\" data-failed=\"{}\" data-waived=\"{}\"><td>{}{}</td>{}</tr>",
            esc(&h.host),
            h.total.percent.map(|p| p.to_string()).unwrap_or_default(),
            h.total.passed,
            h.total.failed,
            h.total.waived,
            esc(&h.host),
            if h.ran {
                ""
            } else {
                " <span class=\"badge unreachable\">not audited</span>"
            },
            tally_cells(&h.total)
        );
    }
    s.push_str("</tbody></table>\n</section>\n");
}

/// The trend: the fleet's score over the reports given, and per host what got better or worse
/// since the previous report.
fn trend_section(s: &mut String, extras: &Extras<'_>) {
    let trend = &extras.trend;
    s.push_str("<section id=\"trend\">\n<h2>Trend</h2>\n");
    // A small bar chart of the fleet's score, one bar per report.
    let w = 40 * trend.len().max(1);
    let _ = write!(
        s,
        "<svg id=\"trend-chart\" width=\"{w}\" height=\"110\" viewBox=\"0 0 {w} 110\" role=\"img\" aria-label=\"fleet compliance over the reports\">"
    );
    for (i, p) in trend.iter().enumerate() {
        let pct = p.fleet.percent.unwrap_or(0.0);
        let h = pct.clamp(0.0, 100.0);
        let _ = write!(
            s,
            "<rect x=\"{}\" y=\"{:.1}\" width=\"28\" height=\"{h:.1}\" fill=\"#3a7\"><title>{}: {}</title></rect>",
            i * 40 + 6,
            105.0 - h,
            esc(p.generated.as_deref().unwrap_or(&p.label)),
            show(p.fleet.percent)
        );
    }
    s.push_str("</svg>\n<table class=\"list\" id=\"trend-fleet\"><thead><tr><th>report</th><th>generated</th><th>passed</th><th>failed</th><th>waived</th><th>compliance</th></tr></thead><tbody>\n");
    for p in trend {
        let _ = writeln!(
            s,
            "<tr class=\"trend-point\" data-percent=\"{}\"><td>{}</td><td>{}</td>{}</tr>",
            p.fleet.percent.map(|x| x.to_string()).unwrap_or_default(),
            esc(&p.label),
            esc(p.generated.as_deref().unwrap_or("")),
            tally_cells(&p.fleet)
        );
    }
    s.push_str("</tbody></table>\n");
    let (Some(now), Some(prev)) = (trend.last(), trend.len().checked_sub(2).map(|i| &trend[i]))
    else {
        s.push_str("</section>\n");
        return;
    };
    let _ = write!(
        s,
        "<h3>Per host, since {}</h3>\n<table class=\"list\" id=\"trend-hosts\"><thead><tr><th>host</th><th>then</th><th>now</th><th>change</th><th>better</th><th>worse</th></tr></thead><tbody>\n",
        esc(&prev.label)
    );
    for (host, pct) in &now.hosts {
        let then = prev.hosts.get(host).copied().flatten();
        let delta = match (then, *pct) {
            (Some(a), Some(b)) => Some(((b - a) * 10.0).round() / 10.0),
            _ => None,
        };
        let (better, worse): (Vec<&str>, Vec<&str>) = match extras.baseline {
            Some(b) => (
                b.fixed
                    .iter()
                    .filter(|c| &c.host == host)
                    .map(|c| c.id.as_str())
                    .collect(),
                b.newly_failing
                    .iter()
                    .filter(|c| &c.host == host)
                    .map(|c| c.id.as_str())
                    .collect(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        let class = match delta {
            Some(d) if d > 0.0 => "better",
            Some(d) if d < 0.0 => "worse",
            _ if !worse.is_empty() => "worse",
            _ if !better.is_empty() => "better",
            _ => "same",
        };
        let _ = writeln!(
            s,
            "<tr class=\"trend-host {class}\" data-host=\"{}\" data-then=\"{}\" data-now=\"{}\" data-delta=\"{}\" data-better=\"{}\" data-worse=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(host),
            then.map(|x| x.to_string()).unwrap_or_default(),
            pct.map(|x| x.to_string()).unwrap_or_default(),
            delta.map(|x| x.to_string()).unwrap_or_default(),
            better.len(),
            worse.len(),
            esc(host),
            show(then),
            show(*pct),
            match delta {
                Some(d) => format!("{d:+.1}"),
                None if then.is_none() => "new".to_owned(),
                None => "-".to_owned(),
            },
            esc(&better.join(", ")),
            esc(&worse.join(", "))
        );
    }
    s.push_str("</tbody></table>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::fleet;

    #[test]
    fn a_self_contained_page_with_the_matrix() {
        let run = fleet();
        let html = render(
            &run,
            &Extras {
                generated: Some("2025-01-01 00:00:00 UTC".into()),
                ..Extras::default()
            },
        );
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("data-hosts=\"4\" data-controls=\"4\" data-failing=\"1\""));
        assert_eq!(html.matches("<tr class=\"host-row").count(), 4);
        assert_eq!(html.matches("<th class=\"control").count(), 4);
        assert_eq!(html.matches("<td class=\"cell fail").count(), 1);
        // Nothing from a host is markup, and nothing is loaded from elsewhere.
        assert!(!html.contains("<script>alert"), "evidence must be escaped");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("web&lt;2&gt;"));
        for needle in ["http://", "https://", "src=", "@import", "url("] {
            assert!(!html.contains(needle), "external reference `{needle}`");
        }
        assert!(
            html.contains("id=\"c1-3\""),
            "the failing cell's evidence row"
        );
        assert!(html.contains("href=\"#c1-3\""));
        assert!(
            html.contains("<span class=\"del\">-Status: inactive</span>"),
            "drift diff"
        );
        assert!(html.contains("unreachable: connection timed out"));
    }

    #[test]
    fn check_runs_show_changes_by_role() {
        let mut run = fleet();
        run.mode = Mode::Check;
        for h in &mut run.hosts {
            h.verify.clear();
        }
        let html = render(&run, &Extras::default());
        assert!(!html.contains("id=\"matrix\""), "no controls, no matrix");
        assert!(html.contains("Changes an apply would make"));
        assert!(
            html.contains("<td class=\"chg changed\" title=\"changed ufw: enable ufw\">+1</td>"),
            "{html}"
        );
    }

    #[test]
    fn a_host_whose_ssh_side_failed_still_shows_its_probe_cell() {
        let mut run = fleet();
        run.hosts[0].error = Some("authentication as root failed".into());
        run.hosts[0].error_kind = Some("auth".into());
        run.hosts[0].verify.truncate(0);
        run.hosts[0].verify.push(crate::report::testdata::verdict(
            "ports.only-ssh",
            true,
            "open: 22",
        ));
        let html = render(&run, &Extras::default());
        assert!(
            html.contains("title=\"authentication as root failed\">error: auth</td>"),
            "{html}"
        );
    }

    #[test]
    fn the_timeline_and_the_details_show_the_step_times() {
        let mut run = fleet();
        run.hosts[0].timeline.push(rampart_core::report::Phase {
            name: "apply base".into(),
            start: 0.7,
            seconds: 9.0,
        });
        for (step, seconds) in [("packages:ufw", 8.5), ("file:/etc/<x>", 0.25)] {
            run.hosts[0].steps.push(rampart_core::report::StepTime {
                role: "base".into(),
                step: step.into(),
                seconds,
                exit: 0,
            });
        }
        let html = render(&run, &Extras::default());
        assert!(
            html.contains("title=\"apply base: 9.00s (from 0.70s)&#10;packages:ufw 8.50s&#10;file:/etc/&lt;x&gt; 0.25s\""),
            "{html}"
        );
        assert!(
            html.contains("<h3>Slowest steps</h3>\n<p class=\"meta\">base: packages:ufw 8.50s &middot; base: file:/etc/&lt;x&gt; 0.25s</p>"),
            "{html}"
        );
    }

    #[test]
    fn escapes_everything() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        assert_eq!(esc("a\u{1b}[0m"), "a\u{fffd}[0m");
    }

    #[test]
    fn scores_and_trend_are_in_the_page() {
        use crate::report::{audit_json, baseline, scores};
        let run = fleet();
        let doc = audit_json(&run, &Extras::default());
        let sc = scores::of_doc(&doc);
        let mut older = doc.clone();
        older["hosts"][0]["controls"][0]["pass"] = serde_json::json!(false);
        older["generated"] = serde_json::json!("2024-12-31 00:00:00 UTC");
        let prev = scores::of_doc(&older);
        let base = baseline::parse(&older.to_string()).expect("baseline");
        let diff = baseline::compare(&base, &run, "old.json");
        let trend = vec![
            scores::TrendPoint::of(
                "old.json",
                older["generated"].as_str().map(str::to_owned),
                &prev,
            ),
            scores::TrendPoint::of("this run", None, &sc),
        ];
        let html = render(
            &run,
            &Extras {
                scores: Some(&sc),
                trend,
                baseline: Some(&diff),
                ..Extras::default()
            },
        );
        assert!(html.contains(&format!(
            "id=\"score-fleet\" data-percent=\"{}\"",
            sc.fleet.percent.expect("percent")
        )));
        assert_eq!(html.matches("<tr class=\"host-score\"").count(), 4);
        assert_eq!(html.matches("<tr class=\"trend-point\"").count(), 2);
        assert_eq!(
            html.matches("<tr class=\"trend-host better\"").count(),
            1,
            "web1 got better"
        );
        assert!(html.contains("data-host=\"web1\" data-then=\"75\" data-now=\"100\" data-delta=\"25\" data-better=\"1\""), "{html}");
        assert!(html.contains("<a href=\"#scores\">Scores</a><a href=\"#trend\">Trend</a>"));
    }
}
