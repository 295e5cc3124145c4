#!/bin/bash
# make demo: start the bundled buggy app, attach to it *after* it is up,
# send requests, show what sessiontrace recorded, stop everything.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "demo: sessiontrace needs root (BPF, uprobes): run 'sudo make demo'" >&2
	exit 1
fi
PY=/usr/bin/python3.11
PORT=${DEMO_PORT:-18765}
MPORT=${DEMO_METRICS_PORT:-18766}
OUT=build/demo
mkdir -p "$OUT"
rm -f "$OUT/records.jsonl"
server="" tracer=""
cleanup() {
	[ -n "$tracer" ] && kill -INT "$tracer" 2>/dev/null && wait "$tracer" 2>/dev/null || true
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
}
trap cleanup EXIT

echo "==> starting the demo app: uvicorn demo_app:app on 127.0.0.1:$PORT ($PY)"
$PY -m uvicorn demo_app:app --app-dir scripts --host 127.0.0.1 --port "$PORT" \
	--log-level warning >"$OUT/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
	curl -fs "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -fs "http://127.0.0.1:$PORT/health" >/dev/null || { echo "demo: server did not start" >&2; cat "$OUT/server.log" >&2; exit 1; }
echo "    server pid $server is up and serving"

echo "==> what will fail, read from the running app before any failure: build/sessiontrace inspect -p $server"
build/sessiontrace inspect -p "$server" | sed 's/^/    /'

echo "==> attaching: build/sessiontrace -p $server -j $OUT/records.jsonl -m $MPORT"
build/sessiontrace -p "$server" -j "$OUT/records.jsonl" -m "$MPORT" >"$OUT/report.txt" \
	2>"$OUT/tracer.err" &
tracer=$!
for _ in $(seq 100); do
	grep -q '^attached ' "$OUT/tracer.err" 2>/dev/null && break
	sleep 0.05
done
cat "$OUT/tracer.err"

echo "==> sending requests"
for path in /health /account/1 /health /account/2 "/account/%C3%A9t%C3%A9"; do
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$path")
	echo "    GET $path -> $code"
done
sleep 0.5
echo "==> Prometheus metrics (curl http://127.0.0.1:$MPORT/metrics)"
curl -fs "http://127.0.0.1:$MPORT/metrics" | grep -E '^sessiontrace_(assertions|probe_hits|attached)' || true
kill -INT "$tracer"
wait "$tracer" || true
tracer=""
cat "$OUT/tracer.err" | tail -n 1

echo "==> human report (stdout of sessiontrace)"
cat "$OUT/report.txt"
echo "==> The prediction made when the server was attached, before any request (inspect's finding)"
grep -m 1 '"kind":"prediction"' "$OUT/records.jsonl" | /usr/bin/python3 -c '
import json, sys
print(json.dumps(json.load(sys.stdin), indent=2, ensure_ascii=False))'

echo "==> JSON records ($OUT/records.jsonl), the first failure with its stack cut to 3 frames"
grep -v -m 1 '"kind":"prediction"' "$OUT/records.jsonl" | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
n = len(r["stack"])
r["stack"] = r["stack"][:3] + ["... %d more frames" % (n - 3)]
print(json.dumps(r, indent=2, ensure_ascii=False))'

echo "==> $(grep -vc '"kind":"prediction"' "$OUT/records.jsonl") records for 3 failing requests"
echo "==> build/sessiontrace report $OUT/records.jsonl"
build/sessiontrace report "$OUT/records.jsonl"
