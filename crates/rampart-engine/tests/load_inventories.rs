//! The loader reads the example inventories at the repository root from disk, with their
//! `group_vars/` and `host_vars/`: the Ansible INI file, the Ansible YAML file, the Ansible
//! directory (both files merged) and the rampart TOML file must all mean the same four lab
//! hosts.

use std::path::{Path, PathBuf};

use pretty_assertions::assert_eq;
use rampart_core::inventory::{Inventory, graph, host_json, list_json};
use rampart_engine::load::{load_extra, load_inventory};
use serde_json::{Value, json};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// Everything about an inventory except where things were written.
fn meaning(inv: &Inventory) -> Value {
    let mut hosts = serde_json::Map::new();
    for h in &inv.hosts {
        let mut j = host_json(inv, &h.name).unwrap();
        if let Some(o) = j.as_object_mut() {
            o.remove("origins");
        }
        hosts.insert(h.name.clone(), j);
    }
    json!({ "list": list_json(inv), "graph": graph(inv), "hosts": hosts })
}

fn load(rel: &str) -> Inventory {
    let inv = load_inventory(&repo(rel)).unwrap_or_else(|e| panic!("{e}"));
    assert!(inv.warnings.is_empty(), "{rel}: {:?}", inv.warnings);
    inv
}

#[test]
fn every_format_loads_the_same_lab() {
    let toml = meaning(&load("inventory/example.toml"));
    for rel in [
        "inventory/ansible/hosts.ini",
        "inventory/ansible/hosts.yml",
        "inventory/ansible",
    ] {
        assert_eq!(meaning(&load(rel)), toml, "{rel}");
    }
}

#[test]
fn group_and_host_vars_files_are_read() {
    let inv = load("inventory/ansible/hosts.ini");
    let h1 = inv.host("h1").unwrap();
    assert_eq!(
        h1.vars.value,
        json!({"timezone": "UTC", "environment": "lab", "tier": "front", "rack": "r1"})
    );
    assert_eq!(h1.address(), "10.213.1.2");
    assert_eq!(h1.conn.user(), Some("root"));
    assert_eq!(
        h1.conn.known_hosts.as_ref().unwrap().value,
        Path::new("/var/tmp/rampart-lab/known_hosts")
    );
    let at = h1.vars.origin("rack").unwrap();
    assert_eq!(at.file, repo("inventory/ansible/host_vars/h1.yml"));
    assert_eq!((at.line, at.col), (Some(2), Some(7)));
    let at = h1.vars.origin("environment").unwrap();
    assert_eq!(at.file, repo("inventory/ansible/group_vars/lab/main.yml"));
}

#[test]
fn extra_vars_from_a_file_and_the_command_line() {
    let vars = repo("inventory/ansible/host_vars/h1.yml");
    let l = load_extra(&[format!("@{}", vars.display()), "rack=r9".to_owned()]).unwrap();
    assert_eq!(l.value, json!({"rack": "r9"}));
}
