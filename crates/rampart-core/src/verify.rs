//! Verify checks: read-only commands with an expectation, shared by a role's verify step, the
//! rolling health gate and `rampart audit`.
//!
//! A check's command runs on the host (all checks of a host in one round trip, like facts);
//! judging its output is pure: [`Check::judge`].

use serde::Serialize;

use crate::facts::{CommandResult, FactRequest, Facts, FileState};

/// Shell code defining `sshd_ports`, which prints the ports sshd listens on, one per line
/// (nothing when `sshd -T` cannot run). The one copy: the ufw role's checks and the audit's
/// host controls start their scripts with it.
pub const SSHD_PORTS_FN: &str = include_str!("verify/sshd_ports.sh");

/// A check's command made of a constant script (a `.sh` file) and the values it needs: they
/// reach it as positional parameters `$2`, `$3`, ... after the `SSH_CONNECTION` the probe
/// passes every check as `$1`, each quoted by [`crate::shell::quote`]; nothing is spliced into
/// the script's text.
pub fn check_command(script: &str, values: &[&str]) -> String {
    with_parameters("\"$1\"", script, values)
}

/// Shell code that runs a constant script (a `.sh` file) with `values` as its positional
/// parameters `$1`, `$2`, ...: `set -- 'v1' 'v2'` (each quoted by [`crate::shell::quote`]),
/// then the script. For a handler or a guard, which run in a subshell of their own.
pub fn script_with_args(script: &str, values: &[&str]) -> String {
    with_parameters("", script, values)
}

fn with_parameters(first: &str, script: &str, values: &[&str]) -> String {
    let mut s = String::from("set --");
    if !first.is_empty() {
        s.push(' ');
        s.push_str(first);
    }
    for v in values {
        s.push(' ');
        s.push_str(&crate::shell::quote(v));
    }
    s.push('\n');
    // as `Script::source`: a `.sh` file's comment lines document it; the host need not get them
    for line in script.lines() {
        let t = line.trim_start();
        if t.starts_with('#') && !t.starts_with("#!") {
            continue;
        }
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// One named control.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable id ("sshd.permitrootlogin").
    pub id: String,
    /// What it proves, for reports ("root cannot log in over SSH").
    pub title: String,
    /// Read-only shell code, run as root.
    pub command: String,
    /// What its result must look like.
    pub expect: Expect,
    /// When set, the answer comes from a fact the probe gathers for every resource anyway,
    /// judged on the controller: no command runs on the host. `command` then only says, for
    /// reports, what shell command gives the same answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fact: Option<FactQuery>,
}

/// A check's answer taken from the probe's facts, printed as its shell command would print it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum FactQuery {
    /// `systemctl is-active UNIT`: the unit's ActiveState, exit 0 only when it is active.
    UnitActive(String),
    /// `systemctl is-active UNIT...`: each unit's ActiveState on a line, exit 0 only when
    /// every one is active.
    UnitsActive(Vec<String>),
    /// The lines of a read-only command's output that start with one of the prefixes (ASCII
    /// case ignored), as `CMD | grep -iE '^(P1|P2...)'` prints them (exit 1 when none does).
    /// Every check naming the same command shares one run of it per probe: the `apt-config
    /// dump` that four unattended-upgrades checks read runs once.
    SharedLines {
        /// The command, run once per probe whatever number of checks read it.
        command: String,
        /// Line prefixes.
        prefixes: Vec<String>,
    },
    /// `sysctl -n KEY`, whitespace squeezed to single spaces.
    Sysctl(String),
    /// The first line of `ufw status`: `Status: active` while ufw's chains are loaded in the
    /// kernel (what ufw itself tests), else `Status: inactive`; no Python runs.
    UfwStatus,
    /// `grep -E '^(P1|P2...)' PATH`: the file's lines that start with one of the prefixes
    /// (exit 1 when none does, 2 when the file is missing), from the file's fetched content.
    FileLines {
        /// The file.
        path: String,
        /// Literal line prefixes (`IPV6=`).
        prefixes: Vec<String>,
    },
    /// `sshd -T`'s value of a keyword (see [`SshdRead`]), from the effective configuration the
    /// probe gathers (and caches) for the sshd role anyway. A value that is not the wanted
    /// one gets, as evidence, the lines of sshd's main file and drop-ins that set the keyword
    /// (one shared `grep` per probe, [`SSHD_SOURCES_ID`]).
    Sshd {
        /// The keyword, lower case as `sshd -T` prints it.
        key: String,
        /// How its values are read.
        read: SshdRead,
    },
}

/// The fact id under which a [`FactQuery::SharedLines`] command runs: one per command text.
fn shared_id(command: &str) -> String {
    format!("shared:{command}")
}

/// How [`FactQuery::Sshd`] reads a keyword's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SshdRead {
    /// Every `keyword value` line.
    Line,
    /// The values sorted, each once, on one line.
    Set,
    /// The values in order on one line.
    List,
}

/// The fact id of the shared command that prints, for the evidence of failing sshd checks,
/// every setting line of sshd's main file and drop-ins with its file and line number.
pub const SSHD_SOURCES_ID: &str = "verify:sshd.sources";

/// That command: one `grep` over the main file and the drop-ins.
pub const SSHD_SOURCES: &str = "grep -HinE '^[[:space:]]*[a-z]' /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*.conf 2>/dev/null; true";

impl FactQuery {
    /// Asks the probe for the fact.
    pub fn request(&self, req: &mut FactRequest) {
        match self {
            FactQuery::UnitActive(u) => {
                req.units.insert(u.clone());
            }
            FactQuery::Sysctl(k) => {
                req.sysctls.insert(k.clone());
            }
            FactQuery::UnitsActive(units) => req.units.extend(units.iter().cloned()),
            FactQuery::SharedLines { command, .. } => {
                req.commands.insert(shared_id(command), command.clone());
            }
            FactQuery::UfwStatus => req.ufw_live = true,
            FactQuery::FileLines { path, .. } => {
                req.files.insert(path.clone());
            }
            FactQuery::Sshd { .. } => {
                req.sshd_effective = true;
                req.commands
                    .insert(SSHD_SOURCES_ID.into(), SSHD_SOURCES.into());
            }
        }
    }

    /// The answer as the shell command would give it; `None` when the probe did not gather it.
    pub fn answer(&self, facts: &Facts) -> Option<CommandResult> {
        match self {
            FactQuery::UnitActive(u) => facts.units.get(u).map(|s| CommandResult {
                rc: if s.active_state == "active" { 0 } else { 3 },
                output: if s.active_state.is_empty() {
                    "inactive".into()
                } else {
                    s.active_state.clone()
                },
            }),
            FactQuery::Sysctl(k) => facts.sysctls.get(k).map(|v| match v {
                Some(v) => CommandResult {
                    rc: 0,
                    output: v.clone(),
                },
                None => CommandResult {
                    rc: 255,
                    output: format!(
                        "sysctl: cannot stat /proc/sys/{}: No such file or directory",
                        k.replace('.', "/")
                    ),
                },
            }),
            FactQuery::UnitsActive(units) => {
                let mut rc = 0;
                let mut lines = Vec::new();
                for u in units {
                    let s = facts.units.get(u)?;
                    if s.active_state != "active" {
                        rc = 3;
                    }
                    lines.push(if s.active_state.is_empty() {
                        "inactive"
                    } else {
                        s.active_state.as_str()
                    });
                }
                Some(CommandResult {
                    rc,
                    output: lines.join("\n"),
                })
            }
            FactQuery::SharedLines { command, prefixes } => {
                let r = facts.commands.get(&shared_id(command))?;
                if r.rc != 0 {
                    return Some(r.clone());
                }
                let lines: Vec<&str> = r
                    .output
                    .lines()
                    .filter(|l| {
                        prefixes.iter().any(|p| {
                            l.get(..p.len())
                                .is_some_and(|head| head.eq_ignore_ascii_case(p))
                        })
                    })
                    .collect();
                Some(CommandResult {
                    rc: if lines.is_empty() { 1 } else { 0 },
                    output: lines.join("\n"),
                })
            }
            FactQuery::UfwStatus => facts.ufw_live.map(|live| CommandResult {
                rc: 0,
                output: if live {
                    "Status: active"
                } else {
                    "Status: inactive"
                }
                .into(),
            }),
            FactQuery::FileLines { path, prefixes } => {
                let state = facts.files.get(path)?;
                let content = match state {
                    FileState::File {
                        content: Some(c), ..
                    } => String::from_utf8_lossy(c).into_owned(),
                    FileState::File { content: None, .. } => return None,
                    FileState::Absent => {
                        return Some(CommandResult {
                            rc: 2,
                            output: format!("grep: {path}: No such file or directory"),
                        });
                    }
                    _ => {
                        return Some(CommandResult {
                            rc: 2,
                            output: format!("grep: {path}: not a regular file"),
                        });
                    }
                };
                let lines: Vec<&str> = content
                    .lines()
                    .filter(|l| prefixes.iter().any(|p| l.starts_with(p.as_str())))
                    .collect();
                Some(CommandResult {
                    rc: if lines.is_empty() { 1 } else { 0 },
                    output: lines.join("\n"),
                })
            }
            FactQuery::Sshd { key, read } => {
                let e = facts.sshd.as_ref()?;
                if !e.ok {
                    let err = e.error.clone().unwrap_or_default();
                    let tail: Vec<&str> = err.lines().rev().take(3).collect();
                    return Some(CommandResult {
                        rc: 1,
                        output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
                    });
                }
                let values = e.all(key);
                let output = match read {
                    SshdRead::Line => values
                        .iter()
                        .map(|v| format!("{key} {v}"))
                        .collect::<Vec<_>>()
                        .join("\n"),
                    SshdRead::Set => {
                        let mut v: Vec<&str> = values.iter().map(String::as_str).collect();
                        v.sort_unstable();
                        v.dedup();
                        v.join(" ")
                    }
                    SshdRead::List => values.join(" "),
                };
                Some(CommandResult { rc: 0, output })
            }
        }
    }

    /// For a failing verdict: what else says why (the sshd lines that set the keyword).
    fn explain(&self, facts: &Facts) -> Option<String> {
        let FactQuery::Sshd { key, .. } = self else {
            return None;
        };
        if !facts.sshd.as_ref().is_some_and(|e| e.ok) {
            return None;
        }
        let sources = facts.commands.get(SSHD_SOURCES_ID)?;
        let lines: Vec<String> = sources
            .output
            .lines()
            .filter(|l| {
                // FILE:LINE:  Keyword value
                let mut parts = l.splitn(3, ':');
                let (Some(_), Some(_), Some(text)) = (parts.next(), parts.next(), parts.next())
                else {
                    return false;
                };
                let word = text
                    .trim_start()
                    .split(|c: char| c.is_whitespace() || c == '=')
                    .next()
                    .unwrap_or("");
                word.eq_ignore_ascii_case(key)
            })
            .map(|l| format!("set in {l}"))
            .collect();
        (!lines.is_empty()).then(|| lines.join("\n"))
    }
}

/// What a check's result must look like.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Expect {
    /// Exit status 0.
    Success,
    /// Exit 0 and this text somewhere in the output.
    Contains(String),
    /// Exit 0 and none of these texts in the output.
    Lacks(Vec<String>),
    /// Exit 0 and the trimmed output equals this.
    Equals(String),
    /// Exit 0 and this exact line in the output.
    Line(String),
    /// Exit 0 and each of these exact lines in the output.
    Lines(Vec<String>),
    /// Exit 0 and this text somewhere in the output, ASCII case ignored.
    ContainsNoCase(String),
}

/// A judged check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The check's id.
    pub id: String,
    /// The check's title.
    pub title: String,
    /// Whether it holds.
    pub pass: bool,
    /// What was seen: the relevant output, trimmed.
    pub evidence: String,
}

impl Check {
    /// A check that must exit 0.
    pub fn success(id: &str, title: &str, command: &str) -> Self {
        Check {
            fact: None,
            id: id.into(),
            title: title.into(),
            command: command.into(),
            expect: Expect::Success,
        }
    }

    /// A check whose output must contain a line.
    pub fn line(id: &str, title: &str, command: &str, line: &str) -> Self {
        Check {
            fact: None,
            id: id.into(),
            title: title.into(),
            command: command.into(),
            expect: Expect::Line(line.into()),
        }
    }

    /// A check answered from a fact (see [`FactQuery`]); `command` is its shell equivalent.
    pub fn from_fact(
        id: &str,
        title: &str,
        command: &str,
        fact: FactQuery,
        expect: Expect,
    ) -> Self {
        Check {
            id: id.into(),
            title: title.into(),
            command: command.into(),
            expect,
            fact: Some(fact),
        }
    }

    /// Asks the probe for what this check needs: its fact, or its command's run.
    pub fn request(&self, req: &mut FactRequest) {
        match &self.fact {
            Some(f) => f.request(req),
            None => {
                req.commands.insert(self.fact_id(), self.command.clone());
            }
        }
    }

    /// Judges the check against a probe's facts.
    pub fn judge_facts(&self, facts: &Facts) -> Verdict {
        match &self.fact {
            Some(f) => {
                let mut v = self.judge(f.answer(facts).as_ref());
                if !v.pass
                    && let Some(why) = f.explain(facts)
                {
                    v.evidence = format!("{}\n{why}", v.evidence);
                }
                v
            }
            None => self.judge(facts.commands.get(&self.fact_id())),
        }
    }

    /// The fact-request id under which this check's result is gathered.
    pub fn fact_id(&self) -> String {
        format!("verify:{}", self.id)
    }

    /// Judges a result.
    pub fn judge(&self, r: Option<&CommandResult>) -> Verdict {
        let Some(r) = r else {
            return self.verdict(false, "not run".into());
        };
        let out = r.output.trim();
        let evidence = evidence(out, r.rc);
        let pass = r.rc == 0
            && match &self.expect {
                Expect::Success => true,
                Expect::Contains(s) => out.contains(s.as_str()),
                Expect::Lacks(list) => list.iter().all(|s| !out.contains(s.as_str())),
                Expect::Equals(s) => out == s.trim(),
                Expect::Line(l) => out.lines().any(|x| x.trim() == l.trim()),
                Expect::Lines(want) => want
                    .iter()
                    .all(|l| out.lines().any(|x| x.trim() == l.trim())),
                Expect::ContainsNoCase(s) => {
                    out.to_ascii_lowercase().contains(&s.to_ascii_lowercase())
                }
            };
        let mut evidence = evidence;
        if let (false, 0, Expect::Lines(want)) = (pass, r.rc, &self.expect) {
            for l in want {
                if !out.lines().any(|x| x.trim() == l.trim()) {
                    evidence.push_str(&format!("\nmissing: {l}"));
                }
            }
        }
        self.verdict(pass, evidence)
    }

    fn verdict(&self, pass: bool, evidence: String) -> Verdict {
        Verdict {
            id: self.id.clone(),
            title: self.title.clone(),
            pass,
            evidence,
        }
    }
}

fn evidence(out: &str, rc: i32) -> String {
    const MAX: usize = 600;
    let mut e = if out.len() > MAX {
        let mut cut = MAX;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}…", &out[..cut])
    } else {
        out.to_owned()
    };
    if rc != 0 {
        e = format!("exit {rc}: {e}");
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_commands_pass_values_as_quoted_parameters() {
        let c = check_command("printf '%s|' \"$@\"\n", &["it's", "", "a b"]);
        assert_eq!(
            c,
            "set -- \"$1\" 'it'\\''s' '' 'a b'\nprintf '%s|' \"$@\"\n"
        );
    }

    fn r(rc: i32, out: &str) -> CommandResult {
        CommandResult {
            rc,
            output: out.into(),
        }
    }

    #[test]
    fn judges_each_expectation() {
        let c = Check::line(
            "sshd.root",
            "root login off",
            "sshd -T",
            "permitrootlogin no",
        );
        assert!(c.judge(Some(&r(0, "port 22\npermitrootlogin no\n"))).pass);
        assert!(!c.judge(Some(&r(0, "permitrootlogin yes"))).pass);
        assert!(!c.judge(Some(&r(1, "permitrootlogin no"))).pass);
        assert!(!c.judge(None).pass);
        let lacks = Check {
            fact: None,
            expect: Expect::Lacks(vec!["8080".into()]),
            ..c.clone()
        };
        assert!(lacks.judge(Some(&r(0, "22"))).pass);
        let v = lacks.judge(Some(&r(0, "22 8080")));
        assert!(!v.pass && v.evidence == "22 8080");
    }

    /// A check answered from a fact asks the probe for the fact, not for a command, and is
    /// judged as its shell equivalent would be.
    #[test]
    fn fact_checks_ask_for_facts_and_answer_as_their_command() {
        use crate::facts::UnitState;
        let unit = Check::from_fact(
            "x.service",
            "x runs",
            "systemctl is-active x.service",
            FactQuery::UnitActive("x.service".into()),
            Expect::Equals("active".into()),
        );
        let sysctl = Check::from_fact(
            "sysctl.vm.swappiness",
            "swappiness 10",
            "sysctl -n vm.swappiness",
            FactQuery::Sysctl("vm.swappiness".into()),
            Expect::Equals("10".into()),
        );
        let mut req = FactRequest::new();
        unit.request(&mut req);
        sysctl.request(&mut req);
        assert!(req.commands.is_empty());
        assert!(req.units.contains("x.service") && req.sysctls.contains("vm.swappiness"));
        let mut facts = Facts::default();
        assert_eq!(unit.judge_facts(&facts).evidence, "not run");
        let state = |s: &str| UnitState {
            load_state: "loaded".into(),
            active_state: s.into(),
            ..Default::default()
        };
        facts.units.insert("x.service".into(), state("active"));
        facts
            .sysctls
            .insert("vm.swappiness".into(), Some("10".into()));
        assert!(unit.judge_facts(&facts).pass && sysctl.judge_facts(&facts).pass);
        facts.units.insert("x.service".into(), state("failed"));
        facts
            .sysctls
            .insert("vm.swappiness".into(), Some("60".into()));
        let (u, s) = (unit.judge_facts(&facts), sysctl.judge_facts(&facts));
        assert!(!u.pass && u.evidence == "exit 3: failed", "{u:?}");
        assert!(!s.pass && s.evidence == "60", "{s:?}");
        facts.sysctls.insert("vm.swappiness".into(), None);
        assert!(
            sysctl
                .judge_facts(&facts)
                .evidence
                .starts_with("exit 255: sysctl: cannot stat")
        );
        // A command check still asks for its command.
        let cmd = Check::success("c", "c", "true");
        cmd.request(&mut req);
        assert_eq!(
            req.commands.get("verify:c").map(String::as_str),
            Some("true")
        );
    }
}
