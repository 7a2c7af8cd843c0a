# shellcheck shell=sh
# sshd.KEYWORD: `sshd -T`'s value of a keyword, and when it is not the wanted one, every line
# of the main file and the drop-ins that sets the keyword, so the evidence names the file that
# overrides (or adds to) rampart's drop-in. $2: the keyword, lower case as `sshd -T` prints it
# (letters only: it is part of the patterns); $3: how its value is read: `line` (the line
# "keyword value"), `set` (the values sorted, unique, on one line), `list` (the values in
# order on one line); $4: the wanted text; $5: the main file; $6: the drop-in directory.
t=$(sshd -T 2>&1) || { printf '%s\n' "$t" | tail -n 3; exit 1; }
case $3 in
line) v=$(printf '%s\n' "$t" | grep -E "^$2 ") ;;
set) v=$(printf '%s\n' "$t" | sed -n "s/^$2 //p" | sort -u | paste -sd' ' -) ;;
*) v=$(printf '%s\n' "$t" | sed -n "s/^$2 //p" | paste -sd' ' -) ;;
esac
printf '%s\n' "$v"
[ "$v" = "$4" ] || grep -HinE "^[[:space:]]*$2([[:space:]]|=)" "$5" "$6"/*.conf 2>/dev/null | sed 's/^/set in /'
true
