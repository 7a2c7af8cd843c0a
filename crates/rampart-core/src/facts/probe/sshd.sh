# shellcheck shell=sh disable=SC2154 # rampart_fp_sshd is stats.sh's
# sshd's effective configuration (facts::probe), or @cached when the fingerprint of its inputs
# is the remembered one. $1: the section's marker line, $2: "1" when an answer is remembered,
# $3: its fingerprint, $4: "1" when that answer may stand only if the fingerprint covers every
# file sshd reads (the audit's terms; rampart_sshd_covered). A run that succeeds is kept for
# memo.sh (rampart_m_sshd, the same variable and terms: its standard output, exit 0), so the
# checks that call `sshd -T` after it are answered from this run instead of a second one
# (~10 ms of a host's CPU); a run that fails is made again for its error, which the section
# then carries.
printf '%s\n' "$1"
# Whether the fingerprint (stats.sh: sshd_config, sshd_config.d/*, the host keys, the binary)
# sees every change sshd would: no fingerprinted path is a symbolic link (find stats the link,
# not its target), and every `Include` names files in sshd_config.d/ (relative to /etc/ssh or
# not); anything else, `Include=...` and quoted names included, is a no.
rampart_sshd_covered() {
  case ";$rampart_fp_sshd" in *";l|"*) return 1 ;; esac
  rampart_i=$(grep -hiE '^[[:space:]]*include([[:space:]]|=)' /etc/ssh/sshd_config /etc/ssh/sshd_config.d/* 2>/dev/null)
  [ -n "$rampart_i" ] || return 0
  set -f
  for rampart_w in $rampart_i; do
    case $rampart_w in
      [Ii][Nn][Cc][Ll][Uu][Dd][Ee]) ;;
      sshd_config.d/*|/etc/ssh/sshd_config.d/*) case ${rampart_w#*sshd_config.d/} in */*) set +f; return 1 ;; esac ;;
      *) set +f; return 1 ;;
    esac
  done
  set +f
}
if [ -d /run/sshd ]; then
  if [ -n "$2" ] && [ "$rampart_fp_sshd" = "$3" ] && { [ -z "$4" ] || rampart_sshd_covered; }; then echo @cached
  else
    echo "@fp $rampart_fp_sshd"
    if rampart_m_sshd=$(sshd -T 2>/dev/null); then
      # shellcheck disable=SC2034 # memo.sh's
      rampart_k_sshd=1
      if [ -n "$rampart_m_sshd" ]; then printf '%s\n' "$rampart_m_sshd"; fi
      echo '@rc 0'
    else sshd -T 2>&1; echo "@rc $?"; fi
  fi
else echo '@rc 255'; echo 'Missing privilege separation directory: /run/sshd'; fi
