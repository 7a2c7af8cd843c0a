//! Finds the roles' lab tests: every `roles/NAME/tests/lab.rs` becomes the module
//! `role_lab::NAME` (dashes as underscores) of the `roles` test binary (tests/roles.rs), so a
//! role's lab test lives in its folder and needs no line outside it. The list is written to
//! `$OUT_DIR/role_labs.rs`, in the order of the folders' names.
//!
//! It is looked for again when a role's `tests/` folder changes, or when the CLI's Cargo.toml
//! (whose `rampart-role-*` lines are the role registry, so a new role adds one) does.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&root);
    println!(
        "cargo::rerun-if-changed={}",
        root.join("crates/rampart-cli/Cargo.toml").display()
    );
    let mut labs = Vec::new();
    for entry in std::fs::read_dir(root.join("roles")).expect("read roles/") {
        let dir = entry.expect("read roles/").path();
        let tests = dir.join("tests");
        if tests.is_dir() {
            println!("cargo::rerun-if-changed={}", tests.display());
        }
        let lab = tests.join("lab.rs");
        if lab.is_file() {
            let name = dir
                .file_name()
                .and_then(|n| n.to_str())
                .expect("a role folder's name is UTF-8")
                .replace('-', "_");
            labs.push((name, lab));
        }
    }
    labs.sort();
    let mut out = String::new();
    for (name, lab) in &labs {
        writeln!(
            out,
            "#[path = {:?}]\nmod {name};",
            lab.display().to_string()
        )
        .expect("write to a String");
    }
    let dest =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("role_labs.rs");
    std::fs::write(&dest, out).expect("write the list of role lab tests");
}
