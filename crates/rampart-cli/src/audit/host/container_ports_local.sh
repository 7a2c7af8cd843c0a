# shellcheck shell=sh
# host.container-ports-local (after `docker_api`, verify/docker_api.sh): published container
# ports are bound to 127.0.0.1; `n/a` without docker. A host with no running (or paused)
# container publishes nothing: the daemon's `GET /info` says so in its counters, the answer
# the docker settings checks read too (one run of curl for both, probe/memo.sh), where
# `docker ps` costs ~30 ms; any other answer (or none) goes to `docker ps`, which lists what
# each container publishes.
command -v docker >/dev/null 2>&1 || { echo 'n/a: docker is not installed'; exit 0; }
if j=$(docker_api /info); then
  case ",$j," in
  *',"ContainersRunning":0,'*)
    case ",$j," in
    *',"ContainersPaused":0,'*)
      echo 'no running container'
      echo ok
      exit 0 ;;
    esac ;;
  esac
fi
out=$(docker ps --format '{{.Names}} {{.Ports}}' 2>&1) || { echo "FAIL: docker ps: $out"; exit 0; }
printf '%s\n' "$out" | awk 'NF { if ($0 ~ /(^| |,)(0\.0\.0\.0|::|\[::\]|:::):[0-9]/) { print "FAIL exposed: " $0; bad = 1 } else print $0 }
	END { if (!bad) print "ok" }'
