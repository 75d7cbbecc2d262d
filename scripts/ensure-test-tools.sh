#!/usr/bin/env bash
# Installs the Debian tools the network-namespace tests and the sandbox need, when missing.
# As root (CI, a fresh machine) it installs them; otherwise it says what is missing and the
# root-only tests skip loudly (under CI=true they fail instead of skipping).
set -euo pipefail

declare -A tool_pkg=(
  [ip]=iproute2
  [arping]=iputils-arping
  [ping]=iputils-ping
  [ndisc6]=ndisc6
  [tcpdump]=tcpdump
  [kubectl]=kubernetes-client
  [curl]=curl
  [iptables]=iptables
)

missing=()
for tool in "${!tool_pkg[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${tool_pkg[$tool]}")
done
# The official Python client, for the system python3 (the API server conformance tests run it).
/usr/bin/python3 -c 'import kubernetes' >/dev/null 2>&1 || missing+=(python3-kubernetes)

# The XDP responder (native/xdp/) is compiled with clang for the BPF target and loaded with
# libbpf; npm test rebuilds the native parts after this script, so they are built with XDP.
command -v clang >/dev/null 2>&1 || command -v clang-14 >/dev/null 2>&1 || missing+=(clang llvm)
[ -f /usr/include/bpf/libbpf.h ] || missing+=(libbpf-dev)

# shellcheck source=scripts/apt-install-missing.sh
. "$(dirname "$0")/apt-install-missing.sh"
apt_install_missing ensure-test-tools 0 ' (root-only tests will skip)' "${missing[@]}" || exit $?
