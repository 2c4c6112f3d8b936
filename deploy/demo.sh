#!/usr/bin/env bash
# The README's main command: a simulated incident day at the Olympic Park, end to end.
# Installs what is missing, builds, starts a private mosquitto on 127.0.0.1, the engine
# (`vigil run --clock event` with ZeroMQ feeds and an HDF5 archive), a console (`vigil watch`:
# full screen on a terminal, plain lines otherwise), and the simulator at an accelerated
# speed; then stops everything and prints what was raised, the lead time per incident and
# how to replay the archive. Non-interactive; exits with `vigil score`'s status.
#
#   bash deploy/demo.sh                     the incident day at --speed 40 (about 2.5 min)
#   VG_DEMO_SPEED=60 bash deploy/demo.sh    faster (simulated seconds per wall second)
#   VG_DEMO_SCENARIO=models/scenarios/quiet.cfg bash deploy/demo.sh
#   VG_DEMO_BUILD=build-mine bash deploy/demo.sh   another build directory (default build)
set -eu
# Everything is in main, so bash has read the whole file before running any of it.
main() {
cd "$(dirname "$0")/.."
root=$PWD
build=${VG_DEMO_BUILD:-build}
model=${VG_DEMO_MODEL:-models/olympic-park.cfg}
scenario=${VG_DEMO_SCENARIO:-models/scenarios/incidents.cfg}
speed=${VG_DEMO_SPEED:-40}

if [ "${1:-}" != "--inner" ]; then
    deploy/install-deps.sh
    [ -f "$build/build.ninja" ] || meson setup "$build" -Dtests=false -Dbench=false >/dev/null
    ninja -C "$build" >/dev/null
    out=$root/out/demo-$(date -u +%Y%m%dT%H%M%SZ)
    mkdir -p "$out/archive"
    export VG_DEMO_OUT=$out VG_DEMO_BUILD=$build
    exec tests/with-broker.sh bash "$root/deploy/demo.sh" --inner
fi

# ---- inside tests/with-broker.sh: mosquitto runs at 127.0.0.1:$VG_TEST_MQTT_PORT ----
out=$VG_DEMO_OUT
vigil=$root/$build/src/app/vigil
broker=mqtt://127.0.0.1:$VG_TEST_MQTT_PORT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
feeds=tcp://127.0.0.1:$(free_port)
control=tcp://127.0.0.1:$(free_port)
mport=$(free_port)

# One Prometheus sample from the engine's /metrics, or -1.
metric() {
    local body
    body=$(exec 2>/dev/null; exec 3<>"/dev/tcp/127.0.0.1/$mport" &&
           printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 && cat <&3) || { echo -1; return; }
    awk -v n="$1" '$1 == n { print $2; f = 1 } END { if (!f) print -1 }' <<<"$body"
}
wait_for() { # NAME VALUE SECONDS: until the metric reaches VALUE
    local end=$((SECONDS + $3)) v
    while v=$(metric "$1"); [ "${v%.*}" -lt "$2" ]; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.2
    done
}

run_pid= watch_pid= sim_pid=
stop_all() {
    for p in $sim_pid $watch_pid $run_pid; do kill "$p" 2>/dev/null || true; done
    for p in $sim_pid $watch_pid $run_pid; do wait "$p" 2>/dev/null || true; done
}
trap 'stop_all; exit 130' INT TERM
trap stop_all EXIT

echo "demo: mosquitto on 127.0.0.1:$VG_TEST_MQTT_PORT, output in ${out#$root/}"
"$vigil" run --model "$model" --broker "$broker" --client-id vigil-demo --clean-session \
    --clock event --archive "$out/archive" --events "$out/alerts.jsonl" \
    --feeds "$feeds" --control "$control" --metrics "127.0.0.1:$mport" \
    --status-interval 30 </dev/null 2>"$out/run.log" &
run_pid=$!
if ! wait_for vigil_mqtt_connected 1 20; then
    echo "demo: the engine did not start; its log:" >&2
    cat "$out/run.log" >&2
    stop_all
    exit 1
fi
echo "demo: engine up (feeds $feeds, control $control, metrics http://127.0.0.1:$mport/metrics)"

# The console: full screen when we have a terminal (and not in CI), plain lines otherwise.
if [ -t 0 ] && [ -t 1 ] && [ -z "${CI:-}" ]; then
    # A background job's stdin is /dev/null unless given: hand it the terminal for its keys.
    exec 3<&0
    "$vigil" watch --endpoint "$feeds" --control "$control" <&3 2>"$out/watch.log" &
    watch_pid=$!
    console=tty
else
    # Heartbeats and zone metrics come every second: show only alert transitions.
    "$vigil" watch --lines --endpoint "$feeds" --control "$control" </dev/null 2>"$out/watch.log" \
        > >(grep --line-buffered -v -e heartbeat -e 'metrics\.zones' | sed -u 's/^/watch: /') &
    watch_pid=$!
    console=lines
fi
sleep 1 # the console's subscription reaches the feeds before the first alert

day=$(awk -F'=' '/^duration/ { gsub(/[ ;]/, "", $2); print $2 }' "$scenario")
[ "$console" = lines ] &&
    echo "demo: simulating ${scenario#models/scenarios/} (${day:-?} s of event time) at ${speed}x: about $(( ${day:-5400} / speed )) s"
"$vigil" sim --model "$model" --scenario "$scenario" --broker "$broker" --speed "$speed" \
    --native --batch --truth "$out/truth.json" </dev/null 2>"$out/sim.log" &
sim_pid=$!
sim_status=0
wait "$sim_pid" || sim_status=$?
sim_pid=
sent=$(sed -n 's/.*sim: \([0-9]*\) messages, .*bytes.*/\1/p' "$out/sim.log" | tail -1)

# Drain: everything the simulator published received, the readings ring empty.
[ -n "$sent" ] && wait_for vigil_messages_total "$sent" 60 || true
for _ in $(seq 1 100); do [ "$(metric 'vigil_ring_depth{ring="readings"}')" = 0 ] && break; sleep 0.2; done
sleep 2 # the console shows the last transitions
kill "$run_pid" 2>/dev/null || true
run_status=0
wait "$run_pid" || run_status=$?
run_pid=
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
watch_pid=
[ "$console" = tty ] && { tput sgr0 2>/dev/null; tput cnorm 2>/dev/null; clear 2>/dev/null; } || true

echo
echo "==== Vigil demo: summary ===="
if [ "$sim_status" -ne 0 ] || [ "$run_status" -ne 0 ]; then
    echo "demo: vigil sim exited $sim_status, vigil run exited $run_status (logs in $out)" >&2
fi
echo "alert transitions per feed and grade (clear = returned to normal), from ${out#$root/}/alerts.jsonl:"
python3 - "$out/alerts.jsonl" <<'PY'
import collections, json, sys
grades = ["advisory", "warning", "critical", "emergency", "clear"]
n = collections.Counter()
raised = collections.Counter()
for line in open(sys.argv[1]):
    if line.strip():
        a = json.loads(line)
        g = "clear" if a.get("action") == "clear" else a.get("grade")
        n[(a["feed"], g)] += 1
        if a.get("action") == "raise":
            raised[a["feed"]] += 1
print("  %-11s %s %7s" % ("feed", " ".join("%9s" % g for g in grades), "raised"))
for f in sorted({f for f, _ in n}):
    print("  %-11s %s %7d" % (f, " ".join("%9d" % n[(f, g)] for g in grades), raised[f]))
PY
echo
echo "incidents against the ground truth (vigil score):"
score_status=0
"$vigil" score "$out/alerts.jsonl" "$out/truth.json" >"$out/score.txt" 2>&1 || score_status=$?
sed 's/^/  /' "$out/score.txt"
echo
echo "archive: ${out#$root/}/archive/ ($(ls "$out/archive" | wc -l) file(s)); replay it and check it"
echo "reproduces the live alerts with:"
echo "  $build/src/app/vigil replay --verify ${out#$root/}/archive/*.h5"
echo "logs: ${out#$root/}/{run,sim,watch}.log"
[ "$sim_status" -eq 0 ] && [ "$run_status" -eq 0 ] || exit 1
exit "$score_status"
}
main "$@"
