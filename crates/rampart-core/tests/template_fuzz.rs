//! The template path must never panic or overflow the stack: random template text, every
//! embedded template mutated at random, and a kept corpus of hostile inputs
//! (`tests/corpus/`: recursion, huge ranges and repetitions, self-includes, division by zero,
//! unclosed blocks, undefined variables, billion-laughs YAML, cyclic groups, bad ports...).
//! Every input either renders or fails with a [`TemplateError`]; user templates that fail to
//! compile say on which line.
//!
//! The corpus is kept in the repository: an input that ever broke a parser is added there as
//! a file, and proptest records the failing cases it finds in
//! `tests/template_fuzz.proptest-regressions` (commit it), which are replayed first.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use rampart_core::inventory;
use rampart_core::site::parse_site;
use rampart_core::template::Templates;
use rampart_core::vars;

fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
}

/// A context like the one roles give templates: a few host variables and facts.
fn context() -> serde_json::Value {
    serde_json::json!({
        "inventory_hostname": "web1",
        "port": 22,
        "allow_users": ["ops", "deploy"],
        "host": { "os_codename": "bookworm", "default_iface": "eth0" },
        "items": [1, 2, 3],
    })
}

/// Renders `source` as a user template named `name` and as a string; only errors may come out.
fn render_everything(name: &str, source: &str) {
    let mut t = Templates::embedded();
    match t.add_user(name, source.to_owned(), &format!("templates/{name}")) {
        Ok(()) => {
            let _ = t.render(name, context());
        }
        Err(e) => assert!(
            !e.message.is_empty(),
            "a compile error of {name} says what is wrong"
        ),
    }
    let _ = t.render_str(source, context());
}

#[test]
fn the_template_corpus_renders_or_fails_cleanly() {
    for file in corpus("template") {
        let name = file.file_name().and_then(|n| n.to_str()).expect("name");
        let bytes = std::fs::read(&file).expect("read corpus file");
        let source = String::from_utf8_lossy(&bytes);
        // Run on a thread with a small stack: a recursion that is not bounded by the engine
        // must show up here, not on an operator's machine.
        let (name, source) = (name.to_owned(), source.into_owned());
        std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || render_everything(&name, &source))
            .expect("spawn")
            .join()
            .unwrap_or_else(|_| panic!("{} panicked", file.display()));
    }
}

#[test]
fn compile_errors_of_user_templates_carry_a_line() {
    let mut t = Templates::embedded();
    let e = t
        .add_user(
            "bad.j2",
            "line one\n{% if x %}\nno end".into(),
            "templates/bad.j2",
        )
        .expect_err("unclosed block");
    assert_eq!(e.name, "templates/bad.j2");
    assert!(e.line.is_some(), "{e}");
    let t = Templates::embedded();
    let e = t
        .render_str("a\n{{ nope }}", context())
        .expect_err("undefined variable");
    assert_eq!(e.line, Some(2), "{e}");
}

#[test]
fn the_inventory_corpus_parses_or_fails_cleanly() {
    for file in corpus("inventory") {
        let bytes = std::fs::read(&file).expect("read corpus file");
        let text = String::from_utf8_lossy(&bytes);
        let text = text.as_ref();
        let _ = inventory::parse(&file, text);
        for name in ["v.toml", "v.yml", "v.json"] {
            let _ = vars::parse_vars_file(Path::new(name), text);
        }
        let _ = parse_site(Path::new("site.toml"), text, &["base", "sshd"]);
        // An input that is not an inventory at all still gets a located error.
        if let Err(e) = inventory::parse(&file, text) {
            assert_eq!(e.location.file, file, "{e}");
        }
    }
}

/// Characters that matter to minijinja's lexer and parser.
const ALPHABET: &[&str] = &[
    "{{", "}}", "{%", "%}", "{#", "#}", "(", ")", "[", "]", "|", ".", ",", ":", "=", "~", "*", "+",
    "-", "/", "%", "\"", "'", " ", "\n", "if ", "for ", "in ", "endif", "endfor", "else", "macro ",
    "endmacro", "set ", "include ", "call ", "filter ", "x", "items", "host", "port", "loop",
    "range(", "join", "length", "1", "0", "none", "true",
];

fn template_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 0..60).prop_map(|parts| parts.concat())
}

/// An embedded template with a few random edits.
fn mutated_embedded() -> impl Strategy<Value = (String, String)> {
    let names: Vec<&'static str> = Templates::embedded_names().collect();
    (
        prop::sample::select(names),
        prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                prop::sample::select(ALPHABET),
                0u8..3,
            ),
            1..6,
        ),
    )
        .prop_map(|(name, edits)| {
            let mut text = Templates::embedded_source(name)
                .unwrap_or_default()
                .to_owned();
            for (idx, s, op) in edits {
                let mut i = idx.index(text.len() + 1);
                while !text.is_char_boundary(i) {
                    i -= 1;
                }
                match op {
                    0 | 1 => text.insert_str(i, s),
                    _ => {
                        let end = text[i..].chars().next().map_or(i, |c| i + c.len_utf8());
                        text.replace_range(i..end, "");
                    }
                }
            }
            (name.to_owned(), text)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_templates_never_panic(source in template_text()) {
        render_everything("random.j2", &source);
    }

    #[test]
    fn mutated_embedded_templates_never_panic((name, source) in mutated_embedded()) {
        render_everything(&format!("mutated-{}", name.replace('/', "-")), &source);
    }
}
