# shellcheck shell=sh disable=SC2034 # f: read by end.sh
# baseline_modprobe MODULE FILE: FILE blacklists MODULE (both "install MODULE /bin/false" and
# "blacklist MODULE"), or a FAIL line (and f=1).
baseline_modprobe() {
  if ! { grep -qxF "install $1 /bin/false" "$2" && grep -qxF "blacklist $1" "$2"; }; then
    echo "FAIL: $2 does not blacklist $1"; f=1
  fi
}
