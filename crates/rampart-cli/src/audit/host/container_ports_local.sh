# shellcheck shell=sh
# host.container-ports-local: published container ports are bound to 127.0.0.1; `n/a` without
# docker.
command -v docker >/dev/null 2>&1 || { echo 'n/a: docker is not installed'; exit 0; }
out=$(docker ps --format '{{.Names}} {{.Ports}}' 2>&1) || { echo "FAIL: docker ps: $out"; exit 0; }
printf '%s\n' "$out" | awk 'NF { if ($0 ~ /(^| |,)(0\.0\.0\.0|::|\[::\]|:::):[0-9]/) { print "FAIL exposed: " $0; bad = 1 } else print $0 }
	END { if (!bad) print "ok" }'
