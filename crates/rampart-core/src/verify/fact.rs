//! Checks answered from facts: [`FactQuery`], what a check asks the probe for when its answer
//! is a fact the probe gathers anyway, and that answer as its shell equivalent prints it.

use serde::Serialize;

use crate::facts::{CommandResult, FactRequest, Facts, FileState};

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
    /// A kernel parameter a role sets, as its `sysctl_is.sh` judges it: `KEY = VALUE` and
    /// `ok` when the live value is `want` (whitespace squeezed), `FAIL: ...` otherwise; inside a
    /// container, for a key that is not the host's own to set ([`settable_here`]), that it is
    /// the machine's kernel's, and `ok`: the role persisted it and left it alone.
    ///
    /// [`settable_here`]: crate::resource::settable_here
    SysctlIs {
        /// The key.
        key: String,
        /// The wanted value.
        want: String,
    },
    /// `systemctl is-enabled UNIT`: its unit-file state, exit 0 when it is enabled (or static,
    /// an alias, generated...), 1 otherwise.
    UnitEnabled(String),
    /// `iptables -w -S CHAIN` (`ip6tables` when `ipv6`) of the filter table, from the
    /// `iptables-save` dump the probe takes anyway: the chain's policy (`-P`) or `-N` line,
    /// then its rules; exit 1 when there is no such chain.
    IptablesChain {
        /// ip6tables.
        ipv6: bool,
        /// The chain.
        chain: String,
    },
    /// `missing: NAME` for each package dpkg does not have installed (nothing when all are),
    /// from the package facts the probe gathers (and caches) anyway.
    Packages(Vec<String>),
    /// `stat -c FORMAT PATH...` (each path on its line) from the stat facts, never reading a
    /// file: FORMAT knows `%a` (octal mode), `%U`, `%G`, `%s` (size) and `%n` (the path).
    /// A missing path prints stat's error and makes the exit status 1.
    Stat {
        /// The paths.
        paths: Vec<String>,
        /// The format.
        format: String,
    },
    /// A swap file is in use (`/proc/swaps`): `ok`, or `FAIL: not active` and the active
    /// areas. In a container, where the kernel refuses swap, it says so and passes (`ok`).
    SwapFileActive(String),
    /// `getent passwd USER | cut -d: -f7`: a user's login shell (nothing when no such user).
    Shell(String),
    /// `cat PATH`: a file's whole content, from its fetched content.
    FileContent(String),
    /// `id -nG USER | tr ' ' '\n'`: the groups a user is in (its primary group and every
    /// group listing it), one per line, from /etc/passwd and /etc/group.
    Groups(String),
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
    /// `ss -Hltn "sport = :PORT"`: the TCP sockets listening on the port, one per line as ss
    /// prints them without its two queue columns (`LISTEN 0.0.0.0:22 0.0.0.0:*`), from
    /// `/proc/net/tcp{,6}` as the probe reads them; exit 0 when there is none, as ss.
    TcpListening(u16),
    /// Host-wide: every TCP socket listening on an address other than loopback, `ssh: ADDR:PORT`
    /// when the port is one of sshd's (`sshd -T`'s `port` lines), else `FAIL exposed: ADDR:PORT`,
    /// then `ok` when no line failed; the shell equivalent is `ss -Hltn` against `sshd -T`.
    ExposedListeners,
    /// Every port `sshd -T` names (its `port` lines) has an `allow` or `limit` rule for tcp
    /// (or any protocol) in ufw's rules file at the path: `ssh port P: allowed` or
    /// `FAIL: ssh port P is not allowed` for each, `FAIL: sshd -T printed no port` without
    /// one; from the effective configuration and the file's fetched content, as the shell's
    /// `grep -Eq "^### tuple ### (allow|limit) (tcp|any) $p "` over the file answers.
    SshPortsAllowed(String),
    /// The last line of `iptables -w -S CHAIN` (`ip6tables` when `ipv6`) as `last rule: R`,
    /// then `ok` when it is `-A CHAIN -i IFACE -j DROP`, else `FAIL: expected ... last`.
    /// IFACE is `iface`, or the default route's interface (for IPv6 the IPv6 default route's,
    /// else the IPv4 one's), from the host facts and the `iptables-save` dump.
    ChainEndsWithDrop {
        /// ip6tables.
        ipv6: bool,
        /// The chain.
        chain: String,
        /// The configured interface; `None`: the default route's.
        iface: Option<String>,
    },
    /// The live chain's rules are exactly the `-A CHAIN ` lines of a rules file, for each
    /// (`ipv6`, file) pair: `ok`, else `FAIL: live chain:` and the IPv4 chain as
    /// `iptables -w -S CHAIN` prints it. A missing chain has no rules; a missing file fails.
    ChainIsFile {
        /// The chain.
        chain: String,
        /// (ip6tables, the rules file) pairs.
        files: Vec<(bool, String)>,
    },
    /// ufw allows nothing beyond the configuration: each `### tuple ###` rule of the rules
    /// files (those that exist), once and sorted, as `allowed: R` when it is one of `allowed`
    /// or `allow P/tcp from S in` for an SSH port P (`sshd -T`'s, the configured ones, the one
    /// rampart is connected on) and a source S, else `unexpected: R`; without
    /// /etc/ufw/user.rules, `unexpected: /etc/ufw/user.rules is missing`. From the files'
    /// fetched content, `sshd -T` and `SSH_CONNECTION`, as the role's `only_allowed.sh` reads
    /// the host.
    UfwOnlyAllowed {
        /// The expected rule lines (`allow 22/tcp from 0.0.0.0/0 in`).
        allowed: Vec<String>,
        /// The configured SSH ports.
        ports: Vec<String>,
        /// The sources SSH is allowed from.
        sources: Vec<String>,
        /// The rules files.
        files: Vec<String>,
    },
    /// The unit's running main process started after the file last changed, so it runs with
    /// it: `ok`, `FAIL: FILE changed after DAEMON started: restart SERVICE`, or
    /// `FAIL: DAEMON is not running`; from the unit's `MainPID` and `ExecMainStartTimestamp`
    /// and the file's modification time (whole seconds), as the shell's `ps -o etimes` and
    /// `stat -c %Y` judge it.
    StartedAfter {
        /// The unit (`docker.service`).
        unit: String,
        /// Its daemon's name in the messages (`dockerd`).
        daemon: String,
        /// The configuration file.
        file: String,
    },
    /// The unit's settings as `systemctl show` prints them are the wanted ones and its
    /// `ReadWritePaths` has each path: `ok`, else a line `KEY=GOT (want WANT)` or
    /// `ReadWritePaths lacks P` for each difference.
    UnitSettings {
        /// The unit.
        unit: String,
        /// (property, value) pairs.
        want: Vec<(String, String)>,
        /// Paths `ReadWritePaths` must have.
        paths: Vec<String>,
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

/// One path's line of [`FactQuery::Stat`].
fn stat_line(format: &str, path: &str, state: &FileState) -> String {
    let (mode, owner, group, size) = match state {
        FileState::File {
            mode,
            owner,
            group,
            size,
            ..
        } => (*mode, owner.as_str(), group.as_str(), *size),
        FileState::Dir { mode, owner, group } => (*mode, owner.as_str(), group.as_str(), 0),
        FileState::Link { target } => (0o777, "?", "?", target.len() as u64),
        _ => (0, "?", "?", 0),
    };
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('a') => out.push_str(&format!("{mode:o}")),
            Some('U') => out.push_str(owner),
            Some('G') => out.push_str(group),
            Some('s') => out.push_str(&size.to_string()),
            Some('n') => out.push_str(path),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    out
}

/// A socket as `ss` prints it: `0.0.0.0:22`, `[::]:22`.
fn ss_socket(addr: &str, port: u16) -> String {
    if addr.contains(':') {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    }
}

/// `systemctl is-active UNIT...`: each unit's ActiveState on a line, exit 3 unless every one
/// is active; `None` when the probe did not gather one of them.
fn units_active(facts: &Facts, units: &[String]) -> Option<CommandResult> {
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

/// A file's fetched content as text, or `tool`'s failure (exit `rc`) when it is missing or not
/// a regular file; `None` when the probe did not fetch it.
fn fetched_text(
    facts: &Facts,
    path: &str,
    tool: &str,
    rc: i32,
) -> Option<Result<String, CommandResult>> {
    let why = match facts.files.get(path)? {
        FileState::File {
            content: Some(c), ..
        } => return Some(Ok(String::from_utf8_lossy(c).into_owned())),
        FileState::File { content: None, .. } => return None,
        FileState::Absent => "No such file or directory",
        _ => "not a regular file",
    };
    Some(Err(CommandResult {
        rc,
        output: format!("{tool}: {path}: {why}"),
    }))
}

/// The lines of `text` that `keep` selects, as `grep` prints them: exit 1 when none is.
fn grep(text: &str, keep: impl Fn(&str) -> bool) -> CommandResult {
    let lines: Vec<&str> = text.lines().filter(|l| keep(l)).collect();
    CommandResult {
        rc: if lines.is_empty() { 1 } else { 0 },
        output: lines.join("\n"),
    }
}

/// The fact id under which a [`FactQuery::SharedLines`] command runs: one per command text.
/// The id is the section's marker line in the probe's output, so a command of more than one
/// line (a script with its arguments) goes by its hash.
fn shared_id(command: &str) -> String {
    if command.contains(['\n', '\r']) {
        let h = crate::facts::sha256_hex(command.as_bytes());
        format!("shared:sha256:{}", &h[..16])
    } else {
        format!("shared:{command}")
    }
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

/// `iptables -w -S CHAIN` of the filter table (`ip6tables` when `ipv6`) from the probe's
/// `iptables-save` dump: the chain's policy (`-P`) or `-N` line, then its rules; exit 1 when
/// there is no such chain, 127 without the tool; `None` when the dump was not taken.
fn iptables_chain(facts: &Facts, ipv6: bool, chain: &str) -> Option<CommandResult> {
    let (tool, key) = if ipv6 {
        ("ip6tables", "v6/filter")
    } else {
        ("iptables", "v4/filter")
    };
    let Some(dump) = facts.iptables.get(key)? else {
        return Some(CommandResult {
            rc: 127,
            output: format!("{tool}: not found"),
        });
    };
    let mut head = None;
    let mut rules = Vec::new();
    let rule = format!("-A {chain} ");
    for l in dump.lines() {
        if let Some(rest) = l.strip_prefix(':') {
            let mut w = rest.split_whitespace();
            if w.next() == Some(chain) {
                head = Some(match w.next() {
                    Some(p) if p != "-" => format!("-P {chain} {p}"),
                    _ => format!("-N {chain}"),
                });
            }
        } else if l.starts_with(&rule) {
            rules.push(l);
        }
    }
    Some(match head {
        None => CommandResult {
            rc: 1,
            output: format!("{tool}: No chain/target/match by that name."),
        },
        Some(h) => CommandResult {
            rc: 0,
            output: std::iter::once(h.as_str())
                .chain(rules)
                .collect::<Vec<_>>()
                .join("\n"),
        },
    })
}

/// The ports `sshd -T` names (its `port` lines), none when it failed, as the shell's
/// `sshd_ports` (verify/sshd_ports.sh) prints them; `None` when the probe did not ask sshd.
fn sshd_ports(facts: &Facts) -> Option<&[String]> {
    let e = facts.sshd.as_ref()?;
    Some(if e.ok { e.all("port") } else { &[] })
}

/// ufw's main rules file.
const UFW_USER_RULES: &str = "/etc/ufw/user.rules";

/// [`FactQuery::UfwOnlyAllowed`]'s answer: `only_allowed.sh`'s awk, over the fetched files.
fn ufw_only_allowed(
    facts: &Facts,
    allowed: &[String],
    ports: &[String],
    sources: &[String],
    files: &[String],
) -> Option<CommandResult> {
    let answer = |output: String| Some(CommandResult { rc: 0, output });
    if !matches!(facts.files.get(UFW_USER_RULES)?, FileState::File { .. }) {
        return answer(format!("unexpected: {UFW_USER_RULES} is missing"));
    }
    let mut ssh: Vec<&str> = sshd_ports(facts)?.iter().map(String::as_str).collect();
    ssh.extend(ports.iter().map(String::as_str));
    let conn = facts
        .host
        .ssh_connection
        .as_ref()
        .map(|c| c.server_port.to_string());
    ssh.extend(conn.as_deref());
    let mut ok: std::collections::BTreeSet<String> = allowed.iter().cloned().collect();
    for p in ssh.iter().filter(|p| !p.is_empty()) {
        for s in sources.iter().filter(|s| !s.is_empty()) {
            ok.insert(format!("allow {p}/tcp from {s} in"));
        }
    }
    let mut rules = std::collections::BTreeSet::new();
    for f in files {
        // a file that is not there is not read (`[ -r ]`)
        let Ok(text) = fetched_text(facts, f, "awk", 2)? else {
            continue;
        };
        for l in text.lines().filter(|l| l.starts_with("### tuple ### ")) {
            let w: Vec<&str> = l.split_whitespace().collect();
            let at = |i: usize| w.get(i - 1).copied().unwrap_or("");
            rules.insert(format!(
                "{} {}/{} from {} {}",
                at(4),
                at(6),
                at(5),
                at(9),
                at(10)
            ));
        }
    }
    let lines: Vec<String> = rules
        .into_iter()
        .map(|r| {
            let verdict = if ok.contains(&r) {
                "allowed"
            } else {
                "unexpected"
            };
            format!("{verdict}: {r}")
        })
        .collect();
    answer(lines.join("\n"))
}

/// That command: one `grep` over the main file and the drop-ins.
pub const SSHD_SOURCES: &str = "grep -HinE '^[[:space:]]*[a-z]' /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*.conf 2>/dev/null; true";

impl FactQuery {
    /// Asks the probe for the fact.
    pub fn request(&self, req: &mut FactRequest) {
        match self {
            FactQuery::UnitActive(u) | FactQuery::UnitEnabled(u) => {
                req.units.insert(u.clone());
            }
            FactQuery::Sysctl(k) | FactQuery::SysctlIs { key: k, .. } => {
                req.sysctls.insert(k.clone());
            }
            FactQuery::UnitsActive(units) => req.units.extend(units.iter().cloned()),
            FactQuery::SharedLines { command, .. } => {
                req.commands.insert(shared_id(command), command.clone());
            }
            FactQuery::FileContent(path) | FactQuery::FileLines { path, .. } => {
                req.files.insert(path.clone());
            }
            FactQuery::IptablesChain { ipv6, .. } => {
                req.iptables.insert((*ipv6, "filter".into()));
            }
            FactQuery::Packages(names) => req.packages.extend(names.iter().cloned()),
            FactQuery::Groups(_) | FactQuery::Shell(_) => req.accounts = true,
            FactQuery::Stat { paths, .. } => req.stats.extend(paths.iter().cloned()),
            FactQuery::SwapFileActive(_) => req.swaps = true,
            FactQuery::UfwStatus => req.ufw_live = true,
            FactQuery::TcpListening(_) => req.tcp_listeners = true,
            FactQuery::ExposedListeners => {
                req.tcp_listeners = true;
                req.sshd_effective = true;
            }
            FactQuery::UfwOnlyAllowed { files, .. } => {
                req.sshd_effective = true;
                req.files.insert(UFW_USER_RULES.into());
                req.files.extend(files.iter().cloned());
            }
            FactQuery::StartedAfter { unit, file, .. } => {
                req.units.insert(unit.clone());
                req.unit_props
                    .entry(unit.clone())
                    .or_default()
                    .extend(["MainPID".into(), "ExecMainStartTimestamp".into()]);
                req.stats.insert(file.clone());
            }
            FactQuery::UnitSettings { unit, want, .. } => {
                req.units.insert(unit.clone());
                let props = req.unit_props.entry(unit.clone()).or_default();
                props.insert("ReadWritePaths".into());
                props.extend(want.iter().map(|(k, _)| k.clone()));
            }
            FactQuery::SshPortsAllowed(path) => {
                req.sshd_effective = true;
                req.files.insert(path.clone());
            }
            FactQuery::ChainEndsWithDrop { ipv6, .. } => {
                req.iptables.insert((*ipv6, "filter".into()));
            }
            FactQuery::ChainIsFile { files, .. } => {
                req.iptables.insert((false, "filter".into()));
                for (ipv6, path) in files {
                    req.iptables.insert((*ipv6, "filter".into()));
                    req.files.insert(path.clone());
                }
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
            FactQuery::UnitActive(u) => units_active(facts, std::slice::from_ref(u)),
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
            FactQuery::SysctlIs { key, want } => {
                if !crate::resource::settable_here(key, facts) {
                    return Some(CommandResult {
                        rc: 0,
                        output: format!(
                            "{key}: in a container ({}) the machine's kernel's, persisted only\nok",
                            facts.host.virt
                        ),
                    });
                }
                let cur = facts.sysctls.get(key)?;
                let want = crate::facts::normalize_sysctl(want);
                // sysctl_is.sh's lines: the value (or its absence), then the verdict
                let output = match cur {
                    None => format!("{key}: no such kernel parameter\nFAIL: want {want}"),
                    Some(v) if *v == want => format!("{key} = {v}\nok"),
                    Some(v) => format!("{key} = {v}\nFAIL: want {want}"),
                };
                Some(CommandResult { rc: 0, output })
            }
            FactQuery::UnitsActive(units) => units_active(facts, units),
            FactQuery::SharedLines { command, prefixes } => {
                let r = facts.commands.get(&shared_id(command))?;
                if r.rc != 0 {
                    return Some(r.clone());
                }
                Some(grep(&r.output, |l| {
                    prefixes.iter().any(|p| {
                        l.get(..p.len())
                            .is_some_and(|head| head.eq_ignore_ascii_case(p))
                    })
                }))
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
            FactQuery::UnitEnabled(u) => {
                let s = facts.units.get(u)?;
                if !s.exists() {
                    return Some(CommandResult {
                        rc: 1,
                        output: format!(
                            "Failed to get unit file state for {u}: No such file or directory"
                        ),
                    });
                }
                let on = s.unit_file_state.starts_with("enabled")
                    || ["static", "alias", "indirect", "generated", "transient"]
                        .contains(&s.unit_file_state.as_str());
                Some(CommandResult {
                    rc: if on { 0 } else { 1 },
                    output: s.unit_file_state.clone(),
                })
            }
            FactQuery::IptablesChain { ipv6, chain } => iptables_chain(facts, *ipv6, chain),
            FactQuery::SshPortsAllowed(path) => {
                let ports = sshd_ports(facts)?;
                // a missing file allows nothing, as grep finds nothing in it
                let rules: String = fetched_text(facts, path, "grep", 2)?.unwrap_or_default();
                if ports.is_empty() {
                    return Some(CommandResult {
                        rc: 0,
                        output: "FAIL: sshd -T printed no port".into(),
                    });
                }
                let allowed = |p: &str| {
                    rules.lines().any(|l| {
                        // grep's pattern ends with a space after the port: a field follows
                        let w: Vec<&str> = l.split(' ').collect();
                        w.len() > 6
                            && w[..3] == ["###", "tuple", "###"]
                            && matches!(w[3], "allow" | "limit")
                            && matches!(w[4], "tcp" | "any")
                            && w[5] == p
                    })
                };
                let lines: Vec<String> = ports
                    .iter()
                    .map(|p| {
                        if allowed(p) {
                            format!("ssh port {p}: allowed")
                        } else {
                            format!("FAIL: ssh port {p} is not allowed")
                        }
                    })
                    .collect();
                Some(CommandResult {
                    rc: 0,
                    output: lines.join("\n"),
                })
            }
            FactQuery::UfwOnlyAllowed {
                allowed,
                ports,
                sources,
                files,
            } => ufw_only_allowed(facts, allowed, ports, sources, files),
            FactQuery::StartedAfter { unit, daemon, file } => {
                let u = facts.units.get(unit)?;
                let prop = |k: &str| u.props.get(k).map(String::as_str).unwrap_or("");
                let pid: u64 = prop("MainPID").parse().unwrap_or(0);
                let started: Option<i64> = prop("ExecMainStartTimestamp")
                    .strip_prefix('@')
                    .and_then(|t| t.parse().ok());
                let output = match (pid, started) {
                    (0, _) | (_, None) => format!("FAIL: {daemon} is not running"),
                    (_, Some(started)) => match facts.mtimes.get(file) {
                        Some(changed) if *changed <= started => "ok".to_owned(),
                        _ => format!(
                            "FAIL: {file} changed after {daemon} started: restart {}",
                            unit.trim_end_matches(".service")
                        ),
                    },
                };
                Some(CommandResult { rc: 0, output })
            }
            FactQuery::UnitSettings { unit, want, paths } => {
                let u = facts.units.get(unit)?;
                let got = |k: &str| u.props.get(k).map(String::as_str).unwrap_or("");
                let mut lines = Vec::new();
                for (k, v) in want {
                    if got(k) != v {
                        lines.push(format!("{k}={} (want {v})", got(k)));
                    }
                }
                let have: Vec<&str> = got("ReadWritePaths").split(' ').collect();
                for p in paths.iter().filter(|p| !p.is_empty()) {
                    if !have.contains(&p.as_str()) {
                        lines.push(format!("ReadWritePaths lacks {p}"));
                    }
                }
                if lines.is_empty() {
                    lines.push("ok".into());
                }
                Some(CommandResult {
                    rc: 0,
                    output: lines.join("\n"),
                })
            }
            FactQuery::ChainEndsWithDrop { ipv6, chain, iface } => {
                let live = iptables_chain(facts, *ipv6, chain)?;
                let last = live.output.lines().last().unwrap_or("").to_owned();
                let routed = if *ipv6 {
                    facts
                        .host
                        .default_iface6
                        .clone()
                        .or_else(|| facts.host.default_iface.clone())
                } else {
                    facts.host.default_iface.clone()
                };
                let i = iface.clone().filter(|i| !i.is_empty()).or(routed);
                let verdict = match &i {
                    Some(i) if last == format!("-A {chain} -i {i} -j DROP") => "ok".to_owned(),
                    _ => format!(
                        "FAIL: expected -A {chain} -i {} -j DROP last",
                        i.as_deref().unwrap_or("<no default route>")
                    ),
                };
                Some(CommandResult {
                    rc: 0,
                    output: format!("last rule: {last}\n{verdict}"),
                })
            }
            FactQuery::ChainIsFile { chain, files } => {
                let rule = format!("-A {chain} ");
                for (ipv6, path) in files {
                    let text = fetched_text(facts, path, "grep", 2)?;
                    let live = iptables_chain(facts, *ipv6, chain)?;
                    let rules_of = |t: &'_ str| -> Vec<String> {
                        t.lines()
                            .filter(|l| l.starts_with(&rule))
                            .map(str::to_owned)
                            .collect()
                    };
                    // a missing chain has no rules; a missing file matches nothing
                    let live = if live.rc == 0 {
                        rules_of(&live.output)
                    } else {
                        Vec::new()
                    };
                    if text.ok().map(|t| rules_of(&t)) != Some(live) {
                        let v4 = iptables_chain(facts, false, chain)?;
                        return Some(CommandResult {
                            rc: 0,
                            output: format!("FAIL: live chain:\n{}", v4.output),
                        });
                    }
                }
                Some(CommandResult {
                    rc: 0,
                    output: "ok".into(),
                })
            }
            FactQuery::Packages(names) => {
                let mut missing = Vec::new();
                for n in names {
                    if !facts.packages.get(n)?.installed {
                        missing.push(format!("missing: {n}"));
                    }
                }
                Some(CommandResult {
                    rc: 0,
                    output: missing.join("\n"),
                })
            }
            FactQuery::FileContent(path) => Some(match fetched_text(facts, path, "cat", 1)? {
                Ok(output) => CommandResult { rc: 0, output },
                Err(failed) => failed,
            }),
            FactQuery::Stat { paths, format } => {
                let mut rc = 0;
                let mut lines = Vec::new();
                for p in paths {
                    match facts.files.get(p)? {
                        FileState::Absent => {
                            rc = 1;
                            lines.push(format!(
                                "stat: cannot statx '{p}': No such file or directory"
                            ));
                        }
                        state => lines.push(stat_line(format, p, state)),
                    }
                }
                Some(CommandResult {
                    rc,
                    output: lines.join("\n"),
                })
            }
            FactQuery::SwapFileActive(path) => {
                if facts.host.in_container() {
                    return Some(CommandResult {
                        rc: 0,
                        output: format!(
                            "in a container ({}): the kernel refuses swapon; the file and fstab are checked\nok",
                            facts.host.virt
                        ),
                    });
                }
                let swaps = facts.swaps.as_ref()?;
                let output = if swaps.iter().any(|a| &a.path == path) {
                    "ok".to_owned()
                } else {
                    let mut o = String::from("FAIL: not active");
                    for a in swaps {
                        o.push_str(&format!("\n{} {} KiB", a.path, a.size_kib));
                    }
                    o
                };
                Some(CommandResult { rc: 0, output })
            }
            FactQuery::Shell(user) => Some(CommandResult {
                rc: 0,
                output: facts
                    .accounts
                    .as_ref()?
                    .users
                    .get(user)
                    .map(|u| u.shell.clone())
                    .unwrap_or_default(),
            }),
            FactQuery::Groups(user) => {
                let a = facts.accounts.as_ref()?;
                if !a.users.contains_key(user) {
                    return Some(CommandResult {
                        rc: 1,
                        output: format!("id: '{user}': no such user"),
                    });
                }
                Some(CommandResult {
                    rc: 0,
                    output: a.groups_of(user).into_iter().collect::<Vec<_>>().join("\n"),
                })
            }
            FactQuery::FileLines { path, prefixes } => {
                Some(match fetched_text(facts, path, "grep", 2)? {
                    Ok(text) => grep(&text, |l| {
                        prefixes.iter().any(|p| l.starts_with(p.as_str()))
                    }),
                    Err(failed) => failed,
                })
            }
            FactQuery::TcpListening(port) => {
                let lines: Vec<String> = facts
                    .tcp_listeners
                    .as_ref()?
                    .iter()
                    .filter(|(_, p)| p == port)
                    .map(|(a, p)| {
                        let peer = if a.contains(':') { "[::]" } else { "0.0.0.0" };
                        format!("LISTEN {} {peer}:*", ss_socket(a, *p))
                    })
                    .collect();
                Some(CommandResult {
                    rc: 0,
                    output: lines.join("\n"),
                })
            }
            FactQuery::ExposedListeners => {
                let listeners = facts.tcp_listeners.as_ref()?;
                let ssh: Vec<u16> = sshd_ports(facts)?
                    .iter()
                    .filter_map(|v| v.parse().ok())
                    .collect();
                let mut lines = Vec::new();
                let mut bad = false;
                let mut seen = std::collections::BTreeSet::new();
                for (a, p) in listeners {
                    if crate::facts::is_loopback(a) || !seen.insert((a, p)) {
                        continue;
                    }
                    let addr = ss_socket(a, *p);
                    if ssh.contains(p) {
                        lines.push(format!("ssh: {addr}"));
                    } else {
                        lines.push(format!("FAIL exposed: {addr}"));
                        bad = true;
                    }
                }
                if !bad {
                    lines.push("ok".into());
                }
                Some(CommandResult {
                    rc: 0,
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
    pub(crate) fn explain(&self, facts: &Facts) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{Check, Expect};

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

    /// The listening sockets answer `sshd.listening` (ss's lines for one port) and
    /// `host.listeners-local` (every non-loopback listener against sshd's ports) without `ss`
    /// or a second `sshd -T` on the host.
    #[test]
    fn listeners_answer_as_ss_and_sshd_ports_would() {
        use crate::facts::SshdEffective;
        let listening = FactQuery::TcpListening(22);
        let exposed = FactQuery::ExposedListeners;
        let mut req = FactRequest::new();
        listening.request(&mut req);
        exposed.request(&mut req);
        assert!(req.tcp_listeners && req.sshd_effective && req.commands.is_empty());
        let mut facts = Facts::default();
        assert_eq!(listening.answer(&facts), None, "not gathered: not run");
        facts.tcp_listeners = Some(vec![
            ("0.0.0.0".into(), 22),
            ("::".into(), 22),
            ("127.0.0.1".into(), 6379),
            ("::ffff:127.0.0.1".into(), 8081),
            ("::1".into(), 25),
            ("10.0.0.5".into(), 8080),
            ("10.0.0.5".into(), 8080),
        ]);
        let out = listening.answer(&facts).unwrap();
        assert_eq!(
            (out.rc, out.output.as_str()),
            (0, "LISTEN 0.0.0.0:22 0.0.0.0:*\nLISTEN [::]:22 [::]:*")
        );
        assert_eq!(
            FactQuery::TcpListening(2222).answer(&facts).unwrap().output,
            ""
        );
        assert_eq!(exposed.answer(&facts), None, "sshd's ports not gathered");
        let mut sshd = SshdEffective {
            ok: true,
            ..Default::default()
        };
        sshd.values.insert("port".into(), vec!["22".into()]);
        facts.sshd = Some(sshd.clone());
        assert_eq!(
            exposed.answer(&facts).unwrap().output,
            "ssh: 0.0.0.0:22\nssh: [::]:22\nFAIL exposed: 10.0.0.5:8080"
        );
        facts.tcp_listeners = Some(vec![("0.0.0.0".into(), 22), ("127.0.0.53".into(), 53)]);
        assert_eq!(
            exposed.answer(&facts).unwrap().output,
            "ssh: 0.0.0.0:22\nok"
        );
        facts.tcp_listeners = Some(Vec::new());
        assert_eq!(exposed.answer(&facts).unwrap().output, "ok");
        // sshd -T failing names no port, as `sshd_ports` prints none.
        facts.tcp_listeners = Some(vec![("0.0.0.0".into(), 22)]);
        sshd.ok = false;
        facts.sshd = Some(sshd);
        assert_eq!(
            exposed.answer(&facts).unwrap().output,
            "FAIL exposed: 0.0.0.0:22"
        );
    }

    /// A shared command that is a script (more than one line) goes by a one-line id: the id
    /// is the section's marker line in the probe's output. Its checks read their own lines.
    #[test]
    fn a_shared_script_has_a_one_line_id() {
        let script = "set -- 'a'\necho 'one: 1'\necho 'two: 2'\n";
        let check = |tag: &str, want: &str| {
            Check::from_fact(
                tag,
                tag,
                "true",
                FactQuery::SharedLines {
                    command: script.into(),
                    prefixes: vec![format!("{tag}: ")],
                },
                Expect::Equals(want.into()),
            )
        };
        let (one, two) = (check("one", "one: 1"), check("two", "two: 3"));
        let mut req = FactRequest::new();
        one.request(&mut req);
        two.request(&mut req);
        assert_eq!(req.commands.len(), 1, "{:?}", req.commands);
        let (id, cmd) = req.commands.iter().next().expect("one command");
        assert!(
            !id.contains('\n') && id.starts_with("shared:sha256:"),
            "{id}"
        );
        assert_eq!(cmd, script);
        let script_id = req.probe_script("n0nce");
        assert!(
            script_id.contains(&format!("@@n0nce cmd {id}")),
            "{script_id}"
        );
        let mut facts = Facts::default();
        facts.commands.insert(
            id.clone(),
            CommandResult {
                rc: 0,
                output: "one: 1\ntwo: 2".into(),
            },
        );
        assert!(one.judge_facts(&facts).pass);
        let v = two.judge_facts(&facts);
        assert!(!v.pass && v.evidence == "two: 2", "{v:?}");
        // A one-line command keeps its text as its id: `apt-config dump`'s is the one the
        // probe remembers (facts::APT_CONFIG_DUMP).
        let mut req = FactRequest::new();
        Check::from_fact(
            "apt",
            "apt",
            "apt-config dump",
            FactQuery::SharedLines {
                command: "apt-config dump".into(),
                prefixes: vec!["APT::".into()],
            },
            Expect::Equals("APT::X".into()),
        )
        .request(&mut req);
        assert!(
            req.commands.contains_key(crate::facts::APT_CONFIG_DUMP) && req.asks_apt_config(),
            "{:?}",
            req.commands
        );
    }

    /// A file's content and a user's groups are answered as `cat` and `id -nG` print them,
    /// with their failures.
    #[test]
    fn file_and_group_facts_answer_as_cat_and_id() {
        use crate::facts::{Accounts, GroupEntry, UserEntry};
        let file = Check::from_fact(
            "f",
            "f",
            "cat /etc/x.json",
            FactQuery::FileContent("/etc/x.json".into()),
            Expect::Equals("{\"a\": 1}".into()),
        );
        let groups = Check::from_fact(
            "g",
            "g",
            "id -nG u | tr ' ' '\\n'",
            FactQuery::Groups("u".into()),
            Expect::Line("docker".into()),
        );
        let mut req = FactRequest::new();
        file.request(&mut req);
        groups.request(&mut req);
        assert!(req.commands.is_empty() && req.accounts && req.files.contains("/etc/x.json"));
        let mut f = Facts::default();
        f.files.insert(
            "/etc/x.json".into(),
            crate::testing::text_file("{\"a\": 1}\n", 0o644, "root"),
        );
        let user = |gid| UserEntry {
            uid: 1000,
            gid,
            home: "/home/u".into(),
            shell: "/bin/bash".into(),
        };
        let group = |gid, members: &[&str]| GroupEntry {
            gid,
            members: members.iter().map(|m| (*m).to_owned()).collect(),
        };
        let mut a = Accounts::default();
        a.users.insert("u".into(), user(1000));
        a.groups.insert("u".into(), group(1000, &[]));
        a.groups.insert("docker".into(), group(999, &["x", "u"]));
        f.accounts = Some(a.clone());
        assert!(file.judge_facts(&f).pass);
        let v = groups.judge_facts(&f);
        assert!(v.pass && v.evidence == "docker\nu", "{v:?}");
        // drift: out of the group, the file edited, then gone, the user gone
        a.groups.insert("docker".into(), group(999, &["x"]));
        f.accounts = Some(a.clone());
        assert_eq!(groups.judge_facts(&f).evidence, "u");
        f.files.insert(
            "/etc/x.json".into(),
            crate::testing::text_file("{}", 0o644, "root"),
        );
        assert!(!file.judge_facts(&f).pass);
        f.files.insert("/etc/x.json".into(), FileState::Absent);
        assert_eq!(
            file.judge_facts(&f).evidence,
            "exit 1: cat: /etc/x.json: No such file or directory"
        );
        a.users.clear();
        f.accounts = Some(a);
        assert_eq!(
            groups.judge_facts(&f).evidence,
            "exit 1: id: 'u': no such user"
        );
    }

    /// A unit's enablement, a chain of the filter table and the packages are answered as
    /// `systemctl is-enabled`, `iptables -S CHAIN` and the package check print them.
    #[test]
    fn unit_chain_and_package_facts_answer_as_their_commands() {
        use crate::facts::{PackageState, UnitState};
        let enabled = Check::from_fact(
            "u",
            "u",
            "systemctl is-enabled x.service",
            FactQuery::UnitEnabled("x.service".into()),
            Expect::Equals("enabled".into()),
        );
        let jump = Check::from_fact(
            "j",
            "j",
            "iptables -w -S FORWARD",
            FactQuery::IptablesChain {
                ipv6: false,
                chain: "FORWARD".into(),
            },
            Expect::Line("-A FORWARD -j DOCKER-USER".into()),
        );
        let user = Check::from_fact(
            "d",
            "d",
            "iptables -w -S DOCKER-USER",
            FactQuery::IptablesChain {
                ipv6: false,
                chain: "DOCKER-USER".into(),
            },
            Expect::Success,
        );
        let pkgs = Check::from_fact(
            "p",
            "p",
            "packages.sh curl ufw",
            FactQuery::Packages(vec!["curl".into(), "ufw".into()]),
            Expect::Lacks(vec!["missing:".into()]),
        );
        let mut req = FactRequest::new();
        for c in [&enabled, &jump, &pkgs] {
            c.request(&mut req);
        }
        assert!(req.commands.is_empty());
        assert!(
            req.units.contains("x.service") && req.iptables.contains(&(false, "filter".into()))
        );
        assert!(req.packages.contains("curl") && req.packages.contains("ufw"));
        let mut f = Facts::default();
        let unit = |file: &str| UnitState {
            load_state: "loaded".into(),
            unit_file_state: file.into(),
            ..Default::default()
        };
        f.units.insert("x.service".into(), unit("enabled"));
        f.iptables.insert(
            "v4/filter".into(),
            Some("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [3:180]\n:DOCKER-USER - [0:0]\n-A FORWARD -j DOCKER-USER\n-A FORWARD -j DOCKER-FORWARD\n-A DOCKER-USER -i eth0 -j DROP\nCOMMIT".into()),
        );
        let installed = PackageState {
            installed: true,
            ..PackageState::absent()
        };
        f.packages.insert("curl".into(), installed.clone());
        f.packages.insert("ufw".into(), installed);
        for c in [&enabled, &jump, &user, &pkgs] {
            assert!(c.judge_facts(&f).pass, "{:?}", c.judge_facts(&f));
        }
        assert_eq!(
            jump.judge_facts(&f).evidence,
            "-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n-A FORWARD -j DOCKER-FORWARD"
        );
        assert_eq!(
            user.judge_facts(&f).evidence,
            "-N DOCKER-USER\n-A DOCKER-USER -i eth0 -j DROP"
        );
        // drift: disabled, the jump and the chain gone, a package removed
        f.units.insert("x.service".into(), unit("disabled"));
        f.iptables.insert(
            "v4/filter".into(),
            Some("*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT".into()),
        );
        f.packages.insert("ufw".into(), PackageState::absent());
        assert_eq!(enabled.judge_facts(&f).evidence, "exit 1: disabled");
        assert_eq!(jump.judge_facts(&f).evidence, "-P FORWARD ACCEPT");
        assert!(!jump.judge_facts(&f).pass);
        assert_eq!(
            user.judge_facts(&f).evidence,
            "exit 1: iptables: No chain/target/match by that name."
        );
        let v = pkgs.judge_facts(&f);
        assert!(!v.pass && v.evidence == "missing: ufw", "{v:?}");
        f.units.insert("x.service".into(), UnitState::default());
        assert!(enabled.judge_facts(&f).evidence.contains("No such file"));
    }

    /// Stat lines, a swap file's use and a login shell are answered as `stat -c`, the swap
    /// control and `getent passwd | cut` print them, from facts that never read a file.
    #[test]
    fn stat_swap_and_shell_facts_answer_as_their_commands() {
        use crate::facts::{Accounts, SwapArea, UserEntry};
        let stat = Check::from_fact(
            "s",
            "s",
            "stat -c '%a %U %n' /home/a/.ssh /home/a/.ssh/authorized_keys",
            FactQuery::Stat {
                paths: vec!["/home/a/.ssh".into(), "/home/a/.ssh/authorized_keys".into()],
                format: "%a %U %n".into(),
            },
            Expect::Equals("700 a /home/a/.ssh\n600 a /home/a/.ssh/authorized_keys".into()),
        );
        let swap = Check::from_fact(
            "w",
            "w",
            "swap_file_active.sh /swapfile",
            FactQuery::SwapFileActive("/swapfile".into()),
            Expect::Line("ok".into()),
        );
        let shell = Check::from_fact(
            "h",
            "h",
            "getent passwd a | cut -d: -f7",
            FactQuery::Shell("a".into()),
            Expect::Equals("/bin/bash".into()),
        );
        let mut req = FactRequest::new();
        for c in [&stat, &swap, &shell] {
            c.request(&mut req);
        }
        assert!(req.commands.is_empty() && req.files.is_empty());
        assert!(req.stats.contains("/home/a/.ssh") && req.swaps && req.accounts);
        let mut f = Facts::default();
        f.host.virt = "none".into();
        f.files.insert(
            "/home/a/.ssh".into(),
            FileState::Dir {
                mode: 0o700,
                owner: "a".into(),
                group: "a".into(),
            },
        );
        f.files.insert(
            "/home/a/.ssh/authorized_keys".into(),
            FileState::File {
                mode: 0o600,
                owner: "a".into(),
                group: "a".into(),
                size: 80,
                content: None,
                sha256: String::new(),
            },
        );
        f.swaps = Some(vec![SwapArea {
            path: "/swapfile".into(),
            size_kib: 65536,
        }]);
        let mut a = Accounts::default();
        a.users.insert(
            "a".into(),
            UserEntry {
                uid: 1000,
                gid: 1000,
                home: "/home/a".into(),
                shell: "/bin/bash".into(),
            },
        );
        f.accounts = Some(a);
        for c in [&stat, &swap, &shell] {
            assert!(c.judge_facts(&f).pass, "{:?}", c.judge_facts(&f));
        }
        // drift: ~/.ssh a symlink, the key file gone, swap off, the user gone
        f.files.insert(
            "/home/a/.ssh".into(),
            FileState::Link {
                target: "/etc/cron.hourly".into(),
            },
        );
        f.files
            .insert("/home/a/.ssh/authorized_keys".into(), FileState::Absent);
        f.swaps = Some(vec![]);
        f.accounts = Some(Accounts::default());
        let v = stat.judge_facts(&f);
        assert!(!v.pass, "{v:?}");
        assert_eq!(
            v.evidence,
            "exit 1: 777 ? /home/a/.ssh\nstat: cannot statx '/home/a/.ssh/authorized_keys': No such file or directory"
        );
        assert_eq!(swap.judge_facts(&f).evidence, "FAIL: not active");
        assert!(!shell.judge_facts(&f).pass);
        // in a container the kernel refuses swap: said, and passed
        f.host.virt = "systemd-nspawn".into();
        let v = swap.judge_facts(&f);
        assert!(
            v.pass && v.evidence.starts_with("in a container (systemd-nspawn)"),
            "{v:?}"
        );
    }
}
