# shellcheck shell=sh
# sshd_ports: the ports sshd listens on, one per line (nothing when `sshd -T` cannot run).
# The one copy of this knowledge: every check that needs sshd's ports starts with it.
sshd_ports() {
	sshd -T 2>/dev/null | sed -n 's/^port //p'
}
