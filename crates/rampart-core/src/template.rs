//! Templates: minijinja 3 with Ansible's conventions, embedded in the binary and overridable.
//!
//! Undefined variables are errors (strict), blocks trim their trailing newline and files keep
//! theirs (Ansible's `trim_blocks` and `keep_trailing_newline`). The filters our templates use
//! beyond minijinja's builtins are registered here: `sha256`, `to_json`, `to_nice_json`,
//! `mandatory`.

use std::collections::BTreeMap;
use std::fmt;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/templates.rs"));
}

/// Where a template came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Shipped in the binary.
    Embedded,
    /// A user file overriding the shipped one.
    User(String),
}

/// All templates of a run, compiled once and shared by every host.
pub struct Templates {
    env: Environment<'static>,
    origins: BTreeMap<String, Origin>,
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Templates")
            .field("names", &self.origins.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::embedded()
    }
}

/// A template failed to compile or render.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("template {name}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct TemplateError {
    /// The template name, or the user file that overrides it.
    pub name: String,
    /// The line of the error, when known.
    pub line: Option<usize>,
    /// What went wrong.
    pub message: String,
}

/// Instructions one render may execute: far beyond what a configuration file needs, while a
/// site's template that loops a billion times (three nested `range(100000)`) stops here with
/// an error naming its file and line instead of keeping `check` busy forever.
pub const TEMPLATE_FUEL: u64 = 5_000_000;

/// Nesting depth (loops, ifs, includes and macro calls) one render may reach.
pub const TEMPLATE_RECURSION: usize = 200;

fn new_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(TEMPLATE_FUEL));
    env.set_recursion_limit(TEMPLATE_RECURSION);
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    env.add_filter("sha256", |v: String| crate::facts::sha256_hex(v.as_bytes()));
    env.add_filter("to_json", |v: minijinja::Value| {
        serde_json::to_string(&v).unwrap_or_default()
    });
    env.add_filter("to_nice_json", |v: minijinja::Value| {
        serde_json::to_string_pretty(&v).unwrap_or_default()
    });
    env.add_filter(
        "mandatory",
        |v: minijinja::Value| -> Result<minijinja::Value, minijinja::Error> {
            if v.is_undefined() || v.is_none() {
                Err(minijinja::Error::new(
                    minijinja::ErrorKind::UndefinedError,
                    "a mandatory variable is not set",
                ))
            } else {
                Ok(v)
            }
        },
    );
    env
}

impl Templates {
    /// The templates shipped in the binary.
    pub fn embedded() -> Self {
        let mut t = Templates {
            env: new_env(),
            origins: BTreeMap::new(),
        };
        for (name, src) in embedded::EMBEDDED {
            // Shipped templates are compiled by the test suite; a broken one is a build bug.
            if t.env.add_template(name, src).is_ok() {
                t.origins.insert((*name).to_owned(), Origin::Embedded);
            }
        }
        t
    }

    /// Names of the shipped templates.
    pub fn embedded_names() -> impl Iterator<Item = &'static str> {
        embedded::EMBEDDED.iter().map(|(n, _)| *n)
    }

    /// The source of a shipped template.
    pub fn embedded_source(name: &str) -> Option<&'static str> {
        embedded::EMBEDDED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s)
    }

    /// Overrides (or adds) a template with a user's file.
    pub fn add_user(
        &mut self,
        name: &str,
        source: String,
        file: &str,
    ) -> Result<(), TemplateError> {
        self.env
            .add_template_owned(name.to_owned(), source)
            .map_err(|e| TemplateError {
                name: file.to_owned(),
                line: e.line(),
                message: e.to_string(),
            })?;
        self.origins
            .insert(name.to_owned(), Origin::User(file.to_owned()));
        Ok(())
    }

    /// Renders a template with a context.
    pub fn render<S: Serialize>(&self, name: &str, ctx: S) -> Result<String, TemplateError> {
        let shown = match self.origins.get(name) {
            Some(Origin::User(f)) => f.clone(),
            _ => format!("templates/{name}"),
        };
        let tmpl = self.env.get_template(name).map_err(|e| TemplateError {
            name: shown.clone(),
            line: None,
            message: e.to_string(),
        })?;
        tmpl.render(minijinja::Value::from(minijinja::value::Serde(&ctx)))
            .map_err(|e| {
                let mut message = e.kind().to_string();
                if let Some(d) = e.detail() {
                    message = format!("{message}: {d}");
                }
                if e.kind() == minijinja::ErrorKind::OutOfFuel {
                    message = format!(
                        "{message}: rendering took more than {TEMPLATE_FUEL} steps (a runaway \
                         loop?); make the loops smaller"
                    );
                }
                TemplateError {
                    name: shown,
                    line: e.line(),
                    message,
                }
            })
    }

    /// The variables template `name` reads from its context that nothing provides, with the
    /// line of their first use: the top-level names it reads but does not set itself, less
    /// the environment's globals (`range`, `namespace`, ...), less `provided`, less names it
    /// only reads behind a guard (`x is defined`, `x | default(...)`). Lets a missing variable
    /// be refused before any host is contacted. Best effort: what an `include`d template reads
    /// is not followed; rendering stays strict.
    pub fn missing_variables(
        &self,
        name: &str,
        provided: &std::collections::BTreeSet<String>,
    ) -> Vec<(String, Option<usize>)> {
        let Ok(tmpl) = self.env.get_template(name) else {
            return Vec::new();
        };
        let source = tmpl.source();
        let globals: std::collections::BTreeSet<&str> =
            self.env.globals().map(|(k, _)| k).collect();
        let mut out: Vec<(String, Option<usize>)> = tmpl
            .undeclared_variables(false)
            .into_iter()
            .filter(|v| !provided.contains(v) && !globals.contains(v.as_str()))
            .filter(|v| {
                !["loop", "self", "super", "caller", "varargs", "kwargs"].contains(&v.as_str())
            })
            .filter(|v| !guarded(source, v))
            .map(|v| {
                let line = first_use(source, &v);
                (v, line)
            })
            .collect();
        out.sort();
        out
    }

    /// How a template is named in messages: its file for a user template, else
    /// `templates/NAME`.
    pub fn shown(&self, name: &str) -> String {
        match self.origins.get(name) {
            Some(Origin::User(f)) => f.clone(),
            _ => format!("templates/{name}"),
        }
    }

    /// Renders a template given as a string (for tests and one-off values).
    pub fn render_str<S: Serialize>(&self, source: &str, ctx: S) -> Result<String, TemplateError> {
        self.env
            .render_str(
                source,
                minijinja::Value::from(minijinja::value::Serde(&ctx)),
            )
            .map_err(|e| TemplateError {
                name: "<inline>".into(),
                line: e.line(),
                message: e.to_string(),
            })
    }
}

/// Whether `var` appears as a whole word at `i` of `text`.
fn word_at(text: &str, i: usize, var: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let before = text[..i].chars().next_back();
    let after = text[i + var.len()..].chars().next();
    !before.is_some_and(ident) && !after.is_some_and(|c| ident(c) || c == '\'' || c == '"')
}

/// The 1-based line of the first whole-word use of `var` in `source`.
fn first_use(source: &str, var: &str) -> Option<usize> {
    source
        .match_indices(var)
        .find(|(i, _)| word_at(source, *i, var))
        .map(|(i, _)| source[..i].matches('\n').count() + 1)
}

/// Whether the template tests `var` before relying on it: `var is [not] defined`,
/// `var is undefined`, `var | default`, `var | d`.
fn guarded(source: &str, var: &str) -> bool {
    source
        .match_indices(var)
        .filter(|(i, _)| word_at(source, *i, var))
        .any(|(i, _)| {
            let rest: String = source[i + var.len()..]
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ");
            rest.starts_with("is defined")
                || rest.starts_with("is not defined")
                || rest.starts_with("is undefined")
                || rest.starts_with("|default")
                || rest.starts_with("| default")
                || rest.starts_with("|d(")
                || rest.starts_with("| d(")
                || rest.starts_with("|d ")
                || rest.starts_with("| d ")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_variables_are_found_before_rendering() {
        let mut t = Templates::embedded();
        let src = "# {{ title }}\n{% for u in users %}{{ u }} {{ loop.index }}{% endfor %}\n{% set x = 1 %}{{ x }} {{ range(2) }}\n{% if motd is defined %}{{ motd }}{% endif %}\n{{ footer | default('') }}\n{{ host.os_codename }} {{ banner }}\n";
        t.add_user("m.j2", src.into(), "site/templates/m.j2")
            .unwrap();
        let provided = ["host".to_owned(), "users".to_owned()]
            .into_iter()
            .collect();
        assert_eq!(
            t.missing_variables("m.j2", &provided),
            vec![
                ("banner".to_owned(), Some(6)),
                ("title".to_owned(), Some(1))
            ]
        );
        assert_eq!(t.shown("m.j2"), "site/templates/m.j2");
        assert_eq!(t.shown("sshd/x.j2"), "templates/sshd/x.j2");
    }

    #[test]
    fn strict_undefined_names_the_line() {
        let mut t = Templates::embedded();
        t.add_user("x.j2", "a\n{{ nope }}\n".into(), "site/templates/x.j2")
            .unwrap();
        let e = t.render("x.j2", serde_json::json!({})).unwrap_err();
        assert_eq!(e.name, "site/templates/x.j2");
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("undefined"), "{e}");
    }

    #[test]
    fn ansible_whitespace_and_filters() {
        let t = Templates::embedded();
        let out = t
            .render_str(
                "{% for u in users %}\n{{ u }} {{ u | sha256 }}\n{% endfor %}\n",
                serde_json::json!({"users": ["a"]}),
            )
            .unwrap();
        assert_eq!(
            out,
            "a ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb\n"
        );
    }

    #[test]
    fn a_runaway_template_runs_out_of_fuel_and_names_its_line() {
        let mut t = Templates::embedded();
        let src = "header\n{% for a in range(100000) %}{% for b in range(100000) %}\n{% for c in range(100000) %}{{ c }}{% endfor %}{% endfor %}{% endfor %}\n";
        t.add_user("loop.j2", src.into(), "site/templates/loop.j2")
            .unwrap();
        let started = std::time::Instant::now();
        let e = t.render("loop.j2", serde_json::json!({})).unwrap_err();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "stopped in {:?}",
            started.elapsed()
        );
        assert_eq!(e.name, "site/templates/loop.j2");
        assert!(e.line.is_some(), "{e}");
        assert!(e.message.contains("fuel"), "{e}");
        let shown = e.to_string();
        assert!(
            shown.starts_with("template site/templates/loop.j2:"),
            "{shown}"
        );

        // Unbounded recursion: a macro calling itself stops at the recursion limit.
        t.add_user(
            "rec.j2",
            "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}\n{{ f(0) }}\n".into(),
            "site/templates/rec.j2",
        )
        .unwrap();
        let e = t.render("rec.j2", serde_json::json!({})).unwrap_err();
        assert_eq!(e.name, "site/templates/rec.j2");
        assert!(e.message.contains("recursion"), "{e}");
        assert!(e.line.is_some(), "{e}");
    }

    #[test]
    fn every_embedded_template_compiles() {
        for name in Templates::embedded_names() {
            let src = Templates::embedded_source(name).unwrap_or_default();
            new_env()
                .template_from_str(src)
                .unwrap_or_else(|e| panic!("templates/{name}: {e}"));
        }
    }
}
