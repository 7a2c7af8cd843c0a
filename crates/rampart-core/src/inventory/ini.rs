//! Ansible's INI inventory format: `[group]` sections of host lines
//! (`name[:port] key=value ...`, ranges like `web[01:03]`), `[group:vars]` sections of
//! `key=value` lines, `[group:children]` sections of group names, `#` and `;` comments, and
//! hosts before any section in `ungrouped`.
//!
//! Values are read as Ansible reads them: host-line tokens are split like a shell does (quotes
//! group words and are removed), then each value, like each `:vars` value, is a Python literal
//! when it is one (`22`, `True`, `'text'`, `[1, 2]`), else the text. Every error carries
//! `file:line:col`; a bad value points at the value.

use std::collections::HashSet;
use std::path::Path;

use serde_json::Value;

use super::{ALL, Draft, UNGROUPED, check_group_name, check_host_name, range};
use crate::error::{InputError, Location, did_you_mean};
use crate::vars::Layer;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Hosts,
    Vars,
    Children,
}

pub(crate) fn parse(path: &Path, text: &str) -> Result<Draft, InputError> {
    let mut d = Draft::new(super::base_dir(path));
    let mut section = Section::Hosts;
    let mut group = UNGROUPED.to_owned();
    // Groups that exist (a hosts or children section, or named as a child); `:vars` sections of
    // other groups are errors once the whole file is read, as in Ansible.
    let mut defined: HashSet<String> = [ALL.to_owned(), UNGROUPED.to_owned()].into();
    let mut vars_sections: Vec<(String, Location)> = Vec::new();

    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let at = |byte: usize| {
            Location::at(
                path,
                line_no,
                line[..byte.min(line.len())].chars().count() + 1,
            )
        };
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let content = trimmed.trim_end();
        if content.is_empty() || content.starts_with('#') || content.starts_with(';') {
            continue;
        }
        if content.starts_with('[') {
            if !is_section_header(content) {
                return Err(InputError::new(
                    at(indent),
                    format!("`{content}` is not a section header"),
                )
                .with_hint("sections are [group], [group:vars] or [group:children]"));
            }
            let (name, kind, name_at) = parse_header(content, indent, &at)?;
            check_group_name(&name, &name_at)?;
            section = kind;
            match kind {
                Section::Hosts | Section::Children => {
                    defined.insert(name.clone());
                    d.group_mut(&name, &name_at);
                }
                Section::Vars => vars_sections.push((name.clone(), name_at)),
            }
            group = name;
            continue;
        }
        match section {
            Section::Hosts => host_line(&mut d, &group, line, &at)?,
            Section::Children => {
                let child = content.split(['#', ';']).next().unwrap_or("").trim();
                let child_at = at(indent);
                if child.chars().any(char::is_whitespace) {
                    return Err(InputError::new(
                        child_at,
                        format!("`{child}` is not a group name"),
                    )
                    .with_hint("a [group:children] section lists one group name per line"));
                }
                check_group_name(child, &child_at)?;
                if child == ALL {
                    return Err(InputError::new(
                        child_at,
                        format!("group `{group}` lists `all` as a child"),
                    )
                    .with_hint("every group is already inside `all`"));
                }
                defined.insert(child.to_owned());
                d.add_child(&group, child, &child_at);
            }
            Section::Vars => {
                let Some(eq) = line.find('=') else {
                    return Err(InputError::new(
                        at(indent),
                        format!("expected `key=value` in [{group}:vars], found `{content}`"),
                    ));
                };
                let key = line[..eq].trim();
                if key.is_empty() || key.chars().any(char::is_whitespace) {
                    return Err(InputError::new(
                        at(indent),
                        format!("`{key}` is not a variable name"),
                    )
                    .with_hint("write key=value, one per line"));
                }
                let raw_value = &line[eq + 1..];
                let value_start = eq + 1 + (raw_value.len() - raw_value.trim_start().len());
                let value = python_literal(raw_value.trim());
                let mut layer = Layer::new();
                layer.set(&[key], value, at(value_start));
                let g_at = at(indent);
                d.group_mut(&group, &g_at).vars.merge(&layer);
            }
        }
    }

    for (name, at) in vars_sections {
        if !defined.contains(&name) {
            let e = InputError::new(
                at,
                format!("[{name}:vars] is for group `{name}`, which this inventory never defines"),
            );
            return Err(
                match did_you_mean(&name, defined.iter().map(String::as_str)) {
                    Some(s) => e.with_hint(format!("did you mean `{s}`?")),
                    None => e.with_hint(format!("add a [{name}] or [{name}:children] section")),
                },
            );
        }
    }
    Ok(d)
}

/// `[name]`, `[name:vars]`, `[name:children]`, with an optional trailing comment.
fn is_section_header(content: &str) -> bool {
    content.find(']').is_some_and(|close| {
        let after = content[close + 1..].trim_start();
        after.is_empty() || after.starts_with('#') || after.starts_with(';')
    })
}

fn parse_header(
    content: &str,
    indent: usize,
    at: &dyn Fn(usize) -> Location,
) -> Result<(String, Section, Location), InputError> {
    let close = content.find(']').unwrap_or(content.len());
    let inner = &content[1..close];
    let name_at = at(indent + 1);
    let (name, kind) = match inner.split_once(':') {
        None => (inner, Section::Hosts),
        Some((n, "vars")) => (n, Section::Vars),
        Some((n, "children")) => (n, Section::Children),
        Some((_, other)) => {
            let kind_at = at(indent + 1 + inner.find(':').unwrap_or(0) + 1);
            let e = InputError::new(kind_at, format!("unknown section type `:{other}`"));
            return Err(match did_you_mean(other, ["vars", "children"]) {
                Some(s) => e.with_hint(format!("did you mean `:{s}`?")),
                None => e.with_hint("sections are [group], [group:vars] or [group:children]"),
            });
        }
    };
    Ok((name.trim().to_owned(), kind, name_at))
}

/// A word of a host line and where it starts; for `key=value` words, where the value starts.
struct Word {
    text: String,
    start: usize,
    /// Byte offset in the line of the value of a `key=value` word, and the key's length in the
    /// word's text.
    eq: Option<(usize, usize)>,
}

fn host_line(
    d: &mut Draft,
    group: &str,
    line: &str,
    at: &dyn Fn(usize) -> Location,
) -> Result<(), InputError> {
    let words = split_line(line).map_err(|(byte, m)| InputError::new(at(byte), m))?;
    let Some((first, rest)) = words.split_first() else {
        return Ok(());
    };
    let host_at = at(first.start);
    let (pattern, port) = range::split_port(&first.text);
    let names = range::expand(pattern).map_err(|m| InputError::new(host_at.clone(), m))?;
    let mut layer = Layer::new();
    if let Some(p) = port {
        let port_at = at(first.start + pattern.len() + 1);
        layer.set(&["ansible_port"], python_literal(p), port_at);
    }
    for w in rest {
        let Some((value_byte, key_len)) = w.eq else {
            return Err(InputError::new(
                at(w.start),
                format!(
                    "expected `key=value` after the host name, found `{}`",
                    w.text
                ),
            )
            .with_hint("host lines are: name key=value key=value ..."));
        };
        let key = &w.text[..key_len];
        if key.is_empty() {
            return Err(InputError::new(
                at(w.start),
                format!("`{}` has no variable name", w.text),
            ));
        }
        let value = python_literal(&w.text[key_len + 1..]);
        layer.set(&[key], value, at(value_byte));
    }
    for name in names {
        check_host_name(&name, &host_at)?;
        d.add_member(group, &name, &host_at);
        d.host_mut(&name, &host_at).vars.merge(&layer);
    }
    Ok(())
}

/// Splits a host line like Python's `shlex.split(line, comments=True)`: whitespace separates
/// words, quotes group and are removed, `\` escapes outside single quotes, an unquoted `#` at
/// the start of a word starts a comment. Errors carry the byte offset of the problem.
fn split_line(line: &str) -> Result<Vec<Word>, (usize, String)> {
    let mut words = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '#' {
            break;
        }
        let mut text = String::new();
        let mut eq = None;
        while let Some(&(i, c)) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            match c {
                '\'' | '"' => {
                    let quote = c;
                    loop {
                        match chars.next() {
                            Some((_, q)) if q == quote => break,
                            Some((_, '\\')) if quote == '"' => match chars.next() {
                                Some((_, e @ ('"' | '\\'))) => text.push(e),
                                Some((_, e)) => {
                                    text.push('\\');
                                    text.push(e);
                                }
                                None => return Err((i, "unclosed quote".into())),
                            },
                            Some((_, q)) => text.push(q),
                            None => return Err((i, "unclosed quote".into())),
                        }
                    }
                }
                '\\' => {
                    if let Some((_, e)) = chars.next() {
                        text.push(e);
                    }
                }
                '=' if eq.is_none() => {
                    eq = Some((i + 1, text.len()));
                    text.push('=');
                }
                c => text.push(c),
            }
        }
        words.push(Word { text, start, eq });
    }
    Ok(words)
}

/// A value as Python's `ast.literal_eval` would read it (what Ansible does), else the text.
pub(crate) fn python_literal(s: &str) -> Value {
    let t = s.trim();
    match t {
        "True" => return Value::Bool(true),
        "False" => return Value::Bool(false),
        "None" => return Value::Null,
        _ => {}
    }
    if is_python_int(t)
        && let Ok(n) = t.replace('_', "").parse::<i64>()
    {
        return Value::from(n);
    }
    if is_python_float(t)
        && let Ok(f) = t.parse::<f64>()
        && let Some(n) = serde_json::Number::from_f64(f)
    {
        return Value::Number(n);
    }
    if t.len() >= 2 {
        let (first, last) = (t.as_bytes()[0], t.as_bytes()[t.len() - 1]);
        if (first == b'\'' || first == b'"')
            && first == last
            && let Some(s) = unquote(&t[1..t.len() - 1], first as char)
        {
            return Value::String(s);
        }
        if (first == b'[' && last == b']') || (first == b'{' && last == b'}') {
            if let Ok(v) = serde_json::from_str::<Value>(t) {
                return v;
            }
            // Python literals use single quotes; JSON does not.
            if !t.contains('"')
                && let Ok(v) = serde_json::from_str::<Value>(&t.replace('\'', "\""))
            {
                return v;
            }
        }
    }
    Value::String(t.to_owned())
}

fn is_python_int(t: &str) -> bool {
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
        && digits.as_bytes()[0].is_ascii_digit()
        && !digits.ends_with('_')
        && !digits.contains("__")
        && (digits == "0" || !digits.starts_with('0'))
}

fn is_python_float(t: &str) -> bool {
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mantissa_ok = {
        let (a, b) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
        (!a.is_empty() || !b.is_empty())
            && digits(a)
            && digits(b)
            && (mantissa.contains('.') || exp.is_some())
    };
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exp_ok
}

/// The content of a Python string literal, `None` when the quote reappears unescaped inside.
fn unquote(inner: &str, quote: char) -> Option<String> {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('0') => out.push('\0'),
                Some(e @ ('\\' | '\'' | '"')) => out.push(e),
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
                None => out.push('\\'),
            },
            c if c == quote => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::inventory::parse;

    /// Parses and resolves `input`; `expected` is `Ok(summary)` (one line per host: name,
    /// groups, address, port, user, vars) or `Err(error text)`.
    fn check(input: &str, expected: Result<&str, &str>) {
        let got = parse(Path::new("inv/hosts.ini"), input)
            .map(|inv| {
                inv.hosts
                    .iter()
                    .map(|h| {
                        format!(
                            "{} [{}] {} {} {} {}",
                            h.name,
                            h.groups.join(","),
                            h.address(),
                            h.conn.port().map_or("-".into(), |p| p.to_string()),
                            h.conn.user().unwrap_or("-"),
                            h.vars.value
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .map_err(|e| e.to_string());
        assert_eq!(
            got.as_deref().map_err(String::as_str),
            expected,
            "input:\n{input}"
        );
    }

    #[test]
    fn ini_inventories() {
        for (input, expected) in [
            (
                "h0 ansible_host=10.0.0.9\n[lab]\nh1 ansible_host=10.0.0.1 ansible_user=root\nh2:2200  # comment\n; comment\n[lab:vars]\ntier = 'front'\nn=3\n",
                Ok(
                    "h0 [all,ungrouped] 10.0.0.9 - - {}\nh1 [all,lab] 10.0.0.1 - root {\"n\":3,\"tier\":\"front\"}\nh2 [all,lab] h2 2200 - {\"n\":3,\"tier\":\"front\"}",
                ),
            ),
            (
                "[web]\nweb[01:02] x=\"a b\" y=True\n[all:vars]\nz=None\n",
                Ok(
                    "web01 [all,web] web01 - - {\"x\":\"a b\",\"y\":true,\"z\":null}\nweb02 [all,web] web02 - - {\"x\":\"a b\",\"y\":true,\"z\":null}",
                ),
            ),
            (
                "[a]\nh1\n[b:children]\na\n[b:vars]\nv=1\n[a:vars]\nv=2\n",
                Ok("h1 [all,b,a] h1 - - {\"v\":2}"),
            ),
            ("\n\r\n# only comments\n", Ok("")),
            (
                "[web]\nh1 ansible_port=70000\n",
                Err("inv/hosts.ini:2:17: invalid port 70000: ports are 1 to 65535"),
            ),
            (
                "[web]\nh1 ansible_port\n",
                Err(
                    "inv/hosts.ini:2:4: expected `key=value` after the host name, found `ansible_port`\n  hint: host lines are: name key=value key=value ...",
                ),
            ),
            (
                "[web]\nh1 x='open\n",
                Err("inv/hosts.ini:2:6: unclosed quote"),
            ),
            (
                "[web:var]\n",
                Err(
                    "inv/hosts.ini:1:6: unknown section type `:var`\n  hint: did you mean `:vars`?",
                ),
            ),
            (
                "[web]\nh1\n[wbe:vars]\nx=1\n",
                Err(
                    "inv/hosts.ini:3:2: [wbe:vars] is for group `wbe`, which this inventory never defines\n  hint: did you mean `web`?",
                ),
            ),
            (
                "[web:vars]\njust text\n",
                Err("inv/hosts.ini:2:1: expected `key=value` in [web:vars], found `just text`"),
            ),
            (
                "[web]\nh[3:1]\n",
                Err("inv/hosts.ini:2:1: host range `[3:1]` ends before it starts"),
            ),
            (
                "[web\n",
                Err(
                    "inv/hosts.ini:1:1: `[web` is not a section header\n  hint: sections are [group], [group:vars] or [group:children]",
                ),
            ),
            (
                "[web:children]\nall\n",
                Err(
                    "inv/hosts.ini:2:1: group `web` lists `all` as a child\n  hint: every group is already inside `all`",
                ),
            ),
            (
                "[web]\nh1 ansible_become=perhaps\n",
                Err(
                    "inv/hosts.ini:2:19: `ansible_become` must be true or false, not `perhaps`\n  hint: use true/false (yes/no, 1/0 and on/off also work)",
                ),
            ),
        ] {
            check(input, expected);
        }
    }

    #[test]
    fn lab_style_inventory() {
        let text = "[lab]\nh1 ansible_host=10.213.1.2 ansible_user=root ansible_ssh_private_key_file=/var/tmp/rampart-lab/id_lab\n\n[lab:vars]\nansible_python_interpreter=/usr/bin/python3\nansible_ssh_common_args='-o UserKnownHostsFile=/var/tmp/rampart-lab/known_hosts -o StrictHostKeyChecking=yes'\n";
        let inv = parse(Path::new("/var/tmp/rampart-lab/inventory.ini"), text).unwrap();
        let h = inv.host("h1").unwrap();
        assert_eq!(h.address(), "10.213.1.2");
        assert_eq!(h.conn.user(), Some("root"));
        assert_eq!(
            h.conn.identity_files[0].value,
            Path::new("/var/tmp/rampart-lab/id_lab")
        );
        assert_eq!(
            h.conn.known_hosts.as_ref().unwrap().value,
            Path::new("/var/tmp/rampart-lab/known_hosts")
        );
        assert!(h.vars.is_empty(), "{:?}", h.vars.value);
    }

    #[test]
    fn values_point_at_the_value() {
        let d = parse_ini_draft("[web]\nh1   port=22 name=\"x y\"\n[web:vars]\ntz =  UTC\n");
        let inv = d.finish("inv/hosts.ini").unwrap();
        let v = &inv.host("h1").unwrap().vars;
        assert_eq!(v.origin("port").unwrap().to_string(), "inv/hosts.ini:2:11");
        assert_eq!(v.origin("name").unwrap().to_string(), "inv/hosts.ini:2:19");
        assert_eq!(v.origin("tz").unwrap().to_string(), "inv/hosts.ini:4:7");
    }

    fn parse_ini_draft(text: &str) -> Draft {
        super::parse(Path::new("inv/hosts.ini"), text).unwrap()
    }

    #[test]
    fn python_literals() {
        for (input, expected) in [
            ("22", json!(22)),
            ("-3", json!(-3)),
            ("1_000", json!(1000)),
            ("0755", json!("0755")),
            ("1.5", json!(1.5)),
            ("1e3", json!(1000.0)),
            ("True", json!(true)),
            ("true", json!("true")),
            ("None", Value::Null),
            ("'quoted'", json!("quoted")),
            ("\"it's\"", json!("it's")),
            ("'a' 'b'", json!("'a' 'b'")),
            ("['a', 'b']", json!(["a", "b"])),
            ("{\"k\": 1}", json!({"k": 1})),
            ("10.0.0.1", json!("10.0.0.1")),
            ("/usr/bin/python3", json!("/usr/bin/python3")),
            ("", json!("")),
        ] {
            assert_eq!(python_literal(input), expected, "{input}");
        }
    }
}
