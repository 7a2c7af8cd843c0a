//! Host patterns, Ansible's syntax for `--limit` and a play's `hosts`: `all` or `*`, host names,
//! group names, globs (`web*`, `h[1-3]`, matched against host and group names), unions
//! (`a:b`, `a,b`), intersections (`a:&b`) and exclusions (`a:!b`, `!b`).
//!
//! As in Ansible, the plain terms are united first, then every `&` term intersects and every
//! `!` term removes, whatever their order; a pattern of only `&`/`!` terms starts from `all`.
//! Selection keeps inventory order. Brackets are glob classes (`h[1-3]`), not Ansible's
//! subscripts (`web[0]`, `web[0:2]`), which are refused; regex terms (`~re`) are refused too.
//!
//! Selecting never fails: a term that matches nothing selects nothing. [`HostPattern::check`]
//! is the separate test that every term matches something, with a "did you mean", so the CLI
//! decides whether an empty match is an error.

use std::net::Ipv6Addr;

use globset::{Glob, GlobMatcher};

use super::{Host, Inventory};
use crate::error::{InputError, Location, did_you_mean};

/// A parsed host pattern.
#[derive(Clone, Debug)]
pub struct HostPattern {
    source: String,
    location: Location,
    terms: Vec<Term>,
}

#[derive(Clone, Debug)]
struct Term {
    op: Op,
    text: String,
    /// Character offset of the term in the pattern, for error columns.
    offset: usize,
    matcher: Matcher,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Union,
    Intersect,
    Exclude,
}

#[derive(Clone, Debug)]
enum Matcher {
    All,
    Name(String),
    Glob(GlobMatcher),
}

impl PartialEq for HostPattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl HostPattern {
    /// Parses a pattern written at `location` (its column is the pattern's first character,
    /// when known, so errors can point inside it).
    pub fn parse(text: &str, location: Location) -> Result<Self, InputError> {
        let err = |offset: usize, m: String| InputError::new(shift(&location, offset), m);
        let mut terms = Vec::new();
        for (raw, offset) in split_terms(text) {
            let trimmed = raw.trim();
            if trimmed.is_empty() {
                continue;
            }
            let offset = offset + raw.chars().take_while(|c| c.is_whitespace()).count();
            let (op, body, body_offset) = match trimmed.chars().next() {
                Some('!') => (Op::Exclude, &trimmed[1..], offset + 1),
                Some('&') => (Op::Intersect, &trimmed[1..], offset + 1),
                _ => (Op::Union, trimmed, offset),
            };
            if body.is_empty() {
                return Err(err(
                    offset,
                    format!("`{trimmed}` has no host or group after it"),
                ));
            }
            if body.starts_with('~') {
                return Err(err(
                    body_offset,
                    format!("regex pattern `{body}` is not supported"),
                )
                .with_hint("use a glob like web* or h[1-3]"));
            }
            // `[a:b]` is Ansible's slice of a group (or an inventory range): not a glob class.
            if let Some(open) = body.find('[')
                && body[open..]
                    .find(']')
                    .is_some_and(|close| body[open..open + close].contains(':'))
            {
                return Err(err(
                    body_offset,
                    format!(
                        "`{body}` looks like an Ansible subscript, which rampart does not support"
                    ),
                )
                .with_hint("brackets are glob classes: write h[1-3] for h1, h2 and h3"));
            }
            let matcher = if body == "all" || body == "*" {
                Matcher::All
            } else if body.contains(['*', '?', '[']) {
                let glob = Glob::new(body)
                    .map_err(|e| err(body_offset, format!("bad glob `{body}`: {}", e.kind())))?;
                Matcher::Glob(glob.compile_matcher())
            } else {
                Matcher::Name(body.to_owned())
            };
            terms.push(Term {
                op,
                text: body.to_owned(),
                offset: body_offset,
                matcher,
            });
        }
        if terms.is_empty() {
            return Err(InputError::new(location.clone(), "empty host pattern")
                .with_hint("use `all` for every host"));
        }
        Ok(HostPattern {
            source: text.to_owned(),
            location,
            terms,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Where the pattern was written.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// True when the pattern selects this host (each operator is a per-host test, so this agrees
    /// with [`HostPattern::select`]).
    pub fn matches(&self, host: &Host) -> bool {
        let mut unions = self.terms.iter().filter(|t| t.op == Op::Union).peekable();
        let base = if unions.peek().is_none() {
            true
        } else {
            unions.any(|t| t.matches(host))
        };
        base && self
            .terms
            .iter()
            .filter(|t| t.op == Op::Intersect)
            .all(|t| t.matches(host))
            && !self
                .terms
                .iter()
                .filter(|t| t.op == Op::Exclude)
                .any(|t| t.matches(host))
    }

    /// The selected hosts, in inventory order.
    pub fn select<'a>(&self, inv: &'a Inventory) -> Vec<&'a Host> {
        inv.hosts.iter().filter(|h| self.matches(h)).collect()
    }

    /// Checks that every term names a host or group of `inv` (or a glob that matches one), so a
    /// typo in `--limit` or in `!exclusion` is caught instead of silently selecting the wrong
    /// hosts. The error points at the term and suggests the closest name.
    pub fn check(&self, inv: &Inventory) -> Result<(), InputError> {
        for t in &self.terms {
            let found = match &t.matcher {
                Matcher::All => true,
                Matcher::Name(n) => inv.host(n).is_some() || inv.group(n).is_some(),
                Matcher::Glob(g) => {
                    inv.host_names().any(|h| g.is_match(h))
                        || inv.groups.keys().any(|n| g.is_match(n))
                }
            };
            if !found {
                let e = InputError::new(
                    shift(&self.location, t.offset),
                    format!(
                        "`{}` matches no host or group of {}",
                        t.text,
                        inv.source.display()
                    ),
                );
                let names = inv
                    .host_names()
                    .chain(inv.groups.keys().map(String::as_str));
                return Err(match did_you_mean(&t.text, names) {
                    Some(s) => e.with_hint(format!("did you mean `{s}`?")),
                    None => e.with_hint("`rampart inventory --graph` lists the hosts and groups"),
                });
            }
        }
        Ok(())
    }
}

impl Term {
    fn matches(&self, host: &Host) -> bool {
        match &self.matcher {
            Matcher::All => true,
            Matcher::Name(n) => host.name == *n || host.in_group(n),
            Matcher::Glob(g) => {
                g.is_match(&host.name) || host.groups.iter().any(|gr| g.is_match(gr))
            }
        }
    }
}

/// The location `offset` characters further along the line, when the column is known.
fn shift(at: &Location, offset: usize) -> Location {
    match (at.line, at.col) {
        (Some(line), Some(col)) => Location::at(at.file.clone(), line, col + offset),
        _ => at.clone(),
    }
}

/// Splits a pattern into terms with their character offsets: on `,` first; each piece on `:`
/// too, unless it is an IPv6 address, and never inside brackets.
fn split_terms(text: &str) -> Vec<(&str, usize)> {
    let mut out = Vec::new();
    let mut char_offset = 0;
    for piece in text.split(',') {
        if piece.trim().parse::<Ipv6Addr>().is_ok() {
            out.push((piece, char_offset));
        } else {
            let mut depth = 0usize;
            let mut start_byte = 0;
            let mut start_char = char_offset;
            for (ci, (bi, c)) in piece.char_indices().enumerate() {
                match c {
                    '[' => depth += 1,
                    ']' => depth = depth.saturating_sub(1),
                    ':' if depth == 0 => {
                        out.push((&piece[start_byte..bi], start_char));
                        start_byte = bi + 1;
                        start_char = char_offset + ci + 1;
                    }
                    _ => {}
                }
            }
            out.push((&piece[start_byte..], start_char));
        }
        char_offset += piece.chars().count() + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::inventory::parse;

    fn inv() -> Inventory {
        parse(
            Path::new("inv.ini"),
            "[lab]\nh1\nh2\nh3\nh4\n[web]\nh1\nh2\n[db]\nh3\n[lab:children]\nweb\n[staging]\nh4\nh2\n",
        )
        .unwrap()
    }

    /// `expected` is the selected host names, or an error from parse or check.
    fn check(input: &str, expected: Result<&str, &str>) {
        let inv = inv();
        let got = HostPattern::parse(input, Location::at("--limit", 1, 1))
            .and_then(|p| p.check(&inv).map(|()| p))
            .map(|p| {
                p.select(&inv)
                    .iter()
                    .map(|h| h.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .map_err(|e| e.to_string());
        assert_eq!(
            got.as_deref().map_err(String::as_str),
            expected,
            "pattern {input:?}"
        );
    }

    #[test]
    fn patterns() {
        for (input, expected) in [
            ("all", Ok("h1 h2 h3 h4")),
            ("*", Ok("h1 h2 h3 h4")),
            ("h3", Ok("h3")),
            ("web", Ok("h1 h2")),
            ("db:web", Ok("h1 h2 h3")),
            ("h4,h1", Ok("h1 h4")),
            ("h*", Ok("h1 h2 h3 h4")),
            ("h[1-2]", Ok("h1 h2")),
            ("h[13]", Ok("h1 h3")),
            ("we*", Ok("h1 h2")),
            ("lab:!web", Ok("h3 h4")),
            ("!web", Ok("h3 h4")),
            ("lab:&staging", Ok("h2 h4")),
            ("web:&staging", Ok("h2")),
            ("!db:web", Ok("h1 h2")),
            ("web:!h1,db", Ok("h2 h3")),
            ("&staging", Ok("h2 h4")),
            (
                "hh1",
                Err(
                    "--limit:1:1: `hh1` matches no host or group of inv.ini\n  hint: did you mean `h1`?",
                ),
            ),
            (
                "web:!stagin",
                Err(
                    "--limit:1:6: `stagin` matches no host or group of inv.ini\n  hint: did you mean `staging`?",
                ),
            ),
            (
                "zz*",
                Err(
                    "--limit:1:1: `zz*` matches no host or group of inv.ini\n  hint: `rampart inventory --graph` lists the hosts and groups",
                ),
            ),
            (
                "",
                Err("--limit:1:1: empty host pattern\n  hint: use `all` for every host"),
            ),
            (
                " , ",
                Err("--limit:1:1: empty host pattern\n  hint: use `all` for every host"),
            ),
            (
                "web:!",
                Err("--limit:1:5: `!` has no host or group after it"),
            ),
            (
                "~web.*",
                Err(
                    "--limit:1:1: regex pattern `~web.*` is not supported\n  hint: use a glob like web* or h[1-3]",
                ),
            ),
            (
                "web[0:1]",
                Err(
                    "--limit:1:1: `web[0:1]` looks like an Ansible subscript, which rampart does not support\n  hint: brackets are glob classes: write h[1-3] for h1, h2 and h3",
                ),
            ),
        ] {
            check(input, expected);
        }
    }

    #[test]
    fn ipv6_names_are_one_term() {
        assert_eq!(split_terms("fe80::1"), vec![("fe80::1", 0)]);
        assert_eq!(split_terms("a:b,c"), vec![("a", 0), ("b", 2), ("c", 4)]);
        assert_eq!(split_terms("h[1:2]:x"), vec![("h[1:2]", 0), ("x", 7)]);
    }
}
