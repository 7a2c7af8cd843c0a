#!/bin/bash
# exec.sh hN [CMD ...] — run CMD as root inside lab host hN without SSH, by entering the
# namespaces (mount, UTS, IPC, net, PID, cgroup) and the root of the host's systemd (there is no
# machined, so no `machinectl shell`). Without CMD: a login shell. stdin, stdout, stderr and the
# exit status pass through, so tests use it to inject drift and to read state independently of
# rampart:  exec.sh h3 sh -c 'echo PermitRootLogin yes >> /etc/ssh/sshd_config'
#           exec.sh h3 runuser -u lab -- id
# The command gets a clean environment (nothing of the caller's leaks in). Note: it runs with
# the machine's full root capabilities, more than nspawn grants root inside the host.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

case ${1:-} in -h|--help|"") echo "usage: ${0##*/} hN [CMD ...]"; [ -n "${1:-}" ]; exit ;; esac
[ "$(id -u)" = 0 ] || lab_die "must run as root (nsenter)"
i=$(lab_index "$1"); shift
leader=$(lab_leader "$i") || lab_die "h$i is not running (tests/lab/up.sh N)"
(($#)) || set -- /bin/bash -l
exec nsenter -t "$leader" -m -u -i -n -p -C -r -w -- \
  /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/root USER=root LOGNAME=root SHELL=/bin/bash LANG=C.UTF-8 TERM="${TERM:-dumb}" "$@"
