# shellcheck shell=sh
# docker.logging-driver and docker.live-restore (one run for both; after `docker_api`,
# core's verify/docker_api.sh): the running daemon's logging driver and live restore, as the
# lines `Logging Driver: X` and `Live Restore Enabled: true|false`. Asked of the daemon's API
# socket (`GET /info`) and read with the shell's own field splitting and patterns; when that fails,
# through `docker info`, whose error is then the evidence. The two keys are read from the top
# level of the daemon's compact JSON: a string value cannot forge them (its quotes are
# escaped), and nested maps give no string or boolean value under these names. `n/a` without
# docker.
command -v docker >/dev/null 2>&1 || { echo 'n/a: docker is not installed'; exit 0; }
if j=$(docker_api /info); then
  # The first string value of the key, and the first true/false one, from the JSON's
  # comma-separated fields: one linear split. (`${j#*"key"}` costs dash a pattern match per
  # prefix of the ~2 KB answer: ~12 ms of a host's CPU.) A string holding a comma and a
  # forged key gives a field that starts with an escaped quote, which no pattern here takes.
  d='' l=''
  rampart_ifs=$IFS
  IFS=,
  set -f
  # shellcheck disable=SC2086 # split on the commas
  set -- $j
  set +f
  IFS=$rampart_ifs
  for f do
    case $f in
      '"LoggingDriver":"'*) [ -n "$d" ] || { d=${f#\"LoggingDriver\":\"}; d=${d%%\"*}; } ;;
      '"LiveRestoreEnabled":true'*) [ -n "$l" ] || l=true ;;
      '"LiveRestoreEnabled":false'*) [ -n "$l" ] || l=false ;;
    esac
  done
  if [ -n "$d" ] && [ -n "$l" ]; then
    printf 'Logging Driver: %s\nLive Restore Enabled: %s\n' "$d" "$l"
    exit 0
  fi
fi
docker info --format 'Logging Driver: {{.LoggingDriver}}{{println}}Live Restore Enabled: {{.LiveRestoreEnabled}}' 2>&1
