//! Compliance scores: per host and for the fleet, controls passed, failed and waived, by
//! section and by level, and the percentage that passed of those that count (waived controls
//! do not count either way).
//!
//! Scores are computed from an audit's JSON document (its `hosts[].controls[]`), so an audit,
//! a merge of shard reports and an old report given as `--baseline` are scored the same way.
//! A control entry's `section` is its own when it has one (a baseline role's controls carry
//! theirs), else the control id up to the first dot (the role: `ufw`, `sshd`); its levels are
//! its `level` or `levels`, when it has any (controls without a level are in no level's score).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::group_of;

/// Controls that passed, failed and were waived (failed, and waived with `--waive`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Tally {
    /// Controls that passed.
    pub passed: usize,
    /// Controls that failed (not waived).
    pub failed: usize,
    /// Controls that failed and were waived.
    pub waived: usize,
    /// passed / (passed + failed), in percent with one decimal; `None` when nothing counted.
    pub percent: Option<f64>,
}

impl Tally {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Pass => self.passed += 1,
            Outcome::Fail => self.failed += 1,
            Outcome::Waived => self.waived += 1,
        }
        let counted = self.passed + self.failed;
        self.percent = (counted > 0).then(|| percent(self.passed, counted));
    }
}

/// `part / whole` in percent, rounded to one decimal.
pub fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    ((part as f64) * 1000.0 / (whole as f64)).round() / 10.0
}

/// A percentage for people: `73.3%`, or `-` when nothing counted.
pub fn show(p: Option<f64>) -> String {
    p.map_or_else(|| "-".to_owned(), |p| format!("{p:.1}%"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Pass,
    Fail,
    Waived,
}

/// One host's score.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HostScore {
    /// The host.
    pub host: String,
    /// Whether its controls ran at all (not unreachable, no host error).
    pub ran: bool,
    /// All its controls.
    pub total: Tally,
    /// By section.
    pub by_section: BTreeMap<String, Tally>,
    /// By level.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_level: BTreeMap<String, Tally>,
}

/// A report's scores.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Scores {
    /// Every control on every host.
    pub fleet: Tally,
    /// By section over the fleet.
    pub by_section: BTreeMap<String, Tally>,
    /// By level over the fleet.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_level: BTreeMap<String, Tally>,
    /// Per host, in the report's order.
    pub hosts: Vec<HostScore>,
    /// The waived controls: (host, control id).
    #[serde(skip)]
    pub waived: BTreeSet<(String, String)>,
}

impl Scores {
    /// Whether this control on this host was waived.
    pub fn is_waived(&self, host: &str, id: &str) -> bool {
        self.waived.contains(&(host.to_owned(), id.to_owned()))
    }

    /// A host's score.
    pub fn host(&self, host: &str) -> Option<&HostScore> {
        self.hosts.iter().find(|h| h.host == host)
    }
}

fn levels_of(c: &Value) -> Vec<String> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match (&c["levels"], &c["level"]) {
        (Value::Array(a), _) => a.iter().filter_map(one).collect(),
        (_, v) => one(v).into_iter().collect(),
    }
}

/// The section of a control entry: its own, else its id's group.
pub fn section_of(c: &Value) -> String {
    c["section"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| group_of(c["id"].as_str().unwrap_or_default()).to_owned())
}

/// Scores an audit document.
pub fn of_doc(doc: &Value) -> Scores {
    let mut s = Scores::default();
    for h in doc["hosts"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let name = h["host"].as_str().unwrap_or_default().to_owned();
        let ran = !h["unreachable"].as_bool().unwrap_or(false) && h["error"].is_null();
        let mut hs = HostScore {
            host: name.clone(),
            ran,
            ..HostScore::default()
        };
        // One outcome per control id: it fails if any check with that id failed, and is
        // waived if every failing one was.
        let mut by_id: BTreeMap<String, (Outcome, &Value)> = BTreeMap::new();
        let controls = h["controls"]
            .as_array()
            .or_else(|| h["verify"].as_array())
            .map(Vec::as_slice)
            .unwrap_or_default();
        for c in controls {
            let id = c["id"].as_str().unwrap_or_default().to_owned();
            let o = match (c["pass"].as_bool().unwrap_or(false), c["waived"].as_bool()) {
                (true, _) => Outcome::Pass,
                (false, Some(true)) => Outcome::Waived,
                (false, _) => Outcome::Fail,
            };
            let e = by_id.entry(id).or_insert((o, c));
            e.0 = match (e.0, o) {
                (Outcome::Fail, _) | (_, Outcome::Fail) => Outcome::Fail,
                (Outcome::Waived, _) | (_, Outcome::Waived) => Outcome::Waived,
                _ => Outcome::Pass,
            };
        }
        for (id, (o, c)) in by_id {
            if o == Outcome::Waived {
                s.waived.insert((name.clone(), id));
            }
            let section = section_of(c);
            hs.total.add(o);
            s.fleet.add(o);
            hs.by_section.entry(section.clone()).or_default().add(o);
            s.by_section.entry(section).or_default().add(o);
            for l in levels_of(c) {
                hs.by_level.entry(l.clone()).or_default().add(o);
                s.by_level.entry(l).or_default().add(o);
            }
        }
        s.hosts.push(hs);
    }
    s
}

/// One report in a score history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrendPoint {
    /// Where it came from (the file, or "this run").
    pub label: String,
    /// When it ran, if it says.
    pub generated: Option<String>,
    /// Its fleet score.
    pub fleet: Tally,
    /// Per host: its percentage.
    pub hosts: BTreeMap<String, Option<f64>>,
}

impl TrendPoint {
    /// The point of a scored report.
    pub fn of(label: &str, generated: Option<String>, s: &Scores) -> TrendPoint {
        TrendPoint {
            label: label.to_owned(),
            generated,
            fleet: s.fleet,
            hosts: s
                .hosts
                .iter()
                .map(|h| (h.host.clone(), h.total.percent))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"hosts": [
            {"host": "a", "unreachable": false, "error": null, "controls": [
                {"id": "ufw.active", "pass": true},
                {"id": "ufw.only-allowed", "pass": false},
                {"id": "sshd.root", "pass": false, "waived": true},
                {"id": "base.x", "pass": true, "section": "1.1 Filesystem", "levels": [1, 2]},
                {"id": "base.y", "pass": false, "section": "1.1 Filesystem", "level": "2"},
                {"id": "ports.only-ssh", "pass": true},
                {"id": "ports.only-ssh", "pass": false},
            ]},
            {"host": "b", "unreachable": true, "error": "timed out", "controls": []},
        ]})
    }

    #[test]
    fn scores_by_host_section_and_level() {
        let s = of_doc(&doc());
        assert_eq!(
            (s.fleet.passed, s.fleet.failed, s.fleet.waived),
            (2, 3, 1),
            "{s:?}"
        );
        assert_eq!(s.fleet.percent, Some(40.0));
        let a = s.host("a").expect("a");
        assert!(a.ran);
        assert_eq!(a.total, s.fleet);
        assert_eq!(a.by_section["ufw"].percent, Some(50.0));
        assert_eq!(a.by_section["sshd"].waived, 1);
        assert_eq!(
            a.by_section["sshd"].percent, None,
            "only waived: nothing counts"
        );
        assert_eq!(a.by_section["1.1 Filesystem"].passed, 1);
        assert_eq!(a.by_section["ports"].failed, 1, "one control, failing once");
        assert_eq!(s.by_level["1"].percent, Some(100.0));
        assert_eq!(s.by_level["2"].percent, Some(50.0));
        assert!(s.is_waived("a", "sshd.root"));
        assert!(!s.is_waived("a", "ufw.only-allowed"));
        let b = s.host("b").expect("b");
        assert!(!b.ran);
        assert_eq!(b.total.percent, None);
    }

    #[test]
    fn percentages_round_to_one_decimal() {
        assert_eq!(percent(2, 3), 66.7);
        assert_eq!(percent(1, 3), 33.3);
        assert_eq!(percent(0, 0), 0.0);
        assert_eq!(show(Some(66.7)), "66.7%");
        assert_eq!(show(None), "-");
    }
}
