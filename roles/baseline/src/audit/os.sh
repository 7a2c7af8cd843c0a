# shellcheck shell=sh
# baseline_os PATTERN...: the control covers the releases "$ID-$VERSION_ID" (from
# /etc/os-release) matches one of the case patterns ("ubuntu-24.04", "debian-12*"); on any
# other release the check passes and says it does not apply.
baseline_os() {
  # shellcheck source=/dev/null
  . /etc/os-release
  for p do
    # shellcheck disable=SC2254 # the patterns are globs ("debian-12*")
    case "$ID-$VERSION_ID" in $p) return 0 ;; esac
  done
  echo "not applicable on $ID $VERSION_ID"; echo ok; exit 0
}
