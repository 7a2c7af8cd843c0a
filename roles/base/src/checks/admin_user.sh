# shellcheck shell=sh
# base.admin-user: the login shell of user $2 (nothing when there is no such user).
getent passwd "$2" | cut -d: -f7
