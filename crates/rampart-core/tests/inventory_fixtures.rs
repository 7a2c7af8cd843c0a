//! The example inventories at the repository root (`inventory/example.toml` and
//! `inventory/ansible/`) describe the same four lab hosts; these tests parse them (the text is
//! compiled in: rampart-core does no IO) and check that every format resolves to the same
//! hosts, groups, connection settings and variables. Error fixtures under `tests/fixtures/errors/`
//! carry their expected message in their first comment lines.

use std::path::Path;

use pretty_assertions::assert_eq;
use rampart_core::inventory::{self, Draft, Inventory, graph, host_json, list_json};
use rampart_core::site::parse_site;
use rampart_core::vars::{self, parse_vars_file};
use serde_json::{Value, json};

const EXAMPLE_TOML: &str = include_str!("../../../inventory/example.toml");
const HOSTS_INI: &str = include_str!("../../../inventory/ansible/hosts.ini");
const HOSTS_YML: &str = include_str!("../../../inventory/ansible/hosts.yml");
const GROUP_VARS_ALL: &str = include_str!("../../../inventory/ansible/group_vars/all.yml");
const GROUP_VARS_LAB: &str = include_str!("../../../inventory/ansible/group_vars/lab/main.yml");
const HOST_VARS_H1: &str = include_str!("../../../inventory/ansible/host_vars/h1.yml");

/// What the loader does with `group_vars/` and `host_vars/`, from compiled-in text.
fn with_ansible_vars(mut d: Draft) -> Inventory {
    let gv = |rel: &str, text: &str| {
        parse_vars_file(&Path::new("inventory/ansible").join(rel), text).unwrap()
    };
    d.add_group_vars("all", gv("group_vars/all.yml", GROUP_VARS_ALL));
    d.add_group_vars("lab", gv("group_vars/lab/main.yml", GROUP_VARS_LAB));
    d.add_host_vars("h1", gv("host_vars/h1.yml", HOST_VARS_H1));
    d.finish("inventory/ansible").unwrap()
}

fn ini() -> Inventory {
    with_ansible_vars(
        inventory::parse_ini(Path::new("inventory/ansible/hosts.ini"), HOSTS_INI).unwrap(),
    )
}

fn yaml() -> Inventory {
    with_ansible_vars(
        inventory::parse_yaml(Path::new("inventory/ansible/hosts.yml"), HOSTS_YML).unwrap(),
    )
}

fn toml() -> Inventory {
    inventory::parse(Path::new("inventory/example.toml"), EXAMPLE_TOML).unwrap()
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

#[test]
fn the_lab_inventory_is_what_it_says() {
    let inv = toml();
    let names: Vec<&str> = inv.host_names().collect();
    assert_eq!(names, ["h1", "h2", "h3", "h4"]);
    for (i, h) in inv.hosts.iter().enumerate() {
        assert_eq!(h.address(), format!("10.213.{}.2", i + 1));
        assert_eq!(h.conn.user(), Some("root"));
        assert_eq!(h.conn.port(), Some(22));
        assert_eq!(
            h.conn.identity_files[0].value,
            Path::new("/var/tmp/rampart-lab/id_lab")
        );
        assert_eq!(
            h.conn.known_hosts.as_ref().unwrap().value,
            Path::new("/var/tmp/rampart-lab/known_hosts")
        );
        assert_eq!(h.conn.connect_timeout.as_ref().unwrap().value, 10);
        assert!(!h.conn.become_root());
    }
    assert_eq!(inv.host("h1").unwrap().groups, ["all", "lab", "web"]);
    assert_eq!(inv.host("h3").unwrap().groups, ["all", "lab"]);
    assert_eq!(
        inv.host("h1").unwrap().vars.value,
        json!({"timezone": "UTC", "environment": "lab", "tier": "front", "rack": "r1"})
    );
    assert_eq!(
        inv.host("h4").unwrap().vars.value,
        json!({"timezone": "UTC", "environment": "lab"})
    );
    assert_eq!(
        graph(&inv),
        "@all:\n  |--@lab:\n  |  |--@web:\n  |  |  |--h1\n  |  |  |--h2\n  |  |--h1\n  |  |--h2\n  |  |--h3\n  |  |--h4\n  |--@ungrouped:\n"
    );
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
}

#[test]
fn ansible_ini_means_the_same_as_the_toml_example() {
    assert_eq!(meaning(&ini()), meaning(&toml()));
}

#[test]
fn ansible_yaml_means_the_same_as_the_toml_example() {
    assert_eq!(meaning(&yaml()), meaning(&toml()));
}

#[test]
fn origins_point_into_the_files_that_set_them() {
    let inv = ini();
    let h1 = inv.host("h1").unwrap();
    assert_eq!(
        h1.vars.origin("rack").unwrap().to_string(),
        "inventory/ansible/host_vars/h1.yml:2:7"
    );
    assert_eq!(
        h1.vars.origin("tier").unwrap().to_string(),
        "inventory/ansible/hosts.ini:16:6"
    );
    assert_eq!(
        h1.conn.address.as_ref().unwrap().location.to_string(),
        "inventory/ansible/hosts.ini:6:17"
    );
    assert_eq!(
        h1.conn.user.as_ref().unwrap().location.to_string(),
        "inventory/ansible/group_vars/all.yml:3:15"
    );
    let inv = toml();
    let h1 = inv.host("h1").unwrap();
    assert_eq!(
        h1.conn.address.as_ref().unwrap().location.to_string(),
        "inventory/example.toml:19:11"
    );
}

#[test]
fn site_fixture_with_the_lab_inventory() {
    let site = parse_site(
        Path::new("tests/fixtures/site.toml"),
        include_str!("fixtures/site.toml"),
        &["base", "sshd", "ufw", "unattended"],
    )
    .unwrap();
    let inv = toml();
    site.check_patterns(&inv).unwrap();
    assert_eq!(
        site.roles_for(inv.host("h1").unwrap()),
        ["base", "sshd", "ufw", "unattended"]
    );
    assert_eq!(
        site.roles_for(inv.host("h2").unwrap()),
        ["base", "sshd", "ufw"]
    );
    assert_eq!(site.rolling.batches(4), [1, 1, 2]);

    // Site settings < inventory vars < extra vars, with origins all the way.
    let extra = vars::parse_extra("sshd.port=2222", 1).unwrap();
    let r = vars::resolve_host(&site, inv.host("h1").unwrap(), &extra);
    assert_eq!(
        vars::role_config(&r, "sshd"),
        json!({"allow_users": ["fleetclaw", "ubuntu"], "port": 2222})
    );
    assert_eq!(
        r.locate("sshd.allow_users").unwrap().to_string(),
        "tests/fixtures/site.toml:24:1"
    );
    assert_eq!(
        r.locate("sshd.port").unwrap().to_string(),
        "<command line -e #1>"
    );
    assert_eq!(
        r.locate("rack").unwrap().to_string(),
        "inventory/example.toml:20:17"
    );
    assert_eq!(vars::role_config(&r, "ufw"), json!({}));
}

#[test]
fn error_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/errors");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    assert!(!entries.is_empty());
    for path in entries {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let expected: Vec<&str> = text
            .lines()
            .map_while(|l| {
                l.strip_prefix("# error: ")
                    .or_else(|| l.strip_prefix("# hint: "))
            })
            .collect();
        let mut want = expected[0].to_owned();
        if let Some(h) = expected.get(1) {
            want.push_str(&format!("\n  hint: {h}"));
        }
        let got = inventory::parse(Path::new(&name), &text)
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(got, Err(want), "fixture {name}");
    }
}
