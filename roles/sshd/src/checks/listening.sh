# shellcheck shell=sh
# sshd.listening(-PORT): the listening TCP sockets on port $2 (none: empty output).
ss -Hltn "sport = :$2"
