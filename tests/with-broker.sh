#!/usr/bin/env bash
# Runs "$@" with a private mosquitto listening on 127.0.0.1 at a free port, exported as
# VG_TEST_MQTT_PORT (and VG_TEST_MQTT_PID, so a test may stop and restart it: see
# VG_TEST_MQTT_CONF). The broker is always stopped when the command ends.
set -u
mosq=$(command -v mosquitto || echo /usr/sbin/mosquitto)
dir=$(mktemp -d "${TMPDIR:-/tmp}/vg-broker.XXXXXX")
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    # A test may have restarted the broker itself; stop whatever it left behind.
    [ -f "$dir/pid" ] && kill "$(cat "$dir/pid")" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

for attempt in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    listening "$port" && continue
    cat > "$dir/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
# Started as root, mosquitto would drop to the mosquitto user, which cannot write our 0700
# temp dir, and a restarted broker would silently forget every persistent session.
user $(id -un)
persistence true
persistence_location $dir/
max_queued_messages 1000000
max_inflight_messages 0
CONF
    "$mosq" -c "$dir/mosquitto.conf" >"$dir/log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
        listening "$port" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if listening "$port"; then
        export VG_TEST_MQTT_PORT=$port VG_TEST_MQTT_PID=$pid VG_TEST_MQTT_CONF=$dir/mosquitto.conf
        export VG_TEST_TMPDIR=$dir
        "$@"
        exit $?
    fi
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
done
echo "with-broker.sh: could not start mosquitto on 127.0.0.1" >&2
cat "$dir/log" >&2
exit 1
