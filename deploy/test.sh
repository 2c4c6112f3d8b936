#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs every test three ways:
#   build-test  the unit, header, stress and integration tests
#   build-asan  the same under AddressSanitizer + UndefinedBehaviorSanitizer (a report fails)
#   build-tsan  the stress programs (threaded code) under ThreadSanitizer
# The last line is "N passed, N failed" over every test program of all three.
set -u
cd "$(dirname "$0")/.."
deploy/install-deps.sh --all || { echo "0 passed, 1 failed"; exit 1; }

setup() { # dir, meson options...
    local dir=$1; shift
    if [ -f "$dir/build.ninja" ]; then
        meson setup --reconfigure "$dir" "$@" >"$dir.setup.log" 2>&1
    else
        meson setup "$dir" "$@" >"$dir.setup.log" 2>&1
    fi || { cat "$dir.setup.log"; return 1; }
    ninja -C "$dir" >"$dir.build.log" 2>&1 || { tail -50 "$dir.build.log"; return 1; }
}

fail=0
logs=()
run() { # dir, log name, meson test args...
    local dir=$1 log=$2; shift 2
    echo "=== $dir: meson test $*"
    rm -f "$dir/meson-logs/$log"
    meson test -C "$dir" --no-rebuild --print-errorlogs "$@" | grep -vE '^ *[0-9]+/[0-9]+ .* OK ' || true
    logs+=("$dir/meson-logs/$log")
}

if setup build-test -Dbench=false -Dwerror=true; then
    run build-test testlog.json
else fail=1; fi
if setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false; then
    run build-asan testlog-sanitize.json --setup sanitize --no-suite header
else fail=1; fi
if setup build-tsan -Db_sanitize=thread -Db_lundef=false -Dbench=false -Dvision=disabled; then
    run build-tsan testlog-sanitize.json --setup sanitize --suite stress
else fail=1; fi

summary=$(python3 tests/summarize.py "${logs[@]}")
rc=$?
if [ "$fail" -ne 0 ]; then
    # A tree that did not build is a failed test program.
    echo "$summary" | sed '$d'
    echo "$summary" | tail -1 | awk -v f="$fail" '{print $1" passed, "$3+f" failed"}'
    exit 1
fi
echo "$summary"
exit $rc
