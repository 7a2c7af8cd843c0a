# shellcheck shell=sh
# A socket-activated sshd moved onto its socket as (re)generated: the listener stopped
# (KillMode=process: sessions survive), the socket restarted, sshd started on it. systemd
# refuses to start the socket while sshd runs. $1 the service unit (ssh.service). The sshd
# handler runs it after its daemon-reload (reload_socket.sh); the rollback's restore runs it as
# the function rampart_sshd_on_socket (rollback::restore_script).
systemctl stop "$1"
systemctl restart ssh.socket
systemctl start "$1"
