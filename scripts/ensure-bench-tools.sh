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

# shellcheck source=scripts/apt-install-missing.sh
. "$(dirname "$0")/apt-install-missing.sh"
apt_install_missing ensure-bench-tools 1 '' "${missing[@]}" || exit $?
