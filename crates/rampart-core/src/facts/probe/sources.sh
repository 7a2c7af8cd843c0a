# shellcheck shell=sh
# apt's sources for the batched pass (facts::probe): the shell's glob names them (only the
# names apt reads, which cannot break find's one-line records), minus those a role asked for
# itself. $1: /etc/apt/sources.list unless a role asked for it, else ""; $2: the asked
# sources, each on a line of its own between newlines.
rampart_src=$1
for rampart_v in /etc/apt/sources.list.d/*; do
  case ${rampart_v##*/} in
  *[!A-Za-z0-9_.-]*) ;;
  *.list|*.sources)
    case $2 in *"
$rampart_v
"*) ;; *) rampart_src="$rampart_src $rampart_v" ;; esac ;;
  esac
done
