//! ufw: default policies, rules, logging and state, read from ufw's own files.
//!
//! The facts come from /etc/default/ufw, /etc/ufw/ufw.conf and the `### tuple ###` lines of
//! /etc/ufw/user.rules and user6.rules, plus one cheap live check that the chains are loaded:
//! `ufw status` is a Python program that costs 130 ms of host CPU per call.
//!
//! Unlike the seeds' `ufw reset` on every run, a re-run changes nothing when nothing differs,
//! and rules are added before the firewall is enabled, so the SSH rule is in place first.

use std::collections::BTreeSet;

use serde::Serialize;

use super::PlanError;
use crate::facts::{FactRequest, Facts, FileState};
use crate::plan::{Apply, AttrChange, Change, Diff, Risk};
use crate::shell::Script;

const DEFAULTS: &str = "/etc/default/ufw";
const CONF: &str = "/etc/ufw/ufw.conf";
const USER4: &str = "/etc/ufw/user.rules";
const USER6: &str = "/etc/ufw/user6.rules";
/// The guard on ufw's files: see `ufw/guard.sh`.
const GUARD_SH: &str = include_str!("ufw/guard.sh");

/// A default policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UfwPolicy {
    /// Drop silently.
    Deny,
    /// Accept.
    Allow,
    /// Refuse with an error.
    Reject,
}

impl UfwPolicy {
    fn iptables(self) -> &'static str {
        match self {
            UfwPolicy::Deny => "DROP",
            UfwPolicy::Allow => "ACCEPT",
            UfwPolicy::Reject => "REJECT",
        }
    }
    fn word(self) -> &'static str {
        match self {
            UfwPolicy::Deny => "deny",
            UfwPolicy::Allow => "allow",
            UfwPolicy::Reject => "reject",
        }
    }
}

/// What a rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UfwAction {
    /// Accept.
    Allow,
    /// Drop.
    Deny,
    /// Refuse.
    Reject,
    /// Accept, rate-limited (6 connections in 30 s per source).
    Limit,
}

impl UfwAction {
    fn word(self) -> &'static str {
        match self {
            UfwAction::Allow => "allow",
            UfwAction::Deny => "deny",
            UfwAction::Reject => "reject",
            UfwAction::Limit => "limit",
        }
    }
}

/// An incoming rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct UfwRule {
    /// What to do.
    pub action: UfwAction,
    /// Port or range ("22", "60000:61000").
    pub port: String,
    /// "tcp", "udp" or "any".
    pub proto: String,
    /// Source network; `None` for anywhere.
    pub from: Option<String>,
    /// A comment shown by `ufw status`.
    pub comment: Option<String>,
}

impl UfwRule {
    /// `action port/proto` from anywhere.
    pub fn new(
        action: UfwAction,
        port: impl Into<String>,
        proto: &str,
        comment: Option<&str>,
    ) -> Self {
        UfwRule {
            action,
            port: port.into(),
            proto: proto.into(),
            from: None,
            comment: comment.map(str::to_owned),
        }
    }

    fn is_v6_source(&self) -> Option<bool> {
        self.from.as_ref().map(|f| f.contains(':'))
    }

    /// The tuples ufw writes for this rule: (v6, key).
    fn tuples(&self, ipv6: bool) -> Vec<(bool, Tuple)> {
        let mut out = Vec::new();
        let mk = |src: &str| Tuple {
            action: self.action.word().to_owned(),
            proto: self.proto.clone(),
            port: self.port.clone(),
            src: src.to_owned(),
        };
        match self.is_v6_source() {
            None => {
                out.push((false, mk("0.0.0.0/0")));
                if ipv6 {
                    out.push((true, mk("::/0")));
                }
            }
            Some(false) => out.push((false, mk(self.from.as_deref().unwrap_or_default()))),
            Some(true) => {
                if ipv6 {
                    out.push((true, mk(self.from.as_deref().unwrap_or_default())));
                }
            }
        }
        out
    }

    fn argv(&self, verb: &[&str]) -> Vec<String> {
        tuple_argv(
            verb,
            self.action.word(),
            &self.proto,
            self.from.as_deref().unwrap_or("any"),
            &self.port,
            self.comment.as_deref(),
        )
    }
}

fn tuple_argv(
    verb: &[&str],
    action: &str,
    proto: &str,
    from: &str,
    port: &str,
    comment: Option<&str>,
) -> Vec<String> {
    let mut a: Vec<String> = verb.iter().map(|s| (*s).to_owned()).collect();
    a.push(action.to_owned());
    if proto != "any" {
        a.extend(["proto".into(), proto.to_owned()]);
    }
    a.extend([
        "from".into(),
        from.to_owned(),
        "to".into(),
        "any".into(),
        "port".into(),
        port.to_owned(),
    ]);
    if let Some(c) = comment {
        a.extend(["comment".into(), c.to_owned()]);
    }
    a
}

/// A rule as ufw stores it: what identifies it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Tuple {
    action: String,
    proto: String,
    port: String,
    src: String,
}

/// Parses the `### tuple ###` lines of a user rules file. Only simple incoming port rules
/// (any destination, any source port, no interface) are understood; others are kept as
/// "foreign" so they are reported, never silently deleted.
fn parse_tuples(text: &str) -> (BTreeSet<Tuple>, Vec<String>) {
    let mut rules = BTreeSet::new();
    let mut foreign = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("### tuple ### ") else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        // action proto dport dst sport src [app fields] direction [comment=...]
        match f.as_slice() {
            [action, proto, dport, dst, "any", src, "in", ..]
                if (*dst == "0.0.0.0/0" || *dst == "::/0") && !action.contains("_log") =>
            {
                rules.insert(Tuple {
                    action: (*action).into(),
                    proto: (*proto).into(),
                    port: (*dport).into(),
                    src: (*src).into(),
                });
            }
            _ => foreign.push(rest.to_owned()),
        }
    }
    (rules, foreign)
}

fn kv(text: &str, key: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
        .next_back()
        .map(|v| v.trim().trim_matches('"').to_owned())
}

/// ufw's whole configuration as rampart manages it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ufw {
    /// Incoming default.
    pub incoming: UfwPolicy,
    /// Outgoing default.
    pub outgoing: UfwPolicy,
    /// Routed (forward) default.
    pub routed: UfwPolicy,
    /// Rules; any other simple rule found on the host is deleted.
    pub rules: Vec<UfwRule>,
    /// Manage IPv6 too.
    pub ipv6: bool,
    /// Logging level ("off", "low", "medium", "high", "full").
    pub logging: String,
    /// Firewall on.
    pub enabled: bool,
}

/// ufw as it is on the host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UfwState {
    incoming: String,
    outgoing: String,
    routed: String,
    ipv6: bool,
    logging: String,
    enabled: bool,
    v4: BTreeSet<Tuple>,
    v6: BTreeSet<Tuple>,
    /// Rules rampart does not model (interfaces, destinations, app profiles).
    pub foreign: Vec<String>,
}

impl UfwState {
    /// Reads the state from facts; missing files read as empty (ufw not installed yet).
    pub fn from_facts(facts: &Facts) -> Result<UfwState, PlanError> {
        let text = |p: &str| -> Result<String, PlanError> {
            match facts.files.get(p) {
                None => Err(PlanError::MissingFact(format!("file {p}"))),
                Some(f) => Ok(f.text().unwrap_or_default().to_owned()),
            }
        };
        let defaults = text(DEFAULTS)?;
        let conf = text(CONF)?;
        let (v4, mut foreign) = parse_tuples(&text(USER4)?);
        let (v6, foreign6) = parse_tuples(&text(USER6)?);
        foreign.extend(foreign6);
        let live = facts
            .ufw_live
            .ok_or_else(|| PlanError::MissingFact("ufw_live".into()))?;
        Ok(UfwState {
            incoming: kv(&defaults, "DEFAULT_INPUT_POLICY").unwrap_or_default(),
            outgoing: kv(&defaults, "DEFAULT_OUTPUT_POLICY").unwrap_or_default(),
            routed: kv(&defaults, "DEFAULT_FORWARD_POLICY").unwrap_or_default(),
            ipv6: kv(&defaults, "IPV6").as_deref() == Some("yes"),
            logging: kv(&conf, "LOGLEVEL").unwrap_or_else(|| "off".into()),
            enabled: kv(&conf, "ENABLED").as_deref() == Some("yes") && live,
            v4,
            v6,
            foreign,
        })
    }

    /// Whether a TCP port is allowed (or limited) from anywhere over IPv4.
    pub fn allows_tcp(&self, port: u16) -> bool {
        self.v4.iter().any(|t| {
            (t.action == "allow" || t.action == "limit")
                && (t.proto == "tcp" || t.proto == "any")
                && t.port == port.to_string()
                && t.src == "0.0.0.0/0"
        })
    }

    /// The firewall is on.
    pub fn enabled(&self) -> bool {
        self.enabled
    }
}

impl Ufw {
    /// Whether the desired rules allow a TCP port from anywhere.
    pub fn allows_tcp(&self, port: u16) -> bool {
        self.rules.iter().any(|r| {
            matches!(r.action, UfwAction::Allow | UfwAction::Limit)
                && (r.proto == "tcp" || r.proto == "any")
                && r.from.is_none()
                && r.port == port.to_string()
        })
    }

    pub(super) fn facts(&self, req: &mut FactRequest) {
        for p in [DEFAULTS, CONF, USER4, USER6] {
            req.files.insert(p.to_owned());
        }
        req.ufw_live = true;
    }

    pub(super) fn plan(&self, facts: &Facts) -> Result<Change, PlanError> {
        let cur = UfwState::from_facts(facts)?;
        let mut s = Script::new();
        let mut attrs = Vec::new();
        // Guard: the four files must be as the plan saw them.
        let mut guard = Vec::new();
        for p in [DEFAULTS, CONF, USER4, USER6] {
            let expect = match facts.files.get(p) {
                Some(FileState::File { sha256, .. }) => sha256.clone(),
                _ => "absent".into(),
            };
            guard.extend([p.to_owned(), expect]);
        }
        s.call(GUARD_SH, guard);
        let changes_before = s.as_str().len();
        if self.ipv6 != cur.ipv6 {
            attrs.push(AttrChange::new("ipv6", cur.ipv6, self.ipv6));
            let to = if self.ipv6 {
                "s/^IPV6=.*/IPV6=yes/"
            } else {
                "s/^IPV6=.*/IPV6=no/"
            };
            s.cmd(["sed", "-i", to, DEFAULTS]);
        }
        let mut want4 = BTreeSet::new();
        let mut want6 = BTreeSet::new();
        for r in &self.rules {
            for (v6, t) in r.tuples(self.ipv6) {
                if v6 {
                    want6.insert(t)
                } else {
                    want4.insert(t)
                };
            }
        }
        // Add before delete, and both before enable: the SSH rule is never missing while the
        // firewall is on.
        for r in &self.rules {
            let missing = r
                .tuples(self.ipv6)
                .iter()
                .any(|(v6, t)| !if *v6 { &cur.v6 } else { &cur.v4 }.contains(t));
            if missing {
                attrs.push(AttrChange::new(
                    "rule",
                    "(absent)",
                    format!(
                        "{} {}/{} from {}",
                        r.action.word(),
                        r.port,
                        r.proto,
                        r.from.as_deref().unwrap_or("any")
                    ),
                ));
                s.cmd(r.argv(&["ufw"]));
            }
        }
        let mut extra: Vec<&Tuple> = cur.v4.difference(&want4).collect();
        if self.ipv6 || cur.ipv6 {
            extra.extend(cur.v6.difference(&want6));
        }
        let mut deleted = BTreeSet::new();
        for t in extra {
            let from = if t.src == "0.0.0.0/0" || t.src == "::/0" {
                "any"
            } else {
                t.src.as_str()
            };
            let argv = tuple_argv(&["ufw", "delete"], &t.action, &t.proto, from, &t.port, None);
            if deleted.insert(argv.clone()) {
                attrs.push(AttrChange::new(
                    "rule",
                    format!("{} {}/{} from {from}", t.action, t.port, t.proto),
                    "(removed)",
                ));
                s.cmd(&argv);
            }
        }
        for (dir, want, have) in [
            ("incoming", self.incoming, &cur.incoming),
            ("outgoing", self.outgoing, &cur.outgoing),
            ("routed", self.routed, &cur.routed),
        ] {
            if want.iptables() != have {
                attrs.push(AttrChange::new(
                    &format!("default {dir}"),
                    if have.is_empty() { "(unset)" } else { have },
                    want.word(),
                ));
                s.cmd(["ufw", "default", want.word(), dir]);
            }
        }
        if self.logging != cur.logging {
            attrs.push(AttrChange::new("logging", &cur.logging, &self.logging));
            s.cmd(["ufw", "logging", self.logging.as_str()]);
        }
        if self.enabled != cur.enabled {
            attrs.push(AttrChange::new(
                "state",
                if cur.enabled { "active" } else { "inactive" },
                if self.enabled { "active" } else { "inactive" },
            ));
            s.raw(if self.enabled {
                "ufw --force enable"
            } else {
                "ufw disable"
            });
        }
        if s.as_str().len() == changes_before {
            return Ok(Change::noop("policy, rules and state match"));
        }
        Ok(Change::Apply(Apply {
            summary: format!(
                "ufw: {}",
                attrs
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            diff: Diff::Attrs(attrs),
            script: s,
            notify: Vec::new(),
            risk: Risk::Access,
            touches: vec![
                DEFAULTS.into(),
                CONF.into(),
                USER4.into(),
                USER6.into(),
                "/etc/ufw/before.rules".into(),
            ],
        }))
    }

    pub(super) fn simulate(&self, facts: &mut Facts) {
        let mut defaults = format!(
            "IPV6={}\nDEFAULT_INPUT_POLICY=\"{}\"\nDEFAULT_OUTPUT_POLICY=\"{}\"\nDEFAULT_FORWARD_POLICY=\"{}\"\n",
            if self.ipv6 { "yes" } else { "no" },
            self.incoming.iptables(),
            self.outgoing.iptables(),
            self.routed.iptables()
        );
        defaults.push_str("MANAGE_BUILTINS=no\n");
        let conf = format!(
            "ENABLED={}\nLOGLEVEL={}\n",
            if self.enabled { "yes" } else { "no" },
            self.logging
        );
        let mut u4 = String::new();
        let mut u6 = String::new();
        for r in &self.rules {
            for (v6, t) in r.tuples(self.ipv6) {
                let line = format!(
                    "### tuple ### {} {} {} {} any {} in\n",
                    t.action,
                    t.proto,
                    t.port,
                    if v6 { "::/0" } else { "0.0.0.0/0" },
                    t.src
                );
                if v6 {
                    u6.push_str(&line)
                } else {
                    u4.push_str(&line)
                }
            }
        }
        let put = |facts: &mut Facts, p: &str, text: String| {
            let bytes = text.into_bytes();
            facts.files.insert(
                p.to_owned(),
                FileState::File {
                    mode: 0o640,
                    owner: "root".into(),
                    group: "root".into(),
                    size: bytes.len() as u64,
                    sha256: crate::facts::sha256_hex(&bytes),
                    content: Some(bytes),
                },
            );
        };
        put(facts, DEFAULTS, defaults);
        put(facts, CONF, conf);
        put(facts, USER4, u4);
        put(facts, USER6, u6);
        facts.ufw_live = Some(self.enabled);
    }
}

#[cfg(test)]
mod tests {
    use super::super::Resource;
    use super::super::testkit::assert_idempotent;
    use super::*;

    #[test]
    fn the_guard_stops_at_a_file_changed_since_the_probe_under_dash() {
        let Some(sh) = rampart_shtest::Sh::new() else {
            return;
        };
        let conf = sh.write("ufw.conf", "ENABLED=no\n");
        let sum = crate::facts::sha256_hex(b"ENABLED=no\n");
        let absent = sh.path("user.rules");
        let guard = format!("{GUARD_SH}echo through\n");
        let out = sh.run(&guard, &[&conf, &sum, &absent, "absent"]);
        assert_eq!(out.stdout_str(), "through\n", "{out:?}");
        sh.write("user.rules", "x");
        let out = sh.run(&guard, &[&conf, &sum, &absent, "absent"]);
        assert_eq!(out.status, 75, "{out:?}");
        assert!(
            out.stderr.contains("user.rules changed on the host"),
            "{out:?}"
        );
        sh.write("ufw.conf", "ENABLED=yes\n");
        assert_eq!(sh.run(&guard, &[&conf, &sum]).status, 75);
    }

    fn seed() -> Ufw {
        Ufw {
            incoming: UfwPolicy::Deny,
            outgoing: UfwPolicy::Allow,
            routed: UfwPolicy::Deny,
            rules: vec![
                UfwRule::new(UfwAction::Allow, "22", "tcp", Some("ssh")),
                UfwRule::new(UfwAction::Allow, "41641", "udp", Some("Tailscale")),
            ],
            ipv6: true,
            logging: "low".into(),
            enabled: true,
        }
    }

    fn file(text: &str) -> FileState {
        FileState::File {
            mode: 0o640,
            owner: "root".into(),
            group: "root".into(),
            size: text.len() as u64,
            content: Some(text.as_bytes().to_vec()),
            sha256: crate::facts::sha256_hex(text.as_bytes()),
        }
    }

    /// What a fresh Debian ufw package leaves: IPv6 on, deny incoming, disabled, no rules.
    fn fresh() -> Facts {
        let mut f = Facts::default();
        f.files.insert(DEFAULTS.into(), file("IPV6=yes\nDEFAULT_INPUT_POLICY=\"DROP\"\nDEFAULT_OUTPUT_POLICY=\"ACCEPT\"\nDEFAULT_FORWARD_POLICY=\"DROP\"\n"));
        f.files
            .insert(CONF.into(), file("ENABLED=no\nLOGLEVEL=low\n"));
        f.files.insert(
            USER4.into(),
            file("*filter\n### RULES ###\n### END RULES ###\n"),
        );
        f.files.insert(USER6.into(), file("*filter\n"));
        f.ufw_live = Some(false);
        f
    }

    #[test]
    fn fresh_host_gets_rules_before_enable() {
        let Change::Apply(a) = seed().plan(&fresh()).unwrap() else {
            panic!()
        };
        let s = a.script.as_str();
        let allow = s
            .find("ufw allow proto tcp from any to any port 22 comment ssh")
            .expect(s);
        let enable = s.find("ufw --force enable").expect(s);
        assert!(allow < enable);
        assert!(!s.contains("reset"));
        assert_eq!(a.risk, Risk::Access);
        assert_idempotent(&Resource::Ufw(seed()), fresh());
    }

    #[test]
    fn parses_real_tuples_and_deletes_strays_only() {
        let mut f = fresh();
        f.files.insert(
            USER4.into(),
            file("### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n-A ufw-user-input -p tcp --dport 22 -j ACCEPT\n### tuple ### allow udp 41641 0.0.0.0/0 any 0.0.0.0/0 in comment=5461696c7363616c65\n### tuple ### allow tcp 8080 0.0.0.0/0 any 0.0.0.0/0 in\n### tuple ### allow any 53 0.0.0.0/0 any 0.0.0.0/0 in_eth1\n"),
        );
        f.files.insert(USER6.into(), file("### tuple ### allow tcp 22 ::/0 any ::/0 in\n### tuple ### allow udp 41641 ::/0 any ::/0 in\n"));
        f.files
            .insert(CONF.into(), file("ENABLED=yes\nLOGLEVEL=low\n"));
        f.ufw_live = Some(true);
        let st = UfwState::from_facts(&f).unwrap();
        assert!(st.allows_tcp(22));
        assert_eq!(st.foreign.len(), 1);
        let Change::Apply(a) = seed().plan(&f).unwrap() else {
            panic!()
        };
        assert!(
            a.script
                .as_str()
                .contains("ufw delete allow proto tcp from any to any port 8080"),
            "{}",
            a.script.as_str()
        );
        assert!(!a.script.as_str().contains("port 22\n"));
        assert!(!a.script.as_str().contains("enable"));
    }

    #[test]
    fn disabled_by_hand_is_drift() {
        let mut f = fresh();
        seed().simulate(&mut f);
        assert!(!seed().plan(&f).unwrap().is_apply());
        f.ufw_live = Some(false);
        let Change::Apply(a) = seed().plan(&f).unwrap() else {
            panic!()
        };
        assert!(a.script.as_str().ends_with("ufw --force enable\n"));
    }
}
