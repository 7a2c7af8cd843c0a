//! `--baseline FILE`: what got worse since an earlier audit. The earlier audit is the JSON
//! document `rampart audit --json` printed (a `check --verify --json` report works too: its
//! hosts carry `verify` instead of `controls`).
//!
//! Worse means a control that fails now and did not fail then: it passed, or it was not checked
//! (a new control, a new host, a host that was unreachable). A host that answered then and is
//! unreachable now is worse too.

use std::collections::{BTreeMap, BTreeSet};

use rampart_core::report::RunReport;
use serde::Serialize;

/// An earlier audit, reduced to what the comparison needs.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Baseline {
    /// When it ran, if it says.
    pub generated: Option<String>,
    /// Per host: whether it was unreachable, and each control's pass.
    pub hosts: BTreeMap<String, (bool, BTreeMap<String, bool>)>,
}

/// One control on one host that changed since the baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The host.
    pub host: String,
    /// The control's id.
    pub id: String,
    /// The control's title.
    pub title: String,
    /// What it shows now.
    pub evidence: String,
    /// What it was: "pass", "fail" or "absent" (not checked).
    pub was: &'static str,
}

/// The comparison of a run with a baseline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BaselineDiff {
    /// The baseline file, as given.
    pub file: String,
    /// When the baseline ran, if it says.
    pub generated: Option<String>,
    /// Controls failing now that did not fail then.
    pub newly_failing: Vec<Change>,
    /// Controls that failed then and pass now.
    pub fixed: Vec<Change>,
    /// Controls that failed then and still fail.
    pub still_failing: usize,
    /// Hosts that answered then and are unreachable now.
    pub newly_unreachable: Vec<String>,
    /// Hosts not in the baseline.
    pub new_hosts: Vec<String>,
    /// Hosts in the baseline but not in this run.
    pub missing_hosts: Vec<String>,
}

impl BaselineDiff {
    /// Whether anything got worse.
    pub fn worse(&self) -> bool {
        !self.newly_failing.is_empty() || !self.newly_unreachable.is_empty()
    }
}

/// Reads an earlier audit's JSON document.
pub fn parse(text: &str) -> Result<Baseline, String> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let hosts = doc["hosts"]
        .as_array()
        .ok_or("no `hosts` array: this is not the JSON of `rampart audit --json`")?;
    let mut out = Baseline {
        generated: doc["generated"].as_str().map(str::to_owned),
        ..Baseline::default()
    };
    for (i, h) in hosts.iter().enumerate() {
        let name = h["host"]
            .as_str()
            .ok_or_else(|| format!("hosts[{i}] has no `host` name"))?;
        let controls = h
            .get("controls")
            .or_else(|| h.get("verify"))
            .and_then(|c| c.as_array())
            .ok_or_else(|| format!("host `{name}` has no `controls` array"))?;
        let mut map = BTreeMap::new();
        for (j, c) in controls.iter().enumerate() {
            let (Some(id), Some(pass)) = (c["id"].as_str(), c["pass"].as_bool()) else {
                return Err(format!(
                    "host `{name}`: controls[{j}] lacks a string `id` or a boolean `pass`"
                ));
            };
            // A control that ran twice on a host passes only if both passed, as in the matrix.
            let e = map.entry(id.to_owned()).or_insert(true);
            *e &= pass;
        }
        let unreachable = h["unreachable"].as_bool().unwrap_or(false);
        out.hosts.insert(name.to_owned(), (unreachable, map));
    }
    Ok(out)
}

/// Compares a run with a baseline.
pub fn compare(base: &Baseline, run: &RunReport, file: &str) -> BaselineDiff {
    let mut d = BaselineDiff {
        file: file.to_owned(),
        generated: base.generated.clone(),
        ..BaselineDiff::default()
    };
    let mut seen = BTreeSet::new();
    for h in &run.hosts {
        seen.insert(h.host.as_str());
        let before = base.hosts.get(&h.host);
        match before {
            None => d.new_hosts.push(h.host.clone()),
            Some((was_unreachable, _)) if h.unreachable && !was_unreachable => {
                d.newly_unreachable.push(h.host.clone());
            }
            Some(_) => {}
        }
        // Ids may repeat on a host; judge each id once, failing if any of its checks failed.
        let mut now: BTreeMap<&str, (bool, &str, &str)> = BTreeMap::new();
        for v in &h.verify {
            let e =
                now.entry(v.id.as_str())
                    .or_insert((true, v.title.as_str(), v.evidence.as_str()));
            if !v.pass && e.0 {
                *e = (false, v.title.as_str(), v.evidence.as_str());
            }
        }
        for (id, (pass, title, evidence)) in now {
            let was = before.and_then(|(_, m)| m.get(id)).copied();
            let change = |was: &'static str| Change {
                host: h.host.clone(),
                id: id.to_owned(),
                title: title.to_owned(),
                evidence: evidence.to_owned(),
                was,
            };
            match (was, pass) {
                (Some(true), false) => d.newly_failing.push(change("pass")),
                (None, false) => d.newly_failing.push(change("absent")),
                (Some(false), true) => d.fixed.push(change("fail")),
                (Some(false), false) => d.still_failing += 1,
                _ => {}
            }
        }
    }
    d.missing_hosts = base
        .hosts
        .keys()
        .filter(|h| !seen.contains(h.as_str()))
        .cloned()
        .collect();
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{fleet, verdict};
    use crate::report::{Extras, audit_json};

    #[test]
    fn an_audit_compared_with_itself_got_no_worse() {
        let run = fleet();
        let doc = audit_json(&run, &Extras::default());
        let base = parse(&doc.to_string()).expect("parse");
        let d = compare(&base, &run, "b.json");
        assert!(!d.worse(), "{d:?}");
        assert_eq!(d.still_failing, 1);
        assert!(d.fixed.is_empty() && d.new_hosts.is_empty() && d.missing_hosts.is_empty());
    }

    #[test]
    fn regressions_fixes_and_host_changes() {
        let before = fleet();
        let base = parse(&audit_json(&before, &Extras::default()).to_string()).expect("parse");
        let mut now = fleet();
        // web1: ufw.active breaks; web<2>: the port is closed again; gone answers; a new host.
        now.hosts[0].verify[0] = verdict("ufw.active", false, "Status: inactive");
        now.hosts[1].verify[3] = verdict("ports.only-ssh", true, "open: 22");
        now.hosts[1]
            .verify
            .push(verdict("host.env-files", false, "FAIL /root/.env 644"));
        now.hosts[3].unreachable = false;
        now.hosts[3].error = None;
        now.hosts.push(rampart_core::report::HostReport {
            host: "new1".into(),
            ..rampart_core::report::HostReport::default()
        });
        now.hosts[2].unreachable = true;
        let d = compare(&base, &now, "b.json");
        let worse: Vec<(&str, &str, &str)> = d
            .newly_failing
            .iter()
            .map(|c| (c.host.as_str(), c.id.as_str(), c.was))
            .collect();
        assert_eq!(
            worse,
            [
                ("web1", "ufw.active", "pass"),
                ("web<2>", "host.env-files", "absent")
            ]
        );
        assert_eq!(d.fixed.len(), 1);
        assert_eq!(d.fixed[0].id, "ports.only-ssh");
        assert_eq!(d.newly_unreachable, ["db1"]);
        assert_eq!(d.new_hosts, ["new1"]);
        assert!(d.worse());
    }

    #[test]
    fn rejects_documents_that_are_not_audits() {
        assert!(parse("nope").is_err());
        assert!(parse("{}").unwrap_err().contains("hosts"));
        assert!(
            parse(r#"{"hosts":[{"host":"a"}]}"#)
                .unwrap_err()
                .contains("controls")
        );
        assert!(
            parse(r#"{"hosts":[{"host":"a","controls":[{"id":"x"}]}]}"#)
                .unwrap_err()
                .contains("pass")
        );
        // A check --verify report is accepted.
        let b = parse(r#"{"hosts":[{"host":"a","verify":[{"id":"x","pass":false}]}]}"#)
            .expect("verify reports work");
        assert!(!b.hosts["a"].1["x"]);
    }
}
