#!/usr/bin/env bash
# Overload: what hookgate answers while its store cannot keep up, and that it recovers alone.
#
#   bash bench/overload.sh
#
# hookgate runs on Postgres behind `hookgate-stallproxy`. A Stripe-signed load (CONNECTIONS
# keep-alive connections, more than the configured `store.queue_depth`) runs for
# BEFORE + STALL + AFTER seconds; during STALL the proxy holds every database connection open
# without forwarding a byte (a database that stopped answering). Expected: 2xx before; during
# the stall 503 `overloaded` with Retry-After at once for requests past the bounded queue, 503
# `unavailable` after `store.timeout` for the queued ones, no 2xx, memory flat; 2xx again
# after the stall without a restart. The script prints the answers per second and the
# gateway's RSS sampled every half second.
#
# With large bodies (`BODY_SIZE=262144 REPEAT=0 QUEUE_DEPTH=8192`) it shows the queue's byte
# bound (`store.queue_bytes`, QUEUE_BYTES) keeping memory flat where the request bound alone
# would let the queue hold one body per connection.
#
# Env: CONNECTIONS (1024), QUEUE_DEPTH (256), QUEUE_BYTES (67108864), INFLIGHT_BYTES (67108864:
# server.max_inflight_body_bytes), BODY_SIZE (1024), REPEAT (0.1),
# STORE_TIMEOUT (2s), BEFORE (3), STALL (6), AFTER (5),
# HOOKGATE_BENCH_POSTGRES_URL (postgres://postgres@127.0.0.1:5432/hookgate_bench).
set -euo pipefail
cd "$(dirname "$0")/.."

CONNECTIONS="${CONNECTIONS:-1024}"
QUEUE_DEPTH="${QUEUE_DEPTH:-256}"
QUEUE_BYTES="${QUEUE_BYTES:-67108864}"
INFLIGHT_BYTES="${INFLIGHT_BYTES:-67108864}"
BODY_SIZE="${BODY_SIZE:-1024}"
REPEAT="${REPEAT:-0.1}"
STORE_TIMEOUT="${STORE_TIMEOUT:-2s}"
BEFORE="${BEFORE:-3}"
STALL="${STALL:-6}"
AFTER="${AFTER:-5}"
PG_URL="${HOOKGATE_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/hookgate_bench}"
PG_DB="${PG_URL##*/}"
PG_ADMIN_URL="${PG_URL%/*}/postgres"
export PGOPTIONS="--client-min-messages=warning"
PORT_GATE=18080
PORT_PROXY=15432

[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p hookgate -p hookgate-bench --bins
BIN=target/release
WORK="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
. bench/lib.sh
write_secrets
SECRET="$BENCH_SECRET"

fresh_postgres
upstream_host_port="$(python3 -c 'import sys, urllib.parse as u; p = u.urlparse(sys.argv[1]); print(f"{p.hostname}:{p.port or 5432}")' "$PG_URL")"
"$BIN/hookgate-stallproxy" --listen "127.0.0.1:$PORT_PROXY" --upstream "$upstream_host_port" >"$WORK/proxy.log" 2>&1 &
PROXY=$!
via_proxy="$(python3 -c 'import sys, urllib.parse as u; p = u.urlparse(sys.argv[1]); user = p.username + "@" if p.username else ""; print(p._replace(netloc=user + "127.0.0.1:" + sys.argv[2]).geturl())' "$PG_URL" "$PORT_PROXY")"
wait_port "127.0.0.1:$PORT_PROXY"

cat >"$WORK/gate.toml" <<EOF
[server]
listen = "127.0.0.1:$PORT_GATE"
max_inflight_body_bytes = $INFLIGHT_BYTES
[store]
url = "$via_proxy"
queue_depth = $QUEUE_DEPTH
queue_bytes = $QUEUE_BYTES
timeout = "$STORE_TIMEOUT"
statement_timeout = "$STORE_TIMEOUT"
retry_after = "2s"
[sources.bench]
provider = "stripe"
secrets = ["file:$WORK/source-secret"]
EOF
"$BIN/hookgate" serve --config "$WORK/gate.toml" >"$WORK/gate.log" 2>&1 &
GATE=$!
wait_ready "http://127.0.0.1:$PORT_GATE/readyz"

(
  while kill -0 "$GATE" 2>/dev/null; do
    awk '/^VmRSS:/ {print $2}' "/proc/$GATE/status" 2>/dev/null || true
    sleep 0.5
  done
) >"$WORK/rss.txt" &

total=$((BEFORE + STALL + AFTER))
"$BIN/hookgate-load" --url "http://127.0.0.1:$PORT_GATE/webhooks/bench" --provider stripe --secret "$SECRET" \
  --connections "$CONNECTIONS" --warmup 0 --duration "$total" --repeat "$REPEAT" --body-size "$BODY_SIZE" --timeline --json >"$WORK/load.json" &
LOAD=$!
sleep "$BEFORE"; kill -USR1 "$PROXY"
sleep "$STALL"; kill -USR2 "$PROXY"
wait "$LOAD"
# One request after the run, as a provider's retry would come.
after="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT_GATE/readyz")"

echo "overload: $CONNECTIONS connections, $BODY_SIZE-byte bodies, store.queue_depth $QUEUE_DEPTH, store.queue_bytes $QUEUE_BYTES, store.timeout $STORE_TIMEOUT; database stalled from second $BEFORE to $((BEFORE + STALL))"
python3 - "$WORK/load.json" "$WORK/rss.txt" "$BEFORE" "$STALL" <<'PY'
import json, sys
load = json.load(open(sys.argv[1]))
rss = [int(l) / 1024 for l in open(sys.argv[2]) if l.strip()]
before, stall = int(sys.argv[3]), int(sys.argv[4])
# RSS is sampled every 0.5 s from just before the load starts: two samples per second.
print("| second | phase | 2xx | 503 | other | peak RSS MiB |")
print("|---:|---|---:|---:|---:|---:|")
for i, (ok, unavailable, other) in enumerate(load["timeline"]):
    phase = "before" if i < before else ("stalled" if i < before + stall else "after")
    second = rss[2 * i:2 * i + 2]
    peak = f"{max(second):.1f}" if second else "-"
    print(f"| {i} | {phase} | {ok} | {unavailable} | {other} | {peak} |")
print(f"statuses over the run: {load['statuses']}, problem codes {load['codes']}, connection errors {load['errors']}")
print(f"gateway RSS MiB: start {rss[0]:.1f}, peak {max(rss):.1f}, end {rss[-1]:.1f} ({len(rss)} samples)")
PY
echo "readyz after the stall: $after"
