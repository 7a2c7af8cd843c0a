# shellcheck shell=sh
# docker_api PATH: the Docker daemon's answer to `GET PATH` on its API socket, through curl
# (~5 ms of a host's CPU, where the docker CLI alone costs ~30 ms before it asks anything).
# Fails, printing nothing, without curl or when the socket does not answer in 10 s; the
# caller then asks the docker CLI, whose error is the evidence.
docker_api() {
	command -v curl >/dev/null 2>&1 &&
		curl -sf --max-time 10 --unix-socket /var/run/docker.sock "http://localhost$1" 2>/dev/null
}
