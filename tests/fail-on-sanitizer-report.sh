#!/bin/sh
# Test wrapper for `meson test --setup sanitize`: sends every sanitizer report to files and
# fails the test if any appears. Criterion 2.4.1 reports a leaking test as passed (its
# workers' reports go to stderr and are not judged), so the files are the verdict.
dir=$(mktemp -d "${TMPDIR:-/tmp}/vg-san.XXXXXX")
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$dir/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$dir/ubsan"
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}log_path=$dir/tsan"
"$@"
rc=$?
if [ -n "$(ls -A "$dir")" ]; then
    for f in "$dir"/*; do
        echo "=== sanitizer report $f" >&2
        cat "$f" >&2
    done
    echo "fail-on-sanitizer-report: sanitizer report(s) above: test failed" >&2
    [ "$rc" -eq 0 ] && rc=1
fi
rm -rf "$dir"
exit "$rc"
