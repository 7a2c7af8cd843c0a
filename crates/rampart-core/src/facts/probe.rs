//! The probe script: one POSIX shell script that prints every requested fact.

use super::request::{
    APT_LISTS, APT_SOURCE_DIR, APT_SOURCE_LIST, APT_STAMP, batchable, is_apt_source, sysctl_path,
};
use super::{Cached, DPKG_STATUS, FactRequest, GZIP_ABOVE, MAX_FETCHED_FILE, SSHD_INPUTS};
use crate::shell::{join, quote};

impl FactRequest {
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
