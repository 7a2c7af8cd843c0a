# shellcheck shell=sh
# host.listeners-local: only sshd (the ports of sshd_ports) listens on addresses other than
# loopback.
out=$(ss -Hltn 2>&1) || { echo "FAIL: ss: $out"; exit 0; }
ssh=$(sshd_ports)
# shellcheck disable=SC2086,SC2116 # one line of words, separated by single spaces
printf '%s\n' "$out" | awk -v ssh=" $(echo $ssh) " 'NF >= 4 { a = $4; p = a; sub(/.*:/, "", p); h = substr(a, 1, length(a) - length(p) - 1);
	if (h ~ /^(127\.|\[::1\]$|::1$|\[::ffff:127\.)/) next;
	if (index(ssh, " " p " ")) print "ssh: " a; else { print "FAIL exposed: " a; bad = 1 } }
	END { if (!bad) print "ok" }'
