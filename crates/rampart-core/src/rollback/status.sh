# shellcheck shell=sh
# Did the rollback of snapshot $1 run? Prints "@@$2 rolled-back TIME" or "@@$2 pending"
# (rollback::status_script).
if [ -e "$1/rolled-back" ]; then echo "@@$2 rolled-back $(cat "$1/rolled-back")"; else echo "@@$2 pending"; fi
