# shellcheck shell=sh
# baseline_if_exists PATH: without PATH (not even a dangling link) the check passes and says
# it does not apply (`if_exists`).
baseline_if_exists() {
  [ -e "$1" ] || [ -L "$1" ] || { echo "not applicable: $1 does not exist"; echo ok; exit 0; }
}
