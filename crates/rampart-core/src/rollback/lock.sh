# shellcheck shell=sh
# The host lock (rollback::lock_script): take it for run $2, or refresh it if it is already
# ours, or exit 73 after saying who holds it. $1: the lock directory, $3: the grace seconds of
# a lock without holders. See lock_script's documentation for the protocol.
rampart_l=$1 rampart_o=$2 rampart_grace=$3
rampart_holders() {
  # shellcheck disable=SC2016 # awk code, not shell
  awk -v p=$$ 'BEGIN { while (p > 1) { f = "/proc/" p "/stat"; if ((getline l < f) <= 0) exit; close(f)
    s = l; sub(/^.*\) /, "", s); split(s, a, " ")
    if (l ~ /^[0-9]+ \(sshd/) { print p, a[20]; exit }
    p = a[2] } }' 2>/dev/null
  printf '%s %s\n' $$ "$(rampart_started $$)"
}
rampart_started() {
  awk '{ sub(/^.*\) /, ""); print $20 }' /proc/"$1"/stat 2>/dev/null
}
rampart_alive() {
  if [ -s "$rampart_l/holders" ]; then
    while read -r hp hs; do
      [ "$(rampart_started "$hp")" = "$hs" ] && return 0
    done <"$rampart_l/holders"
    return 1
  fi
  [ $(( $(date +%s) - $(stat -c %Y "$rampart_l" 2>/dev/null || date +%s) )) -le "$rampart_grace" ]
}
rampart_take() {
  mkdir "$rampart_l" 2>/dev/null && printf '%s\n' "$rampart_o" > "$rampart_l/owner" && rampart_holders >> "$rampart_l/holders"
}
rampart_lock() {
  if rampart_take; then return 0; fi
  if [ "$(cat "$rampart_l/owner" 2>/dev/null)" = "$rampart_o" ]; then touch "$rampart_l/owner"; rampart_holders >> "$rampart_l/holders"; return 0; fi
  rampart_was=$(cat "$rampart_l/owner" "$rampart_l/holders" 2>/dev/null)
  if ! rampart_alive && mkdir "$rampart_l/takeover" 2>/dev/null; then
    if [ "$(cat "$rampart_l/owner" "$rampart_l/holders" 2>/dev/null)" = "$rampart_was" ]; then
      echo "rampart: took over the host lock of an interrupted run ($(cat "$rampart_l/owner" 2>/dev/null)): none of its processes runs any more" >&2
      mv -T "$rampart_l" "$rampart_l.dead.$$" && rm -rf "$rampart_l.dead.$$"
      if rampart_take; then return 0; fi
    else
      rmdir "$rampart_l/takeover" 2>/dev/null
    fi
  fi
  age=$(( $(date +%s) - $(stat -c %Y "$rampart_l/owner" 2>/dev/null || date +%s) ))
  echo "rampart: this host is locked by another rampart run ($(cat "$rampart_l/owner" 2>/dev/null), last active ${age} s ago, still running on the host); wait for it to finish. The lock is released as soon as none of that run's processes runs on the host; remove $rampart_l by hand only if you know it is gone" >&2
  return 1
}
rampart_lock || exit 73
