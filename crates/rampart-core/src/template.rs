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

fn new_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
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
                TemplateError {
                    name: shown,
                    line: e.line(),
                    message,
                }
            })
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn every_embedded_template_compiles() {
        for name in Templates::embedded_names() {
            let src = Templates::embedded_source(name).unwrap_or_default();
            new_env()
                .template_from_str(src)
                .unwrap_or_else(|e| panic!("templates/{name}: {e}"));
        }
    }
}
