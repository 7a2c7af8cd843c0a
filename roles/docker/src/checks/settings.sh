# shellcheck shell=sh
# docker.logging-driver and docker.live-restore (one run for both): the running daemon's logging
# driver and live restore, as the lines `Logging Driver: X` and `Live Restore Enabled: true|false`.
# Asked of the daemon's API socket with curl where curl is installed (~5 ms of host CPU, where
# the docker CLI alone costs ~30 ms); else, or when that fails, through `docker info`, whose
# error is then the evidence. The two keys are read from the top level of the daemon's compact
# JSON: a string value cannot forge them (its quotes are escaped), and nested maps give no
# string or boolean value under these names. `n/a` without docker.
command -v docker >/dev/null 2>&1 || { echo 'n/a: docker is not installed'; exit 0; }
if command -v curl >/dev/null 2>&1 &&
  j=$(curl -sf --max-time 10 --unix-socket /var/run/docker.sock http://localhost/info 2>/dev/null); then
  d=$(printf '%s\n' "$j" | grep -o '"LoggingDriver":"[^"]*"' | head -n 1 | cut -d '"' -f 4)
  l=$(printf '%s\n' "$j" | grep -oE '"LiveRestoreEnabled":(true|false)' | head -n 1 | cut -d : -f 2)
  if [ -n "$d" ] && [ -n "$l" ]; then
    printf 'Logging Driver: %s\nLive Restore Enabled: %s\n' "$d" "$l"
    exit 0
  fi
fi
docker info --format 'Logging Driver: {{.LoggingDriver}}{{println}}Live Restore Enabled: {{.LiveRestoreEnabled}}' 2>&1
