#!/usr/bin/env bash
# Installs the Debian 12 packages Vigil needs, only those missing (idempotent).
#   deploy/install-deps.sh          what building and running the engine needs
#   deploy/install-deps.sh --all    also tests, benchmarks and the OpenCV camera counter
set -eu
core=(build-essential meson ninja-build pkg-config python3
      libmosquitto-dev mosquitto mosquitto-clients libzmq3-dev libhdf5-dev hdf5-tools
      libcjson-dev libconfig-dev libmicrohttpd-dev tmux gnuplot-nox)
extra=(libcriterion-dev libck-dev valgrind libopencv-dev opencv-data python3-numpy)
want=("${core[@]}")
[ "${1:-}" = "--all" ] && want+=("${extra[@]}")

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=
[ "$(id -u)" -ne 0 ] && sudo=sudo
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
