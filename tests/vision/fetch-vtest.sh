#!/bin/sh
# Usage: fetch-vtest.sh DEST [COMMAND ARGS...]
# Makes sure DEST is OpenCV's sample pedestrian video vtest.avi (768x576, 10 fps), then runs
# COMMAND (if any) with DEST exported as VG_TEST_VTEST. The video is not in the repository:
# it comes from Debian's opencv-doc package, taken from an installed copy or else fetched
# with `apt-get download` (no root needed) and unpacked with dpkg-deb.
set -u
dest=$1; shift
inpkg=usr/share/doc/opencv-doc/examples/data/vtest.avi
if [ ! -s "$dest" ]; then
    mkdir -p "$(dirname "$dest")"
    if [ -s "/$inpkg" ]; then
        cp "/$inpkg" "$dest.tmp" && mv "$dest.tmp" "$dest"
    else
        tmp=$(mktemp -d "${TMPDIR:-/tmp}/vg-vtest.XXXXXX")
        trap 'rm -rf "$tmp"' EXIT
        (cd "$tmp" && apt-get download opencv-doc >/dev/null 2>&1) || {
            echo "fetch-vtest.sh: apt-get download opencv-doc failed (is apt reachable?)" >&2
            exit 1
        }
        dpkg-deb -x "$tmp"/opencv-doc_*.deb "$tmp/x" && [ -s "$tmp/x/$inpkg" ] || {
            echo "fetch-vtest.sh: opencv-doc has no $inpkg" >&2
            exit 1
        }
        cp "$tmp/x/$inpkg" "$dest.tmp" && mv "$dest.tmp" "$dest"
    fi
fi
[ $# -eq 0 ] && exit 0
VG_TEST_VTEST=$dest
export VG_TEST_VTEST
"$@"
exit $?
