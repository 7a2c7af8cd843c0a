# shellcheck shell=sh
# sshd's effective configuration (facts::probe), or @cached when the fingerprint of its inputs
# is the remembered one. $1: the section's marker line, $2: "1" when an answer is remembered,
# $3: its fingerprint. A run that succeeds is kept for memo.sh (rampart_m_sshd, the same
# variable and terms: its standard output, exit 0), so the checks that call `sshd -T` after it
# are answered from this run instead of a second one (~10 ms of a host's CPU); a run that fails
# is made again for its error, which the section then carries.
printf '%s\n' "$1"
if [ -d /run/sshd ]; then
  # shellcheck disable=SC2154 # rampart_fp_sshd is stats.sh's
  if [ -n "$2" ] && [ "$rampart_fp_sshd" = "$3" ]; then echo @cached
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
