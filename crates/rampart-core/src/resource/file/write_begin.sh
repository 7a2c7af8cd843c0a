# shellcheck shell=sh
# The atomic write, first half (resource::File): after shell::SAFE_PATH_FNS; the content comes
# next (rampart_put "$t" from a base64 here-document), then write_end.sh. $1-$6 as in
# remove.sh; $7 the sha256 the target must still have ("absent" for none, "-" for any),
# $8 the mode,
# $9 "OWNER:GROUP" for chown (or ""), ${10} the validation ("temp", "inplace" or ""), ${11} its command with
# the temporary file's path in, ${12} the command as the operator wrote it.
rampart_enter "$1" "$2" "$3" "$4" || exit $?
rampart_path=$5 b=./$6 h=./.$6
shift 6
cur=$(if [ -L "$b" ]; then echo other; elif [ -f "$b" ]; then sha256sum < "$b" | cut -d' ' -f1; elif [ -e "$b" ]; then echo other; else echo absent; fi)
if [ "$1" = - ]; then
  # Unguarded (rampart-ssh's put_file): a directory is never replaced.
  if [ "$cur" = other ] && [ -d "$b" ] && [ ! -L "$b" ]; then printf 'rampart: %s is a directory\n' "$rampart_path" >&2; exit 1; fi
elif [ "$cur" != "$1" ]; then rampart_stale "$rampart_path"; fi
# Temporary files of an earlier run that was cut off (power loss, a dropped link) before its
# rename or its trap: the target itself was never touched, so they are only litter.
rm -f "$h.rampart."?????? "$h.rampart-old."??????
t=$(rampart_as mktemp "$h.rampart.XXXXXX")
trap 'rm -f "$t"' EXIT
