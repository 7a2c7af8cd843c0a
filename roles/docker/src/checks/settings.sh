# shellcheck shell=sh
# docker.logging-driver and docker.live-restore (one run for both; after `docker_api`,
# core's verify/docker_api.sh): the running daemon's logging driver and live restore, as the
# lines `Logging Driver: X` and `Live Restore Enabled: true|false`. Asked of the daemon's API
# socket (`GET /info`) and read with the shell's own pattern matching; when that fails,
# through `docker info`, whose error is then the evidence. The two keys are read from the top
# level of the daemon's compact JSON: a string value cannot forge them (its quotes are
# escaped), and nested maps give no string or boolean value under these names. `n/a` without
# docker.
command -v docker >/dev/null 2>&1 || { echo 'n/a: docker is not installed'; exit 0; }
if j=$(docker_api /info); then
  # The first string value of the key, and the first true/false one (the same as a `grep -o`
  # of each, without its three processes per key).
  d=
  case $j in *'"LoggingDriver":"'*) d=${j#*\"LoggingDriver\":\"}; d=${d%%\"*} ;; esac
  l='' r=$j
  while [ -z "$l" ]; do
    case $r in *'"LiveRestoreEnabled":'*) r=${r#*\"LiveRestoreEnabled\":} ;; *) break ;; esac
    case $r in true*) l=true ;; false*) l=false ;; esac
  done
  if [ -n "$d" ] && [ -n "$l" ]; then
    printf 'Logging Driver: %s\nLive Restore Enabled: %s\n' "$d" "$l"
    exit 0
  fi
fi
docker info --format 'Logging Driver: {{.LoggingDriver}}{{println}}Live Restore Enabled: {{.LiveRestoreEnabled}}' 2>&1
