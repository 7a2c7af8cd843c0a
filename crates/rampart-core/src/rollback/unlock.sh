# shellcheck shell=sh
# Releases the host lock $1 if run $2 holds it (rollback::unlock_script).
if [ "$(cat "$1/owner" 2>/dev/null)" = "$2" ]; then rm -rf "$1"; fi
