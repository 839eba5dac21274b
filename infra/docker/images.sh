#!/usr/bin/env bash
# `make images`: build the seven deployables' images (ipheron/<name>:$IMAGE_TAG) with no network
# during the image builds themselves.
#
#   1. a Docker engine: Debian's docker.io is installed (root + apt-get) and dockerd started by hand
#      when none answers (no systemd here);
#   2. the base image: $BASE_IMAGE when set; else the official python:3.11-slim-bookworm when it is
#      present locally or can be pulled; else a local stand-in built by mmdebstrap from Debian's
#      packages (bookworm, python3.11) and `docker import`-ed — the build machines of this project
#      reach no container registry;
#   3. the wheelhouse (build/wheelhouse): our packages as wheels, built here, and every dependency
#      resolved by pip running in the base image itself (its exact Python decides the environment
#      markers), with the host's network and certificates;
#   4. one `docker build` per deployable, from the repository root, installing from the wheelhouse
#      only (--no-index).
# Besides, for the compose stack and the container tests: PostgreSQL, Redis and Node.js stand-ins
# (ipheron/standin-*) when the official images are not present, and the JSON-RPC chain node image
# (ipheron/devnode, hardhat from services/chain/devnode).
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE_TAG=${IMAGE_TAG:-0.1.0}
OFFICIAL_BASE=python:3.11-slim-bookworm
STANDIN_BASE=ipheron/standin-python:3.11-bookworm
STANDIN_INFRA=ipheron/standin-infra:bookworm
DEPLOYABLES=(gateway auth assets staking analytics ai-agents chain)
WHEELS=build/wheelhouse
export DOCKER_BUILDKIT=0   # the legacy builder: Debian's engine ships without buildx

log() { echo "images: $*"; }

ensure_docker() {
  if docker info >/dev/null 2>&1; then return; fi
  STRICT=1 scripts/apt-install.sh dockerd docker.io "make images (the Docker engine)" || exit 1
  if ! docker info >/dev/null 2>&1; then
    log "starting dockerd (log: /tmp/ipheron-dockerd.log)"
    nohup dockerd >/tmp/ipheron-dockerd.log 2>&1 &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return; sleep 1; done
    echo "images: dockerd did not start; see /tmp/ipheron-dockerd.log" >&2; exit 1
  fi
}

# Run a command with its output kept in build/images.log, shown only when it fails.
quiet() {
  mkdir -p build
  if ! "$@" > build/images.log 2>&1; then cat build/images.log >&2; echo "images: failed: $*" >&2; exit 1; fi
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

ensure_mmdebstrap() {
  STRICT=1 scripts/apt-install.sh mmdebstrap mmdebstrap "a stand-in base image (no registry reachable)" || exit 1
}

# A Debian bookworm root filesystem from Debian's packages, imported as an image.
standin() {  # tag packages
  local tag=$1 packages=$2
  have_image "$tag" && return
  ensure_mmdebstrap
  log "building the stand-in $tag from Debian bookworm packages ($packages)"
  mmdebstrap --quiet --variant=essential --include="$packages" bookworm - \
    | docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' - "$tag" >/dev/null
}

choose_base() {
  if [ -n "${BASE_IMAGE:-}" ]; then echo "$BASE_IMAGE"; return; fi
  if have_image "$OFFICIAL_BASE" || timeout 30 docker pull -q "$OFFICIAL_BASE" >/dev/null 2>&1; then
    echo "$OFFICIAL_BASE"; return
  fi
  standin "$STANDIN_BASE" python3,python3-venv,ca-certificates,tzdata,libstdc++6,libgomp1 >&2
  echo "$STANDIN_BASE"
}

build_wheelhouse() {  # base
  local base=$1 py=.venv/bin/python
  [ -x "$py" ] || py=python3
  mkdir -p "$WHEELS"
  rm -f "$WHEELS"/ipheron_*.whl
  log "wheelhouse: our packages"
  "$py" -m pip wheel -q --no-deps --wheel-dir "$WHEELS" ./proto ./libs ./gateway \
    ./services/auth ./services/assets ./services/staking ./services/analytics ./services/ai-agents ./services/chain
  rm -rf proto/build libs/build gateway/build services/*/build   # setuptools' in-tree leftovers
  log "wheelhouse: their dependencies, resolved by the base image's own pip ($base)"
  local certs=()
  [ -f /etc/ssl/certs/ca-certificates.crt ] && certs=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro -e PIP_CERT=/etc/ssl/certs/ca-certificates.crt)
  local reqs=()
  for d in "${DEPLOYABLES[@]}"; do reqs+=("ipheron-$d==0.1.0"); done
  # From the wheelhouse alone when it already holds every pin (a rebuild); else from the index.
  local wheel="/tmp/venv/bin/pip wheel -q --find-links /wheels --wheel-dir /wheels ${reqs[*]}"
  docker run --rm --network host --user "$(id -u):$(id -g)" -e HOME=/tmp -e PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "${certs[@]}" -v "$PWD/$WHEELS:/wheels" "$base" \
    sh -c "python3 -m venv /tmp/venv && { $wheel --no-index 2>/dev/null || $wheel; }"
}

dockerfile() { if [ "$1" = gateway ]; then echo gateway/Dockerfile; else echo "services/$1/Dockerfile"; fi; }

main() {
  ensure_docker
  local base; base=$(choose_base)
  log "base image: $base"
  build_wheelhouse "$base"
  for d in "${DEPLOYABLES[@]}"; do
    log "building ipheron/$d:$IMAGE_TAG"
    quiet docker build --build-arg BASE_IMAGE="$base" -f "$(dockerfile "$d")" -t "ipheron/$d:$IMAGE_TAG" .
  done
  # The compose stack's and the container tests' neighbours: the official images when present,
  # else the stand-ins; build/images.env records which (compose --env-file, the container tests).
  local pg=postgres:15-bookworm redis=redis:7-bookworm node_base=node:20-bookworm-slim
  if ! have_image "$pg" || ! have_image "$redis" || ! have_image "$node_base"; then
    standin "$STANDIN_INFRA" postgresql-15,redis-server,nodejs,ca-certificates,tzdata,libstdc++6
    quiet docker build --build-arg BASE_IMAGE="$STANDIN_INFRA" -f infra/docker/Dockerfile.standin \
      -t ipheron/standin-postgres:15 -t ipheron/standin-redis:7 infra/docker
    have_image "$pg" || pg=ipheron/standin-postgres:15
    have_image "$redis" || redis=ipheron/standin-redis:7
    have_image "$node_base" || node_base=$STANDIN_INFRA
  fi
  log "building ipheron/devnode:$IMAGE_TAG (hardhat JSON-RPC node on $node_base)"
  quiet docker build --build-arg BASE_IMAGE="$node_base" -f services/chain/devnode/Dockerfile \
    -t "ipheron/devnode:$IMAGE_TAG" services/chain/devnode
  printf 'IMAGE_TAG=%s\nPOSTGRES_IMAGE=%s\nREDIS_IMAGE=%s\n' "$IMAGE_TAG" "$pg" "$redis" > build/images.env
  docker images --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep '^ipheron/' | sort
}

main "$@"
