# shellcheck shell=sh
# Makes an env file ($1) mode 0600 and owned by $2 (user:group), when it exists. The file
# usually sits in a directory the service user can write: a symlink or a hard link swapped in
# there must not make root chown/chmod something else (the seed's `chown fleetclaw:fleetclaw
# .../.env` as root follows such a link).
p=$1 owner=$2
if [ ! -e "$p" ] && [ ! -L "$p" ]; then exit 0; fi
r=$(realpath -e -- "$p" 2>/dev/null) || r=''
if [ "$r" != "$p" ]; then
	echo "rampart: $p is, or is reached through, a symbolic link (to ${r:-nowhere}): refusing to change owner or mode through it; list the real path in env_files" >&2
	exit 1
fi
if [ ! -f "$p" ]; then
	echo "rampart: $p is not a regular file" >&2
	exit 1
fi
if [ "$(stat -c %h "$p")" != 1 ]; then
	echo "rampart: $p has other hard links: refusing to change owner or mode" >&2
	exit 1
fi
chown -h "$owner" "$p"
chmod 0600 "$p"
