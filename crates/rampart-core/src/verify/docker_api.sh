# shellcheck shell=sh
# docker_api PATH: the Docker daemon's answer to `GET PATH` on its API socket, through curl
# (~12 ms of a host's CPU, where the docker CLI alone costs ~30 ms before it asks anything).
# Fails, printing nothing, without curl or when the socket does not answer in 10 s; the
# caller then asks the docker CLI, whose error is then the evidence. `GET /info`, which two
# checks ask, is answered from the probe's one run of it when there was one (probe/memo.sh:
# rampart_m_api, rampart_k_api).
docker_api() {
	# shellcheck disable=SC2154 # memo.sh's
	if [ "$1" = /info ] && [ -n "${rampart_k_api:-}" ]; then
		printf '%s\n' "$rampart_m_api"
		return 0
	fi
	command -v curl >/dev/null 2>&1 &&
		curl -sf --max-time 10 --unix-socket /var/run/docker.sock "http://localhost$1" 2>/dev/null
}
