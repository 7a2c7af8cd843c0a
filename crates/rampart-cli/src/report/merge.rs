//! `rampart report merge`: shard reports (`rampart audit --shard I/N --json`) into one fleet
//! report, as if one controller had audited every host.
//!
//! Reports merge only when they describe the same thing: audits, by the same rampart version,
//! of the same site, slices of the same N. A host in two reports, or a shard given twice, is
//! refused; a missing shard is said in the notes. The merged hosts come in the fleet's
//! (unsharded) order: each report records every host's position in the whole selection.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use super::{Extras, audit_json, run_of_doc, scores};

/// One report to merge.
#[derive(Debug, Clone)]
pub struct Input {
    /// Where it came from (its file), for errors.
    pub label: String,
    /// Its JSON document.
    pub doc: Value,
}

fn shown(v: &Value) -> String {
    match v {
        Value::Null => "no site (built-in controls only)".to_owned(),
        Value::String(s) => format!("`{}`", rampart_core::report::terminal_safe(s)),
        v => rampart_core::report::terminal_safe(&v.to_string()).into_owned(),
    }
}

/// Merges shard reports. Errors say which two reports disagree, and on what.
pub fn merge(inputs: &[Input]) -> Result<Value, String> {
    let Some(first) = inputs.first() else {
        return Err("no report to merge".into());
    };
    for i in inputs {
        if i.doc["mode"] != "audit" || !i.doc["hosts"].is_array() {
            return Err(format!(
                "{}: not an audit report (write shard reports with `rampart audit --shard I/N --json`)",
                i.label
            ));
        }
        for (key, what) in [("version", "rampart version"), ("site", "site")] {
            if i.doc[key] != first.doc[key] {
                let (a, b) = (&first.doc[key], &i.doc[key]);
                let (a, b) = if key == "version" {
                    (
                        rampart_core::report::terminal_safe(&a.to_string()).into_owned(),
                        rampart_core::report::terminal_safe(&b.to_string()).into_owned(),
                    )
                } else {
                    (shown(a), shown(b))
                };
                return Err(format!(
                    "cannot merge reports of different {what}s: {} has {a}, {} has {b}; \
                     audit every shard {}",
                    first.label,
                    i.label,
                    if key == "version" {
                        "with the same rampart"
                    } else {
                        "with the same site"
                    }
                ));
            }
        }
    }
    // Shards: the same N everywhere, each I once.
    let mut count: Option<(u64, &str)> = None;
    let mut seen: BTreeMap<u64, &str> = BTreeMap::new();
    let mut notes: Vec<String> = Vec::new();
    for i in inputs {
        let Some(spec) = i.doc["shard"].as_str() else {
            continue;
        };
        let shard = crate::jobs::Shard::parse(spec).map_err(|e| format!("{}: {e}", i.label))?;
        match count {
            Some((n, other)) if n != shard.count => {
                return Err(format!(
                    "cannot merge slices of different shardings: {other} is one of {n} shards, {} one of {}",
                    i.label, shard.count
                ));
            }
            _ => count = Some((shard.count, &i.label)),
        }
        if let Some(other) = seen.insert(shard.index, &i.label) {
            return Err(format!(
                "shard {spec} is given twice: {other} and {}",
                i.label
            ));
        }
    }
    if let Some((n, _)) = count {
        let missing: Vec<String> = (1..=n)
            .filter(|k| !seen.contains_key(k))
            .map(|k| format!("{k}/{n}"))
            .collect();
        if !missing.is_empty() {
            notes.push(format!(
                "shards {} are missing: this report covers only part of the fleet",
                missing.join(", ")
            ));
        }
    }
    // Hosts, each once, in the fleet's order.
    let mut hosts: Vec<(usize, usize, Value)> = Vec::new();
    let mut owner: HashMap<String, &str> = HashMap::new();
    for i in inputs {
        for h in i.doc["hosts"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let name = h["host"].as_str().unwrap_or_default().to_owned();
            if let Some(other) = owner.insert(name.clone(), &i.label) {
                return Err(format!(
                    "host {name} is in two reports: {other} and {} (were they audited with the same --shard?)",
                    i.label
                ));
            }
            let index = h["index"]
                .as_u64()
                .and_then(|x| usize::try_from(x).ok())
                .unwrap_or(usize::MAX);
            hosts.push((index, hosts.len(), h.clone()));
        }
        for n in i.doc["notes"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if let Some(n) = n.as_str()
                && !notes.iter().any(|x| x == n)
            {
                notes.push(n.to_owned());
            }
        }
    }
    hosts.sort_by_key(|(index, order, _)| (*index, *order));
    let hosts: Vec<Value> = hosts.into_iter().map(|(_, _, h)| h).collect();
    let generated = inputs
        .iter()
        .filter_map(|i| i.doc["generated"].as_str())
        .min()
        .map(str::to_owned);
    let seconds = inputs
        .iter()
        .filter_map(|i| i.doc["seconds"].as_f64())
        .fold(0.0, f64::max);
    let body = json!({
        "mode": "audit",
        "version": first.doc["version"],
        "seconds": seconds,
        "hosts": hosts,
    });
    let run = run_of_doc(&body);
    let positions: HashMap<String, usize> = hosts
        .iter()
        .filter_map(|h| {
            Some((
                h["host"].as_str()?.to_owned(),
                usize::try_from(h["index"].as_u64()?).ok()?,
            ))
        })
        .collect();
    let extras = Extras {
        generated,
        notes,
        site: first.doc["site"].as_str().map(str::to_owned),
        positions,
        ..Extras::default()
    };
    // The summary and the control catalogue come from the same code as an audit's; the hosts
    // are the shards' own entries (with their probe details and control metadata).
    let mut doc = audit_json(&run, &extras);
    doc["hosts"] = Value::Array(hosts);
    let s = scores::of_doc(&doc);
    doc["summary"]["compliance"] = json!(s.fleet.percent);
    doc["summary"]["waived"] = json!(s.fleet.waived);
    doc["scores"] = serde_json::to_value(&s).unwrap_or_default();
    doc["shards"] = Value::Array(
        inputs
            .iter()
            .map(|i| {
                json!({
                    "report": i.label,
                    "shard": i.doc["shard"],
                    "generated": i.doc["generated"],
                    "seconds": i.doc["seconds"],
                    "hosts": i.doc["hosts"].as_array().map_or(0, Vec::len),
                })
            })
            .collect(),
    );
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata;

    fn shard_docs(n: u64) -> (Value, Vec<Input>) {
        let run = testdata::fleet();
        let positions: HashMap<String, usize> = run
            .hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (h.host.clone(), i))
            .collect();
        let whole = audit_json(
            &run,
            &Extras {
                site: Some("fleet".into()),
                positions: positions.clone(),
                ..Extras::default()
            },
        );
        let mut inputs = Vec::new();
        for k in 1..=n {
            let shard = crate::jobs::Shard { index: k, count: n };
            let mut part = run.clone();
            part.hosts.retain(|h| shard.selects(&h.host));
            let doc = audit_json(
                &part,
                &Extras {
                    site: Some("fleet".into()),
                    shard: Some(format!("{k}/{n}")),
                    positions: positions.clone(),
                    ..Extras::default()
                },
            );
            inputs.push(Input {
                label: format!("shard-{k}.json"),
                doc,
            });
        }
        // Shards come in any order.
        inputs.reverse();
        (whole, inputs)
    }

    #[test]
    fn merged_shards_equal_the_whole_report() {
        let (whole, inputs) = shard_docs(3);
        let merged = merge(&inputs).expect("merge");
        assert_eq!(merged["hosts"], whole["hosts"]);
        assert_eq!(merged["summary"], whole["summary"]);
        assert_eq!(merged["controls"], whole["controls"]);
        assert_eq!(merged["scores"], whole["scores"]);
        assert_eq!(merged["site"], "fleet");
        assert_eq!(merged["shards"].as_array().map(Vec::len), Some(3));
        assert_eq!(merged["notes"], json!([]));
    }

    #[test]
    fn refuses_different_sites_versions_and_twice_given_shards() {
        let (_, inputs) = shard_docs(2);
        let mut other = inputs.clone();
        other[1].doc["site"] = json!("another");
        let e = merge(&other).expect_err("sites");
        assert!(
            e.contains("different sites") && e.contains("`fleet`") && e.contains("`another`"),
            "{e}"
        );
        let mut other = inputs.clone();
        other[0].doc["version"] = json!("0.0.9");
        let e = merge(&other).expect_err("versions");
        assert!(e.contains("different rampart versions"), "{e}");
        assert!(e.contains("0.0.9"), "{e}");
        let twice = vec![inputs[0].clone(), inputs[0].clone()];
        let e = merge(&twice).expect_err("twice");
        assert!(e.contains("given twice"), "{e}");
        let mut n3 = inputs.clone();
        n3[1].doc["shard"] = json!("3/3");
        let e = merge(&n3).expect_err("different N");
        assert!(e.contains("different shardings"), "{e}");
        let mut not_audit = inputs.clone();
        not_audit[0].doc["mode"] = json!("check");
        assert!(
            merge(&not_audit)
                .expect_err("mode")
                .contains("not an audit")
        );
        // One shard missing: merged, with a note.
        let part = merge(&inputs[..1]).expect("partial");
        assert!(
            part["notes"][0]
                .as_str()
                .is_some_and(|n| n.contains("missing")),
            "{}",
            part["notes"]
        );
    }
}
