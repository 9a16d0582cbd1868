#!/bin/sh
# A science kiosk on the campus LAN with the mosquitto clients alone (Debian: mosquitto-clients).
# One long-lived mosquitto_pub session sends a sample every INTERVAL seconds (-l: one message per
# line of its input, on one connection); mosquitto_sub prints the commands and the refusals that
# name this device. The session ends with a clean DISCONNECT after COUNT samples: the gateway then
# counts the kiosk `off`, not `down`.
#
# It does not answer commands: the gateway accepts an answer only on the MQTT session that sent
# the device's samples, and a mosquitto_pub process publishes to one topic. A device answers on
# the connection it reports on, as device-kit/src/client.ts does (docs/devices.md).
#
#   GW_HOST=192.168.10.2 DEVICE=yz-s01-lobby-kiosk sh device-kit/examples/mosquitto.sh
set -eu

GW_HOST="${GW_HOST:-127.0.0.1}"
GW_PORT="${GW_PORT:-1884}"
DEVICE="${DEVICE:-kiosk-demo}" # plain ASCII here: it is written into JSON as it is
COUNT="${COUNT:-5}"
INTERVAL="${INTERVAL:-60}"
# How long mosquitto_sub keeps watching after the last sample (seconds).
LINGER="${LINGER:-5}"

now_ms() { echo "$(($(date +%s) * 1000))"; } # `date +%s%3N` is GNU only

samples() {
  i=0
  while [ "$i" -lt "$COUNT" ]; do
    # The kiosk's last content sync was half an hour ago; 50 GiB free.
    printf '{"device":"%s","kind":"science_kiosk","seq":%d,"ts":%s,"data":{"power":"on","screenOn":true,"contentSyncAgeS":%d,"freeDiskMiB":51200}}\n' \
      "$DEVICE" "$i" "$(now_ms)" "$((1800 + i * INTERVAL))"
    echo "sent seq $i" >&2
    i=$((i + 1))
    [ "$i" -lt "$COUNT" ] && sleep "$INTERVAL"
  done
}

# Every device on the LAN sees every command and every refusal: keep the ones naming this device.
mosquitto_sub -h "$GW_HOST" -p "$GW_PORT" -V mqttv311 -i "$DEVICE-watch" -q 1 -v \
  -t lan/v1/cmd -t lan/v1/err -W "$((COUNT * INTERVAL + LINGER))" |
  grep --line-buffered -F "\"device\":\"$DEVICE\"" &
WATCH=$!
sleep 1 # subscribed before the first sample

samples | mosquitto_pub -h "$GW_HOST" -p "$GW_PORT" -V mqttv311 -i "$DEVICE" -q 1 -t lan/v1/telemetry -l
echo "goodbye sent" >&2
wait "$WATCH" || true # mosquitto_sub ends with status 27 at its -W timeout
