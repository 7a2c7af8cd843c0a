//! Facts: what a host has, gathered in ONE round trip.
//!
//! Every resource adds what it reads to a [`FactRequest`]; the engine turns the union of all
//! requests of a host into one probe script ([`FactRequest::probe_script`]), runs it once, and
//! parses the output with [`Facts::parse`]. Sections of the output are framed by a marker line
//! carrying a per-run nonce, so no file content on the host can forge a section.
//!
//! **Architecture invariant:** the probe is read-only. It reads files and /proc, and asks
//! `systemctl show`, `dpkg-query`, `iptables-save` and `sshd -T`; it never runs a Python CLI
//! (`ufw status` alone costs 130 ms of host CPU) and never dumps everything (`sysctl -a`).

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use serde::Serialize;

use crate::shell::{join, quote};

/// Files larger than this are hashed on the host, not fetched.
pub const MAX_FETCHED_FILE: u64 = 1 << 20;

/// Fetched contents over this many bytes in all travel gzipped.
pub const GZIP_ABOVE: u64 = 64 << 10;

/// The most file contents one probe may unpack (the tar, after gunzip, headers included). A
/// gzip bomb or a forged tar stops here: the host fails, the controller holds no more.
pub const MAX_FETCHED_TOTAL: u64 = 32 << 20;

/// Everything one host's roles will read. Built by resources, merged, then probed once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FactRequest {
    /// Paths to stat and (if small and regular) read.
    pub files: BTreeSet<String>,
    /// Paths to stat only: never read or hashed (swap files are gigabytes).
    pub stats: BTreeSet<String>,
    /// sysctl keys to read live from /proc/sys.
    pub sysctls: BTreeSet<String>,
    /// Debian packages to look up in dpkg's database.
    pub packages: BTreeSet<String>,
    /// systemd units to ask about.
    pub units: BTreeSet<String>,
    /// Read /etc/passwd and /etc/group.
    pub accounts: bool,
    /// Read /proc/swaps.
    pub swaps: bool,
    /// `iptables-save` / `ip6tables-save` of a table: (ipv6, table).
    pub iptables: BTreeSet<(bool, String)>,
    /// Whether the ufw chains are loaded in the kernel right now.
    pub ufw_live: bool,
    /// Run `sshd -T` for the effective sshd configuration.
    pub sshd_effective: bool,
    /// The apt lists' age and whether a reboot is pending.
    pub apt: bool,
    /// Read-only checks by id: the command's exit status and stdout are the fact.
    pub commands: BTreeMap<String, String>,
    /// What the controller remembers of the costly sections (`sshd`, `packages`) of this
    /// host's last probe: the probe answers `@cached` instead of running `sshd -T` or
    /// `dpkg-query` when the stat fingerprint of everything their answer depends on is the
    /// same. Set by the engine, never by roles.
    pub cached: BTreeMap<String, Cached>,
}

/// A probe section as the controller remembers it (see [`FactRequest::cached`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cached {
    /// The fingerprint the host printed: find's stat records (type, mode, owner, group, size,
    /// mtime, ctime, inode, path) of every file the answer depends on.
    pub fp: String,
    /// What the section's command was asked (dpkg-query's package list), so a cached answer is
    /// only used for the same question.
    pub args: String,
    /// The section's output.
    pub output: String,
}

/// The files `sshd -T` reads (binary, config, drop-ins, host keys): any change to any of them
/// changes their stat records. Unquoted: the shell expands the globs.
const SSHD_INPUTS: &str = "/usr/sbin/sshd /etc/ssh/sshd_config /etc/ssh/sshd_config.d /etc/ssh/sshd_config.d/* /etc/ssh/ssh_host_*";
/// dpkg's database: rewritten (a new inode) by every package operation.
const DPKG_STATUS: &str = "/var/lib/dpkg/status";

impl FactRequest {
    /// The package list as dpkg-query is asked it (the cache key of the `packages` section).
    pub fn packages_args(&self) -> String {
        self.packages.iter().cloned().collect::<Vec<_>>().join(" ")
    }

    /// The section's remembered answer when it may be used for this request.
    fn cache_hit(&self, kind: &str) -> Option<&Cached> {
        let c = self.cached.get(kind)?;
        let args_match = kind != "packages" || c.args == self.packages_args();
        (args_match && !c.fp.is_empty()).then_some(c)
    }
}

impl FactRequest {
    /// An empty request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks for a file.
    pub fn file(&mut self, path: impl Into<String>) -> &mut Self {
        self.files.insert(path.into());
        self
    }

    /// Merges another request into this one.
    pub fn merge(&mut self, other: &FactRequest) {
        self.files.extend(other.files.iter().cloned());
        self.stats.extend(other.stats.iter().cloned());
        self.sysctls.extend(other.sysctls.iter().cloned());
        self.packages.extend(other.packages.iter().cloned());
        self.units.extend(other.units.iter().cloned());
        self.accounts |= other.accounts;
        self.swaps |= other.swaps;
        self.iptables.extend(other.iptables.iter().cloned());
        self.ufw_live |= other.ufw_live;
        self.sshd_effective |= other.sshd_effective;
        self.apt |= other.apt;
        for (k, v) in &other.commands {
            self.commands.insert(k.clone(), v.clone());
        }
    }

    /// The probe: one POSIX shell script, run as root, that prints every requested fact in
    /// sections framed by `@@<nonce> <kind> <arg>` lines. Host basics are always included.
    pub fn probe_script(&self, nonce: &str) -> String {
        let m = format!("@@{nonce}");
        // The whole probe is one brace group: sh parses it completely before running any of
        // it, so no command can swallow the rest of the script from stdin.
        let mut s = String::with_capacity(4096);
        s.push_str("{\n");
        let sec = |s: &mut String, kind: &str, arg: &str| {
            s.push_str(&format!("echo {}\n", quote(&format!("{m} {kind} {arg}"))));
        };
        s.push_str(
            "export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
        );
        sec(&mut s, "host", "-");
        s.push_str(HOST_PROBE);
        // Files: one `find` stats them all, one `tar` (after the `end` marker) carries every
        // small file's content, and one `sha256sum` hashes the few big ones: a constant number
        // of processes instead of three per file (half of a full site's probe). Which files go
        // into the tar is decided from find's output by the shell's builtins, and apt's
        // timestamps (and the host's clock: the mtime of the shell's fresh /proc/PID) come
        // from the same find, not from `stat` and `date`: every process costs the host ~2 ms.
        // Paths the batch cannot frame (relative, or with a newline) go one by one.
        // No record of find's carries text a user on the host controls: a link's target
        // (`%l`, which may hold a newline and a forged record after it) is never printed; the
        // link travels in the tar, whose header frames its target by length. Every path is
        // one we asked for, and the parser refuses a path printed twice.
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
        let fingerprints = self.sshd_effective || !self.packages.is_empty();
        // apt's sources ride in the same find and tar: the shell's glob names them (only the
        // names apt reads, which cannot break find's one-line records), minus any a role asked
        // for itself.
        let carries = !to_read.is_empty() || self.apt;
        if self.apt {
            let asked: Vec<String> = batch
                .iter()
                .filter(|p| is_apt_source(p))
                .map(|p| quote(p).into_owned())
                .collect();
            let add = "rampart_src=\"$rampart_src $rampart_v\"";
            let add = if asked.is_empty() {
                add.to_owned()
            } else {
                format!(
                    "case $rampart_v in {}) ;; *) {add} ;; esac",
                    asked.join("|")
                )
            };
            let list = if batch.iter().any(|p| p.as_str() == APT_SOURCE_LIST) {
                ""
            } else {
                APT_SOURCE_LIST
            };
            s.push_str(&format!(
                "rampart_src={list}\nfor rampart_v in {APT_SOURCE_DIR}*; do\n  case ${{rampart_v##*/}} in *[!A-Za-z0-9_.-]*) ;; *.list|*.sources) {add} ;; esac\ndone\n"
            ));
        }
        if !batch.is_empty() || self.apt || fingerprints {
            let mut all = join(batch.iter().map(|p| p.as_str()));
            if self.apt {
                // apt's paths only where no role asked for them already: every path before
                // `/.` is printed once (the sources' glob leaves out those a role asked for).
                for p in [APT_LISTS, APT_STAMP] {
                    if !batch.iter().any(|b| b.as_str() == p) {
                        all = format!("{all} {p}");
                    }
                }
                all = format!("{all} /proc/$$ $rampart_src");
            }
            if fingerprints {
                // `/.` marks where the fingerprint inputs start: the fingerprint must not
                // depend on which files this probe also reads (the verify probe reads none).
                all = format!("{all} /.");
            }
            if self.sshd_effective {
                all = format!("{all} {SSHD_INPUTS}");
            }
            if !self.packages.is_empty() {
                all = format!("{all} {DPKG_STATUS}");
            }
            sec(&mut s, "stats", "-");
            s.push_str(&format!(
                "rampart_st=$(find -P {all} -maxdepth 0 -printf '%y|%m|%u|%g|%s|%T@|%C@|%i|%p\\n' 2>/dev/null)\nprintf '%s\\n' \"$rampart_st\"\n"
            ));
            // One pass over find's records, in the shell's memory: a `while read` loop over a
            // here-document costs dash a forked writer (over 4 KiB) and a read(2) per byte.
            // Each record picks, by its path: the files the tar carries (only those asked to
            // be read: find also stats swap files and fingerprint inputs; and every link
            // asked for, for its target), apt's timestamps
            // and the clock, and the fingerprints of the cacheable sections.
            // The path is the 9th field; only a path holding `|` needs the pattern strip, whose
            // eight `*` cost dash 5 ms over a site's 70 records.
            let mut rec = String::from(
                "rampart_rec() {\n  if [ $# -eq 9 ]; then p=$9; else p=${r#*|*|*|*|*|*|*|*|}; fi\n",
            );
            if fingerprints {
                rec.push_str("  if [ -n \"$rampart_fpon\" ]; then\n    case $p in /usr/sbin/sshd|/etc/ssh/*) rampart_fp_sshd=\"$rampart_fp_sshd$r;\" ;; /var/lib/dpkg/status) rampart_fp_packages=\"$rampart_fp_packages$r;\" ;; esac\n    return\n  fi\n  if [ \"$p\" = /. ]; then rampart_fpon=1; return; fi\n");
            }
            if self.apt {
                rec.push_str(&format!("  case $p in {APT_LISTS}) rampart_lists=${{6%%.*}} ;; {APT_STAMP}) rampart_stamp=${{6%%.*}} ;; /proc/$$) rampart_now=${{6%%.*}} ;; esac\n"));
            }
            rec.push_str(
                "  if [ \"$1\" = l ]; then rampart_small=\"$rampart_small$p\n\"; return; fi\n",
            );
            if carries {
                let pats: Vec<String> = to_read.iter().map(|p| quote(p).into_owned()).collect();
                let mut arms = String::new();
                if !pats.is_empty() {
                    arms.push_str(&format!("{}) if [ \"$5\" -le {MAX_FETCHED_FILE} ]; then rampart_small=\"$rampart_small$p\n\"; rampart_sum=$((rampart_sum + $5)); else rampart_big=1; fi ;; ", pats.join("|")));
                }
                if self.apt {
                    // A source file too big to carry is one apt's freshness cannot judge.
                    arms.push_str(&format!("{APT_SOURCE_LIST}|{APT_SOURCE_DIR}*.list|{APT_SOURCE_DIR}*.sources) if [ \"$5\" -le {MAX_FETCHED_FILE} ]; then rampart_small=\"$rampart_small$p\n\"; rampart_sum=$((rampart_sum + $5)); fi ;; "));
                }
                rec.push_str(&format!(
                    "  if [ \"$1\" = f ]; then case $p in {arms}esac; fi\n"
                ));
            }
            rec.push_str("}\n");
            s.push_str("rampart_small= rampart_big= rampart_sum=0 rampart_fp_sshd= rampart_fp_packages= rampart_lists= rampart_stamp= rampart_now= rampart_fpon=\n");
            s.push_str(&rec);
            s.push_str("rampart_ifs=$IFS\nIFS='\n'\nset -f\nfor r in $rampart_st; do\n  IFS='|'; rampart_rec $r; IFS='\n'\ndone\nIFS=$rampart_ifs\nset +f\n");
        }
        if carries {
            // The archive itself follows the `end` marker, raw: no `base64` process and a
            // third fewer bytes. Over GZIP_ABOVE bytes of content it is gzipped (-1): one more
            // process on the host, but a third of the bytes on the wire and in the
            // controller's memory while 32 or 1,000 probes are in flight (a stock redis.conf
            // alone is 105 KiB).
            s.push_str(&format!(
                "if [ \"$rampart_sum\" -gt {GZIP_ABOVE} ]; then echo {}; else echo {}; fi\n",
                quote(&format!("{m} contents gz")),
                quote(&format!("{m} contents -")),
            ));
        }
        if !to_read.is_empty() {
            let small = join(to_read.iter().copied());
            // Big files are hashed on the host, by one more process only when there are any.
            sec(&mut s, "sums", "-");
            s.push_str(&format!(
                "if [ -n \"$rampart_big\" ]; then find -P {small} -maxdepth 0 -type f -size +1024k -size -65537k -exec sha256sum {{}} + 2>/dev/null; fi\n"
            ));
        }
        for path in odd {
            // The path goes hex-encoded into the marker line: it may hold a newline.
            sec(&mut s, "oddfile", &hex::encode(path));
            let stat_only = if self.files.contains(path) {
                ""
            } else {
                " stat"
            };
            s.push_str(&format!("rampart_file {}{stat_only}\n", quote(path)));
        }
        if !self.sysctls.is_empty() {
            // One grep for all keys: `path:value` lines. Not the shell's `read`: dash reads a
            // byte at a time, and integer sysctls return nothing at a non-zero offset.
            sec(&mut s, "sysctls", "-");
            let paths = self.sysctls.iter().map(|k| sysctl_path(k));
            s.push_str(&format!(
                "grep -s -H '' {} || true\n",
                join(paths.collect::<Vec<_>>())
            ));
        }
        if !self.packages.is_empty() {
            sec(&mut s, "packages", "-");
            let mut argv = vec![
                "dpkg-query".to_owned(),
                "-W".into(),
                "-f=${Package}\\t${db:Status-Abbrev}\\t${Version}\\n".into(),
            ];
            argv.extend(self.packages.iter().cloned());
            let run = format!(
                "echo \"@fp $rampart_fp_packages\"; {} 2>/dev/null || true",
                join(&argv)
            );
            s.push_str(&cacheable(self.cache_hit("packages"), "packages", &run));
        }
        if !self.units.is_empty() {
            sec(&mut s, "units", "-");
            let mut argv: Vec<String> = ["systemctl", "show", "--property=Id,LoadState,ActiveState,SubState,UnitFileState,FragmentPath,NeedDaemonReload", "--"]
                .iter()
                .map(|w| (*w).to_owned())
                .collect();
            argv.extend(self.units.iter().cloned());
            s.push_str(&format!("{} 2>/dev/null || true\n", join(&argv)));
        }
        // Accounts come with the files: /etc/passwd and /etc/group ride in the same tar.
        if self.swaps {
            sec(&mut s, "swaps", "-");
            s.push_str("while IFS= read -r rampart_v; do printf '%s\\n' \"$rampart_v\"; done </proc/swaps 2>/dev/null\n");
        }
        for (v6, table) in &self.iptables {
            let tool = if *v6 {
                "ip6tables-save"
            } else {
                "iptables-save"
            };
            sec(
                &mut s,
                "iptables",
                &format!("{}/{table}", if *v6 { "v6" } else { "v4" }),
            );
            s.push_str(&format!(
                "{} 2>/dev/null || echo '@absent'\n",
                join([tool, "-t", table.as_str()])
            ));
        }
        if self.ufw_live && !self.iptables.contains(&(false, "filter".to_owned())) {
            // Without the filter table's dump (which answers it), ask for the chain alone.
            sec(&mut s, "ufw_live", "-");
            s.push_str("if iptables -w -S ufw-user-input >/dev/null 2>&1; then echo yes; else echo no; fi\n");
        }
        if self.sshd_effective {
            sec(&mut s, "sshd", "-");
            let run = "echo \"@fp $rampart_fp_sshd\"; sshd -T 2>&1; echo \"@rc $?\"";
            s.push_str(&format!(
                "if [ -d /run/sshd ]; then\n{}else echo '@rc 255'; echo 'Missing privilege separation directory: /run/sshd'; fi\n",
                cacheable(self.cache_hit("sshd"), "sshd", run)
            ));
        }
        if self.apt {
            sec(&mut s, "apt", "-");
            s.push_str(&format!(
                "if [ -n \"$rampart_lists\" ]; then echo \"{APT_LISTS} $rampart_lists\"; fi\nif [ -n \"$rampart_stamp\" ]; then echo \"{APT_STAMP} $rampart_stamp\"; fi\n"
            ));
            // The clock came from find (/proc/PID); `date` only if that failed.
            s.push_str("echo \"now ${rampart_now:-$(date +%s)}\"\n");
            s.push_str("if [ -e /var/run/reboot-required ]; then echo 'reboot_required 1'; else echo 'reboot_required 0'; fi\n");
            // Which repositories have lists: their names, by the shell's glob (a builtin, no
            // process). Releases, and Packages/Sources for flat repositories and components.
            s.push_str(&format!(
                "printf 'list %s\\n' {APT_LISTS}/*Release {APT_LISTS}/*_Packages* {APT_LISTS}/*_Sources*\n"
            ));
        }
        for (id, cmd) in &self.commands {
            sec(&mut s, "cmd", id);
            // The status is the check's own: `$?` after a pipeline into `head` would be head's.
            // The output is cut to MAX_CHECK_OUTPUT when parsed, not with a `head` per check.
            s.push_str(&format!(
                "rampart_out=$( {{ {cmd}\n}} </dev/null 2>&1 ); rampart_rc=$?\nprintf '%s\\n' \"$rampart_out\"; echo \"@rc $rampart_rc\"\n"
            ));
        }
        sec(&mut s, "end", "-");
        if carries {
            let tar = "printf '%s' \"$rampart_small\" | tar -cPf - -b 1 --no-recursion --hard-dereference --no-unquote --verbatim-files-from -T - 2>/dev/null";
            s.push_str(&format!(
                "if [ -n \"$rampart_small\" ]; then if [ \"$rampart_sum\" -gt {GZIP_ABOVE} ]; then {tar} | gzip -1; else {tar}; fi; fi\n"
            ));
        }
        s.push_str("} </dev/null\n");
        s
    }
}

/// Shell code that prints `@cached` when the host's fingerprint of `kind` is the remembered
/// one, and otherwise runs `run` (which prints `@fp <fingerprint>` first).
fn cacheable(hit: Option<&Cached>, kind: &str, run: &str) -> String {
    match hit {
        Some(c) => format!(
            "if [ \"$rampart_fp_{kind}\" = {} ]; then echo @cached; else {run}; fi\n",
            quote(&c.fp)
        ),
        None => format!("{run}\n"),
    }
}

/// Whether a path can be probed in the batched `find`/`tar` pass: absolute (so `find` cannot
/// take it for an expression) and one line (so its output can be framed by lines).
fn batchable(path: &str) -> bool {
    path.starts_with('/') && !path.contains('\n')
}

const APT_LISTS: &str = "/var/lib/apt/lists";
const APT_STAMP: &str = "/var/lib/apt/periodic/update-success-stamp";
use crate::aptsources::{
    SOURCE_DIR as APT_SOURCE_DIR, SOURCE_LIST as APT_SOURCE_LIST, is_source_path as is_apt_source,
};
const PASSWD: &str = "/etc/passwd";
const GROUP: &str = "/etc/group";

impl FactRequest {
    /// The paths whose content the probe reads: the files asked for, and the account
    /// databases when accounts are asked for.
    fn read_set(&self) -> BTreeSet<&String> {
        let mut read: BTreeSet<&String> = self.files.iter().collect();
        if self.accounts {
            read.extend(ACCOUNT_FILES.iter());
        }
        read
    }
}

static ACCOUNT_FILES: std::sync::LazyLock<[String; 2]> =
    std::sync::LazyLock::new(|| [PASSWD.to_owned(), GROUP.to_owned()]);

/// Where a sysctl key lives under /proc/sys.
fn sysctl_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

/// A check command's output is cut to this many bytes.
pub const MAX_CHECK_OUTPUT: usize = 65536;

/// Shell functions and the host basics, always part of the probe.
const HOST_PROBE: &str = r#"rampart_file() {
  if [ -L "$1" ]; then printf 'link|%s\n' "$(readlink -- "$1")"
  elif [ -f "$1" ]; then
    stat -c 'file|%a|%U|%G|%s' -- "$1"
    if [ -n "$2" ]; then echo -
    elif [ "$(stat -c %s -- "$1")" -le 1048576 ]; then base64 -w0 -- "$1"; echo
    elif [ "$(stat -c %s -- "$1")" -le 67108864 ]; then sha256sum -- "$1" | cut -d' ' -f1
    else echo -; fi
  elif [ -d "$1" ]; then stat -c 'dir|%a|%U|%G' -- "$1"
  elif [ -e "$1" ]; then echo other
  else echo absent; fi
}
. /etc/os-release 2>/dev/null
echo "os_id=${ID:-unknown}"
echo "os_version_id=${VERSION_ID:-}"
echo "os_codename=${VERSION_CODENAME:-${UBUNTU_CODENAME:-}}"
echo "os_pretty=${PRETTY_NAME:-}"
read -r rampart_v </proc/sys/kernel/hostname; echo "hostname=$rampart_v"
read -r rampart_v </proc/sys/kernel/osrelease; echo "kernel=$rampart_v"
read -r rampart_v 2>/dev/null </proc/sys/kernel/arch || rampart_v=$(uname -m); echo "arch=$rampart_v"
if [ -d /run/systemd/system ]; then
  echo systemd=1
  if [ -r /run/systemd/container ]; then read -r rampart_v </run/systemd/container; else rampart_v=none; fi
else
  echo systemd=0
  rampart_v=$(systemd-detect-virt -c 2>/dev/null) || rampart_v=none
fi
echo "virt=${rampart_v:-none}"
rampart_v=
while read -r i d g f r u met m rest; do
  if [ "$d" = 00000000 ] && [ "$m" = 00000000 ]; then rampart_v=$i; break; fi
done </proc/net/route 2>/dev/null
echo "default_iface=$rampart_v"
rampart_v=
while read -r d dl s sl nh met ref use fl i; do
  if [ "$d" = 00000000000000000000000000000000 ] && [ "$dl" = 00 ] && [ "$i" != lo ]; then rampart_v=$i; break; fi
done </proc/net/ipv6_route 2>/dev/null
echo "default_iface6=$rampart_v"
if [ -e /var/log/auth.log ]; then echo has_auth_log=1; else echo has_auth_log=0; fi
echo "ssh_connection=${1:-}"
echo "sudo_user=${SUDO_USER:-}"
"#;

/// One host's facts, parsed. Maps hold exactly the keys that were requested.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Facts {
    /// Always present after a probe.
    pub host: HostInfo,
    /// By path.
    pub files: BTreeMap<String, FileState>,
    /// Live values by key, whitespace normalised to single spaces; `None` when the key does not
    /// exist on this kernel.
    pub sysctls: BTreeMap<String, Option<String>>,
    /// By package name; a requested package dpkg does not know is [`PackageState::absent`].
    pub packages: BTreeMap<String, PackageState>,
    /// By unit name.
    pub units: BTreeMap<String, UnitState>,
    /// /etc/passwd and /etc/group, when requested.
    pub accounts: Option<Accounts>,
    /// Active swap areas, when requested.
    pub swaps: Option<Vec<SwapArea>>,
    /// `iptables-save` output by "v4/filter"; `None` when the tool is missing.
    pub iptables: BTreeMap<String, Option<String>>,
    /// Whether ufw's chains are loaded, when requested.
    pub ufw_live: Option<bool>,
    /// The effective sshd configuration, when requested.
    pub sshd: Option<SshdEffective>,
    /// apt state, when requested.
    pub apt: Option<AptState>,
    /// Read-only checks by id.
    pub commands: BTreeMap<String, CommandResult>,
    /// Fresh answers of cacheable sections, for the engine to remember (see
    /// [`FactRequest::cached`]).
    #[serde(skip)]
    pub cache_updates: BTreeMap<String, Cached>,
}

/// Host basics, always gathered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HostInfo {
    /// `ID` from os-release ("debian", "ubuntu").
    pub os_id: String,
    /// `VERSION_ID` ("12", "24.04").
    pub os_version_id: String,
    /// `VERSION_CODENAME` ("bookworm", "noble").
    pub os_codename: String,
    /// `PRETTY_NAME`.
    pub os_pretty: String,
    /// The kernel's hostname.
    pub hostname: String,
    /// `uname -r`.
    pub kernel: String,
    /// `uname -m`.
    pub arch: String,
    /// Container type from `systemd-detect-virt -c`, "none" on a VM or metal.
    pub virt: String,
    /// The interface of the IPv4 default route, if any.
    pub default_iface: Option<String>,
    /// The interface of the IPv6 default route, if any.
    pub default_iface6: Option<String>,
    /// Whether /var/log/auth.log exists (fail2ban needs the systemd backend if not).
    pub has_auth_log: bool,
    /// Whether systemd is PID 1.
    pub systemd: bool,
    /// `SSH_CONNECTION` as the host saw our connection: client ip, client port, server ip,
    /// server port.
    pub ssh_connection: Option<SshConnection>,
}

impl HostInfo {
    /// True when the host runs inside a container (swapon is refused there).
    pub fn in_container(&self) -> bool {
        !self.virt.is_empty() && self.virt != "none"
    }
}

/// The operator's connection as the host sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SshConnection {
    /// The controller's address as seen by the host (after any NAT or bastion).
    pub client_ip: String,
    /// The server address the client connected to.
    pub server_ip: String,
    /// The port sshd accepted us on: the port the firewall must keep open.
    pub server_port: u16,
}

impl SshConnection {
    /// Parses `SSH_CONNECTION` ("client_ip client_port server_ip server_port").
    pub fn parse(value: &str) -> Option<Self> {
        let parts: Vec<&str> = value.split_whitespace().collect();
        match parts.as_slice() {
            [cip, _cport, sip, sport] => Some(SshConnection {
                client_ip: (*cip).to_owned(),
                server_ip: (*sip).to_owned(),
                server_port: sport.parse().ok()?,
            }),
            _ => None,
        }
    }
}

/// A path on the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FileState {
    /// Nothing at that path.
    Absent,
    /// A regular file.
    File {
        /// Permission bits.
        mode: u32,
        /// Owner name.
        owner: String,
        /// Group name.
        group: String,
        /// Size in bytes.
        size: u64,
        /// The content, for files up to [`MAX_FETCHED_FILE`].
        #[serde(skip)]
        content: Option<Vec<u8>>,
        /// Hex SHA-256 of the content; empty when only stat was asked for (or the file is huge).
        sha256: String,
    },
    /// A directory.
    Dir {
        /// Permission bits.
        mode: u32,
        /// Owner name.
        owner: String,
        /// Group name.
        group: String,
    },
    /// A symbolic link (not followed).
    Link {
        /// Where it points.
        target: String,
    },
    /// A socket, device or fifo.
    Other,
}

impl FileState {
    /// The content as text, if fetched and valid UTF-8.
    pub fn text(&self) -> Option<&str> {
        match self {
            FileState::File {
                content: Some(c), ..
            } => std::str::from_utf8(c).ok(),
            _ => None,
        }
    }

    /// The content's SHA-256, for regular files.
    pub fn sha256(&self) -> Option<&str> {
        match self {
            FileState::File { sha256, .. } => Some(sha256),
            _ => None,
        }
    }
}

/// A package as dpkg knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackageState {
    /// Installed and configured ("ii").
    pub installed: bool,
    /// The installed version, empty when not installed.
    pub version: String,
    /// dpkg's two-letter status ("ii", "rc", "un").
    pub status: String,
}

impl PackageState {
    /// A package dpkg has never heard of.
    pub fn absent() -> Self {
        PackageState {
            installed: false,
            version: String::new(),
            status: "un".into(),
        }
    }
}

/// A systemd unit's state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UnitState {
    /// "loaded", "not-found", "masked".
    pub load_state: String,
    /// "active", "inactive", "failed", "activating".
    pub active_state: String,
    /// "running", "exited", "dead".
    pub sub_state: String,
    /// "enabled", "disabled", "static", "masked", "" when not found.
    pub unit_file_state: String,
    /// The unit file path.
    pub fragment_path: String,
    /// systemd has an older version of the unit file loaded.
    pub need_daemon_reload: bool,
}

impl UnitState {
    /// The unit exists.
    pub fn exists(&self) -> bool {
        self.load_state != "not-found" && !self.load_state.is_empty()
    }
    /// The unit is running (or activating).
    pub fn is_active(&self) -> bool {
        matches!(
            self.active_state.as_str(),
            "active" | "activating" | "reloading"
        )
    }
    /// The unit starts at boot.
    pub fn is_enabled(&self) -> bool {
        matches!(
            self.unit_file_state.as_str(),
            "enabled" | "enabled-runtime" | "alias"
        )
    }
    /// The unit is masked.
    pub fn is_masked(&self) -> bool {
        self.unit_file_state.starts_with("masked") || self.load_state == "masked"
    }
}

/// Users and groups from /etc/passwd and /etc/group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Accounts {
    /// By user name.
    pub users: BTreeMap<String, UserEntry>,
    /// By group name.
    pub groups: BTreeMap<String, GroupEntry>,
}

impl Accounts {
    /// The groups a user is in: its primary group and every group listing it.
    pub fn groups_of(&self, user: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        if let Some(u) = self.users.get(user)
            && let Some((name, _)) = self.groups.iter().find(|(_, g)| g.gid == u.gid)
        {
            out.insert(name.clone());
        }
        for (name, g) in &self.groups {
            if g.members.iter().any(|m| m == user) {
                out.insert(name.clone());
            }
        }
        out
    }
}

/// One /etc/passwd line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserEntry {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory.
    pub home: String,
    /// Login shell.
    pub shell: String,
}

/// One /etc/group line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupEntry {
    /// Group id.
    pub gid: u32,
    /// Supplementary members.
    pub members: Vec<String>,
}

/// One active swap area from /proc/swaps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SwapArea {
    /// The file or device.
    pub path: String,
    /// Size in KiB.
    pub size_kib: u64,
}

/// The effective sshd configuration from `sshd -T`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SshdEffective {
    /// `sshd -T` succeeded.
    pub ok: bool,
    /// Its error output when it did not.
    pub error: Option<String>,
    /// Lower-case keyword -> values, in order (keywords like `port` can repeat).
    pub values: BTreeMap<String, Vec<String>>,
}

impl SshdEffective {
    /// The first value of a keyword (lower-case).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
    }
    /// Every value of a keyword.
    pub fn all(&self, key: &str) -> &[String] {
        self.values.get(key).map_or(&[], Vec::as_slice)
    }
}

/// apt's state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AptState {
    /// Seconds since the package lists were last refreshed (u64::MAX when never): the newer of
    /// the lists directory's and apt's update-success stamp's mtimes.
    pub lists_age_secs: u64,
    /// /var/run/reboot-required exists.
    pub reboot_required: bool,
    /// The repositories the sources name that have no lists in /var/lib/apt/lists (never
    /// indexed: apt cannot find their packages), as `deb URI SUITE`; empty when a refresh
    /// already tried them since the sources and the lists last changed (an unreachable
    /// repository then waits for the age window instead of refreshing on every run).
    pub unindexed: Vec<String>,
    /// The source files changed (ctime, or a newer mtime, not in the host's future) after the
    /// lists were last refreshed.
    pub changed_sources: Vec<String>,
}

impl AptState {
    /// Why the lists must be refreshed whatever their age, if they must.
    pub fn stale_sources(&self) -> Option<String> {
        if let Some(first) = self.unindexed.first() {
            let more = self.unindexed.len() - 1;
            return Some(if more == 0 {
                format!("no lists for {first}")
            } else {
                format!("no lists for {first} (and {more} more)")
            });
        }
        let first = self.changed_sources.first()?;
        let more = self.changed_sources.len() - 1;
        Some(if more == 0 {
            format!("{first} changed since")
        } else {
            format!("{first} (and {more} more) changed since")
        })
    }
}

/// The result of a read-only check command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CommandResult {
    /// Exit status.
    pub rc: i32,
    /// Combined output (capped at 64 KiB).
    pub output: String,
}

/// The probe's output could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the fact probe's output: {0}")]
pub struct ParseError(pub String);

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
        let mut sums: Option<&[&str]> = None;
        let mut apt: Option<&[&str]> = None;
        for (kind, _, lines) in &mut sections {
            if kind == "sshd" || kind == "packages" {
                *lines = remembered(req, kind, lines, &mut facts)?;
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
                "contents" => contents_gz = arg == "gz",
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
                    for unit in parse_units(lines) {
                        let key = req
                            .units
                            .iter()
                            .find(|u| unit_matches(u, &unit.0))
                            .cloned()
                            .unwrap_or(unit.0.clone());
                        facts.units.insert(key, unit.1);
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
            let files = parse_batch(batch, &read, stats, bodies, sums.unwrap_or_default())?;
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
            let clean = kind != "sshd" || body.last() == Some(&"@rc 0");
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
/// output is not what the probe printed, and is refused.
fn parse_batch<'a>(
    paths: impl Iterator<Item = &'a String>,
    read: &BTreeSet<&String>,
    stats: &[&str],
    mut bodies: BTreeMap<String, Member>,
    sums: &[&str],
) -> Result<BTreeMap<String, FileState>, ParseError> {
    let bad = |line: &str| ParseError(format!("unexpected find output: {line:?}"));
    let mut found: BTreeMap<&str, FileState> = BTreeMap::new();
    for line in stats {
        let f: Vec<&str> = line.splitn(9, '|').collect();
        let [kind, mode, owner, group, size, _mtime, _ctime, _inode, path] = f.as_slice() else {
            return Err(bad(line));
        };
        if *path == "/." {
            break;
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
enum Member {
    File(Vec<u8>),
    Link(String),
}

/// The regular files and symbolic links of a tar stream by name. The stream is the host's
/// word: a header may claim any size (2^62) and a gzip stream may unpack to any length, so
/// every entry is held to [`MAX_FETCHED_FILE`] before anything is allocated, the whole stream
/// to [`MAX_FETCHED_TOTAL`], and allocation is fallible.
fn untar(stream: impl std::io::Read) -> Result<BTreeMap<String, Member>, ParseError> {
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
            "FragmentPath" => u.1.fragment_path = v.to_owned(),
            "NeedDaemonReload" => u.1.need_daemon_reload = v == "yes",
            _ => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar entry header for `path` claiming `size` bytes (whatever follows).
    fn raw_header(path: &str, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_size(size);
        h.set_mode(0o644);
        h.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        h
    }

    #[test]
    fn a_forged_tar_size_fails_the_probe_instead_of_aborting() {
        // 2^62 bytes: Vec::with_capacity of that aborted the whole controller.
        let mut bytes = raw_header("/etc/x", 1 << 62).as_bytes().to_vec();
        bytes.extend_from_slice(&[b'a'; 512]);
        let e = untar(bytes.as_slice()).unwrap_err();
        assert!(e.0.contains("/etc/x") && e.0.contains("1024 KiB"), "{e}");
        // Just over the per-file cap is refused too.
        let mut bytes = raw_header("/etc/y", MAX_FETCHED_FILE + 1)
            .as_bytes()
            .to_vec();
        bytes.extend(std::iter::repeat_n(0u8, 2 << 20));
        assert!(untar(bytes.as_slice()).is_err());
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_total_cap() {
        use std::io::Write as _;
        // 48 files of 1 MiB of zeros: 48 MiB unpacked from about 50 KiB on the wire.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; MAX_FETCHED_FILE as usize];
        for i in 0..48 {
            gz.write_all(raw_header(&format!("/etc/f{i}"), MAX_FETCHED_FILE).as_bytes())
                .unwrap();
            gz.write_all(&zeros).unwrap();
        }
        gz.write_all(&[0u8; 1024]).unwrap();
        let wire = gz.finish().unwrap();
        assert!(wire.len() < 200 << 10, "{}", wire.len());
        let e = untar(flate2::read::GzDecoder::new(wire.as_slice())).unwrap_err();
        assert!(e.0.contains("more than 32 MiB"), "{e}");
    }

    fn out(nonce: &str, sections: &[(&str, &str)]) -> String {
        let mut s = String::new();
        for (head, body) in sections {
            s.push_str(&format!("@@{nonce} {head}\n{body}"));
            if !body.is_empty() && !body.ends_with('\n') {
                s.push('\n');
            }
        }
        s.push_str(&format!("@@{nonce} end -\n"));
        s
    }

    #[test]
    fn parses_host_basics() {
        let o = out(
            "n",
            &[(
                "host -",
                "os_id=debian\nos_codename=bookworm\nvirt=systemd-nspawn\ndefault_iface=eth0\ndefault_iface6=\nhas_auth_log=0\nssh_connection=10.213.1.1 50000 10.213.1.2 22\n",
            )],
        );
        let f = Facts::parse(&FactRequest::new(), "n", &o).unwrap();
        assert_eq!(f.host.os_id, "debian");
        assert!(f.host.in_container());
        assert_eq!(f.host.default_iface.as_deref(), Some("eth0"));
        assert_eq!(f.host.default_iface6, None);
        let c = f.host.ssh_connection.unwrap();
        assert_eq!((c.client_ip.as_str(), c.server_port), ("10.213.1.1", 22));
    }

    #[test]
    fn parses_files_of_every_kind() {
        let odd = |path: &str| format!("oddfile {}", hex::encode(path));
        let heads = ["/a", "/b", "/c", "/d", "/e"].map(odd);
        let o = out(
            "n",
            &[
                (&heads[0], "absent"),
                (&heads[1], "file|644|root|root|3\nYWJj"),
                (&heads[2], "dir|700|lab|lab"),
                (&heads[3], "link|/x|y"),
                (&heads[4], "file|600|root|root|0\n"),
            ],
        );
        let f = Facts::parse(&FactRequest::new(), "n", &o).unwrap();
        assert_eq!(f.files["/a"], FileState::Absent);
        assert_eq!(f.files["/b"].text(), Some("abc"));
        assert!(matches!(f.files["/b"], FileState::File { mode: 0o644, .. }));
        assert!(
            matches!(&f.files["/c"], FileState::Dir { mode: 0o700, owner, .. } if owner == "lab")
        );
        assert_eq!(
            f.files["/d"],
            FileState::Link {
                target: "/x|y".into()
            }
        );
        assert_eq!(f.files["/e"].text(), Some(""));
    }

    #[test]
    fn a_probe_cut_short_is_an_error() {
        let o = "@@n host -\nos_id=debian\n";
        assert!(Facts::parse(&FactRequest::new(), "n", o).is_err());
    }

    #[test]
    fn forged_markers_with_another_nonce_are_content() {
        let o = out("good", &[("cmd x", "@@evil end -\n@rc 0")]);
        let f = Facts::parse(&FactRequest::new(), "good", &o).unwrap();
        assert_eq!(
            f.commands["x"],
            CommandResult {
                rc: 0,
                output: "@@evil end -".into()
            }
        );
    }

    #[test]
    fn parses_packages_units_and_fills_missing() {
        let mut req = FactRequest::new();
        req.packages.extend(["ufw".to_owned(), "nope".to_owned()]);
        req.units
            .extend(["ssh".to_owned(), "ghost.service".to_owned()]);
        let o = out(
            "n",
            &[
                ("packages -", "ufw\tii \t0.36.2-1\n"),
                (
                    "units -",
                    "Id=ssh.service\nLoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\n\nId=ghost.service\nLoadState=not-found\nActiveState=inactive\n",
                ),
            ],
        );
        let f = Facts::parse(&req, "n", &o).unwrap();
        assert!(f.packages["ufw"].installed);
        assert!(!f.packages["nope"].installed);
        assert!(f.units["ssh"].is_active() && f.units["ssh"].is_enabled());
        assert!(!f.units["ghost.service"].exists());
    }

    #[test]
    fn parses_sysctls_sshd_accounts_swaps_apt() {
        let mut req = FactRequest::new();
        req.accounts = true;
        req.sysctls
            .extend(["net.ipv4.tcp_rmem".to_owned(), "vm.nope".to_owned()]);
        let passwd = "root:x:0:0:root:/root:/bin/bash\nlab:x:1000:1000::/home/lab:/bin/bash\n";
        let group = "root:x:0:\nlab:x:1000:\nsudo:x:27:lab\ndocker:x:998:\n";
        let files = [(PASSWD, passwd), (GROUP, group)];
        let mut stats = String::new();
        for (path, body) in files {
            stats.push_str(&format!(
                "f|644|root|root|{}|1700000000.5|1700000000.5|42|{path}\n",
                body.len()
            ));
        }
        let archive = tar_of(&files);
        let o = out(
            "n",
            &[
                (
                    "sysctls -",
                    "/proc/sys/net/ipv4/tcp_rmem:4096\t131072\t6291456",
                ),
                ("stats -", &stats),
                ("contents -", ""),
                (
                    "sshd -",
                    "port 22\nport 2222\npermitrootlogin no\nallowusers a\nallowusers b\n@rc 0",
                ),
                (
                    "swaps -",
                    "Filename Type Size Used Priority\n/swapfile file 4194300 0 -2",
                ),
                (
                    "apt -",
                    "/var/lib/apt/lists 100\nreboot_required 1\nnow 160",
                ),
            ],
        );
        let mut bytes = o.into_bytes();
        bytes.extend_from_slice(&archive);
        let f = Facts::parse_output(&req, "n", &bytes).unwrap();
        assert_eq!(
            f.sysctls["net.ipv4.tcp_rmem"].as_deref(),
            Some("4096 131072 6291456")
        );
        assert_eq!(f.sysctls["vm.nope"], None);
        let sshd = f.sshd.unwrap();
        assert_eq!(sshd.all("port"), ["22", "2222"]);
        assert_eq!(sshd.all("allowusers"), ["a", "b"]);
        assert!(
            f.files.is_empty(),
            "the account files were not asked for as files"
        );
        let acc = f.accounts.unwrap();
        assert_eq!(
            acc.groups_of("lab").into_iter().collect::<Vec<_>>(),
            ["lab", "sudo"]
        );
        assert_eq!(f.swaps.unwrap()[0].size_kib, 4194300);
        let apt = f.apt.unwrap();
        assert_eq!(apt.lists_age_secs, 60);
        assert!(apt.reboot_required);
    }

    /// A tar of (path, content) as the probe's GNU `tar -P` writes it.
    fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, body) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            // GNU tar -P keeps the leading slash, which the tar crate's set_path refuses.
            h.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_cksum();
            tar.append(&h, body.as_bytes()).unwrap();
        }
        tar.into_inner().unwrap()
    }

    /// apt facts from a probe's output: the lists directory's and the stamp's mtimes, the
    /// clock (2000), the lists' names, and source files as (path, mtime, ctime, content).
    fn apt_facts(
        lists_dir: u64,
        stamp: Option<u64>,
        names: &[&str],
        files: &[(&str, u64, u64, &str)],
    ) -> AptState {
        let mut req = FactRequest::new();
        req.apt = true;
        let mut stats = format!("d|755|root|root|4096|{lists_dir}.5|{lists_dir}.5|7|{APT_LISTS}\n");
        for (path, mtime, ctime, body) in files {
            stats.push_str(&format!(
                "f|644|root|root|{}|{mtime}.25|{ctime}.25|9|{path}\n",
                body.len()
            ));
        }
        // A link in sources.list.d is not read.
        stats.push_str("l|777|root|root|9|0|5.0|3|/etc/apt/sources.list.d/link.list\n");
        let mut apt = format!("{APT_LISTS} {lists_dir}\n");
        if let Some(t) = stamp {
            apt.push_str(&format!("{APT_STAMP} {t}\n"));
        }
        apt.push_str("now 2000\nreboot_required 0\n");
        for n in names {
            apt.push_str(&format!("list {APT_LISTS}/{n}\n"));
        }
        // Unmatched globs print themselves.
        apt.push_str(&format!(
            "list {APT_LISTS}/*_Packages*\nlist {APT_LISTS}/*_Sources*\n"
        ));
        let o = out(
            "n",
            &[("stats -", &stats), ("contents -", ""), ("apt -", &apt)],
        );
        let mut bytes = o.into_bytes();
        let bodies: Vec<(&str, &str)> = files.iter().map(|(p, _, _, b)| (*p, *b)).collect();
        bytes.extend_from_slice(&tar_of(&bodies));
        let f = Facts::parse_output(&req, "n", &bytes).unwrap();
        assert!(f.files.is_empty(), "sources were not asked for as files");
        f.apt.unwrap()
    }

    const LAB: &str = "/etc/apt/sources.list.d/rampart-lab.list";
    const DEBIAN: &str = "/etc/apt/sources.list.d/debian.sources";
    const FUTURE: &str = "/etc/apt/sources.list.d/future.list";
    const LAB_LINE: &str = "deb [trusted=yes] file:/srv/lab-repo ./\n";
    const DEBIAN_822: &str = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n";
    const INRELEASE: &str = "deb.debian.org_debian_dists_bookworm_InRelease";

    #[test]
    fn apt_sources_without_lists_or_changed_since_are_found() {
        // Lists refreshed at 1000 (no stamp); the lab's source is older, the Debian one
        // newer, the third one is dated after the host's clock (2000).
        let apt = apt_facts(
            1000,
            None,
            &[INRELEASE],
            &[
                (LAB, 900, 900, LAB_LINE),
                (DEBIAN, 1500, 1500, DEBIAN_822),
                (FUTURE, 3000, 3000, "deb http://future.example/ x main\n"),
            ],
        );
        assert_eq!(apt.lists_age_secs, 1000);
        assert_eq!(
            apt.unindexed,
            [
                "deb file:/srv/lab-repo/ ./",
                "deb http://deb.debian.org/debian/ bookworm-updates",
                "deb http://future.example/ x",
            ]
        );
        assert_eq!(apt.changed_sources, [DEBIAN]);
    }

    #[test]
    fn a_source_installed_with_an_old_mtime_counts_by_its_ctime() {
        let apt = apt_facts(
            1000,
            Some(1000),
            &["_srv_lab-repo_._Packages"],
            &[(LAB, 500, 1200, LAB_LINE)],
        );
        assert_eq!(apt.changed_sources, [LAB]);
        assert!(apt.unindexed.is_empty());
    }

    #[test]
    fn a_repository_a_refresh_already_tried_waits_for_the_window() {
        // The stamp (touched after every refresh) is newer than the lists and every source:
        // the lab repository stayed without lists (unreachable): do not refresh every run.
        let tried = apt_facts(1000, Some(1100), &[INRELEASE], &[(LAB, 900, 900, LAB_LINE)]);
        assert_eq!((tried.unindexed.len(), tried.changed_sources.len()), (0, 0));
        assert_eq!(tried.lists_age_secs, 900);
        // The lists were emptied after it (`rm -rf /var/lib/apt/lists/*`): refresh.
        let emptied = apt_facts(1200, Some(1100), &[], &[(LAB, 900, 900, LAB_LINE)]);
        assert_eq!(emptied.unindexed, ["deb file:/srv/lab-repo/ ./"]);
        assert!(emptied.changed_sources.is_empty());
        // A source changed after it: refresh.
        let changed = apt_facts(
            1000,
            Some(1100),
            &[INRELEASE],
            &[(LAB, 1150, 1150, LAB_LINE)],
        );
        assert_eq!(changed.unindexed, ["deb file:/srv/lab-repo/ ./"]);
        assert_eq!(changed.changed_sources, [LAB]);
    }

    #[test]
    fn the_probe_names_apts_sources_once_even_when_a_role_reads_one() {
        let mut req = FactRequest::new();
        req.apt = true;
        req.file("/etc/apt/sources.list.d/docker.sources");
        let s = req.probe_script("n");
        assert!(
            s.contains("case $rampart_v in '/etc/apt/sources.list.d/docker.sources') ;;")
                || s.contains("case $rampart_v in /etc/apt/sources.list.d/docker.sources) ;;"),
            "{s}"
        );
        assert!(s.contains("$rampart_src"), "{s}");
        assert!(
            s.contains("printf 'list %s\\n' /var/lib/apt/lists/*Release"),
            "{s}"
        );
    }

    #[test]
    fn sshd_failure_keeps_the_error() {
        let o = out(
            "n",
            &[(
                "sshd -",
                "Missing privilege separation directory: /run/sshd\n@rc 255",
            )],
        );
        let f = Facts::parse(&FactRequest::new(), "n", &o).unwrap();
        let s = f.sshd.unwrap();
        assert!(!s.ok);
        assert!(s.error.unwrap().contains("privilege separation"));
    }

    #[test]
    fn check_commands_report_their_own_exit_status() {
        let mut req = FactRequest::new();
        req.commands.insert("x".into(), "false".into());
        let s = req.probe_script("n");
        assert!(
            s.contains("rampart_out=$( { false\n} </dev/null 2>&1 ); rampart_rc=$?"),
            "{s}"
        );
        assert!(s.contains("echo \"@rc $rampart_rc\""));
    }

    #[test]
    fn probe_script_quotes_paths_and_ends_with_marker() {
        let mut req = FactRequest::new();
        req.file("/etc/evil $(reboot)");
        req.sysctls.insert("vm.swappiness".into());
        let s = req.probe_script("abc");
        assert!(
            s.contains("find -P '/etc/evil $(reboot)' -maxdepth 0"),
            "{s}"
        );
        assert!(s.contains("grep -s -H '' /proc/sys/vm/swappiness"), "{s}");
        assert!(s.contains("echo '@@abc end -'\n"));
        assert!(s.trim_end().ends_with("} </dev/null"));
    }

    /// The probe against this machine's own shell, find, tar and base64 (GNU, as on every
    /// Debian and Ubuntu host): every kind of path comes back as `std::fs` sees it.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_probe_reads_a_real_tree() {
        use std::os::unix::fs::{PermissionsExt as _, symlink};
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap().to_owned();
        let p = |name: &str| format!("{d}/{name}");
        std::fs::write(p("small"), "hello\n").unwrap();
        std::fs::set_permissions(p("small"), std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(p("empty"), "").unwrap();
        std::fs::write(p("bin"), [0u8, 255, 10, 13, 0]).unwrap();
        std::fs::hard_link(p("small"), p("hardlink")).unwrap();
        let big = vec![b'x'; (MAX_FETCHED_FILE + 1) as usize];
        std::fs::write(p("big"), &big).unwrap();
        std::fs::write(p("statonly"), "secret-ish").unwrap();
        std::fs::create_dir(p("sub")).unwrap();
        std::fs::set_permissions(p("sub"), std::fs::Permissions::from_mode(0o1750)).unwrap();
        symlink("/some|where", p("link")).unwrap();
        let long = format!("sub/{}", "l".repeat(120));
        std::fs::write(p(&long), "long name\n").unwrap();
        std::fs::write(p("odd\nname"), "newline\n").unwrap();
        std::fs::write(p("sp $(touch pwned) 'q'"), "quoted\n").unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(p("fifo"))
            .status()
            .unwrap();
        assert!(status.success());

        let mut req = FactRequest::new();
        for name in [
            "small",
            "empty",
            "bin",
            "hardlink",
            "big",
            "sub",
            "link",
            &long,
            "odd\nname",
            "sp $(touch pwned) 'q'",
            "fifo",
            "missing",
        ] {
            req.file(p(name));
        }
        req.stats.insert(p("statonly"));
        req.sysctls.insert("kernel.ostype".into());
        req.sysctls.insert("kernel.pid_max".into());
        req.sysctls.insert("net.ipv4.tcp_rmem".into());
        req.sysctls.insert("vm.no_such_key".into());
        req.accounts = true;
        req.apt = true;
        req.swaps = true;
        req.stats.insert("relative/path".into());
        let script = req.probe_script("nonce1");
        let out = std::process::Command::new("sh")
            .args(["-c", &script, "sh", ""])
            .output()
            .unwrap();
        let f = Facts::parse_output(&req, "nonce1", &out.stdout).unwrap();

        assert!(!std::path::Path::new(&p("pwned")).exists());
        assert_eq!(f.files[&p("small")].text(), Some("hello\n"));
        assert!(matches!(
            f.files[&p("small")],
            FileState::File { mode: 0o600, .. }
        ));
        assert_eq!(f.files[&p("hardlink")].text(), Some("hello\n"));
        assert_eq!(f.files[&p("empty")].text(), Some(""));
        assert!(matches!(
            &f.files[&p("bin")],
            FileState::File { content: Some(c), .. } if c == &[0u8, 255, 10, 13, 0]
        ));
        let FileState::File {
            size,
            content,
            sha256,
            ..
        } = &f.files[&p("big")]
        else {
            panic!("{:?}", f.files[&p("big")]);
        };
        assert_eq!((*size, content.is_none()), (MAX_FETCHED_FILE + 1, true));
        assert_eq!(sha256, &sha256_hex(&big));
        assert!(matches!(
            &f.files[&p("statonly")],
            FileState::File { size: 10, content: None, sha256, .. } if sha256.is_empty()
        ));
        assert!(matches!(
            f.files[&p("sub")],
            FileState::Dir { mode: 0o1750, .. }
        ));
        assert_eq!(
            f.files[&p("link")],
            FileState::Link {
                target: "/some|where".into()
            }
        );
        assert_eq!(f.files[&p(&long)].text(), Some("long name\n"));
        assert_eq!(f.files[&p("odd\nname")].text(), Some("newline\n"));
        assert_eq!(
            f.files[&p("sp $(touch pwned) 'q'")].text(),
            Some("quoted\n")
        );
        assert_eq!(f.files[&p("fifo")], FileState::Other);
        assert_eq!(f.files[&p("missing")], FileState::Absent);
        assert_eq!(f.files["relative/path"], FileState::Absent);
        assert_eq!(f.files.len(), 14, "{:?}", f.files.keys());
        let read = |k: &str| {
            std::fs::read_to_string(sysctl_path(k))
                .ok()
                .map(|v| normalize_sysctl(v.trim_end()))
        };
        for k in ["kernel.ostype", "kernel.pid_max", "net.ipv4.tcp_rmem"] {
            assert_eq!(f.sysctls[k], read(k), "{k}");
            assert!(f.sysctls[k].is_some(), "{k}");
        }
        assert_eq!(f.sysctls["vm.no_such_key"], None);
        let accounts = f.accounts.as_ref().expect("accounts");
        assert_eq!(accounts.users["root"].uid, 0);
        assert!(accounts.groups.contains_key("root"));
        assert!(!f.files.contains_key(PASSWD), "not asked for as a file");
        assert!(f.swaps.is_some());
        let apt = f.apt.as_ref().expect("apt");
        if std::path::Path::new(APT_LISTS).exists() {
            assert!(apt.lists_age_secs < u64::MAX, "{apt:?}");
        }
        let uname = |a: &str| {
            let o = std::process::Command::new("uname").arg(a).output().unwrap();
            String::from_utf8_lossy(&o.stdout).trim().to_owned()
        };
        assert_eq!(f.host.kernel, uname("-r"));
        assert_eq!(f.host.arch, uname("-m"));
    }
}
