//! The invariant "all values in shell code go through `shell::quote` or a base64
//! here-document", checked over the source of the crates that build host scripts
//! (rampart-core, rampart-ssh, rampart-engine, and every role under roles/): script text is
//! constant (`.sh` files through `include_str!`, or literals), and values reach it through
//! `Script::call` (positional parameters), `Script::cmd` (quoted argv), a base64 here-document,
//! or `verify::check_command` / `verify::script_with_args` (positional parameters of a check,
//! a handler or a guard). So no `Script::raw`, `feed_base64` or `call` gets code built at run
//! time, no check's `command` is built by `format!`, and no `format!` builds shell code.
//! Unit tests (after `#[cfg(test)]`, and `tests.rs` files) are not product code and are skipped.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("tests.rs") {
            out.push(p);
        }
    }
}

/// Product code of a file: up to its `#[cfg(test)]` module.
fn product(text: &str) -> &str {
    text.find("#[cfg(test)]\nmod tests")
        .map_or(text, |i| &text[..i])
}

/// What follows `(` of a call: where its first argument starts.
fn first_arg(after: &str) -> &str {
    after.trim_start()
}

/// The text of the string literal `s` starts with (plain or raw), without its quotes.
fn literal(s: &str) -> Option<&str> {
    if let Some(rest) = s.strip_prefix("r#\"") {
        return rest.find("\"#").map(|e| &rest[..e]);
    }
    let rest = s.strip_prefix('"')?;
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(&rest[..i]),
            _ => escaped = false,
        }
    }
    None
}

/// Shell syntax that has no business in a `format!` string.
const SHELL_TOKENS: &[&str] = &[
    "$(",
    "; then",
    " || ",
    " && ",
    "echo ",
    "printf '",
    "rampart_",
    "2>&1",
    ">/dev/null",
    "set -- ",
];

/// The `src` directories checked: the three crates that build host scripts and every role's.
fn source_dirs() -> Vec<PathBuf> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut dirs: Vec<PathBuf> = ["rampart-core", "rampart-ssh", "rampart-engine"]
        .iter()
        .map(|k| crates.join(k).join("src"))
        .collect();
    let roles = crates.join("../roles");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&roles)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("src").is_dir())
        .collect();
    names.sort();
    assert!(names.len() >= 11, "found the roles: {names:?}");
    for r in names {
        dirs.push(r.join("src"));
    }
    dirs
}

/// Whether a call's first argument is constant code: a literal, a constant (UPPER_CASE), an
/// `if` choosing between those.
fn constant_arg(arg: &str) -> bool {
    arg.starts_with('"')
        || arg.starts_with("r\"")
        || arg.starts_with("r#\"")
        || arg.starts_with("if ")
        || arg
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()
            .is_some_and(|w| {
                !w.is_empty()
                    && w.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
}

/// Where a check's `command` (or a `Command`'s `run`) is built by `format!`: shell code is a
/// constant script and its values as parameters (`check_command`, `script_with_args`), never
/// text formatted at run time.
fn formatted_commands(code: &str) -> Vec<usize> {
    ["command:", "run:"]
        .iter()
        .flat_map(|field| {
            code.match_indices(field).filter_map(|(i, _)| {
                let value = code[i + field.len()..].trim_start();
                value
                    .trim_start_matches('&')
                    .starts_with("format!(")
                    .then_some(i)
            })
        })
        .collect()
}

#[test]
fn no_script_text_is_built_by_formatting_values() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for dir in source_dirs() {
        sources(&dir, &mut files);
    }
    assert!(files.len() > 40, "found the sources: {files:?}");
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let code = product(&text);
        let f = f.canonicalize().unwrap();
        let name = f
            .strip_prefix(root.canonicalize().unwrap())
            .unwrap()
            .display()
            .to_string();
        // `call`, `source` and `feed_base64` take `&'static str` code: the compiler holds them
        // to constants. `raw` takes a `Code` (a `&'static str` too), but through a variable or
        // a call: checked here.
        // (shell.rs itself implements them.)
        for (call, needle) in [("raw", ".raw(")] {
            if name.ends_with("shell.rs") {
                continue;
            }
            for (i, _) in code.match_indices(needle) {
                let arg = first_arg(&code[i + needle.len()..]);
                if !constant_arg(arg) {
                    let line = code[..i].lines().count();
                    bad.push(format!(
                        "{name}:{line}: {call} gets code built at run time: {}",
                        arg.lines().next().unwrap_or("")
                    ));
                }
            }
        }
        for i in formatted_commands(code) {
            let line = code[..i].lines().count();
            bad.push(format!(
                "{name}:{line}: a check's command (or a command's run) is built by format!"
            ));
        }
        for (i, _) in code.match_indices("format!(") {
            let Some(lit) = literal(first_arg(&code[i + 8..])) else {
                continue;
            };
            if let Some(tok) = SHELL_TOKENS.iter().find(|t| lit.contains(*t)) {
                let line = code[..i].lines().count();
                bad.push(format!(
                    "{name}:{line}: format! builds shell code ({tok:?}): {}",
                    lit.lines().next().unwrap_or("")
                ));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "script text built by formatting:\n{}",
        bad.join("\n")
    );
}

/// The check itself finds what it is for.
#[test]
fn the_check_catches_a_formatted_script() {
    let sample = r#"format!("if [ -e {p} ]; then rm -f {p}; fi")"#;
    let lit = literal(first_arg(&sample[8..])).unwrap();
    assert_eq!(lit, "if [ -e {p} ]; then rm -f {p}; fi");
    assert!(SHELL_TOKENS.iter().any(|t| lit.contains(t)));
    assert_eq!(literal(r#""a \" b" x"#), Some(r#"a \" b"#));
    assert!(constant_arg("WAIT_READY);"));
    assert!(constant_arg("if self.sshd.enabled { A } else { B });"));
    assert!(!constant_arg("self.wait_ready());"));
    assert!(!constant_arg("script_with_args(HANDLER, &[u]));"));
    let check = "Check { id: x, command: format!(\"cat {p}\"), expect }";
    assert_eq!(formatted_commands(check).len(), 1);
    assert_eq!(formatted_commands("run:\n    &format!(\"x\")").len(), 1);
    assert!(formatted_commands("command: check_command(SH, &[p]), run: SH.into()").is_empty());
}

#[test]
fn every_script_file_is_used_and_no_rust_file_holds_a_long_script() {
    // Every `.sh` under the three crates' and the roles' src is include_str!'d by a Rust file
    // next to it.
    let dirs = source_dirs();
    let mut rs = Vec::new();
    for dir in &dirs {
        sources(dir, &mut rs);
    }
    let all: String = rs
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    fn shs(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                shs(&p, out);
            } else if p.extension().is_some_and(|x| x == "sh") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    for dir in &dirs {
        shs(dir, &mut files);
    }
    assert!(files.len() >= 30, "{files:?}");
    for f in files {
        let rel = format!(
            "{}/{}",
            f.parent().unwrap().file_name().unwrap().to_string_lossy(),
            f.file_name().unwrap().to_string_lossy()
        );
        assert!(
            all.contains(&format!("include_str!(\"{rel}\")")),
            "{rel} is not include_str!'d"
        );
    }
}
