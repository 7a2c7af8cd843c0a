//! Writes the role registry (`registry::roles()`) from this crate's Cargo.toml: every
//! `rampart-role-NAME` dependency, in the order the manifest lists them, is one entry. So adding
//! a role is its folder, its templates and one dependency line.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let manifest = Path::new(&dir).join("Cargo.toml");
    println!("cargo:rerun-if-changed={}", manifest.display());
    let text = std::fs::read_to_string(&manifest).expect("read the CLI's Cargo.toml");
    let mut section = "";
    let mut roles = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if section != "[dependencies]" {
            continue;
        }
        let Some(name) = line
            .split(['=', '.', ' '])
            .next()
            .filter(|n| n.starts_with("rampart-role-"))
        else {
            continue;
        };
        roles.push(name.replace('-', "_"));
    }
    assert!(
        !roles.is_empty(),
        "{}: no rampart-role-* dependency found under [dependencies]: the registry would be empty",
        manifest.display()
    );
    let mut out = String::from("vec![\n");
    for r in &roles {
        writeln!(out, "    {r}::role(),").expect("write to a String");
    }
    out.push(']');
    let dest = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("roles.rs");
    std::fs::write(&dest, out).expect("write the registry");
}
