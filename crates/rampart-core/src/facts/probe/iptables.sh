# shellcheck shell=sh
# One netfilter table (facts::probe). $1: the section's marker line, $2: iptables-save or
# ip6tables-save, $3: the table.
printf '%s\n' "$1"
"$2" -t "$3" 2>/dev/null || echo '@absent'
