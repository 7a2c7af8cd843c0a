//! Embeds every `controls/*.toml` file (sorted by name) and `defaults.toml`, so adding a
//! section is adding a file: no Rust code names them.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let controls = dir.join("controls");
    println!("cargo:rerun-if-changed={}", controls.display());
    println!(
        "cargo:rerun-if-changed={}",
        dir.join("defaults.toml").display()
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&controls)
        .expect("roles/baseline/controls exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut out = String::from(
        "/// Every embedded section file: (file name, text).\npub const SECTIONS: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().and_then(|n| n.to_str()).expect("utf-8 name");
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            f.display().to_string()
        )
        .expect("string");
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("sections.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
