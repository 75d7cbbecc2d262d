# Sourced by scripts/ensure-*-tools.sh: the one place that installs missing Debian packages.
#
# apt_install_missing WHO NOT_ROOT_STATUS NOT_ROOT_NOTE PKG...
#   Installs PKG... with apt-get (quietly, without recommends) when running as root. Without
#   root it says what is missing (WHO names the script, NOT_ROOT_NOTE what that means, e.g.
#   " (root-only tests will skip)") and returns NOT_ROOT_STATUS. Returns 0 when there is nothing
#   to install or apt-get installed it all, 1 (with one line saying so) when apt-get failed.
apt_install_missing() {
  local who=$1 not_root_status=$2 not_root_note=$3
  shift 3
  [ "$#" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "$who: missing $*; not root, so not installing them$not_root_note" >&2
    return "$not_root_status"
  fi
  echo "$who: installing $*" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }; then
    echo "$who: apt-get could not install $*" >&2
    return 1
  fi
}
