#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, starts a private mosquitto on
# 127.0.0.1 and runs Vigil on the sample venue against it.
set -eu
cd "$(dirname "$0")/.."
deploy/install-deps.sh
[ -f build/build.ninja ] || meson setup build -Dtests=false -Dbench=false >/dev/null
ninja -C build >/dev/null
model=models/olympic-park.cfg
exec tests/with-broker.sh bash -c '
  echo "demo: mosquitto on 127.0.0.1:$VG_TEST_MQTT_PORT"
  if [ -f "'"$model"'" ]; then ./build/src/app/vigil check "'"$model"'"; else ./build/src/app/vigil --help; fi'
