# shellcheck shell=sh
# apt's freshness (facts::probe): the lists' and the stamp's mtimes and the clock came from
# stats.sh's find (/proc/PID; `date` only if that failed). Which repositories have lists:
# their names, by the shell's glob (no process). $1: the section's marker line.
printf '%s\n' "$1"
# shellcheck disable=SC2154 # stats.sh's
if [ -n "$rampart_lists" ]; then echo "/var/lib/apt/lists $rampart_lists"; fi
if [ -n "$rampart_stamp" ]; then echo "/var/lib/apt/periodic/update-success-stamp $rampart_stamp"; fi
echo "now ${rampart_now:-$(date +%s)}"
if [ -e /var/run/reboot-required ]; then echo 'reboot_required 1'; else echo 'reboot_required 0'; fi
printf 'list %s\n' /var/lib/apt/lists/*Release /var/lib/apt/lists/*_Packages* /var/lib/apt/lists/*_Sources*
