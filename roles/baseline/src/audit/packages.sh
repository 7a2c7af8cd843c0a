# shellcheck shell=sh disable=SC2034 # f: read by end.sh
# Packages, as dpkg sees them ("?i": installed).
# baseline_if_installed PACKAGE: without it installed the check passes and says it does not
#   apply (`if_installed`).
# baseline_installed PACKAGE / baseline_not_installed PACKAGE: a FAIL line (and f=1) when the
#   package is missing / installed.
baseline_dpkg_has() {
  # shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
  dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^.i'
}
baseline_if_installed() {
  baseline_dpkg_has "$1" || { echo "not applicable: $1 is not installed"; echo ok; exit 0; }
}
baseline_installed() {
  baseline_dpkg_has "$1" || { echo "FAIL: package $1 is not installed"; f=1; }
}
baseline_not_installed() {
  if baseline_dpkg_has "$1"; then echo "FAIL: package $1 is installed"; f=1; fi
}
