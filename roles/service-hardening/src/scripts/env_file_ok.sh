# shellcheck shell=sh
# Read-only guard of an env file ($1): passes when it is absent or already a regular file (not a
# link) with mode and owner $2 ("600 user:group").
if [ ! -e "$1" ] && [ ! -L "$1" ]; then exit 0; fi
[ ! -L "$1" ] && [ -f "$1" ] && [ "$(stat -c '%a %U:%G' "$1")" = "$2" ]
