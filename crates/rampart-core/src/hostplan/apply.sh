# shellcheck shell=sh disable=SC2034 # rampart_ok is read by the frame around each change
# The batched apply script's bookkeeping (hostplan::apply_script). Each change runs in its own
# `set -e` subshell framed by marker lines; the first failure stops the role, but the
# handlers notified by the changes that did succeed still run.
rampart_ok=1 rampart_notified=' '
# rampart_done RC MARKER INDEX "HANDLERS": reports a change's status and, when it worked,
# notes the handlers (indices, separated by spaces) it notifies.
rampart_done() {
  echo "$2 rc $3 $1"
  if [ "$1" = 0 ]; then rampart_notified="$rampart_notified$4 "; else rampart_ok=0; fi
}
# rampart_notifies INDEX: whether a change that worked notified handler INDEX.
rampart_notifies() {
  case $rampart_notified in *" $1 "*) return 0 ;; esac
  return 1
}
