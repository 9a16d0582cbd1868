#!/bin/sh
# Installs what `npm run demo`, `npm test` and `npm run bench` need, on a fresh Debian machine:
# the npm packages (Node 24 comes from the pinned `node` package) and, when run as root, the
# Debian packages. Safe to run again: it installs only what is missing or out of date.
set -eu
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/node ] || [ ! -f node_modules/.package-lock.json ] \
   || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi

node_major=$(node_modules/.bin/node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" != 24 ]; then
  echo "setup: expected Node 24 from the pinned node package, got $node_major" >&2
  exit 1
fi

missing=""
if [ -z "${INFLUX_URL:-}" ] && ! command -v influxd >/dev/null 2>&1; then missing="$missing influxdb"; fi
if ! command -v mosquitto_pub >/dev/null 2>&1; then missing="$missing mosquitto-clients"; fi
if ! command -v docker-compose >/dev/null 2>&1; then missing="$missing docker-compose"; fi
# The console's browser tests drive Debian's Chromium through playwright-core.
if [ ! -x /usr/bin/chromium ]; then missing="$missing chromium"; fi
# A Chinese font, so that the console's screenshots show 渝中区, not boxes.
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then missing="$missing fonts-wqy-microhei"; fi
# The gateway's SNMP tests poll Debian's snmpd and check it with snmpget.
if ! command -v snmpd >/dev/null 2>&1 && [ ! -x /usr/sbin/snmpd ]; then missing="$missing snmpd"; fi
if ! command -v snmpget >/dev/null 2>&1; then missing="$missing snmp"; fi
# Clustering tests start a real redis-server and HAProxy; the benchmark measures Mosquitto beside the hub.
if ! command -v redis-server >/dev/null 2>&1; then missing="$missing redis-server"; fi
if ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then missing="$missing haproxy"; fi
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then missing="$missing mosquitto"; fi
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "setup: missing Debian packages:$missing — install them (sudo apt-get install$missing) or run as root" >&2
    exit 1
  fi
fi
