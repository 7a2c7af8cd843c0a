//! The architecture invariants of ARCHITECTURE.md that are about the source itself, checked
//! over the source tree, and the rule that keeps that document true: every invariant names the
//! tests that enforce it, and every test it names exists. No lab, no root: part of `cargo test`.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "target") {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Product code of a source file: none for test files, test helpers and build scripts; the
/// text up to its `#[cfg(test)]` module otherwise.
fn product(path: &Path, text: &str) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let rel = path
        .strip_prefix(root())
        .ok()?
        .to_string_lossy()
        .into_owned();
    if name == "tests.rs"
        || name == "build.rs"
        || name == "testing.rs"
        || rel.contains("/testing/")
        || rel.contains("/tests/")
        || rel.starts_with("tests/")
    {
        return None;
    }
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    Some(text[..end].to_string())
}

/// (path relative to the root, product code) of every source file under these directories.
fn product_sources(dirs: &[PathBuf]) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for d in dirs {
        rust_files(d, &mut files);
    }
    files
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            let code = product(&p, &text)?;
            Some((
                p.strip_prefix(root())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                code,
            ))
        })
        .collect()
}

fn role_dirs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("roles"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("src"))
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// The `[dependencies]` table of a manifest (not dev- or build-dependencies).
fn dependencies(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    doc.get("dependencies")
        .and_then(|d| d.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

fn manifests() -> Vec<PathBuf> {
    let mut v = vec![root().join("Cargo.toml")];
    for dir in ["crates", "roles"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap().flatten() {
            let m = e.path().join("Cargo.toml");
            if m.is_file() {
                v.push(m);
            }
        }
    }
    v
}

/// "Core does no IO" and "Planning is pure": rampart-core and every role read no file, open no
/// socket, spawn nothing, read no clock or environment, and depend on no runtime.
#[test]
fn core_and_roles_do_no_io() {
    let mut dirs = vec![root().join("crates/rampart-core/src")];
    dirs.extend(role_dirs());
    let files = product_sources(&dirs);
    assert!(files.len() > 40, "found the sources: {}", files.len());
    const IO: &[&str] = &[
        "std::fs",
        "std::process",
        "std::net::TcpStream",
        "std::net::UdpSocket",
        "TcpListener",
        "SystemTime::now",
        "Instant::now",
        "std::env::var",
        "env::args",
        "std::io::stdin",
        "println!",
        "eprintln!",
        "tokio",
        "russh",
    ];
    let mut bad = Vec::new();
    for (name, code) in &files {
        for tok in IO {
            if let Some(i) = code.find(tok) {
                let line = code[..i].lines().count();
                bad.push(format!("{name}:{line}: {tok}"));
            }
        }
    }
    assert!(bad.is_empty(), "IO in pure code:\n{}", bad.join("\n"));
    let mut manifests: Vec<PathBuf> = vec![root().join("crates/rampart-core/Cargo.toml")];
    manifests.extend(
        role_dirs()
            .iter()
            .map(|d| d.parent().unwrap().join("Cargo.toml")),
    );
    for m in manifests {
        for dep in dependencies(&m) {
            assert!(
                !["tokio", "russh", "rampart-ssh", "rampart-engine", "reqwest"].contains(&&*dep),
                "{} depends on {dep}",
                m.display()
            );
        }
    }
}

/// "A role's lab test needs no line outside its folder": every `roles/NAME/tests/lab.rs` is a
/// module of the root's `roles` test binary (build.rs), so its crate must not build it as a test
/// of its own (`autotests = false`: it would fail on `crate::util`) and the root must not
/// declare it again.
#[test]
fn a_roles_lab_test_is_a_module_of_the_roles_binary_only() {
    let mut labs = 0;
    for src in role_dirs() {
        let dir = src.parent().unwrap();
        if !dir.join("tests/lab.rs").is_file() {
            continue;
        }
        labs += 1;
        let doc: toml::Table = std::fs::read_to_string(dir.join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
        let autotests = doc["package"].get("autotests").and_then(|v| v.as_bool());
        assert_eq!(
            autotests,
            Some(false),
            "{}/Cargo.toml: add `autotests = false` under [package]: tests/lab.rs is the root's \
             `roles` binary's module (docs/ROLE-AUTHORING.md), not a test of this crate",
            dir.display()
        );
    }
    assert!(labs >= 10, "found the roles' lab tests: {labs}");
    let root_doc: toml::Table = std::fs::read_to_string(root().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    for t in root_doc
        .get("test")
        .and_then(|t| t.as_array())
        .into_iter()
        .flatten()
    {
        let path = t.get("path").and_then(|p| p.as_str()).unwrap_or_default();
        assert!(
            !path.starts_with("roles/"),
            "Cargo.toml declares [[test]] {path}: build.rs already makes it a module of tests/roles.rs"
        );
    }
}

/// "Only rampart-ssh touches russh; the controller is portable."
#[test]
fn only_rampart_ssh_touches_russh_and_the_controller_is_portable() {
    for m in manifests() {
        if m.ends_with("crates/rampart-ssh/Cargo.toml") {
            assert!(dependencies(&m).contains(&"russh".to_string()));
            continue;
        }
        assert!(
            !dependencies(&m).iter().any(|d| d.starts_with("russh")),
            "{} depends on russh",
            m.display()
        );
    }
    let mut dirs = vec![root().join("src")];
    for e in std::fs::read_dir(root().join("crates")).unwrap().flatten() {
        dirs.push(e.path().join("src"));
    }
    dirs.extend(role_dirs());
    let files = product_sources(&dirs);
    let mut bad = Vec::new();
    for (name, code) in &files {
        if !name.starts_with("crates/rampart-ssh/") && code.contains("russh::") {
            bad.push(format!("{name}: uses russh outside rampart-ssh"));
        }
        // Linux-only APIs on the controller (a host-side path inside a shell string is fine).
        for tok in [
            "std::os::linux",
            "target_os = \"linux\"",
            "read_to_string(\"/proc",
            "File::open(\"/proc",
            "read_to_string(\"/sys",
        ] {
            if code.contains(tok) {
                bad.push(format!("{name}: Linux-only code on the controller: {tok}"));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Every test function name in the tree.
fn test_names() -> std::collections::BTreeSet<String> {
    let mut files = Vec::new();
    for d in ["src", "crates", "roles", "tests"] {
        rust_files(&root().join(d), &mut files);
    }
    let mut names = std::collections::BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, _) in text.match_indices("fn ") {
            let name: String = text[i + 3..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

/// ARCHITECTURE.md stays true: each invariant names at least one test (a test function or a
/// test file), and every test function or file it names exists.
#[test]
fn every_invariant_names_the_tests_that_enforce_it_and_they_exist() {
    let doc = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let section = doc
        .split("## Architecture invariants")
        .nth(1)
        .expect("ARCHITECTURE.md has its invariants section");
    let section = section.split("\n## ").next().unwrap();
    let names = test_names();
    let mut bullets: Vec<String> = Vec::new();
    for line in section.lines() {
        if let Some(b) = line.strip_prefix("- ") {
            bullets.push(b.to_string());
        } else if line.starts_with("  ")
            && let Some(last) = bullets.last_mut()
        {
            last.push(' ');
            last.push_str(line.trim());
        }
    }
    assert!(bullets.len() >= 12, "{} invariants", bullets.len());
    let mut bad = Vec::new();
    for b in &bullets {
        let title = b.split("**").nth(1).unwrap_or(b).to_string();
        let mut tests = 0;
        for (k, code) in b.split('`').enumerate() {
            if k % 2 == 0 {
                continue;
            }
            let is_file = code.ends_with(".rs") && code.contains("tests");
            // A test function's name: snake case with at least three words.
            let is_fn = code.matches('_').count() >= 2
                && code
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if is_file {
                if root().join(code).is_file() {
                    tests += 1;
                } else {
                    bad.push(format!("{title}: names {code}, which does not exist"));
                }
            } else if is_fn {
                if names.contains(code) {
                    tests += 1;
                } else {
                    bad.push(format!("{title}: names `{code}`, which no test is called"));
                }
            }
        }
        if tests == 0 {
            bad.push(format!("{title}: names no test"));
        }
    }
    assert!(bad.is_empty(), "ARCHITECTURE.md:\n{}", bad.join("\n"));
}
