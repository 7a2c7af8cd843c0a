# shellcheck shell=sh
# ufw's files must be as the plan saw them (resource::Ufw): pairs of a path and its sha256
# ("absent" for none); exit 75 (stale facts) at the first that changed.
while [ $# -ge 2 ]; do
  if [ "$(if [ -f "$1" ]; then sha256sum < "$1" | cut -d' ' -f1; else echo absent; fi)" != "$2" ]; then
    printf 'rampart: %s changed on the host since its facts were gathered; run again\n' "$1" >&2
    exit 75
  fi
  shift 2
done
