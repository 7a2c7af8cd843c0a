# shellcheck shell=sh
# A Docker daemon setting, as `docker info --format "$2"` prints it; `n/a` without docker.
command -v docker >/dev/null 2>&1 || { echo 'n/a: docker is not installed'; exit 0; }
docker info --format "$2" 2>&1
