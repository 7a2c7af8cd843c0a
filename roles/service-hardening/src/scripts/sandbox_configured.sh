# shellcheck shell=sh
# service-hardening.sandbox-configured: the unit's ($2) sandbox settings as systemd shows them
# are the wanted ones ($3: KEY=VALUE joined by `|`) and ReadWritePaths has each of $4 (space-
# separated). Prints `ok` or what differs.
systemctl show "$2" -p NoNewPrivileges -p PrivateTmp -p ProtectSystem -p ProtectHome -p ReadWritePaths | awk -v want="$3" -v paths="$4" '
{ k = $0; sub(/=.*/, "", k); v = $0; sub(/^[^=]*=/, "", v); got[k] = v }
END { n = split(want, w, "|"); m = split(paths, p, " ")
  for (i = 1; i <= n; i++) { k = w[i]; sub(/=.*/, "", k); v = w[i]; sub(/^[^=]*=/, "", v)
    if (got[k] != v) { print k "=" got[k] " (want " v ")"; bad = 1 } }
  split(got["ReadWritePaths"], have, " "); for (j in have) h[have[j]] = 1
  for (i = 1; i <= m; i++) if (!(p[i] in h)) { print "ReadWritePaths lacks " p[i]; bad = 1 }
  if (!bad) print "ok" }'
