//! JUnit XML, for CI systems that show test results: one `<testsuite>` per host, one
//! `<testcase>` per control (audit, or a run's verify checks) and per resource (check, apply).
//!
//! A failing control, a failed resource, and in a check run a resource that would change
//! (drift, exit code 5) are `<failure>`s; an unreachable host or a host-level error is one
//! `<error>` test case named `connect` or `host`. A baseline waiver is a `<skipped>` case with
//! its reason: the waived control's case in an audit, one case per waiver in check and apply.

use std::fmt::Write as _;

use rampart_core::report::{HostReport, Mode, RunReport, Status};

/// Escapes text for XML 1.0 attributes and content. Characters XML 1.0 cannot carry at all
/// (most C0 controls) become U+FFFD.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

struct Case {
    class: String,
    name: String,
    seconds: f64,
    failure: Option<(String, String)>,
    error: Option<(String, String)>,
    skipped: Option<String>,
}

fn cases(h: &HostReport, mode: Mode) -> Vec<Case> {
    let mut out = Vec::new();
    if h.unreachable || h.error.is_some() {
        let msg = h.error.clone().unwrap_or_else(|| "unreachable".into());
        out.push(Case {
            class: h.host.clone(),
            name: if h.unreachable { "connect" } else { "host" }.into(),
            seconds: h.seconds,
            failure: None,
            error: Some((h.error_kind.clone().unwrap_or_else(|| "error".into()), msg)),
            skipped: None,
        });
    }
    if mode != Mode::Audit {
        for r in &h.resources {
            let failure = match r.status {
                Status::Failed => Some((
                    "failed".to_owned(),
                    r.error.clone().unwrap_or_else(|| r.summary.clone()),
                )),
                Status::Changed if mode == Mode::Check => Some((
                    format!("would change: {}", r.summary),
                    if r.diff.is_empty() {
                        r.summary.clone()
                    } else {
                        r.diff.clone()
                    },
                )),
                _ => None,
            };
            out.push(Case {
                class: format!("{}.{}", h.host, r.role),
                name: r.id.clone(),
                seconds: 0.0,
                failure,
                error: None,
                skipped: None,
            });
        }
        for n in h.notes.iter().filter(|n| n.starts_with("baseline: ")) {
            if let Some(rest) = n
                .strip_prefix("baseline: waived ")
                .or_else(|| n.strip_prefix("baseline: EXPIRED waiver "))
            {
                out.push(Case {
                    class: format!("{}.baseline", h.host),
                    name: format!("waiver {}", rest.split(' ').next().unwrap_or_default()),
                    seconds: 0.0,
                    failure: None,
                    error: None,
                    skipped: Some(n.clone()),
                });
            }
        }
    }
    for v in &h.verify {
        let waived = v.pass && v.title.ends_with("[waived]");
        out.push(Case {
            class: h.host.clone(),
            name: v.id.clone(),
            seconds: 0.0,
            failure: (!v.pass).then(|| (v.title.clone(), v.evidence.clone())),
            error: None,
            skipped: waived.then(|| v.evidence.clone()),
        });
    }
    out
}

/// Renders a run as JUnit XML.
pub fn render(run: &RunReport) -> String {
    let mode = match run.mode {
        Mode::Ping => "ping",
        Mode::Check => "check",
        Mode::Apply => "apply",
        Mode::Audit => "audit",
    };
    let all: Vec<(&HostReport, Vec<Case>)> =
        run.hosts.iter().map(|h| (h, cases(h, run.mode))).collect();
    let count = |f: &dyn Fn(&Case) -> bool| -> usize {
        all.iter()
            .map(|(_, c)| c.iter().filter(|x| f(x)).count())
            .sum()
    };
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"rampart {mode}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3}\">",
        count(&|_| true),
        count(&|c| c.failure.is_some()),
        count(&|c| c.error.is_some()),
        run.seconds
    );
    for (h, cs) in &all {
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" hostname=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            escape(&h.host),
            escape(&h.address),
            cs.len(),
            cs.iter().filter(|c| c.failure.is_some()).count(),
            cs.iter().filter(|c| c.error.is_some()).count(),
            cs.iter().filter(|c| c.skipped.is_some()).count(),
            h.seconds
        );
        for c in cs {
            let _ = write!(
                s,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                escape(&c.class),
                escape(&c.name),
                c.seconds
            );
            match (&c.failure, &c.error) {
                (None, None) if c.skipped.is_some() => {
                    let _ = writeln!(
                        s,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        escape(c.skipped.as_deref().unwrap_or_default())
                    );
                }
                (None, None) => s.push_str("/>\n"),
                (Some((msg, body)), _) => {
                    let _ = writeln!(
                        s,
                        ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                        escape(msg),
                        escape(body)
                    );
                }
                (None, Some((kind, body))) => {
                    let _ = writeln!(
                        s,
                        ">\n      <error type=\"{}\" message=\"{}\">{}</error>\n    </testcase>",
                        escape(kind),
                        escape(body.lines().next().unwrap_or("")),
                        escape(body)
                    );
                }
            }
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::fleet;

    #[test]
    fn one_case_per_host_and_control() {
        let x = render(&fleet());
        assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"rampart audit\" tests=\"12\" failures=\"1\" errors=\"1\""), "{x}");
        assert_eq!(x.matches("<testsuite ").count(), 4);
        assert_eq!(x.matches("<testcase ").count(), 4 + 4 + 3 + 1);
        assert!(x.contains("<testsuite name=\"web&lt;2&gt;\""));
        assert!(x.contains("<failure message=\"title of ports.only-ssh\">unexpected open port 8080 &amp; &lt;script&gt;"));
        assert!(x.contains("<testcase classname=\"gone\" name=\"connect\""));
        assert!(x.contains("<error type=\"timeout\" message=\"connection timed out\">"));
        assert!(!x.contains("<script>"));
    }

    #[test]
    fn check_runs_report_drift_as_failures() {
        let mut run = fleet();
        run.mode = Mode::Check;
        let x = render(&run);
        assert!(x.contains("<testcase classname=\"web&lt;2&gt;.ufw\" name=\"ufw\" time=\"0.000\">\n      <failure message=\"would change: enable ufw\">-Status: inactive\n+Status: active</failure>"), "{x}");
        run.mode = Mode::Apply;
        let x = render(&run);
        assert!(
            x.contains("<testcase classname=\"web&lt;2&gt;.ufw\" name=\"ufw\" time=\"0.000\"/>")
        );
    }

    #[test]
    fn baseline_waivers_are_skipped_cases() {
        let mut run = fleet();
        run.hosts[0].verify.push(rampart_core::verify::Verdict {
            id: "net.ipv4.rp-filter".into(),
            title: "Reverse path filtering is enabled [waived]".into(),
            pass: true,
            evidence: "waived: routes (by ops, expires 2027-03-01)".into(),
        });
        let x = render(&run);
        assert!(x.contains("name=\"net.ipv4.rp-filter\" time=\"0.000\">\n      <skipped message=\"waived: routes (by ops, expires 2027-03-01)\"/>"), "{x}");
        run.mode = Mode::Check;
        run.hosts[0].notes.push(
            "baseline: waived net.* (12 controls): routes (by ops, expires 2027-03-01)".into(),
        );
        let x = render(&run);
        assert!(x.contains("name=\"waiver net.*\" time=\"0.000\">\n      <skipped message=\"baseline: waived net.* (12 controls)"), "{x}");
        assert!(x.contains("skipped=\"2\""), "{x}");
    }

    #[test]
    fn control_characters_never_reach_the_xml() {
        assert_eq!(escape("a\u{1b}[31mb\u{0}"), "a\u{fffd}[31mb\u{fffd}");
        assert_eq!(escape("tab\tnl\n"), "tab\tnl\n");
    }
}
