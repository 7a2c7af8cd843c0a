//! Verify checks: read-only commands with an expectation, shared by a role's verify step, the
//! rolling health gate and `rampart audit`.
//!
//! A check's command runs on the host (all checks of a host in one round trip, like facts);
//! judging its output is pure: [`Check::judge`].

use serde::Serialize;

use crate::facts::{CommandResult, FactRequest, Facts};

/// Shell code defining `sshd_ports`, which prints the ports sshd listens on, one per line
/// (nothing when `sshd -T` cannot run). The one copy: the ufw role's checks and the audit's
/// host controls start their scripts with it.
pub const SSHD_PORTS_FN: &str = include_str!("verify/sshd_ports.sh");

/// Shell code defining `docker_api PATH`, which prints the Docker daemon's answer to `GET PATH`
/// on its API socket through curl, or fails. The one copy: the docker role's settings checks
/// and the audit's `host.container-ports-local` start their scripts with it.
pub const DOCKER_API_FN: &str = include_str!("verify/docker_api.sh");

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

mod fact;
pub use fact::{FactQuery, SSHD_SOURCES, SSHD_SOURCES_ID, SshdRead};

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

    /// A check that `unit` runs (`systemctl is-active UNIT` prints `active`), judged from the
    /// unit facts the probe gathers.
    pub fn unit_active(id: &str, title: &str, unit: &str) -> Self {
        Check::from_fact(
            id,
            title,
            &format!("systemctl is-active {}", crate::shell::quote(unit)),
            FactQuery::UnitActive(unit.into()),
            Expect::Equals("active".into()),
        )
    }

    /// A check of a file's lines that start with `prefixes`, judged from the file's fetched
    /// content ([`FactQuery::FileLines`]); its shell equivalent is a `grep`.
    pub fn file_lines(
        id: &str,
        title: &str,
        path: &str,
        prefixes: &[&str],
        expect: Expect,
    ) -> Self {
        Check::from_fact(
            id,
            title,
            &format!(
                "grep -E '^({})' {}",
                prefixes.join("|"),
                crate::shell::quote(path)
            ),
            FactQuery::FileLines {
                path: path.into(),
                prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
            },
            expect,
        )
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
        let mut evidence = evidence(out, r.rc);
        let has_line = |l: &str| out.lines().any(|x| x.trim() == l.trim());
        let pass = r.rc == 0
            && match &self.expect {
                Expect::Success => true,
                Expect::Contains(s) => out.contains(s.as_str()),
                Expect::Lacks(list) => list.iter().all(|s| !out.contains(s.as_str())),
                Expect::Equals(s) => out == s.trim(),
                Expect::Line(l) => has_line(l),
                Expect::Lines(want) => {
                    // each missing line is named in the evidence
                    let missing: Vec<&String> = want.iter().filter(|l| !has_line(l)).collect();
                    for l in &missing {
                        evidence.push_str(&format!("\nmissing: {l}"));
                    }
                    missing.is_empty()
                }
                Expect::ContainsNoCase(s) => {
                    out.to_ascii_lowercase().contains(&s.to_ascii_lowercase())
                }
            };
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

    /// A stand-in Docker daemon on a Unix socket: answers each connection's request with
    /// the next of `answers` (raw HTTP), and records the request lines.
    fn fake_docker(
        sock: &std::path::Path,
        answers: Vec<String>,
    ) -> std::thread::JoinHandle<Vec<String>> {
        use std::io::{BufRead, Write};
        let listener = std::os::unix::net::UnixListener::bind(sock).unwrap();
        std::thread::spawn(move || {
            let mut asked = Vec::new();
            for answer in answers {
                let (conn, _) = listener.accept().unwrap();
                let mut r = std::io::BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                asked.push(line.trim_end().to_owned());
                while line != "\r\n" {
                    line.clear();
                    r.read_line(&mut line).unwrap();
                }
                let mut w = conn;
                w.write_all(answer.as_bytes()).unwrap();
            }
            asked
        })
    }

    /// `docker_api` asks the daemon's socket through perl: the body of a 2xx answer, and
    /// nothing else. Another status, a chunked body or no socket go to curl (`-f`: a body
    /// only for a 2xx), as before perl.
    #[test]
    fn docker_api_asks_the_socket_through_perl_and_gives_way_to_curl() {
        let Some(mut sh) = rampart_shtest::Sh::new() else {
            return;
        };
        if !rampart_shtest::perl() {
            return;
        }
        let body = "{\"ID\":\"X\",\"ContainersRunning\":0}\n";
        let ok = format!(
            "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let sock = sh.path("docker.sock");
        let daemon = fake_docker(
            std::path::Path::new(&sock),
            vec![
                ok,
                "HTTP/1.0 404 Not Found\r\n\r\n{\"message\":\"page not found\"}\n".into(),
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                    .into(),
            ],
        );
        sh.env("rampart_docker_sock", &sock)
            .stub_output("curl", 0, "from curl\n");
        let run = |path: &str| {
            let out = sh.run(&format!("{DOCKER_API_FN}docker_api {path}"), &[]);
            (out.status, out.stdout_str())
        };
        assert_eq!(run("/info"), (0, body.to_owned()));
        assert!(sh.calls().is_empty(), "{:?}", sh.calls());
        assert_eq!(run("/nope"), (0, "from curl\n".to_owned()));
        assert_eq!(run("/chunked"), (0, "from curl\n".to_owned()));
        assert_eq!(
            daemon.join().unwrap(),
            [
                "GET /info HTTP/1.0",
                "GET /nope HTTP/1.0",
                "GET /chunked HTTP/1.0"
            ]
        );
        // No daemon there: curl, whose failure is the caller's to report.
        sh.clear_calls();
        sh.stub("curl", 7);
        assert_eq!(run("/info"), (7, String::new()));
        assert_eq!(
            sh.calls(),
            ["curl -sf --max-time 10 --unix-socket /var/run/docker.sock http://localhost/info"]
        );
    }
}
