# shellcheck shell=sh
# base.admin-ssh: after $1 (the connection), the paths; prints "MODE OWNER PATH" for each.
shift
stat -c '%a %U %n' "$@"
