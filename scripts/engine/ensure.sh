#!/usr/bin/env bash
# Makes sure a Docker engine and a registry on 127.0.0.1 answer, for CI and for
# developers on a bare Debian machine: when no engine answers and this runs as
# root on Debian, installs Debian's docker.io and docker-registry, starts both in
# the background (they outlive this script) and builds the base images the
# project's Dockerfiles name from Debian's packages (scripts/engine/base-images.sh).
# Where an engine already answers and is not ours (a laptop), it does nothing:
# the real images are pulled there. It never fails its caller: on any failure it
# prints one line saying why and exits 0, and the engine tests skip.
#
# Ends with one line: what it did and how long it took.
#
#   CHAMP_REGISTRY_PORT   registry port on 127.0.0.1 (5000)
#   CHAMP_ENGINE_DIR      state: pid files, registry config and storage (/var/lib/champ-engine)
#   CHAMP_ENGINE_LOGS     dockerd.log, registry.log, setup.log (/var/log/champ-engine)
#   CHAMP_ENGINE_SETUP    "skip" to do nothing (for tests that run .ci/run)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
started=$(date +%s)
port=${CHAMP_REGISTRY_PORT:-5000}
state=${CHAMP_ENGINE_DIR:-/var/lib/champ-engine}
logs=${CHAMP_ENGINE_LOGS:-/var/log/champ-engine}
done_list=()

elapsed() { echo "$(( $(date +%s) - started )) s"; }
# One line and exit 0, whatever happened: the tests report the skip.
finish() { echo "engine: $* ($(elapsed))"; exit 0; }
give_up() { finish "not set up: $*"; }

engine_answers() { timeout 15 docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; }
registry_answers() { curl -fsS -m 3 "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

[ "${CHAMP_ENGINE_SETUP:-}" = skip ] && finish "nothing done: CHAMP_ENGINE_SETUP=skip"

ours=0
alive "$state/dockerd.pid" && ours=1
if [ "$ours" = 0 ] && command -v docker >/dev/null 2>&1 && engine_answers; then
  finish "nothing done: a Docker engine already answers (not started by this script)"
fi
[ "$(id -u)" = 0 ] || finish "nothing done: no Docker engine answers and this is not root, so nothing is installed"
# shellcheck disable=SC1091
. /etc/os-release 2>/dev/null || true
[ "${ID:-}" = debian ] || finish "nothing done: no Docker engine answers and this is not Debian (ID=${ID:-unknown})"

mkdir -p "$state" "$logs" || give_up "cannot create $state or $logs"
setup_log=$logs/setup.log
: >"$setup_log"

# --- packages -----------------------------------------------------------------
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  # The packages' init scripts would start their own daemons on install; this
  # script starts them itself, with its own flags, so starting is refused meanwhile.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && own_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -q && apt-get install -y -q --no-install-recommends "${need[@]}"; } >>"$setup_log" 2>&1
  rc=$?
  [ "$own_policy" = 1 ] && rm -f "$policy"
  [ "$rc" = 0 ] || give_up "apt-get install ${need[*]} failed; see $setup_log"
  done_list+=("installed ${need[*]}")
fi

# --- dockerd --------------------------------------------------------------------
if ! alive "$state/dockerd.pid" || ! engine_answers; then
  if alive "$state/dockerd.pid"; then give_up "dockerd (pid $(cat "$state/dockerd.pid")) runs but does not answer; see $logs/dockerd.log"; fi
  # setsid: its own session, so it outlives this script and the job that ran it.
  setsid dockerd --storage-driver=overlay2 --data-root=/var/lib/docker \
    --pidfile="$state/dockerd.pid" >>"$logs/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do engine_answers && break; sleep 1; done
  engine_answers || give_up "dockerd did not answer within 60 s; see $logs/dockerd.log"
  done_list+=("started dockerd (overlay2, /var/lib/docker, logs $logs/dockerd.log)")
fi

# --- registry -------------------------------------------------------------------
if ! registry_answers; then
  mkdir -p "$state/registry"
  # Deletes are enabled so tests can remove what they push.
  cat >"$state/registry.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $state/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YAML
  setsid docker-registry serve "$state/registry.yml" >>"$logs/registry.log" 2>&1 </dev/null &
  echo $! >"$state/registry.pid"
  for _ in $(seq 1 20); do registry_answers && break; sleep 0.5; done
  registry_answers || give_up "the registry did not answer on 127.0.0.1:$port; see $logs/registry.log"
  done_list+=("started the registry on 127.0.0.1:$port")
fi

# --- base images ----------------------------------------------------------------
built=$("$here/base-images.sh" 2>>"$setup_log") || give_up "building the base images failed; see $setup_log"
[ -n "$built" ] && done_list+=("built $built")

if [ ${#done_list[@]} -eq 0 ]; then
  finish "dockerd and the registry on 127.0.0.1:$port already running, base images present"
fi
summary=$(printf '%s; ' "${done_list[@]}")
finish "${summary%; }"
