# shellcheck shell=sh disable=SC2034,SC2086,SC2154 # variables for the later sections; splits on purpose; rampart_src is sources.sh's
# The batched stat pass (facts::probe): one find stats every path; its records, read by the
# shell's builtins, pick the files the tar carries, apt's timestamps and the clock (the mtime
# of the shell's fresh /proc/PID), and the fingerprints of the cacheable sections.
# $1: the section's marker line; $2 "1" for apt's paths, $3 "1" for fingerprints, $4 "1" for
# sshd's inputs, $5 "1" for dpkg's database, $6 the paths to read (each between newlines), $7
# "1" when a tar carries contents, $8 the largest file fetched, $9 the find records of the files
# whose content the controller remembers (each between newlines: such a file stays out of the
# tar while its record is the same), ${10} "1" for apt's configuration (`apt-config dump`'s
# inputs); then the paths to stat.
# No record of find's carries text a user on the host controls: a link's target (%l) is never
# printed; the link travels in the tar, whose header frames its target by length.
printf '%s\n' "$1"
rampart_apt=$2 rampart_fps=$3 rampart_want=$6 rampart_carry=$7 rampart_max=$8
rampart_sshd=$4 rampart_pk=$5 rampart_known=$9 rampart_aptconf=${10}
shift 10
# The clock (for apt's age and the remembered contents' age), apt's sources; `/.` marks where
# the fingerprint inputs start (the fingerprint must not depend on which files this probe also
# reads). Unquoted: the globs expand here.
if [ -n "$rampart_apt$rampart_carry" ]; then set -- "$@" /proc/$$; fi
if [ -n "$rampart_apt" ]; then set -- "$@" $rampart_src; fi
if [ -n "$rampart_fps" ]; then set -- "$@" /.; fi
if [ -n "$rampart_sshd" ]; then set -- "$@" /usr/sbin/sshd /etc/ssh/sshd_config /etc/ssh/sshd_config.d /etc/ssh/sshd_config.d/* /etc/ssh/ssh_host_*; fi
if [ -n "$rampart_pk" ]; then set -- "$@" /var/lib/dpkg/status; fi
if [ -n "$rampart_aptconf" ]; then set -- "$@" /usr/bin/apt-config /usr/lib/*/libapt-pkg.so.*.*.* /etc/apt/apt.conf /etc/apt/apt.conf.d /etc/apt/apt.conf.d/*; fi
rampart_st=$(find -P "$@" -maxdepth 0 -printf '%y|%m|%u|%g|%s|%T@|%C@|%i|%p\n' 2>/dev/null)
printf '%s\n' "$rampart_st"
# One pass over find's records, in the shell's memory: a `while read` loop over a
# here-document costs dash a forked writer (over 4 KiB) and a read(2) per byte. The path is
# the 9th field; only a path holding `|` needs the pattern strip, whose eight `*` cost dash
# 5 ms over a site's 70 records.
# A file the tar carries: its path joins the list, and the tar's size (a 512-byte header, the
# content in 512-byte blocks: facts::GZIP_ABOVE) grows by its share; unless its record ($r) is
# one the controller remembers the content of. $1: its size.
rampart_take() {
  case $rampart_known in *"
$r
"*) return ;; esac
  rampart_small="$rampart_small$p
"
  rampart_sum=$((rampart_sum + 512 + ($1 + 511) / 512 * 512))
}
rampart_rec() {
  if [ $# -eq 9 ]; then p=$9; else p=${r#*|*|*|*|*|*|*|*|}; fi
  if [ -n "$rampart_fps" ]; then
    if [ -n "$rampart_fpon" ]; then
      case $p in
      /usr/sbin/sshd|/etc/ssh/*) rampart_fp_sshd="$rampart_fp_sshd$r;" ;;
      /var/lib/dpkg/status) rampart_fp_packages="$rampart_fp_packages$r;" ;;
      /usr/bin/apt-config|/usr/lib/*/libapt-pkg.so.*|/etc/apt/apt.conf|/etc/apt/apt.conf.d|/etc/apt/apt.conf.d/*) rampart_fp_aptconf="$rampart_fp_aptconf$r;" ;;
      esac
      return
    fi
    if [ "$p" = /. ]; then rampart_fpon=1; return; fi
  fi
  if [ "$p" = "/proc/$$" ]; then rampart_now=${6%%.*}; return; fi
  if [ -n "$rampart_apt" ]; then
    case $p in /var/lib/apt/lists) rampart_lists=${6%%.*} ;; /var/lib/apt/periodic/update-success-stamp) rampart_stamp=${6%%.*} ;; esac
  fi
  if [ "$1" = l ]; then rampart_small="$rampart_small$p
"; return; fi
  if [ -n "$rampart_carry" ] && [ "$1" = f ]; then
    case $rampart_want in
    *"
$p
"*)
      if [ "$5" -le "$rampart_max" ]; then rampart_take "$5"; else rampart_big=1; fi
      return ;;
    esac
    # A source file too big to carry is one apt's freshness cannot judge.
    if [ -n "$rampart_apt" ]; then
      case $p in /etc/apt/sources.list|/etc/apt/sources.list.d/*.list|/etc/apt/sources.list.d/*.sources)
        if [ "$5" -le "$rampart_max" ]; then rampart_take "$5"; fi ;;
      esac
    fi
  fi
}
rampart_small='' rampart_big='' rampart_sum=0 rampart_fp_sshd='' rampart_fp_packages='' rampart_fp_aptconf='' rampart_lists='' rampart_stamp='' rampart_now='' rampart_fpon=''
rampart_ifs=$IFS
IFS='
'
set -f
for r in $rampart_st; do
  IFS='|'; rampart_rec $r; IFS='
'
done
IFS=$rampart_ifs
set +f
