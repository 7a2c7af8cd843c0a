# shellcheck shell=sh
# docker_api PATH: the Docker daemon's answer to `GET PATH` on its API socket. Asked by
# rampart_docker_pl below with perl-base (Essential on Debian and Ubuntu; ~3 ms of a host's
# CPU), else through curl (~12 ms; the docker CLI alone costs ~30 ms before it asks
# anything). Either prints the body of a 2xx answer and nothing else; the perl gives way to
# curl on anything it does not expect (no socket, another status, a chunked body, 10 s
# without an answer), and curl fails, printing nothing, without curl or when the socket does
# not answer in 10 s; the caller then asks the docker CLI, whose error is then the evidence.
# `GET /info`, which two checks ask, is answered from the probe's one run of it when there
# was one (probe/memo.sh: rampart_m_api, rampart_k_api). Tests point $rampart_docker_sock
# elsewhere.
# shellcheck disable=SC2016 # perl's own $variables
rampart_docker_pl='
$SIG{ALRM} = sub { exit 1 }; alarm 10;
my ($sock, $path) = @ARGV;
$path =~ m{\A/[!-~]*\z} or exit 1;
socket(my $s, 1, 1, 0) or exit 1;
connect($s, pack("S Z108", 1, $sock)) or exit 1;
binmode $s; binmode STDOUT;
my $req = "GET $path HTTP/1.0\r\nHost: docker\r\n\r\n";
while (length $req) { my $n = syswrite($s, $req); $n or exit 1; substr($req, 0, $n) = "" }
my ($in, $n) = ("");
while ($n = sysread($s, $in, 65536, length $in)) {}
defined $n or exit 1;
my ($head, $body) = split /\r\n\r\n/, $in, 2;
defined $body && $head =~ m{\AHTTP/1\.[01] 2\d\d } && $head !~ m{^transfer-encoding:}im or exit 1;
print $body;
'
docker_api() {
	# shellcheck disable=SC2154 # memo.sh's
	if [ "$1" = /info ] && [ -n "${rampart_k_api:-}" ]; then
		printf '%s\n' "$rampart_m_api"
		return 0
	fi
	perl -e "$rampart_docker_pl" "${rampart_docker_sock:-/var/run/docker.sock}" "$1" 2>/dev/null ||
		{ command -v curl >/dev/null 2>&1 &&
			curl -sf --max-time 10 --unix-socket /var/run/docker.sock "http://localhost$1" 2>/dev/null; }
}
