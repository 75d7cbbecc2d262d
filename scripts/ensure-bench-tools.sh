#!/usr/bin/env bash
# Installs the Debian packages the layer2 bench's MetalLB-style rows need, when missing: a Go
# toolchain, mdlayher/arp and mdlayher/ndp (the ARP and NDP libraries MetalLB's speaker answers
# with) with their dependencies as Debian source packages under /usr/share/gocode. bench/metallb-style/ is then
# built offline from them (GOPATH mode: no module proxy is asked for anything).
# Exit 0 when everything is there; 1, with one line saying what is missing, when it is not and
# cannot be installed (not root, or apt-get failed): the bench then skips that row loudly.
set -euo pipefail

missing=()
command -v go >/dev/null 2>&1 || [ -x /usr/lib/go/bin/go ] || missing+=(golang-go)
[ -d /usr/share/gocode/src/github.com/mdlayher/arp ] || missing+=(golang-github-mdlayher-arp-dev)
[ -d /usr/share/gocode/src/github.com/mdlayher/ndp ] || missing+=(golang-github-mdlayher-ndp-dev)

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-bench-tools: missing ${missing[*]}; not root, so not installing them" >&2
  exit 1
fi

echo "ensure-bench-tools: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
  echo "ensure-bench-tools: apt-get could not install ${missing[*]}" >&2
  exit 1
fi
