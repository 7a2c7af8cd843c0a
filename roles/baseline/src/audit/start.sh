# shellcheck shell=sh disable=SC2034 # f: read by end.sh
# How every control's check starts (audit.rs): no FAIL yet. Each kind's function prints
# "FAIL: ..." and sets f=1; end.sh prints "ok" when none did.
f=0
