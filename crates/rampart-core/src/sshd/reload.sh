# shellcheck shell=sh
# sshd after its configuration changed: a reload, then wait until it listens again.
# $1 the service unit (ssh.service or sshd.service), $2 sshd's pid file.
# `systemctl reload` returns as soon as sshd got its SIGHUP, while sshd is still closing its
# sockets and re-executing: a login in that window is refused. sshd rewrites its pid file right
# after it listens again, so wait for that (10 s at most).
m=$(mktemp /run/rampart-sshd-reload.XXXXXX)
trap 'rm -f "$m"' EXIT
systemctl try-reload-or-restart "$1"
if systemctl is-active --quiet "$1" && [ -e "$2" ]; then
  i=0
  until [ -n "$(find "$2" -newer "$m" 2>/dev/null)" ]; do
    i=$((i + 1))
    if [ "$i" -gt 100 ]; then
      echo 'rampart: sshd did not listen again within 10 s of the reload' >&2
      exit 1
    fi
    sleep 0.1
  done
fi
