//! The probe script: one POSIX shell script that prints every requested fact.
//!
//! Its code is the `.sh` files in `probe/`, each a section; values (the marker lines, paths,
//! packages, units, checks, remembered fingerprints) reach them as positional parameters
//! written by [`Script::call`]. The probe's own `$1` (the controller's `SSH_CONNECTION`) is
//! kept in `rampart_conn` first.

use super::request::{
    APT_CONFIG_COMMAND, APT_CONFIG_KEY, APT_LISTS, APT_SOURCE_LIST, APT_STAMP, batchable,
    is_apt_source, sysctl_path,
};
use super::{FactRequest, GZIP_ABOVE, MAX_FETCHED_FILE};
use crate::shell::Script;
use crate::verify::DOCKER_API_FN;

/// The probe's frame: one brace group (sh parses it completely before running any of it, so
/// no command can swallow the rest of the script from stdin), the controller's address kept,
/// a known locale and PATH.
const BEGIN: &str = "{\nrampart_conn=${1:-}\nexport LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const END: &str = "} </dev/null";
const HOST_SH: &str = include_str!("probe/host.sh");
const SOURCES_SH: &str = include_str!("probe/sources.sh");
const STATS_SH: &str = include_str!("probe/stats.sh");
const CONTENTS_SH: &str = include_str!("probe/contents.sh");
const SUMS_SH: &str = include_str!("probe/sums.sh");
const ODDFILE_SH: &str = include_str!("probe/oddfile.sh");
const SYSCTLS_SH: &str = include_str!("probe/sysctls.sh");
const PACKAGES_SH: &str = include_str!("probe/packages.sh");
pub(super) const UNITS_SH: &str = include_str!("probe/units.sh");
const SWAPS_SH: &str = include_str!("probe/swaps.sh");
const LISTENERS_SH: &str = include_str!("probe/listeners.sh");
const IPTABLES_SH: &str = include_str!("probe/iptables.sh");
const UFW_LIVE_SH: &str = include_str!("probe/ufw_live.sh");
pub(super) const SSHD_SH: &str = include_str!("probe/sshd.sh");
const APT_SH: &str = include_str!("probe/apt.sh");
pub(super) const APTCONF_SH: &str = include_str!("probe/aptconf.sh");
const CMD_SH: &str = include_str!("probe/cmd.sh");
const MEMO_SH: &str = include_str!("probe/memo.sh");

/// The daemon queries `probe/memo.sh` can answer from one run: each costs a host 10-90 ms
/// (`ufw` is Python), and a full site's checks repeat them.
const MEMO_CALLS: [&str; 5] = [
    "sshd -T",
    "ufw status",
    "ufw status verbose",
    "docker info",
    "docker_api /info",
];

/// Whether shell code makes exactly this call: the words stand alone (not `sshd -T -C ...`,
/// not `ufw status verbose` for `ufw status`), ended by the end of a command.
fn makes_call(code: &str, call: &str) -> bool {
    code.match_indices(call).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + call.len()..].trim_start_matches([' ', '\t']);
        let starts = before
            .is_none_or(|c| matches!(c, ' ' | '\t' | '\n' | '(' | ';' | '|' | '&' | '`' | '{'));
        let ends = after.is_empty()
            || after.starts_with(['\n', ')', ';', '|', '&', '`', '>', '}'])
            || after.starts_with("2>");
        starts && ends
    })
}

/// The calls worth a memo: those that at least two checks make, and `sshd -T` when one does
/// and the facts ask for it too (`sshd_facts`: the facts' run is the memo's, so one check
/// saves a run).
fn memo_calls<'a>(
    commands: impl Iterator<Item = &'a String> + Clone,
    sshd_facts: bool,
) -> Vec<&'static str> {
    MEMO_CALLS
        .into_iter()
        .filter(|call| {
            let need = if sshd_facts && *call == "sshd -T" {
                1
            } else {
                2
            };
            commands.clone().filter(|c| makes_call(c, call)).count() >= need
        })
        .collect()
}
const END_SH: &str = include_str!("probe/end.sh");

/// Paths one per line, between newlines: what a `case` matches a path against literally.
fn lines<'a>(paths: impl IntoIterator<Item = &'a str>) -> String {
    let mut s = String::from("\n");
    for p in paths {
        s.push_str(p);
        s.push('\n');
    }
    if s.len() == 1 { String::new() } else { s }
}

fn flag(on: bool) -> String {
    if on { "1" } else { "" }.to_owned()
}

impl FactRequest {
    /// The probe: one POSIX shell script, run as root, that prints every requested fact in
    /// sections framed by `@@<nonce> <kind> <arg>` lines. Host basics are always included.
    pub fn probe_script(&self, nonce: &str) -> String {
        let marker = |kind: &str, arg: &str| format!("@@{nonce} {kind} {arg}");
        let mut s = Script::new();
        s.raw(BEGIN);
        s.call(HOST_SH, [marker("host", "-")]);
        // Files: one `find` stats them all, one `tar` (after the `end` marker) carries every
        // small file's content, and one `sha256sum` hashes the few big ones: a constant number
        // of processes instead of three per file (half of a full site's probe). Which files go
        // into the tar is decided from find's output by the shell's builtins, and apt's
        // timestamps (and the host's clock: the mtime of the shell's fresh /proc/PID) come
        // from the same find, not from `stat` and `date`: every process costs the host ~2 ms.
        // Paths the batch cannot frame (relative, or with a newline) go one by one.
        // Every path is one we asked for, and the parser refuses a path printed twice.
        let read = self.read_set();
        let (batch, odd): (Vec<&String>, Vec<&String>) = read
            .iter()
            .copied()
            .chain(self.stats.iter().filter(|p| !read.contains(p)))
            .partition(|p| batchable(p));
        let to_read: Vec<&str> = batch
            .iter()
            .filter(|p| read.contains(**p))
            .map(|p| p.as_str())
            .collect();
        let aptconf = self.asks_apt_config();
        let fingerprints = self.sshd_effective || !self.packages.is_empty() || aptconf;
        // apt's sources ride in the same find and tar, minus any a role asked for itself.
        let carries = !to_read.is_empty() || self.apt;
        if self.apt {
            let asked = lines(
                batch
                    .iter()
                    .filter(|p| is_apt_source(p))
                    .map(|p| p.as_str()),
            );
            let list = if batch.iter().any(|p| p.as_str() == APT_SOURCE_LIST) {
                ""
            } else {
                APT_SOURCE_LIST
            };
            s.call(SOURCES_SH, [list, asked.as_str()]);
        }
        if !batch.is_empty() || self.apt || fingerprints {
            let mut args = vec![
                marker("stats", "-"),
                flag(self.apt),
                flag(fingerprints),
                flag(self.sshd_effective),
                flag(!self.packages.is_empty()),
                lines(to_read.iter().copied()),
                flag(carries),
                MAX_FETCHED_FILE.to_string(),
                lines(self.remembered_files().values().map(|c| c.fp.as_str())),
                flag(aptconf),
            ];
            args.extend(batch.iter().map(|p| p.to_string()));
            if self.apt {
                // apt's paths only where no role asked for them already: every path before
                // `/.` is printed once (the sources' glob leaves out those a role asked for).
                for p in [APT_LISTS, APT_STAMP] {
                    if !batch.iter().any(|b| b.as_str() == p) {
                        args.push(p.to_owned());
                    }
                }
            }
            s.call(STATS_SH, args);
        }
        if carries {
            s.call(
                CONTENTS_SH,
                [
                    marker("contents", "gz"),
                    marker("contents", "-"),
                    GZIP_ABOVE.to_string(),
                ],
            );
        }
        if !to_read.is_empty() {
            let mut args = vec![marker("sums", "-")];
            args.extend(to_read.iter().map(|p| p.to_string()));
            s.call(SUMS_SH, args);
        }
        for path in odd {
            // The path goes hex-encoded into the marker line: it may hold a newline.
            let stat_only = if self.files.contains(path) {
                ""
            } else {
                "stat"
            };
            s.call(
                ODDFILE_SH,
                [
                    marker("oddfile", &hex::encode(path)),
                    path.clone(),
                    stat_only.to_owned(),
                ],
            );
        }
        if !self.sysctls.is_empty() {
            let mut args = vec![marker("sysctls", "-")];
            args.extend(self.sysctls.iter().map(|k| sysctl_path(k)));
            s.call(SYSCTLS_SH, args);
        }
        if !self.packages.is_empty() {
            let hit = self.cache_hit("packages");
            let mut args = vec![
                marker("packages", "-"),
                flag(hit.is_some()),
                hit.map(|c| c.fp.clone()).unwrap_or_default(),
            ];
            args.extend(self.packages.iter().cloned());
            s.call(PACKAGES_SH, args);
        }
        if !self.units.is_empty() {
            // The properties beyond the state ($2, every one asked of any unit) and the units
            // they are asked of ($3).
            let props: std::collections::BTreeSet<&str> = self
                .unit_props
                .values()
                .flatten()
                .map(String::as_str)
                .collect();
            let of: Vec<&str> = self.unit_props.keys().map(String::as_str).collect();
            let mut args = vec![
                marker("units", "-"),
                props.into_iter().collect::<Vec<_>>().join(","),
                of.join(","),
            ];
            // "docker" is "docker.service" to systemctl: asked once (the parser gives the
            // answer to both names), not two D-Bus property dumps.
            args.extend(
                self.units
                    .iter()
                    .filter(|u| u.contains('.') || !self.units.contains(&format!("{u}.service")))
                    .cloned(),
            );
            s.call(UNITS_SH, args);
        }
        // Accounts come with the files: /etc/passwd and /etc/group ride in the same tar.
        if self.swaps {
            s.call(SWAPS_SH, [marker("swaps", "-")]);
        }
        if self.tcp_listeners {
            s.call(LISTENERS_SH, [marker("listeners", "-")]);
        }
        for (v6, table) in &self.iptables {
            let (tool, fam) = if *v6 {
                ("ip6tables-save", "v6")
            } else {
                ("iptables-save", "v4")
            };
            s.call(
                IPTABLES_SH,
                [
                    marker("iptables", &format!("{fam}/{table}")),
                    tool.to_owned(),
                    table.clone(),
                ],
            );
        }
        if self.ufw_live && !self.iptables.contains(&(false, "filter".to_owned())) {
            s.call(UFW_LIVE_SH, [marker("ufw_live", "-")]);
        }
        if self.sshd_effective {
            let hit = self.cache_hit("sshd");
            s.call(
                SSHD_SH,
                [
                    marker("sshd", "-"),
                    flag(hit.is_some()),
                    hit.map(|c| c.fp.clone()).unwrap_or_default(),
                    flag(self.sshd_exact),
                ],
            );
        }
        if self.apt {
            s.call(APT_SH, [marker("apt", "-")]);
        }
        let memo = memo_calls(self.commands.values(), self.sshd_effective);
        if !memo.is_empty() {
            if memo.contains(&"docker_api /info") {
                // memo.sh asks the daemon through the checks' own function
                s.raw(DOCKER_API_FN);
            }
            s.call(MEMO_SH, memo);
        }
        // Check code asked under several ids (checks that judge one answer differently) runs
        // once, under the first id; the parser gives every id that result.
        let mut sent = std::collections::BTreeSet::new();
        for (id, cmd) in &self.commands {
            if !sent.insert(cmd.as_str()) {
                continue;
            }
            if id == super::APT_CONFIG_DUMP && cmd == APT_CONFIG_COMMAND {
                // Remembered like sshd -T, while its inputs' fingerprint is the same.
                let hit = self.cache_hit(APT_CONFIG_KEY);
                s.call(
                    APTCONF_SH,
                    [
                        marker("cmd", id),
                        flag(hit.is_some()),
                        hit.map(|c| c.fp.clone()).unwrap_or_default(),
                    ],
                );
                continue;
            }
            s.call(CMD_SH, [marker("cmd", id), cmd.clone()]);
        }
        s.call(
            END_SH,
            [marker("end", "-"), flag(carries), GZIP_ABOVE.to_string()],
        );
        s.raw(END);
        s.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The constants the shell files spell out are the Rust ones.
    #[test]
    fn the_sections_spell_the_same_paths_and_sizes_as_the_parser() {
        assert!(STATS_SH.contains(&format!("case $p in {APT_LISTS}) ")));
        assert!(STATS_SH.contains(&format!(";; {APT_STAMP}) ")));
        assert!(APT_SH.contains(&format!("echo \"{APT_LISTS} $rampart_lists\"")));
        assert!(APT_SH.contains(&format!("echo \"{APT_STAMP} $rampart_stamp\"")));
        assert!(SOURCES_SH.contains(&format!(
            "for rampart_v in {}*;",
            super::super::request::APT_SOURCE_DIR
        )));
        for sh in [STATS_SH, SUMS_SH] {
            assert!(!sh.contains("1048576") || MAX_FETCHED_FILE == 1 << 20);
        }
        assert!(SUMS_SH.contains(&format!("-size +{}k", MAX_FETCHED_FILE / 1024)));
        assert!(STATS_SH.contains(super::super::SSHD_INPUTS));
        assert!(STATS_SH.contains(super::super::DPKG_STATUS));
        assert!(STATS_SH.contains(super::super::APT_CONFIG_INPUTS));
    }

    #[test]
    fn a_memo_is_for_exact_calls_that_two_checks_make() {
        assert!(makes_call("sshd -T", "sshd -T"));
        assert!(makes_call("t=$(sshd -T 2>&1) || exit", "sshd -T"));
        assert!(makes_call("out=$(sshd -T); x", "sshd -T"));
        assert!(makes_call("ufw status | grep -q x", "ufw status"));
        assert!(!makes_call("ufw status verbose", "ufw status"));
        assert!(makes_call("ufw status verbose 2>&1", "ufw status verbose"));
        assert!(!makes_call("sshd -T -C user=root", "sshd -T"));
        assert!(!makes_call("xsshd -T", "sshd -T"));
        assert!(!makes_call("docker info --format x", "docker info"));
        let cmds: Vec<String> = vec![
            "sshd -T | grep a".into(),
            "t=$(sshd -T)".into(),
            "docker info".into(),
            "ufw status verbose".into(),
            "ufw status verbose 2>&1".into(),
            "sshd -T -C user=root".into(),
        ];
        assert_eq!(
            memo_calls(cmds.iter(), false),
            ["sshd -T", "ufw status verbose"],
            "one docker info needs no memo"
        );
        let one: Vec<String> = vec!["sshd -T | grep a".into()];
        assert!(memo_calls(one.iter(), false).is_empty());
        assert_eq!(
            memo_calls(one.iter(), true),
            ["sshd -T"],
            "with sshd's facts asked for, one check's call is answered from their run"
        );
    }

    /// The docker settings checks and `host.container-ports-local` ask the Docker API's
    /// `GET /info` once (perl, else curl: curl here): the memo runs it through the checks' own `docker_api`,
    /// which the checks (defining it again, as their scripts do) answer from that run; any
    /// other path still goes to curl.
    #[test]
    fn one_curl_answers_the_checks_get_info() {
        assert!(makes_call(
            "if j=$(docker_api /info); then",
            "docker_api /info"
        ));
        assert!(!makes_call("j=$(docker_api /info2)", "docker_api /info"));
        let mut req = FactRequest::new();
        for id in ["a", "b"] {
            req.commands.insert(
                id.into(),
                format!(
                    "{}j=$(docker_api /info) && echo \"$j\"",
                    crate::verify::DOCKER_API_FN
                ),
            );
        }
        let script = req.probe_script("n");
        let memo = script
            .find("'docker_api /info'")
            .expect("a memo of GET /info");
        let defined = script.find("docker_api() {").expect("the function");
        assert!(defined < memo, "the memo calls the checks' function");
        let Some(mut sh) = rampart_shtest::Sh::new() else {
            return;
        };
        // curl answers (perl finds no daemon's socket there)
        sh.env("rampart_docker_sock", &sh.path("no-docker.sock"));
        sh.stub_output("curl", 0, r#"{"ID":"X"}"#);
        let out = sh.run(
            &format!(
                "{}{}set --\n{}x=$(docker_api /info); y=$(docker_api /info); z=$(docker_api /version)\necho \"$x|$y|$z\"\n",
                crate::verify::DOCKER_API_FN,
                crate::verify::script_with_args(MEMO_SH, &["docker_api /info"]),
                crate::verify::DOCKER_API_FN,
            ),
            &[],
        );
        assert!(out.ok(), "{out:?}");
        assert_eq!(
            out.stdout_str(),
            "{\"ID\":\"X\"}|{\"ID\":\"X\"}|{\"ID\":\"X\"}\n"
        );
        assert_eq!(
            sh.calls(),
            [
                "curl -sf --max-time 10 --unix-socket /var/run/docker.sock http://localhost/info",
                "curl -sf --max-time 10 --unix-socket /var/run/docker.sock http://localhost/version"
            ]
        );
    }

    /// The listeners' section asks ss for the listening sockets only; without ss it prints
    /// the kernel's hex local address of each listening socket of /proc, and nothing but them
    /// (this machine's own /proc, read only).
    #[test]
    fn the_listeners_section_asks_ss_or_reads_proc() {
        let Some(mut sh) = rampart_shtest::Sh::new() else {
            return;
        };
        let run = |sh: &rampart_shtest::Sh| {
            let out = sh.run(
                &crate::verify::script_with_args(LISTENERS_SH, &["@@listeners"]),
                &[],
            );
            assert!(out.ok(), "{out:?}");
            out.stdout_str()
        };
        // ss, for the listening sockets only
        sh.stub_output("ss", 0, "0 128 0.0.0.0:22 0.0.0.0:*\n");
        assert_eq!(run(&sh), "@@listeners\n@ss\n0 128 0.0.0.0:22 0.0.0.0:*\n");
        assert_eq!(sh.calls(), ["ss -Htn state listening"]);
        // no ss: this machine's /proc, hex
        let awk = ["/usr/bin/awk", "/bin/awk"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("awk");
        let only = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(awk, only.path().join("awk")).unwrap();
        sh.env("PATH", &only.path().display().to_string());
        let text = run(&sh);
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("@@listeners"));
        for l in lines {
            let (a, p) = l.split_once(':').unwrap();
            assert!(
                (a.len() == 8 || a.len() == 32)
                    && p.len() == 4
                    && l.chars().all(|c| c == ':' || c.is_ascii_hexdigit()),
                "{l}"
            );
            assert!(crate::facts::proc_addr(l).is_some(), "{l}");
        }
    }

    /// The facts' `sshd -T` is the checks' run: sshd runs once for the section and a check
    /// (its standard error left out of both); a failing run is asked again for its error and
    /// is not kept.
    #[test]
    fn the_facts_run_of_sshd_answers_the_checks() {
        // sshd.sh's section, then the memo of `sshd -T`, then a check's `check` code, against
        // an sshd stub of `body`: stdout and the calls made.
        let run = |body: &str, check: &str| {
            let sh = rampart_shtest::Sh::new()?;
            std::fs::create_dir_all(sh.root().join("run/sshd")).unwrap();
            let section = SSHD_SH.replace("/run/sshd", &sh.path("run/sshd"));
            let script = format!(
                "rampart_fp_sshd=fp\n{}set -- 'sshd -T'\n{MEMO_SH}set --\n{check}; echo \"rc:$?\"\n",
                crate::verify::script_with_args(&section, &["@@sshd", "", ""])
            );
            sh.stub_body("sshd", body);
            let out = sh.run(&script, &[]);
            Some((out.stdout_str(), sh.calls()))
        };
        let Some((out, calls)) = run(
            "echo warning >&2; printf 'port 22\\nport 2222\\n'",
            "sshd -T | grep -c port",
        ) else {
            return;
        };
        assert_eq!(out, "@@sshd\n@fp fp\nport 22\nport 2222\n@rc 0\n2\nrc:0\n");
        assert_eq!(calls, ["sshd -T"], "one run for the facts and the check");

        let (out, calls) = run("echo 'sshd: bad line 3' >&2; exit 255", "sshd -T").unwrap();
        assert_eq!(out, "@@sshd\n@fp fp\nsshd: bad line 3\n@rc 255\nrc:255\n");
        assert_eq!(
            calls,
            ["sshd -T", "sshd -T", "sshd -T", "sshd -T"],
            "the facts' failed run, its error, the memo's own try, the check"
        );
    }

    /// The memo runs each tool once, answers the exact call from that run, sends every other
    /// call to the tool, and keeps nothing of a run that failed.
    #[test]
    fn the_memo_answers_repeated_calls_from_one_run() {
        let Some(sh) = rampart_shtest::Sh::new() else {
            return;
        };
        sh.stub_output("sshd", 0, "port 22\npermitrootlogin no\n");
        sh.stub_body("ufw", "echo 'ufw: no rules' >&2; exit 1");
        sh.stub_output("docker", 0, "");
        let script = crate::verify::script_with_args(
            MEMO_SH,
            &["sshd -T", "ufw status verbose", "docker info"],
        ) + "set --\n\
               t=$(sshd -T 2>&1); echo \"1:$t\"\n\
               sshd -T | grep -c port\n\
               sshd -t -f x >/dev/null; echo \"t:$?\"\n\
               ufw status verbose; echo \"u:$?\"\n\
               command -v ufw >/dev/null && echo 'ufw is a tool'\n\
               [ -z \"$(docker info)\" ] && echo 'docker: empty'\n";
        let out = sh.run(&script, &[]);
        assert!(out.ok(), "{out:?}");
        assert_eq!(
            out.stdout_str(),
            "1:port 22\npermitrootlogin no\n1\nt:0\nu:1\nufw is a tool\ndocker: empty\n"
        );
        assert_eq!(
            sh.calls(),
            [
                "sshd -T",
                "ufw status verbose",
                "docker info",
                "sshd -t -f x",
                "ufw status verbose"
            ],
            "sshd -T ran once for two checks; the failed ufw ran again for its check"
        );
    }
}
