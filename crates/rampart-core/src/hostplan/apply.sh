# shellcheck shell=sh disable=SC2034 # rampart_ok is read by the frame around each change
# The batched apply script's bookkeeping (hostplan::apply_script). Each change runs in its own
# `set -e` subshell framed by marker lines; the first failure stops the role, but the
# handlers notified by the changes that did succeed still run.
rampart_ok=1 rampart_notified=' '
# rampart_done RC MARKER INDEX "HANDLERS": reports a change's status and, when it worked,
# notes the handlers (indices, separated by spaces) it notifies.
rampart_done() {
  rampart_uptime
  echo "$2 rc $3 $1 $rampart_up"
  if [ "$1" = 0 ]; then rampart_notified="$rampart_notified$4 "; else rampart_ok=0; fi
}
# rampart_hdone RC MARKER INDEX: reports a handler's status.
rampart_hdone() {
  rampart_uptime
  echo "$2 hrc $3 $1 $rampart_up"
}
# rampart_uptime: the host's uptime in $rampart_up (`-` without /proc/uptime), with the
# shell's own `read`: no process, so every marker can carry it.
rampart_uptime() {
  read -r rampart_up _ </proc/uptime 2>/dev/null || rampart_up=-
}
# rampart_notifies INDEX: whether a change that worked notified handler INDEX.
rampart_notifies() {
  case $rampart_notified in *" $1 "*) return 0 ;; esac
  return 1
}
