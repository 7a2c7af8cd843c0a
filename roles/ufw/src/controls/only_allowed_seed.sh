# shellcheck shell=sh
# ufw.only-allowed, the audit's built-in: ufw lets in only SSH (the ports sshd listens on,
# from sshd_ports) and Tailscale (41641/udp). Ends with `ok` or FAIL lines.
command -v ufw >/dev/null 2>&1 || { echo 'FAIL: ufw is not installed'; exit 0; }
s=$(ufw status 2>&1)
printf '%s\n' "$s" | grep -q '^Status: active' || { echo "FAIL: ufw is not active ($s)"; exit 0; }
ssh=$(sshd_ports)
bad=0
rules=$(printf '%s\n' "$s" | sed '1,/^--/d')
while IFS= read -r l; do
	[ -n "$l" ] || continue
	case "$l" in *' DENY'* | *' REJECT'*) echo "deny: $l"; continue ;; esac
	to=${l%%  *}
	to=${to% (v6)}
	ok=0
	case "$to" in 41641/udp | OpenSSH) ok=1 ;; esac
	for p in $ssh; do case "$to" in "$p" | "$p/tcp") ok=1 ;; esac; done
	if [ $ok = 1 ]; then echo "allowed: $l"; else echo "FAIL unexpected: $l"; bad=1; fi
done <<EOF
$rules
EOF
[ $bad = 1 ] || echo ok
