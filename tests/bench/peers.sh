#!/bin/bash
# tests/bench/peers.sh — the peers' venv for the benchmark: Ansible (the full `ansible` package:
# ansible-core alone lacks community.general.ufw and ansible.posix.sysctl, and the collection hub
# is not reachable here) and pyinfra 3, from PyPI, in one venv under a cache directory.
# Idempotent: a complete venv is reused; an interrupted one is rebuilt. Prints the venv's path.
# Env: RAMPART_BENCH_CACHE (/var/cache/rampart-bench)   BENCH_PIP_ARGS (extra pip arguments)
#      BENCH_ANSIBLE_SPEC ("ansible")  BENCH_PYINFRA_SPEC ("pyinfra>=3,<4")
set -euo pipefail
CACHE=${RAMPART_BENCH_CACHE:-/var/cache/rampart-bench}
VENV=$CACHE/venv
log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
if [ -e "$VENV/.rampart-bench-complete" ]; then echo "$VENV"; exit 0; fi
# Debian's own python3 (a python3 earlier on PATH, e.g. pyenv's, would do as well)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || true)
[ -n "$PY" ] || { log "no python3: apt-get install python3 python3-venv"; exit 1; }
if ! "$PY" -c 'import ensurepip, venv' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing python3-venv"
    apt-get install -y -q python3-venv >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q python3-venv >/dev/null; }
  else
    log "python3 has no venv/ensurepip: apt-get install python3-venv"; exit 1
  fi
fi
mkdir -p "$CACHE"
rm -rf "$VENV"
log "creating $VENV with $PY ($("$PY" --version 2>&1)); pip install ansible pyinfra (a few minutes)"
"$PY" -m venv "$VENV"
# shellcheck disable=SC2086
"$VENV/bin/pip" install -q --disable-pip-version-check ${BENCH_PIP_ARGS:-} \
  "${BENCH_ANSIBLE_SPEC:-ansible}" "${BENCH_PYINFRA_SPEC:-pyinfra>=3,<4}"
"$VENV/bin/ansible-playbook" --version | head -n1 >&2
"$VENV/bin/pyinfra" --version >&2
touch "$VENV/.rampart-bench-complete"
echo "$VENV"
