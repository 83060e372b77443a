#!/bin/sh
# The README's first command: start surge's own echo server, run a real load
# test against it (200 connections for 10 s, then 5 s at an exact 20000 req/s),
# print the reports, stop the server. Everything stays on 127.0.0.1.
set -e
cd "$(dirname "$0")/.."
SURGE=./build/surge
tmp=$(mktemp -d)
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM

$SURGE serve echo --listen 127.0.0.1:0 --workers 1 --ready-file "$tmp/port" --exit-after 120s &
server=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(cat "$tmp/port")

echo "== closed model: 200 connections, each sends its next request when the answer is in"
$SURGE run scenarios/echo.lua --target "tcp://127.0.0.1:$port" -c 200 -d 10s --progress
echo
echo "== open model: exactly 20000 requests/s, latency measured from each intended send time"
$SURGE run scenarios/echo-rate.lua --target "tcp://127.0.0.1:$port" -d 5s --progress --latency
