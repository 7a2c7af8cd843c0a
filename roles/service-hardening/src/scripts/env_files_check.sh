# shellcheck shell=sh
# service-hardening.env-files: each env file ($3...) is absent, or a regular file (not a link)
# with mode and owner $2 ("600 user:group"); a `BAD` line for each that is not.
want=$2
shift 2
for p in "$@"; do
	if [ -L "$p" ]; then
		echo "BAD $p is a symbolic link"
	elif [ -e "$p" ]; then
		s=$(stat -c '%a %U:%G' "$p")
		if [ "$s" = "$want" ]; then echo "$p $s"; else echo "BAD $p $s"; fi
	else
		echo "$p absent"
	fi
done
