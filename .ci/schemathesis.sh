#!/usr/bin/env bash
# The OpenAPI description is the truth: start a gateway (debug binary) with an admin token, two
# handlers (one answering 200, one refusing connections so its deliveries go dead) and a few
# signed events in the store, then run schemathesis with every check against the served
# /api/openapi.json, with the token, over the whole spec. Any finding fails CI.
# Env: HOOKGATE_BIN (default target/debug/hookgate), SCHEMATHESIS_VENV (default
# target/schemathesis-venv), SCHEMATHESIS_MAX_EXAMPLES (default 15).
set -euo pipefail
cd "$(dirname "$0")/.."
SCHEMATHESIS_VERSION=4.32.5
BIN="${HOOKGATE_BIN:-$PWD/target/debug/hookgate}"
VENV="${SCHEMATHESIS_VENV:-$PWD/target/schemathesis-venv}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-15}"

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port="$(free_port)"
sink_port="$(free_port)"
dead_port="$(free_port)" # nothing listens there: connection refused, so deliveries go dead

# A handler that accepts everything.
python3 - "$sink_port" >/dev/null 2>&1 <<'PY' &
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
pids+=($!)

token="st-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s' "$token" >"$work/admin_token"
printf 'whsec_schemathesis' >"$work/stripe"
printf 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' >"$work/handler"
cat >"$work/hookgate.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
[store]
url = "sqlite://$work/hookgate.db"
[admin]
token = "file:$work/admin_token"
[sources.stripe]
provider = "stripe"
secrets = ["file:$work/stripe"]
[handlers.ok]
kind = "http"
url = "http://127.0.0.1:$sink_port/hook"
sources = ["stripe"]
secret = "file:$work/handler"
[handlers.broken]
kind = "http"
url = "http://127.0.0.1:$dead_port/hook"
sources = ["stripe"]
secret = "file:$work/handler"
max_attempts = 1
TOML

RUST_LOG=warn "$BIN" serve --config "$work/hookgate.toml" >"$work/gateway.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/gateway.log"; exit 1; }

for i in 1 2 3 4 5; do
  "$BIN" send stripe --config "$work/hookgate.toml" --event-id "evt_st_$i" --event-type "invoice.paid" >/dev/null
done
# Wait until `broken` has given up on them (dead) and `ok` has them (delivered).
count() {
  curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/deliveries?$1" |
    python3 -c 'import json, sys; print(len(json.load(sys.stdin)["deliveries"]))'
}
dead=0 delivered=0
for _ in $(seq 1 100); do
  dead="$(count 'handler=broken&state=dead')"
  delivered="$(count 'handler=ok&state=delivered')"
  [ "$dead" = 5 ] && [ "$delivered" = 5 ] && break
  sleep 0.1
done
if [ "$dead" != 5 ] || [ "$delivered" != 5 ]; then
  echo "expected 5 dead at broken and 5 delivered to ok, found $dead and $delivered"
  cat "$work/gateway.log"
  exit 1
fi
echo "store: 5 events; 5 deliveries delivered to ok, 5 dead at broken"

# One worker: with two, hypothesis (a schemathesis dependency) parses lambda sources with
# `ast.parse` on both threads at once, and CPython 3.11's AST constructor keeps its recursion
# depth in state the threads share; a run then fails now and then with "SystemError: AST
# constructor recursion depth mismatch" inside schemathesis, not in anything it checks.
"$VENV/bin/schemathesis" run "http://127.0.0.1:$port/api/openapi.json" \
  --checks all \
  --header "Authorization: Bearer $token" \
  --max-examples "$MAX_EXAMPLES" \
  --seed 1 \
  --workers 1 \
  --request-timeout 10 \
  --warnings off \
  --report junit --report-dir "${SCHEMATHESIS_REPORT_DIR:-$work/report}"
