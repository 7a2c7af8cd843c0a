# shellcheck shell=sh
# host.env-files: .env files under /home /root /opt /srv are mode 600 (no access for group or
# others).
find /home /root /opt /srv -xdev -maxdepth 5 -name .env -type f -exec stat -c '%a %U:%G %n' {} + 2>/dev/null |
	awk '{ n++; if ($1 ~ /(^0$|00$)/) print; else { print "FAIL " $0; bad = 1 } }
	END { if (!n) print "no .env file under /home /root /opt /srv"; if (!bad) print "ok" }'
