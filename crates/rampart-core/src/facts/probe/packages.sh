# shellcheck shell=sh
# dpkg's view of the packages (facts::probe), or @cached when the fingerprint of dpkg's
# database is the remembered one. $1: the section's marker line, $2: "1" when an answer is
# remembered, $3: its fingerprint; then the packages.
printf '%s\n' "$1"
rampart_hit=$2 rampart_fp=$3
shift 3
# shellcheck disable=SC2154 # rampart_fp_packages is stats.sh's
if [ -n "$rampart_hit" ] && [ "$rampart_fp_packages" = "$rampart_fp" ]; then echo @cached
else
  echo "@fp $rampart_fp_packages"
  # shellcheck disable=SC2016 # dpkg-query's format, not shell
  dpkg-query -W '-f=${Package}\t${db:Status-Abbrev}\t${Version}\n' "$@" 2>/dev/null || true
fi
