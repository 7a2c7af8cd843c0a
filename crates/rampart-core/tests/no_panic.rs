//! Bad input must never panic: random and mutated text goes through every inventory parser,
//! the variables-file parser, the site parser, `-e` parsing and the host-pattern parser, which
//! may only return errors.

use std::path::Path;

use proptest::prelude::*;
use rampart_core::error::Location;
use rampart_core::inventory::{self, HostPattern};
use rampart_core::site::parse_site;
use rampart_core::vars;

const TOML_SEED: &str = include_str!("../../../inventory/example.toml");
const INI_SEED: &str = include_str!("../../../inventory/ansible/hosts.ini");
const YAML_SEED: &str = include_str!("../../../inventory/ansible/hosts.yml");
const SITE_SEED: &str = include_str!("fixtures/site.toml");

/// Characters that matter to the parsers, so random text reaches deep paths.
const ALPHABET: &[char] = &[
    '[', ']', '{', '}', ':', '=', ',', '"', '\'', '#', ';', '!', '&', '*', '?', '-', '\n', ' ',
    '\t', '.', '0', '1', '9', 'a', 'h', 'w', '%', '@', '\\', '~', '|', '>',
];

fn noisy_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 0..200)
        .prop_map(|cs| cs.into_iter().collect())
}

/// A seed with a few bytes replaced, inserted or removed at random character positions.
fn mutated(seed: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            any::<prop::sample::Index>(),
            prop::sample::select(ALPHABET),
            0u8..3,
        ),
        1..8,
    )
    .prop_map(move |edits| {
        let mut chars: Vec<char> = seed.chars().collect();
        for (idx, c, op) in edits {
            if chars.is_empty() {
                chars.push(c);
                continue;
            }
            let i = idx.index(chars.len());
            match op {
                0 => chars[i] = c,
                1 => chars.insert(i, c),
                _ => {
                    chars.remove(i);
                }
            }
        }
        chars.into_iter().collect()
    })
}

fn all_parsers(text: &str) {
    for name in ["inv.toml", "inv.ini", "inv.yml", "inv"] {
        let _ = inventory::parse(Path::new(name), text);
    }
    for name in ["v.toml", "v.yml", "v.json"] {
        let _ = vars::parse_vars_file(Path::new(name), text);
    }
    let _ = parse_site(Path::new("site.toml"), text, &["base", "sshd"]);
    let _ = vars::parse_extra(text, 1);
    if let Ok(p) = HostPattern::parse(text, Location::at("--limit", 1, 1))
        && let Ok(inv) = inventory::parse(Path::new("i.toml"), TOML_SEED)
    {
        let _ = p.select(&inv);
        let _ = p.check(&inv);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in noisy_text()) {
        all_parsers(&text);
    }

    #[test]
    fn arbitrary_unicode_never_panics(text in ".{0,120}") {
        all_parsers(&text);
    }

    #[test]
    fn mutated_toml_never_panics(text in mutated(TOML_SEED)) {
        let _ = inventory::parse(Path::new("inv.toml"), &text);
    }

    #[test]
    fn mutated_ini_never_panics(text in mutated(INI_SEED)) {
        let _ = inventory::parse(Path::new("inv.ini"), &text);
    }

    #[test]
    fn mutated_yaml_never_panics(text in mutated(YAML_SEED)) {
        let _ = inventory::parse(Path::new("inv.yml"), &text);
    }

    #[test]
    fn mutated_site_never_panics(text in mutated(SITE_SEED)) {
        let _ = parse_site(Path::new("site.toml"), &text, &["base", "sshd", "ufw", "unattended"]);
    }

    #[test]
    fn patterns_never_panic(text in "[a-z0-9:,!&*?\\[\\]~ -]{0,40}") {
        if let Ok(p) = HostPattern::parse(&text, Location::at("--limit", 1, 1))
            && let Ok(inv) = inventory::parse(Path::new("i.toml"), TOML_SEED)
        {
            let _ = p.select(&inv);
            let _ = p.check(&inv);
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for text in [
        "[".repeat(100_000),
        "{a: ".repeat(100_000),
        "a = ".to_owned() + &"[".repeat(100_000),
    ] {
        all_parsers(&text);
    }
}
