# shellcheck shell=sh
# sysctls (facts::probe): one grep for all keys, `path:value` lines. Not the shell's `read`:
# dash reads a byte at a time, and integer sysctls return nothing at a non-zero offset.
# $1: the section's marker line; then the /proc/sys paths.
printf '%s\n' "$1"
shift
grep -s -H '' "$@" || true
