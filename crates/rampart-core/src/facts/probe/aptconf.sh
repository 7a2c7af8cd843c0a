# shellcheck shell=sh disable=SC2154 # rampart_fp_aptconf is stats.sh's
# `apt-config dump` (facts::probe: the shared command of the unattended-upgrades controls), or
# @cached when the fingerprint of its inputs (stats.sh: apt-config and libapt-pkg, apt.conf,
# apt.conf.d and its files) is the remembered one and covers all apt reads: no record is a
# symbolic link (find stats the link, not its target) and no file says `#include` or moves
# `Dir::Etc` elsewhere (one grep, ~1 ms, where apt-config costs ~10 ms of the host's CPU).
# Otherwise it runs, as the command section would (cmd.sh: no input, its errors in its output),
# after an `@fp` line: the fingerprint when it covers all, else nothing to remember.
# $1: the section's marker line, $2: "1" when an answer is remembered, $3: its fingerprint.
printf '%s\n' "$1"
rampart_aptconf_covered() {
  case ";$rampart_fp_aptconf" in *";l|"*) return 1 ;; esac
  ! grep -qsiE '^[[:space:]]*(#[[:space:]]*include|dir(::etc|[[:space:]]*("|\{|$)))' /etc/apt/apt.conf /etc/apt/apt.conf.d/*
}
if rampart_aptconf_covered; then
  if [ -n "$2" ] && [ "$rampart_fp_aptconf" = "$3" ]; then rampart_v=@cached; else rampart_v="@fp $rampart_fp_aptconf"; fi
else rampart_v='@fp '; fi
printf '%s\n' "$rampart_v"
if [ "$rampart_v" != @cached ]; then
  rampart_out=$( { apt-config dump; } </dev/null 2>&1 ); rampart_rc=$?
  printf '%s\n' "$rampart_out"; echo "@rc $rampart_rc"
fi
