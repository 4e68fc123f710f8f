#!/usr/bin/env bash
# Builds, from Debian's packages, the base images that the project's Dockerfiles
# name in their FROM lines, and tags each under that exact name, so `docker build`
# finds them without a registry on the internet. A tag that exists is left alone.
#   python:*  Debian's python3 (and python-is-python3), PATH and LANG as the official image sets them
#   node:*    Debian's nodejs, and a `node` user (uid 1000) as the official image has; no npm
#             (Debian's npm pulls ~460 packages with a compiler toolchain)
#   r-base:*  Debian's r-base-core with r-cran-plumber, r-cran-statmod and r-cran-jsonlite already
#             installed (the R example's Dockerfile installs them only when they are missing), no
#             recommended R packages, no compiler
# The versions are Debian's (python3 3.11.2, nodejs 18, R 4.2.2 in bookworm), not the tag's.
# Prints the names it built, comma-separated (nothing when all existed); progress on stderr.
# The mirror is the one apt's own sources name for this release, read at run time.
#   CHAMP_ENGINE_DIR   rootfs work area and the .deb cache (/var/lib/champ-engine)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
state=${CHAMP_ENGINE_DIR:-/var/lib/champ-engine}
# shellcheck disable=SC1091
. /etc/os-release
suite=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}

dockerfiles() {
  if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$root" ls-files -- '*Dockerfile*' ':!:node_modules'
  else
    (cd "$root" && find . -name node_modules -prune -o -name '*Dockerfile*' -type f -print)
  fi
}

# Every image a FROM line names, without build-stage names, scratch or ARG-built names.
from_images() {
  local file
  dockerfiles | while read -r file; do
    awk '
      toupper($1) == "FROM" {
        i = 2; while ($i ~ /^--/) i++
        image = $i
        if (!(image in stage) && image != "scratch" && image !~ /\$/) print image
        if (toupper($(i + 1)) == "AS") stage[$(i + 2)] = 1
      }' "$root/$file"
  done | sort -u
}

# The first URI that apt's sources give for this release's main suite.
mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$suite" '
      function flush() { if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && uri != "") { print uri; found = 1; exit } types = suites = uri = "" }
      /^[ \t]*$/ { flush(); next }
      tolower($1) == "types:" { types = substr($0, index($0, ":") + 2) }
      tolower($1) == "suites:" { suites = substr($0, index($0, ":") + 2) }
      tolower($1) == "uris:" { uri = $2 }
      END { if (!found) flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v suite="$suite" '
      $1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i + 1) == suite) { print $i; exit } }' "$f"
  done
}

exists() { docker image inspect "$1" >/dev/null 2>&1; }

# build_image NAME PACKAGES SETUP CMD: debootstrap, a setup command in the chroot, import as NAME.
build_image() {
  local dir status=0
  mkdir -p "$state/debs" "$state/rootfs"
  dir=$(mktemp -d "$state/rootfs/build.XXXXXX")
  (import_rootfs "$dir" "$@") || status=$?
  rm -rf "$dir"
  return "$status"
}

# Every step checked: set -e does not apply inside a function whose status is tested.
import_rootfs() {
  local dir=$1 name=$2 packages=$3 setup=$4 cmd=$5 url
  url=$(mirror | head -n 1)
  [ -n "$url" ] || { echo "no apt source names a mirror for $suite" >&2; return 1; }
  echo "debootstrap $suite from $url with $packages for $name" >&2
  debootstrap --variant=minbase --include="$packages" --cache-dir="$state/debs" \
    "$suite" "$dir" "$url" >&2 || return 1
  if [ -n "$setup" ]; then chroot "$dir" /bin/sh -c "$setup" >&2 || return 1; fi
  chroot "$dir" apt-get clean >&2 || return 1
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/tmp/* "$dir"/var/log/*.log
  tar --numeric-owner -C "$dir" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL org.champ.base=debootstrap-$suite" \
    --change "CMD $cmd" - "$name" >/dev/null
}

built=()
# One build per kind; the other names of that kind are tags of the same image.
declare -A first=()
while read -r image; do
  [ -n "$image" ] || continue
  exists "$image" && continue
  case "$image" in
    python:*|*/python:*) kind=python ;;
    node:*|*/node:*) kind=node ;;
    r-base:*|*/r-base:*) kind=r ;;
    *) echo "no recipe for the base image $image; skipped" >&2; continue ;;
  esac
  if [ -n "${first[$kind]:-}" ]; then
    docker tag "${first[$kind]}" "$image"
  else
    case "$kind" in
      python) build_image "$image" python3,python-is-python3,ca-certificates '' '["python3"]' ;;
      node) build_image "$image" nodejs,ca-certificates \
        'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node' \
        '["node"]' ;;
      r) build_image "$image" r-base-core,r-cran-plumber,r-cran-statmod,r-cran-jsonlite,ca-certificates '' '["R"]' ;;
    esac
    first[$kind]=$image
  fi
  built+=("$image")
done < <(from_images)

if [ ${#built[@]} -gt 0 ]; then (IFS=,; echo "${built[*]}" | sed 's/,/, /g'); fi
