# shellcheck shell=sh
# The live daemons asked once per probe (facts::probe), before the checks: a full site's checks
# call `sshd -T` a dozen times, `ufw status verbose` three times (a Python start each: ~90 ms) and
# `docker info` twice, and on a host those calls are most of an audit's cost. For each call in
# $1.. that succeeds here, a function of the tool's name answers that exact call (same words)
# from this one run; every other call goes to the tool (`command`). A failed run is not kept,
# and no function is defined for it, so `command -v`, errors and exit codes stay the tool's.
# Kept: the standard output of a run that exited 0 (its standard error is dropped). Nothing is
# written anywhere. $1..: each one of "sshd -T", "ufw status", "ufw status verbose",
# "docker info", "docker_api /info" (the Docker API's `GET /info`, through the checks' own
# `docker_api`, verify/docker_api.sh, defined before this; that function answers from here). A successful `sshd -T` of the facts (sshd.sh, earlier in the probe) is that
# run already.
rampart_replay() { if [ -n "$1" ]; then printf '%s\n' "$1"; fi; }
for rampart_m do
  # shellcheck disable=SC2034 # rampart_m_api, rampart_k_api: docker_api's (verify/docker_api.sh)
  case $rampart_m in
    'sshd -T') [ -n "${rampart_k_sshd:-}" ] || { rampart_m_sshd=$(sshd -T 2>/dev/null) && rampart_k_sshd=1; } ;;
    'ufw status') rampart_m_ufw=$(ufw status 2>/dev/null) && rampart_k_ufw=1 ;;
    'ufw status verbose') rampart_m_ufwv=$(ufw status verbose 2>/dev/null) && rampart_k_ufwv=1 ;;
    'docker info') rampart_m_docker=$(docker info 2>/dev/null) && rampart_k_docker=1 ;;
    'docker_api /info') rampart_m_api=$(docker_api /info) && rampart_k_api=1 ;;
  esac
done
if [ -n "${rampart_k_sshd:-}" ]; then
  sshd() {
    if [ "$*" = '-T' ]; then rampart_replay "$rampart_m_sshd"; else command sshd "$@"; fi
  }
fi
if [ -n "${rampart_k_ufw:-}${rampart_k_ufwv:-}" ]; then
  ufw() {
    if [ -n "${rampart_k_ufw:-}" ] && [ "$*" = 'status' ]; then rampart_replay "$rampart_m_ufw"
    elif [ -n "${rampart_k_ufwv:-}" ] && [ "$*" = 'status verbose' ]; then rampart_replay "$rampart_m_ufwv"
    else command ufw "$@"; fi
  }
fi
if [ -n "${rampart_k_docker:-}" ]; then
  docker() {
    if [ "$*" = 'info' ]; then rampart_replay "$rampart_m_docker"; else command docker "$@"; fi
  }
fi
