# shellcheck shell=sh disable=SC2034 # f: read by end.sh
# baseline_command CHECK: the catalogue's read-only check (shell code written in the
# catalogue, embedded in the binary: operator code, run as written, in a subshell) exits 0;
# its output is not evidence. Otherwise a FAIL line (and f=1).
baseline_command() {
  ( eval "$1" ) >/dev/null 2>&1 || { echo "FAIL: its check fails"; f=1; }
}
