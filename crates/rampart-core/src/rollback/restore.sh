# shellcheck shell=sh
# rampart dead-man switch: rampart could not confirm a change over a fresh connection in time.
# Puts every snapshotted path back as it was, then makes the services read it again. Written
# by arm.sh as SNAPSHOT/restore.sh after "#!/bin/sh", "S=SNAPSHOT" (quoted by shell::quote),
# the safe-path functions (shell::SAFE_PATH_FNS) and rampart_sshd_on_socket
# (sshd/socket_restart.sh).
# shellcheck disable=SC2154 # S is set above this part
mkdir "$S/claimed" 2>/dev/null || exit 0
rampart_skip() {
  logger -t rampart "rollback: left $1 alone: its directory could not be entered safely" 2>/dev/null
  echo "rampart: rollback left $1 alone" >&2
}
while IFS= read -r p; do
  [ -n "$p" ] || continue
  (rampart_cd "${p%/*}" && rm -f -- "./${p##*/}") || rampart_skip "$p"
done < "$S/absent"
while IFS= read -r p; do
  [ -n "$p" ] || continue
  n=0 r=${p#/}
  while :; do case $r in */*) r=${r#*/}; n=$((n + 1)) ;; *) break ;; esac; done
  (rampart_cd "${p%/*}" && tar -xpf "$S/files.tar" --strip-components="$n" -- "${p#/}") || rampart_skip "$p"
done < "$S/present"
if [ -e "$S/ufw" ]; then
  if grep -q '^ENABLED=yes' /etc/ufw/ufw.conf 2>/dev/null; then ufw --force enable; else ufw --force disable >/dev/null 2>&1 || ufw disable; fi
elif [ -e "$S/iptables.v4" ]; then
  iptables-restore < "$S/iptables.v4"; [ -s "$S/iptables.v6" ] && ip6tables-restore < "$S/iptables.v6"
fi
systemctl daemon-reload 2>/dev/null
if [ -e "$S/sshd" ]; then
  mkdir -p /run/sshd
  if [ -e "$S/ssh.socket" ] || systemctl is-active --quiet ssh.socket 2>/dev/null; then
    # Socket-activated sshd (Ubuntu 24.04), by the sshd handler's own steps: a SIGHUP makes that
    # sshd exit without a socket, and whether `systemctl reload` reports that exit is a race
    # whose loss left nothing listening.
    rampart_sshd_on_socket ssh.service
  else
    systemctl reload ssh 2>/dev/null || systemctl reload sshd 2>/dev/null || systemctl restart ssh 2>/dev/null || systemctl restart sshd
  fi
  # Whatever happened above, something must listen again.
  systemctl is-active --quiet ssh.service 2>/dev/null || systemctl is-active --quiet sshd.service 2>/dev/null \
    || systemctl is-active --quiet ssh.socket 2>/dev/null || systemctl restart ssh 2>/dev/null || systemctl restart sshd
fi
date -u +%Y-%m-%dT%H:%M:%SZ > "$S/rolled-back"
logger -t rampart "rolled back an unconfirmed change (snapshot $S)" 2>/dev/null
exit 0
