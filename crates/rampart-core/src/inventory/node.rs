//! Spanned documents: TOML, YAML and JSON text parsed into one tree type, [`Node`], where every
//! value and every key knows its `file:line:col`.
//!
//! The inventory, site and variable parsers walk this tree instead of deriving serde structs,
//! because an unknown key, a wrong type or a bad value must be reported at its own place in the
//! file with a "did you mean" hint, in every format alike. Parse errors of the underlying
//! parsers are turned into [`InputError`]s at the position the parser reports.

use std::fmt;
use std::path::Path;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use toml::Spanned as TomlSpanned;
use toml::de::{DeTable, DeValue};

use crate::error::{InputError, LineIndex, Location, did_you_mean};

/// A value with the place it was written.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub kind: Kind,
    pub at: Location,
}

/// The shape of a [`Node`]: the JSON data model.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One key of a mapping, in document order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub key_at: Location,
    pub value: Node,
}

impl Node {
    /// What the value is, for "expected a table, found a string" messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "nothing",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a float",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a table",
        }
    }

    /// The same data as JSON.
    pub fn to_json(&self) -> Value {
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::from(*i),
            // Non-finite floats were rejected when the tree was built, so this never yields null.
            Kind::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// The entries of a mapping (an empty document or `~` counts as an empty mapping), or an
    /// error saying `what` must be a table.
    pub fn entries(&self, what: &str) -> Result<&[Entry], InputError> {
        match &self.kind {
            Kind::Map(entries) => Ok(entries),
            Kind::Null => Ok(&[]),
            _ => Err(self.wrong_type(what, "a table")),
        }
    }

    /// A string, or an error saying `what` must be one.
    pub fn as_str(&self, what: &str) -> Result<&str, InputError> {
        match &self.kind {
            Kind::Str(s) => Ok(s),
            _ => Err(self.wrong_type(what, "a string")),
        }
    }

    /// A string or a list of strings.
    pub fn str_list(&self, what: &str) -> Result<Vec<(String, Location)>, InputError> {
        match &self.kind {
            Kind::Str(s) => Ok(vec![(s.clone(), self.at.clone())]),
            Kind::Seq(items) => items
                .iter()
                .map(|n| n.as_str(what).map(|s| (s.to_owned(), n.at.clone())))
                .collect(),
            _ => Err(self.wrong_type(what, "a string or a list of strings")),
        }
    }

    /// A list of strings (a single string is not accepted: lists of names must look like lists).
    pub fn strict_str_list(&self, what: &str) -> Result<Vec<(String, Location)>, InputError> {
        match &self.kind {
            Kind::Seq(_) => self.str_list(what),
            _ => Err(self.wrong_type(what, "a list of strings")),
        }
    }

    /// The error for a value of the wrong type.
    pub fn wrong_type(&self, what: &str, expected: &str) -> InputError {
        InputError::new(
            self.at.clone(),
            format!("{what} must be {expected}, not {}", self.type_name()),
        )
    }
}

/// The error for a key that is not allowed here, with a "did you mean" or the list of keys.
pub(crate) fn unknown_key(entry: &Entry, context: &str, allowed: &[&str]) -> InputError {
    let err = InputError::new(
        entry.key_at.clone(),
        format!("unknown key `{}` {context}", entry.key),
    );
    match did_you_mean(&entry.key, allowed.iter().copied()) {
        Some(s) => err.with_hint(format!("did you mean `{s}`?")),
        None => err.with_hint(format!("allowed keys: {}", allowed.join(", "))),
    }
}

// ---------------------------------------------------------------------------------------------
// TOML

/// A TOML document being converted: its path, text and line index (built once, so locating
/// every key stays linear in the size of the inventory).
struct TomlSrc<'a> {
    path: &'a Path,
    text: &'a str,
    lines: LineIndex,
}

impl<'a> TomlSrc<'a> {
    fn new(path: &'a Path, text: &'a str) -> Self {
        TomlSrc {
            path,
            text,
            lines: LineIndex::new(text),
        }
    }

    fn at(&self, offset: usize) -> Location {
        let (line, col) = self.lines.line_col(self.text, offset);
        Location::at(self.path, line, col)
    }
}

/// Parses a TOML document. Keys come out in document order.
pub(crate) fn parse_toml(path: &Path, text: &str) -> Result<Node, InputError> {
    let table = DeTable::parse(text).map_err(|e| toml_error(path, text, &e))?;
    let src = TomlSrc::new(path, text);
    let span = table.span();
    let kind = toml_table(&src, table.get_ref())?;
    Ok(Node {
        kind,
        at: src.at(span.start),
    })
}

/// Parses one TOML value (for `-e key=value`), `None` when the text is not a TOML value.
pub(crate) fn parse_toml_value(path: &Path, text: &str) -> Option<Node> {
    let value = DeValue::parse(text).ok()?;
    toml_node(&TomlSrc::new(path, text), &value).ok()
}

fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> InputError {
    let at = match e.span() {
        Some(span) => Location::from_offset(path, text, span.start),
        None => Location::file(path),
    };
    let message = e.message().trim().trim_end_matches('.').to_owned();
    let mut err = InputError::new(at, format!("invalid TOML: {message}"));
    if message.contains("duplicate key") {
        err = err.with_hint("each key may appear once per table; merge the two definitions");
    }
    err
}

fn toml_node(src: &TomlSrc<'_>, v: &TomlSpanned<DeValue<'_>>) -> Result<Node, InputError> {
    let at = src.at(v.span().start);
    let kind = match v.get_ref() {
        DeValue::String(s) => Kind::Str(s.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Kind::Int(n),
            Err(_) => return Err(InputError::new(at, format!("integer {i} is too large"))),
        },
        DeValue::Float(f) => match f.as_str().parse::<f64>() {
            Ok(x) if x.is_finite() => Kind::Float(x),
            _ => {
                return Err(InputError::new(
                    at,
                    format!("float {f} is not a finite number"),
                ));
            }
        },
        DeValue::Boolean(b) => Kind::Bool(*b),
        // Dates have no JSON form; templates and roles see them as the text written.
        DeValue::Datetime(d) => Kind::Str(d.to_string()),
        DeValue::Array(items) => Kind::Seq(
            items
                .iter()
                .map(|item| toml_node(src, item))
                .collect::<Result<_, _>>()?,
        ),
        DeValue::Table(t) => toml_table(src, t)?,
    };
    Ok(Node { kind, at })
}

fn toml_table(src: &TomlSrc<'_>, t: &DeTable<'_>) -> Result<Kind, InputError> {
    let mut entries: Vec<(usize, Entry)> = Vec::with_capacity(t.len());
    for (k, v) in t.iter() {
        let start = k.span().start;
        entries.push((
            start,
            Entry {
                key: k.get_ref().to_string(),
                key_at: src.at(start),
                value: toml_node(src, v)?,
            },
        ));
    }
    // The parser's map is sorted by key; the operator's order is the order of the key spans.
    entries.sort_by_key(|(start, _)| *start);
    Ok(Kind::Map(entries.into_iter().map(|(_, e)| e).collect()))
}

// ---------------------------------------------------------------------------------------------
// YAML

/// Parses a YAML document (an empty document is [`Kind::Null`]). Keys come out in document
/// order; YAML 1.1 booleans (`yes`/`no`) are booleans, as in Ansible.
pub(crate) fn parse_yaml(path: &Path, text: &str) -> Result<Node, InputError> {
    if is_blank_yaml(text) {
        return Ok(Node {
            kind: Kind::Null,
            at: Location::at(path, 1, 1),
        });
    }
    let options = serde_saphyr::options! { with_snippet: false };
    let root: serde_saphyr::Spanned<YValue> =
        serde_saphyr::from_str_with_options(text, options).map_err(|e| yaml_error(path, &e))?;
    Ok(yaml_node(path, root))
}

/// True for a document with nothing but comments, blank lines and document markers.
fn is_blank_yaml(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
    })
}

fn yaml_location(path: &Path, loc: &serde_saphyr::Location) -> Location {
    match (usize::try_from(loc.line()), usize::try_from(loc.column())) {
        (Ok(line), Ok(col)) if line > 0 => Location::at(path, line, col.max(1)),
        _ => Location::file(path),
    }
}

fn yaml_error(path: &Path, e: &serde_saphyr::Error) -> InputError {
    let at = e
        .location()
        .map_or_else(|| Location::file(path), |l| yaml_location(path, &l));
    let text = e.to_string();
    // The message ends with its own position; ours is in the location already.
    let first = text.lines().next().unwrap_or("").trim();
    let message = strip_yaml_position(first);
    // Advice meant for the programmer, not the operator.
    let message = message
        .split(", set DuplicateKeyPolicy")
        .next()
        .unwrap_or(message);
    let message = message
        .split("; use from_str_multiple")
        .next()
        .unwrap_or(message);
    let mut err = InputError::new(at, format!("invalid YAML: {message}"));
    if message.contains("duplicate") {
        err = err.with_hint("each key may appear once per mapping; merge the two definitions");
    }
    err
}

/// Drops a trailing " at line N column M" that saphyr appends to messages.
fn strip_yaml_position(message: &str) -> &str {
    let m = message.trim_end_matches('.');
    match m.rfind(" at line ") {
        Some(i) if m[i..].contains("column") => m[..i].trim_end_matches(',').trim_end(),
        _ => m,
    }
}

fn yaml_node(path: &Path, spanned: serde_saphyr::Spanned<YValue>) -> Node {
    let at = yaml_location(path, &spanned.referenced);
    let kind = match spanned.value {
        YValue::Null => Kind::Null,
        YValue::Bool(b) => Kind::Bool(b),
        YValue::Int(i) => Kind::Int(i),
        YValue::Float(f) => Kind::Float(f),
        YValue::Str(s) => Kind::Str(s),
        YValue::Seq(items) => Kind::Seq(items.into_iter().map(|i| yaml_node(path, i)).collect()),
        YValue::Map(entries) => Kind::Map(
            entries
                .into_iter()
                .map(|(k, v)| Entry {
                    key: k.value.0,
                    key_at: yaml_location(path, &k.referenced),
                    value: yaml_node(path, v),
                })
                .collect(),
        ),
    };
    Node { kind, at }
}

/// Any YAML value, deserialised through serde so that saphyr can attach spans to each node.
enum YValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<serde_saphyr::Spanned<YValue>>),
    Map(Vec<(serde_saphyr::Spanned<YKey>, serde_saphyr::Spanned<YValue>)>),
}

impl<'de> Deserialize<'de> for YValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(YValueVisitor)
    }
}

struct YValueVisitor;

impl<'de> Visitor<'de> for YValueVisitor {
    type Value = YValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<YValue, E> {
        Ok(YValue::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<YValue, E> {
        Ok(YValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<YValue, D::Error> {
        YValue::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<YValue, E> {
        Ok(YValue::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<YValue, E> {
        Ok(YValue::Int(i))
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<YValue, E> {
        i64::try_from(u)
            .map(YValue::Int)
            .map_err(|_| E::custom(format!("integer {u} is too large")))
    }
    fn visit_i128<E: de::Error>(self, i: i128) -> Result<YValue, E> {
        i64::try_from(i)
            .map(YValue::Int)
            .map_err(|_| E::custom(format!("integer {i} is too large")))
    }
    fn visit_u128<E: de::Error>(self, u: u128) -> Result<YValue, E> {
        i64::try_from(u)
            .map(YValue::Int)
            .map_err(|_| E::custom(format!("integer {u} is too large")))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<YValue, E> {
        if f.is_finite() {
            Ok(YValue::Float(f))
        } else {
            Err(E::custom(format!("float {f} is not a finite number")))
        }
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<YValue, E> {
        Ok(YValue::Str(s.to_owned()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<YValue, E> {
        Ok(YValue::Str(s))
    }
    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<YValue, E> {
        String::from_utf8(b.to_vec())
            .map(YValue::Str)
            .map_err(|_| E::custom("binary value is not UTF-8"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<YValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(YValue::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<YValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<serde_saphyr::Spanned<YKey>>()? {
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(YValue::Map(entries))
    }
}

/// A mapping key: any scalar, as text (`1: x` has the key "1", as in Ansible's JSON view).
struct YKey(String);

impl<'de> Deserialize<'de> for YKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = YKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<YKey, E> {
                Ok(YKey(s.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<YKey, E> {
                Ok(YKey(b.to_string()))
            }
            fn visit_i64<E: de::Error>(self, i: i64) -> Result<YKey, E> {
                Ok(YKey(i.to_string()))
            }
            fn visit_u64<E: de::Error>(self, u: u64) -> Result<YKey, E> {
                Ok(YKey(u.to_string()))
            }
            fn visit_f64<E: de::Error>(self, f: f64) -> Result<YKey, E> {
                Ok(YKey(f.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<YKey, E> {
                Ok(YKey("null".to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

/// Parses JSON. JSON is read by the YAML parser, which gives every key a position; text the
/// YAML parser refuses but JSON accepts (rare escapes) falls back to serde_json, with the whole
/// file as the position of every value.
pub(crate) fn parse_json(path: &Path, text: &str) -> Result<Node, InputError> {
    match serde_json::from_str::<Value>(text) {
        Err(e) => Err(InputError::new(
            Location::at(path, e.line().max(1), e.column().max(1)),
            format!("invalid JSON: {}", strip_json_position(&e.to_string())),
        )),
        Ok(value) => match parse_yaml(path, text) {
            Ok(node) if node.to_json() == value => Ok(node),
            _ => Ok(json_node(&Location::file(path), &value)),
        },
    }
}

fn strip_json_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |i| &message[..i])
}

fn json_node(at: &Location, v: &Value) -> Node {
    let kind = match v {
        Value::Null => Kind::Null,
        Value::Bool(b) => Kind::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Kind::Int(i),
            None => Kind::Float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => Kind::Str(s.clone()),
        Value::Array(items) => Kind::Seq(items.iter().map(|i| json_node(at, i)).collect()),
        Value::Object(map) => Kind::Map(
            map.iter()
                .map(|(k, v)| Entry {
                    key: k.clone(),
                    key_at: at.clone(),
                    value: json_node(at, v),
                })
                .collect(),
        ),
    };
    Node {
        kind,
        at: at.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("f")
    }

    #[test]
    fn toml_keeps_document_order_and_positions() {
        let n = parse_toml(p(), "zeta = 1\nalpha = { b = \"x\" }\n").unwrap();
        let e = n.entries("doc").unwrap();
        assert_eq!(e[0].key, "zeta");
        assert_eq!(e[0].key_at.to_string(), "f:1:1");
        assert_eq!(e[0].value.at.to_string(), "f:1:8");
        assert_eq!(e[1].key, "alpha");
        assert_eq!(
            n.to_json(),
            serde_json::json!({"zeta": 1, "alpha": {"b": "x"}})
        );
    }

    #[test]
    fn toml_errors_have_positions() {
        let e = parse_toml(p(), "a = 1\na = 2\n").unwrap_err();
        assert_eq!(e.location.line, Some(2), "{e}");
        assert!(e.message.contains("duplicate key"), "{e}");
        let e = parse_toml(p(), "a = \n").unwrap_err();
        assert_eq!(e.location.line, Some(1), "{e}");
    }

    #[test]
    fn yaml_keeps_document_order_and_positions() {
        let n = parse_yaml(p(), "zeta: 1\nalpha:\n  b: yes\n  c: [1, x]\n").unwrap();
        let e = n.entries("doc").unwrap();
        assert_eq!(e[0].key, "zeta");
        assert_eq!(e[0].key_at.to_string(), "f:1:1");
        assert_eq!(e[0].value.at.to_string(), "f:1:7");
        assert_eq!(e[1].key, "alpha");
        let inner = e[1].value.entries("alpha").unwrap();
        assert_eq!(inner[0].key_at.to_string(), "f:3:3");
        assert_eq!(
            n.to_json(),
            serde_json::json!({"zeta": 1, "alpha": {"b": true, "c": [1, "x"]}})
        );
    }

    #[test]
    fn yaml_errors_have_positions() {
        let e = parse_yaml(p(), "a: 1\na: 2\n").unwrap_err();
        assert_eq!(e.location.line, Some(2), "{e}");
        let e = parse_yaml(p(), "a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.location.line.is_some(), "{e}");
        assert!(e.message.starts_with("invalid YAML: "), "{e}");
    }

    #[test]
    fn empty_yaml_is_null() {
        assert_eq!(
            parse_yaml(p(), "---\n# nothing\n").unwrap().kind,
            Kind::Null
        );
        assert_eq!(parse_yaml(p(), "").unwrap().kind, Kind::Null);
    }

    #[test]
    fn json_has_positions() {
        let n = parse_json(p(), "{\n  \"a\": 1,\n  \"b\": [true]\n}\n").unwrap();
        let e = n.entries("doc").unwrap();
        assert_eq!(e[1].key, "b");
        assert_eq!(e[1].key_at.line, Some(3));
        let err = parse_json(p(), "{\"a\": }").unwrap_err();
        assert_eq!(err.location.line, Some(1), "{err}");
    }
}
