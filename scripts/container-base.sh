#!/usr/bin/env bash
# A local base image for the Dockerfile, for machines that reach no image registry:
#   docker build --build-arg BASE_IMAGE="$(bash scripts/container-base.sh)" -t jambonz-ivr .
# Installs docker.io and debootstrap if missing, starts dockerd if no engine answers, and builds
# a Debian bookworm rootfs with Python 3.11 laid out as the official python images are (python
# and pip in /usr/local/bin), imported as $JAMBONZ_BASE_IMAGE (jambonz-webhooks-base:local).
# An existing image is kept, so a second run takes a second. Progress goes to stderr; the last
# line on stdout is the image's name. Exit 77: something it needs is missing, and this user
# cannot install or start it.
# Needs root, or passwordless sudo and a docker that answers this user (the docker group).
set -euo pipefail
TAG="${JAMBONZ_BASE_IMAGE:-jambonz-webhooks-base:local}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# The engine's data root when this script starts it: kept across runs so the cached base stays.
STATE="${JAMBONZ_DOCKER_STATE:-${TMPDIR:-/tmp}/jambonz-webhooks-docker}"

say() { echo "container-base: $*" >&2; }
unavailable() { say "$*"; exit 77; }

# Installing packages, starting the engine and debootstrap (a chroot) need root.
if [ "$(id -u)" = 0 ]; then
  as_root() { "$@"; }
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root() { sudo -n "$@"; }
else
  as_root() { return 1; }
fi

missing=()
# A docker client alone is not enough when no engine answers: docker.io brings dockerd.
if ! command -v docker >/dev/null \
  || ! { docker info >/dev/null 2>&1 || command -v dockerd >/dev/null; }; then
  missing+=(docker.io)
fi
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null || unavailable "no apt-get to install ${missing[*]}: install them yourself"
  say "installing ${missing[*]}"
  as_root true || unavailable "${missing[*]} missing, and installing needs root or passwordless sudo"
  # Another apt-get may hold the lock on a shared machine: wait for it rather than fail.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
    install -y -qq "${missing[@]}" >&2
fi

# Two runs at once (two test sessions) would start two engines or debootstrap twice: the one
# that waited finds the work done.
locked=""
lock() {
  [ -n "$locked" ] && return
  mkdir -p "$STATE"
  exec 9>"$STATE/lock"
  flock 9
  locked=1
}

if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || unavailable "docker answers no engine and dockerd is not installed"
  as_root true || unavailable "no docker engine answers, and starting dockerd needs root"
  lock
fi
if ! docker info >/dev/null 2>&1; then
  say "starting dockerd (data root $STATE/data, log $STATE/dockerd.log)"
  # Detached (own session, no inherited descriptors) so that it outlives this script and a
  # caller reading our stdout sees it end.
  as_root setsid dockerd --data-root "$STATE/data" --pidfile "$STATE/dockerd.pid" \
    </dev/null >"$STATE/dockerd.log" 2>&1 9>&- &
  for _ in $(seq 120); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { tail -20 "$STATE/dockerd.log" >&2; say "dockerd did not answer in 60 s"; exit 1; }
fi

if docker image inspect "$TAG" >/dev/null 2>&1; then
  say "$TAG is there already"
  echo "$TAG"
  exit 0
fi

as_root true || unavailable "$TAG is missing, and debootstrap needs root"
lock
if docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "$TAG"
  exit 0
fi
rootfs="$(mktemp -d "${TMPDIR:-/tmp}/jambonz-base.XXXXXX")"
# Not into anything debootstrap left mounted there, should it fail half way.
trap 'as_root rm -rf --one-file-system "$rootfs"' EXIT
say "debootstrap bookworm into $rootfs (about 90 s)"
started=$SECONDS
as_root debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$rootfs" "$MIRROR" >"$STATE/debootstrap.log" 2>&1 \
  || { tail -20 "$STATE/debootstrap.log" >&2; exit 1; }
# A venv at /usr/local gives /usr/local/bin/python and pip, where the official images have them.
as_root chroot "$rootfs" python3 -m venv /usr/local
# This machine may reach the package index through a TLS-intercepting gateway whose authority
# only the host's bundle holds: without it pip in the build fails to verify. Meant for a local
# test base, which trusts what the host trusts.
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  as_root cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
fi
as_root rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
say "importing as $TAG"
as_root tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  - "$TAG" >/dev/null
say "built $TAG in $((SECONDS - started)) s"
echo "$TAG"
