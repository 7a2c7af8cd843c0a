//! Reading the probe's output back into [`Facts`].

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;

use super::request::{
    APT_CONFIG_KEY, APT_LISTS, APT_STAMP, GROUP, PASSWD, batchable, file_key, is_apt_source,
    sysctl_path,
};
use super::*;

impl Facts {
    /// Parses a probe's stdout. The `end` section must be present, so a probe cut short is
    /// never mistaken for a host without those facts.
    pub fn parse(req: &FactRequest, nonce: &str, stdout: &str) -> Result<Facts, ParseError> {
        Self::parse_output(req, nonce, stdout.as_bytes())
    }

    /// Parses a probe's raw stdout: text sections, then after the `end` marker the raw (maybe
    /// gzipped) tar of the files' contents.
    pub fn parse_output(
        req: &FactRequest,
        nonce: &str,
        stdout: &[u8],
    ) -> Result<Facts, ParseError> {
        let (text, tail) = split_at_end(stdout, nonce).unwrap_or((stdout, &[]));
        Self::parse_parts(req, nonce, &String::from_utf8_lossy(text), tail)
    }

    fn parse_parts(
        req: &FactRequest,
        nonce: &str,
        stdout: &str,
        tail: &[u8],
    ) -> Result<Facts, ParseError> {
        let marker = format!("@@{nonce} ");
        let mut sections: Vec<(String, String, Vec<&str>)> = Vec::new();
        for line in stdout.lines() {
            if let Some(rest) = line.strip_prefix(&marker) {
                let (kind, arg) = rest.split_once(' ').unwrap_or((rest, "-"));
                sections.push((kind.to_owned(), arg.to_owned(), Vec::new()));
            } else if let Some(last) = sections.last_mut() {
                last.2.push(line);
            }
        }
        if !sections.iter().any(|(k, _, _)| k == "end") {
            return Err(ParseError(
                "the probe stopped before its end (host output cut short)".into(),
            ));
        }
        let mut facts = Facts::default();
        let mut stats: Option<&[&str]> = None;
        let mut contents_gz = false;
        let mut clock: Option<u64> = None;
        let mut sums: Option<&[&str]> = None;
        let mut apt: Option<&[&str]> = None;
        for (kind, arg, lines) in &mut sections {
            if kind == "sshd" || kind == "packages" {
                *lines = remembered(req, kind, lines, &mut facts)?;
            } else if kind == "cmd" && arg == APT_CONFIG_DUMP && req.asks_apt_config() {
                *lines = remembered(req, APT_CONFIG_KEY, lines, &mut facts)?;
            }
        }
        for (kind, arg, lines) in &sections {
            match kind.as_str() {
                "host" => facts.host = parse_host(lines),
                "oddfile" => {
                    let path = hex::decode(arg)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .ok_or_else(|| ParseError(format!("bad file section {arg:?}")))?;
                    let state = parse_file(&path, lines)?;
                    facts.files.insert(path, state);
                }
                "sysctls" => {
                    for key in &req.sysctls {
                        let prefix = format!("{}:", sysctl_path(key));
                        let v: Vec<&str> = lines
                            .iter()
                            .filter_map(|l| l.strip_prefix(&prefix))
                            .collect();
                        let v = (!v.is_empty()).then(|| normalize_sysctl(&v.join(" ")));
                        facts.sysctls.insert(key.clone(), v);
                    }
                }
                "stats" => stats = Some(lines),
                "contents" => {
                    contents_gz = arg == "gz";
                    clock = lines
                        .iter()
                        .find_map(|l| l.strip_prefix("now ")?.trim().parse().ok());
                }
                "sums" => sums = Some(lines),
                "packages" => {
                    for line in lines {
                        let f: Vec<&str> = line.split('\t').collect();
                        if let [name, status, version] = f.as_slice() {
                            let status = status.trim().to_owned();
                            let installed = status.starts_with("ii") || status.starts_with("hi");
                            facts.packages.insert(
                                (*name).to_owned(),
                                PackageState {
                                    installed,
                                    version: (*version).to_owned(),
                                    status,
                                },
                            );
                        }
                    }
                }
                "units" => {
                    // Under every name it was asked by ("fail2ban" for a resource,
                    // "fail2ban.service" for a check): systemctl prints one block per name.
                    for unit in parse_units(lines) {
                        let mut named = false;
                        for u in req.units.iter().filter(|u| unit_matches(u, &unit.0)) {
                            named = true;
                            facts
                                .units
                                .entry(u.clone())
                                .or_insert_with(|| unit.1.clone());
                        }
                        if !named {
                            facts.units.insert(unit.0.clone(), unit.1);
                        }
                    }
                }
                "swaps" => {
                    let areas = lines
                        .iter()
                        .skip(1)
                        .filter_map(|l| {
                            let f: Vec<&str> = l.split_whitespace().collect();
                            Some(SwapArea {
                                path: (*f.first()?).to_owned(),
                                size_kib: f.get(2)?.parse().ok()?,
                            })
                        })
                        .collect();
                    facts.swaps = Some(areas);
                }
                "iptables" => {
                    let text = lines.join("\n");
                    let v = if text.trim() == "@absent" {
                        None
                    } else {
                        Some(text)
                    };
                    facts.iptables.insert(arg.clone(), v);
                }
                "listeners" => {
                    facts.tcp_listeners = Some(match lines.split_first() {
                        Some((first, rest)) if first.trim() == "@ss" => {
                            rest.iter().filter_map(|l| ss_listener(l)).collect()
                        }
                        _ => lines.iter().filter_map(|l| proc_addr(l.trim())).collect(),
                    })
                }
                "ufw_live" => {
                    facts.ufw_live = Some(lines.first().is_some_and(|l| l.trim() == "yes"))
                }
                "sshd" => facts.sshd = Some(parse_sshd(lines)),
                "apt" => apt = Some(lines),
                "cmd" => {
                    let (rc, mut body) = split_rc(lines);
                    if body.len() > MAX_CHECK_OUTPUT {
                        let mut cut = MAX_CHECK_OUTPUT;
                        while !body.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        body.truncate(cut);
                    }
                    facts
                        .commands
                        .insert(arg.clone(), CommandResult { rc, output: body });
                }
                _ => {}
            }
        }
        let mut bodies: BTreeMap<String, Member> = BTreeMap::new();
        if !tail.is_empty() {
            bodies = if contents_gz {
                untar(flate2::read::GzDecoder::new(tail))?
            } else {
                untar(tail)?
            };
        }
        if let Some(stats) = stats {
            with_remembered(req, stats, &mut bodies, clock, &mut facts.cache_updates);
        }
        if let Some(lines) = apt {
            facts.apt = Some(parse_apt(lines, stats.unwrap_or_default(), &bodies));
        }
        if let Some(stats) = stats {
            let read = req.read_set();
            let batch = read
                .iter()
                .copied()
                .chain(req.stats.iter().filter(|p| !read.contains(p)))
                .filter(|p| batchable(p));
            let files = parse_batch(
                batch,
                &read,
                stats,
                bodies,
                sums.unwrap_or_default(),
                &mut facts.mtimes,
            )?;
            facts.files.extend(files);
        }
        if req.accounts {
            // From the batch: read, then dropped unless they were asked for as files.
            let text = |f: &mut Facts, path: &str| {
                let t = f
                    .files
                    .get(path)
                    .and_then(FileState::text)
                    .map(str::to_owned);
                if !req.files.contains(path) && !req.stats.contains(path) {
                    f.files.remove(path);
                }
                t.unwrap_or_default()
            };
            let (p, g) = (text(&mut facts, PASSWD), text(&mut facts, GROUP));
            let p: Vec<&str> = p.lines().collect();
            let g: Vec<&str> = g.lines().collect();
            facts.accounts = Some(parse_accounts(&p, &g));
        }
        // The same check code asked under several ids ran once (the probe sends it once, under
        // the first id): every id gets that run's result.
        for (id, code) in &req.commands {
            if facts.commands.contains_key(id) {
                continue;
            }
            let first = req
                .commands
                .iter()
                .find(|(_, c)| *c == code)
                .map(|(i, _)| i);
            if let Some(r) = first.and_then(|f| facts.commands.get(f)).cloned() {
                facts.commands.insert(id.clone(), r);
            }
        }
        if req.ufw_live && facts.ufw_live.is_none() {
            facts.ufw_live = Some(
                facts
                    .iptables
                    .get("v4/filter")
                    .and_then(Option::as_deref)
                    .is_some_and(|t| t.lines().any(|l| l.starts_with(":ufw-user-input "))),
            );
        }
        // Anything requested but missing from the output would make planning guess: fill the
        // package and unit maps with "absent" so the plan sees a definite answer.
        for p in &req.packages {
            facts
                .packages
                .entry(p.clone())
                .or_insert_with(PackageState::absent);
        }
        for u in &req.units {
            facts.units.entry(u.clone()).or_insert_with(|| UnitState {
                load_state: "not-found".into(),
                ..UnitState::default()
            });
        }
        Ok(facts)
    }
}

/// A cacheable section's lines: the remembered output when the host answered `@cached`;
/// otherwise its own, after the `@fp` line, which (with a clean answer) becomes the update
/// the engine remembers for the next run.
fn remembered<'a>(
    req: &'a FactRequest,
    kind: &str,
    lines: &[&'a str],
    facts: &mut Facts,
) -> Result<Vec<&'a str>, ParseError> {
    match lines.first() {
        Some(&"@cached") => {
            let c = req.cache_hit(kind).ok_or_else(|| {
                ParseError(format!(
                    "the host says its {kind} answer is cached, but none was sent"
                ))
            })?;
            Ok(c.output.lines().collect())
        }
        Some(first) if first.starts_with("@fp ") => {
            let body = &lines[1..];
            // An answer with an exit status is kept only from a run that succeeded.
            let clean = kind == "packages" || body.last() == Some(&"@rc 0");
            let fp = first["@fp ".len()..].to_owned();
            if clean && !fp.is_empty() {
                facts.cache_updates.insert(
                    kind.to_owned(),
                    Cached {
                        fp,
                        args: if kind == "packages" {
                            req.packages_args()
                        } else {
                            String::new()
                        },
                        output: body.join("\n"),
                    },
                );
            }
            Ok(body.to_vec())
        }
        _ => Ok(lines.to_vec()),
    }
}

/// The remembered contents of the files the host left out of its tar (their find record is the
/// remembered one: [`FactRequest::remembered_files`]) join the tar's; and each file the tar
/// carried that may be remembered ([`FactRequest::may_remember`]), is text, and whose record is
/// at least [`REMEMBER_AFTER_SECS`] older than the host's `clock`, becomes an update.
fn with_remembered(
    req: &FactRequest,
    stats: &[&str],
    bodies: &mut BTreeMap<String, Member>,
    clock: Option<u64>,
    updates: &mut BTreeMap<String, Cached>,
) {
    let known = req.remembered_files();
    for line in stats {
        let f: Vec<&str> = line.splitn(9, '|').collect();
        let [kind, _, _, _, size, _, ctime, _, path] = f.as_slice() else {
            continue;
        };
        if *path == "/." {
            break;
        }
        if *kind != "f" {
            continue;
        }
        match bodies.get(*path) {
            Some(Member::File(body)) => {
                let changed = ctime.split('.').next().and_then(|s| s.parse::<u64>().ok());
                let settled = matches!((changed, clock), (Some(c), Some(now)) if c.saturating_add(REMEMBER_AFTER_SECS) <= now);
                let whole = size.parse::<usize>().ok() == Some(body.len());
                if settled
                    && whole
                    && req.carries(path)
                    && req.may_remember(path, line)
                    && let Ok(text) = std::str::from_utf8(body)
                {
                    updates.insert(
                        file_key(path),
                        Cached {
                            fp: (*line).to_owned(),
                            args: String::new(),
                            output: text.to_owned(),
                        },
                    );
                }
            }
            Some(Member::Link(_)) => {}
            None => {
                if let Some(c) = known.get(path)
                    && c.fp == *line
                {
                    bodies.insert(
                        (*path).to_owned(),
                        Member::File(c.output.as_bytes().to_vec()),
                    );
                }
            }
        }
    }
}

fn unit_matches(requested: &str, id: &str) -> bool {
    requested == id || format!("{requested}.service") == id
}

fn parse_host(lines: &[&str]) -> HostInfo {
    let mut h = HostInfo::default();
    for line in lines {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().to_owned();
        let opt = |v: String| if v.is_empty() { None } else { Some(v) };
        match k {
            "os_id" => h.os_id = v,
            "os_version_id" => h.os_version_id = v,
            "os_codename" => h.os_codename = v,
            "os_pretty" => h.os_pretty = v,
            "hostname" => h.hostname = v,
            "kernel" => h.kernel = v,
            "arch" => h.arch = v,
            "virt" => h.virt = v,
            "default_iface" => h.default_iface = opt(v),
            "default_iface6" => h.default_iface6 = opt(v),
            "has_auth_log" => h.has_auth_log = v == "1",
            "systemd" => h.systemd = v == "1",
            "ssh_connection" => h.ssh_connection = SshConnection::parse(&v),
            _ => {}
        }
    }
    h
}

fn parse_file(path: &str, lines: &[&str]) -> Result<FileState, ParseError> {
    let head = lines.first().copied().unwrap_or("absent");
    let bad = || ParseError(format!("unexpected stat output for {path}: {head:?}"));
    let fields: Vec<&str> = head.split('|').collect();
    match fields.first().copied() {
        Some("absent") => Ok(FileState::Absent),
        Some("other") => Ok(FileState::Other),
        Some("link") => Ok(FileState::Link {
            target: fields.get(1..).map(|f| f.join("|")).unwrap_or_default(),
        }),
        Some("dir") => {
            let [_, mode, owner, group] = fields.as_slice() else {
                return Err(bad());
            };
            Ok(FileState::Dir {
                mode: parse_mode(mode).ok_or_else(bad)?,
                owner: (*owner).into(),
                group: (*group).into(),
            })
        }
        Some("file") => {
            let [_, mode, owner, group, size] = fields.as_slice() else {
                return Err(bad());
            };
            let size: u64 = size.parse().map_err(|_| bad())?;
            let body = lines.get(1).copied().unwrap_or("");
            let (content, sha256) = if body.trim() == "-" {
                (None, String::new())
            } else if size <= MAX_FETCHED_FILE {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(body.trim())
                    .map_err(|e| ParseError(format!("bad content for {path}: {e}")))?;
                let sha = sha256_hex(&bytes);
                (Some(bytes), sha)
            } else {
                (None, body.trim().to_owned())
            };
            Ok(FileState::File {
                mode: parse_mode(mode).ok_or_else(bad)?,
                owner: (*owner).into(),
                group: (*group).into(),
                size,
                content,
                sha256,
            })
        }
        _ => Err(bad()),
    }
}

/// The batched file facts: `find -printf` lines (`type|mode|owner|group|size|mtime|ctime|inode|path`),
/// the tar (maybe gzipped) of the small files that were asked to be read and of every link
/// (its header carries the target, framed by length), and `sha256sum` lines of the big ones.
/// A path `find` did not print does not exist. Records end at the `/.` marker (what follows
/// are the fingerprint inputs, read by the shell); a path printed twice before it means the
/// output is not what the probe printed, and is refused. Each path's modification time (whole
/// seconds) goes into `mtimes`.
fn parse_batch<'a>(
    paths: impl Iterator<Item = &'a String>,
    read: &BTreeSet<&String>,
    stats: &[&str],
    mut bodies: BTreeMap<String, Member>,
    sums: &[&str],
    mtimes: &mut BTreeMap<String, i64>,
) -> Result<BTreeMap<String, FileState>, ParseError> {
    let bad = |line: &str| ParseError(format!("unexpected find output: {line:?}"));
    let mut found: BTreeMap<&str, FileState> = BTreeMap::new();
    let mut stamps: BTreeMap<&str, i64> = BTreeMap::new();
    for line in stats {
        let f: Vec<&str> = line.splitn(9, '|').collect();
        let [kind, mode, owner, group, size, mtime, _ctime, _inode, path] = f.as_slice() else {
            return Err(bad(line));
        };
        if *path == "/." {
            break;
        }
        if let Some(secs) = mtime.split('.').next().and_then(|s| s.parse().ok()) {
            stamps.insert(path, secs);
        }
        let state = match *kind {
            // The target comes from the tar.
            "l" => FileState::Link {
                target: String::new(),
            },
            "d" => FileState::Dir {
                mode: parse_mode(mode).ok_or_else(|| bad(line))?,
                owner: (*owner).into(),
                group: (*group).into(),
            },
            "f" => FileState::File {
                mode: parse_mode(mode).ok_or_else(|| bad(line))?,
                owner: (*owner).into(),
                group: (*group).into(),
                size: size.parse().map_err(|_| bad(line))?,
                content: None,
                sha256: String::new(),
            },
            _ => FileState::Other,
        };
        if found.insert(path, state).is_some() {
            return Err(ParseError(format!(
                "find printed {path:?} twice: the host's answer is not what the probe prints"
            )));
        }
    }
    let mut hashes: BTreeMap<&str, &str> = BTreeMap::new();
    for line in sums {
        // `sha256sum` escapes odd names with a leading backslash; those stay unhashed.
        if let Some((sha, path)) = line.split_once("  ") {
            hashes.insert(path, sha);
        }
    }
    let mut out = BTreeMap::new();
    for path in paths {
        if let Some(secs) = stamps.get(path.as_str()) {
            mtimes.insert(path.clone(), *secs);
        }
        let mut state = found.remove(path.as_str()).unwrap_or(FileState::Absent);
        if let FileState::Link { target } = &mut state {
            match bodies.remove(path.as_str()) {
                Some(Member::Link(t)) => *target = t,
                _ => {
                    return Err(ParseError(format!(
                        "{path} changed while it was being read; run again"
                    )));
                }
            }
        }
        if let FileState::File {
            size,
            content,
            sha256,
            ..
        } = &mut state
        {
            if !read.contains(path) {
                // Stat only: never read or hashed.
            } else if let Some(Member::File(bytes)) = bodies.remove(path.as_str()) {
                // The archive is the truth if the file changed between stat and read.
                *size = bytes.len() as u64;
                *sha256 = sha256_hex(&bytes);
                *content = Some(bytes);
            } else if *size <= MAX_FETCHED_FILE {
                return Err(ParseError(format!(
                    "{path} changed while it was being read; run again"
                )));
            } else if let Some(sha) = hashes.get(path.as_str()) {
                *sha256 = (*sha).to_owned();
            }
        }
        out.insert(path.clone(), state);
    }
    Ok(out)
}

/// The probe's text (through the `end` marker line) and the raw bytes after it; `None` when
/// the probe did not reach its end.
pub fn split_at_end<'a>(stdout: &'a [u8], nonce: &str) -> Option<(&'a [u8], &'a [u8])> {
    let marker = format!("@@{nonce} end -\n");
    let m = marker.as_bytes();
    let mut from = 0;
    while let Some(i) = stdout[from..].windows(m.len()).position(|w| w == m) {
        let at = from + i;
        // a marker only at the start of a line
        if at == 0 || stdout[at - 1] == b'\n' {
            return Some(stdout.split_at(at + m.len()));
        }
        from = at + 1;
    }
    None
}

/// A member of the probe's tar: a regular file's content or a link's target.
#[derive(Debug)]
pub(super) enum Member {
    File(Vec<u8>),
    Link(String),
}

/// The regular files and symbolic links of a tar stream by name. The stream is the host's
/// word: a header may claim any size (2^62) and a gzip stream may unpack to any length, so
/// every entry is held to [`MAX_FETCHED_FILE`] before anything is allocated, the whole stream
/// to [`MAX_FETCHED_TOTAL`], and allocation is fallible.
pub(super) fn untar(stream: impl std::io::Read) -> Result<BTreeMap<String, Member>, ParseError> {
    use std::io::Read as _;
    let bad = |e: std::io::Error| ParseError(format!("bad file contents archive: {e}"));
    let mut out = BTreeMap::new();
    let mut archive = tar::Archive::new(Capped {
        inner: stream,
        left: MAX_FETCHED_TOTAL,
    });
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if entry.header().entry_type().is_symlink() {
            let target = entry
                .link_name_bytes()
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .unwrap_or_default();
            out.insert(name, Member::Link(target));
            continue;
        }
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let size = entry.size();
        if size > MAX_FETCHED_FILE {
            return Err(ParseError(format!(
                "the host sent {name} as {size} bytes, over the {} KiB a fetched file may have",
                MAX_FETCHED_FILE >> 10
            )));
        }
        let mut body = Vec::new();
        body.try_reserve_exact(usize::try_from(size).unwrap_or(usize::MAX))
            .map_err(|e| ParseError(format!("no memory for {name}: {e}")))?;
        (&mut entry)
            .take(MAX_FETCHED_FILE)
            .read_to_end(&mut body)
            .map_err(bad)?;
        out.insert(name, Member::File(body));
    }
    Ok(out)
}

/// A reader that fails once more than `left` bytes came through.
struct Capped<R> {
    inner: R,
    left: u64,
}

impl<R: std::io::Read> std::io::Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            let mut one = [0u8; 1];
            return match self.inner.read(&mut one)? {
                0 => Ok(0),
                _ => Err(std::io::Error::other(format!(
                    "the host sent more than {} MiB of file contents",
                    MAX_FETCHED_TOTAL >> 20
                ))),
            };
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

fn parse_mode(s: &str) -> Option<u32> {
    u32::from_str_radix(s.trim(), 8).ok()
}

/// Hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Decodes `/proc/net`'s `ADDR:PORT` (hex; IPv4 as one little-endian word, IPv6 as four).
pub fn proc_addr(s: &str) -> Option<(String, u16)> {
    let (a, p) = s.split_once(':')?;
    let port = u16::from_str_radix(p, 16).ok()?;
    let addr = match a.len() {
        8 => {
            let w = u32::from_str_radix(a, 16).ok()?;
            std::net::Ipv4Addr::from(w.swap_bytes()).to_string()
        }
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                let w = u32::from_str_radix(&a[i * 8..i * 8 + 8], 16).ok()?;
                bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
            }
            std::net::Ipv6Addr::from(bytes).to_string()
        }
        _ => return None,
    };
    Some((addr, port))
}

/// A listening socket's local address and port from a line of `ss -Htn state listening`
/// (`0 128 0.0.0.0:22 0.0.0.0:*`; a state column first when an older ss prints one), as
/// [`proc_addr`] gives it: `[::1]` unbracketed, `127.0.0.53%lo` without its interface, and
/// `*` (a dual-stack socket) as `::`.
pub fn ss_listener(line: &str) -> Option<(String, u16)> {
    let mut w = line.split_whitespace().peekable();
    if w.peek()?.starts_with(|c: char| c.is_ascii_alphabetic()) {
        w.next();
    }
    let local = w.nth(2)?;
    let (host, port) = local.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host.split('%').next().unwrap_or(host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addr: std::net::IpAddr = if host == "*" {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    } else {
        host.parse().ok()?
    };
    Some((addr.to_string(), port))
}

/// Whether an address (as [`proc_addr`] prints it) is loopback: 127.0.0.0/8, ::1, or an
/// IPv4-mapped 127.x.
pub fn is_loopback(addr: &str) -> bool {
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => a.is_loopback(),
        Ok(std::net::IpAddr::V6(a)) => {
            a.is_loopback() || a.to_ipv4_mapped().is_some_and(|m| m.is_loopback())
        }
        Err(_) => false,
    }
}

/// sysctl values come with tabs between fields ("4096\t131072\t6291456"); compare them with
/// single spaces, the way sysctl.conf writes them.
pub fn normalize_sysctl(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn parse_units(lines: &[&str]) -> Vec<(String, UnitState)> {
    let mut out = Vec::new();
    let mut cur: Option<(String, UnitState)> = None;
    for line in lines.iter().chain(std::iter::once(&"")) {
        if line.trim().is_empty() {
            if let Some(u) = cur.take() {
                out.push(u);
            }
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let u = cur.get_or_insert_with(|| (String::new(), UnitState::default()));
        match k {
            "Id" => u.0 = v.to_owned(),
            "LoadState" => u.1.load_state = v.to_owned(),
            "ActiveState" => u.1.active_state = v.to_owned(),
            "SubState" => u.1.sub_state = v.to_owned(),
            "UnitFileState" => u.1.unit_file_state = v.to_owned(),
            "NeedDaemonReload" => u.1.need_daemon_reload = v == "yes",
            _ => {
                u.1.props.insert(k.to_owned(), v.to_owned());
            }
        }
    }
    out
}

fn parse_accounts(passwd: &[&str], group: &[&str]) -> Accounts {
    let mut a = Accounts::default();
    for line in passwd {
        let f: Vec<&str> = line.split(':').collect();
        if let [name, _, uid, gid, _, home, shell] = f.as_slice()
            && let (Ok(uid), Ok(gid)) = (uid.parse(), gid.parse())
        {
            a.users.insert(
                (*name).to_owned(),
                UserEntry {
                    uid,
                    gid,
                    home: (*home).into(),
                    shell: (*shell).into(),
                },
            );
        }
    }
    for line in group {
        let f: Vec<&str> = line.split(':').collect();
        if let [name, _, gid, members] = f.as_slice()
            && let Ok(gid) = gid.parse()
        {
            let members = members
                .split(',')
                .filter(|m| !m.is_empty())
                .map(str::to_owned)
                .collect();
            a.groups
                .insert((*name).to_owned(), GroupEntry { gid, members });
        }
    }
    a
}

fn split_rc(lines: &[&str]) -> (i32, String) {
    let mut body: Vec<&str> = lines.to_vec();
    let mut rc = -1;
    if let Some(pos) = body.iter().rposition(|l| l.starts_with("@rc ")) {
        rc = body[pos]
            .trim_start_matches("@rc ")
            .trim()
            .parse()
            .unwrap_or(-1);
        body.truncate(pos);
    }
    (rc, body.join("\n"))
}

fn parse_sshd(lines: &[&str]) -> SshdEffective {
    let (rc, body) = split_rc(lines);
    let mut e = SshdEffective {
        ok: rc == 0,
        ..SshdEffective::default()
    };
    if rc != 0 {
        e.error = Some(body.trim().to_owned());
        return e;
    }
    for line in body.lines() {
        if let Some((k, v)) = line.split_once(' ') {
            e.values
                .entry(k.to_ascii_lowercase())
                .or_default()
                .push(v.trim().to_owned());
        }
    }
    e
}

/// apt's section (the lists' and stamp's mtimes, the clock, the lists' names), with the source
/// files' find records and contents.
fn parse_apt(lines: &[&str], stats: &[&str], bodies: &BTreeMap<String, Member>) -> AptState {
    let mut kv = BTreeMap::new();
    let mut lists = BTreeSet::new();
    for line in lines {
        if let Some(path) = line.strip_prefix("list ") {
            // An unmatched glob prints itself.
            if let Some(name) = path
                .strip_prefix(APT_LISTS)
                .and_then(|p| p.strip_prefix('/'))
                && !name.contains('*')
            {
                lists.insert(name.to_owned());
            }
        } else if let Some((k, v)) = line.rsplit_once(' ') {
            let k = match k {
                APT_LISTS => "lists",
                APT_STAMP => "update_stamp",
                k => k,
            };
            kv.insert(k, v.trim().parse::<u64>().unwrap_or(0));
        }
    }
    let now = kv.get("now").copied().unwrap_or(0);
    let lists_dir = kv.get("lists").copied().unwrap_or(0);
    let stamp = kv.get("update_stamp").copied().unwrap_or(0);
    let last = lists_dir.max(stamp);
    let secs = |t: &str| -> u64 {
        t.split('.')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    let mut seen = BTreeSet::new();
    let mut changed_sources = Vec::new();
    let mut newest_source = 0;
    let mut without_lists = BTreeSet::new();
    let mut records = stats.iter();
    while let Some(line) = records.next() {
        let f: Vec<&str> = line.splitn(9, '|').collect();
        let [kind, _, _, _, _, mtime, ctime, _, path] = f.as_slice() else {
            continue;
        };
        if *kind == "l" {
            records.next();
            continue;
        }
        if *kind != "f" || !is_apt_source(path) || !seen.insert(*path) {
            continue;
        }
        // When the file last changed on this host: its ctime (a package or `cp -p` may give
        // it an old mtime, never an old ctime), or a newer mtime; nothing in the host's future,
        // which no refresh could ever catch up with.
        let changed = [secs(mtime), secs(ctime)]
            .into_iter()
            .filter(|t| *t <= now)
            .max()
            .unwrap_or(0);
        newest_source = newest_source.max(changed);
        if last != 0 && changed > last {
            changed_sources.push((*path).to_owned());
        }
        let Some(Member::File(b)) = bodies.get(*path) else {
            continue;
        };
        let text = String::from_utf8_lossy(b);
        for repo in crate::aptsources::parse(path, &text) {
            if !repo.indexed(&lists) {
                without_lists.insert(repo.label());
            }
        }
    }
    // A refresh (which touches the stamp) after the sources and the lists last changed already
    // asked for every repository: one still without lists is unreachable or empty, and asking
    // again on every run would never converge. The age window retries it.
    let tried = stamp != 0 && stamp >= lists_dir && stamp >= newest_source;
    AptState {
        lists_age_secs: if last == 0 {
            u64::MAX
        } else {
            now.saturating_sub(last)
        },
        reboot_required: kv.get("reboot_required").copied() == Some(1),
        unindexed: if tried {
            Vec::new()
        } else {
            without_lists.into_iter().collect()
        },
        changed_sources,
    }
}
