# shellcheck shell=sh
# sshd after its configuration changed, on a socket-activated host (Ubuntu 24.04's ssh.socket).
# $1 the service unit (ssh.service).
# The generator writes the socket's ListenStream from Port/ListenAddress at a daemon-reload.
# systemd refuses to start a socket while its service runs ("Socket service ssh.service already
# active, refusing"), and a running sshd keeps listening on the socket it was handed: stop the
# listener first (KillMode=process: sessions, this one included, survive), then the socket on
# its new addresses, then sshd on it, so the next login is served at once. A SIGHUP reload is no
# use here: sshd re-executes without the socket and, on Debian 13's sshd, exits ("Cannot bind
# any address"). The steps after the daemon-reload are socket_restart.sh, which follows this
# file in the handler (sshd.rs) and which the dead-man switch's restore runs too.
systemctl daemon-reload
