#!/usr/bin/env bash
# Where one load's CPU goes: per-process CPU per request and the machine's idle cores, for
# A/B comparisons of two builds (alternate them: this machine drifts by ±10% between runs).
#
#   bash bench/profile.sh                              # Postgres, no handler, 6 s, 64 connections
#   ENGINE=sqlite HANDLER=1 bash bench/profile.sh
#   GATE=/tmp/hookgate-old bash bench/profile.sh       # another build of the gateway
#   REPLICAS=2 bash bench/profile.sh                   # two gateways on one Postgres database
#
# Prints: req/s, p99, µs of CPU per request of the gateway, of every Postgres process together,
# of the no-op handler (from /proc) and of the load generator (its own user + system time),
# the idle cores over the load (from /proc/stat), and context switches per request of the
# gateway's threads and of the whole machine. ENGINE=noop puts the no-op baseline
# server where the gateway would be (its CPU is printed as the gateway's): the other end of
# every share of the baseline. ENGINE=lean puts `hookgate-lean` there (Postgres): verify, event
# id, one group-commit insert per batch, answer — the floor hookgate's extra work is measured
# against (LEAN_ARGS=--full-row: with hookgate's inbox row and statement).
#
# Env: ENGINE (postgres | sqlite | noop), HANDLER (0 | 1: one `http` handler to a local no-op server),
# DUR (6 s measured, after 1 s of warm-up load), CONNS (64), REPEAT (0.1), GATE (the gateway
# binary), STORE_EXTRA / HANDLER_EXTRA (lines added to [store] / the handler), HANDLER_ANSWER
# (a body the no-op handler answers with, e.g. '{"received":true}'), REPLICAS (1),
# PG_SQL (run against the fresh database before the load, e.g. to drop an index by hand),
# HOOKGATE_BENCH_POSTGRES_URL (postgres://postgres@127.0.0.1:5432/hookgate_prof).
# Probes, each taken once during the load (root, or a perf_event_paranoid that allows it):
#   PERF=1     `perf record -g` of the gateway  -> $OUT/gateway.perf.data (PERF_FREQ, 2000 Hz;
#              PERF_CALLGRAPH='--call-graph dwarf,16384' for whole Rust stacks, at PERF_FREQ=500)
#   PG_PERF=1  `perf record -g` of the batch writer's Postgres backend -> $OUT/backend.perf.data
#   STRACE=1   0.3 s of `strace -tt -T` on the Postgres group-commit writer thread -> $OUT/writer.strace
#   SAMPLE=1   requests in the store path, from /metrics every 20 ms -> printed as mean and median
# OUT (/tmp/hookgate-profile) holds what the probes write.
set -uo pipefail
cd "$(dirname "$0")/.."

ENGINE="${ENGINE:-postgres}"
HANDLER="${HANDLER:-0}"
DUR="${DUR:-6}"
CONNS="${CONNS:-64}"
REPEAT="${REPEAT:-0.1}"
REPLICAS="${REPLICAS:-1}"
BIN=target/release
GATE="${GATE:-$BIN/hookgate}"
OUT="${OUT:-/tmp/hookgate-profile}"
PG_URL="${HOOKGATE_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/hookgate_prof}"
PG_DB="${PG_URL##*/}"
PG_ADMIN_URL="${PG_URL%/*}/postgres"
PROVIDER_NAME=stripe
PORT_GATE=18080
PORT_HANDLER=18200
export PGOPTIONS="--client-min-messages=warning"

[ -x "$GATE" ] && [ -x "$BIN/hookgate-load" ] || { echo "build first: cargo build --release -p hookgate -p hookgate-bench --bins" >&2; exit 2; }
mkdir -p "$OUT"
WORK="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
. bench/lib.sh
write_secrets
SECRET="$BENCH_SECRET"

if [ "$ENGINE" = postgres ]; then
  fresh_postgres
  STORE_URL="$PG_URL"
elif [ "$ENGINE" = lean ]; then
  [ "$REPLICAS" = 1 ] && [ "$HANDLER" = 0 ] || { echo "ENGINE=lean: one process, no handler" >&2; exit 2; }
  fresh_postgres
  STORE_URL="$PG_URL"
elif [ "$ENGINE" = sqlite ] || [ "$ENGINE" = noop ]; then
  [ "$REPLICAS" = 1 ] || { echo "REPLICAS needs ENGINE=postgres" >&2; exit 2; }
  [ "$ENGINE" = noop ] && [ "$HANDLER" = 1 ] && { echo "HANDLER needs a gateway (ENGINE=postgres or sqlite)" >&2; exit 2; }
  STORE_URL="sqlite://$WORK/hookgate.db"
else
  echo "ENGINE: postgres, sqlite, noop or lean" >&2; exit 2
fi

cpu_ticks() { awk '{ sub(/^.*\) /, ""); print ($12 + $13) }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Context switches (voluntary and not) of every thread of a process, and of the whole machine.
ctx_switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {n += $2} END {print n + 0}'; }
machine_ctx() { awk '/^ctxt / {print $2}' /proc/stat; }
pg_ticks() { local t=0 p; for p in $(pgrep -u postgres postgres); do t=$((t + $(cpu_ticks "$p"))); done; echo "$t"; }
idle_ticks() { awk '/^cpu / {print $5 + $6}' /proc/stat; }
backend_pid() {
  psql -Atq "$PG_URL" -c "SELECT pid FROM pg_stat_activity WHERE query LIKE '%INSERT INTO inbox%' AND pid <> pg_backend_pid() LIMIT 1"
}

if [ "$HANDLER" = 1 ]; then
  "$BIN/hookgate-noop" --listen "127.0.0.1:$PORT_HANDLER" ${HANDLER_ANSWER:+--answer "$HANDLER_ANSWER"} >/dev/null 2>&1 &
  HANDLER_PID=$!
  wait_port "127.0.0.1:$PORT_HANDLER"
fi
GATE_PIDS=()
for i in $(seq 0 $((REPLICAS - 1))); do
  port=$((PORT_GATE + i))
  if [ "$ENGINE" = noop ]; then
    "$BIN/hookgate-noop" --listen "127.0.0.1:$port" >"$WORK/gate$i.log" 2>&1 &
    GATE_PIDS+=($!)
    wait_port "127.0.0.1:$port"
  elif [ "$ENGINE" = lean ]; then
    "$BIN/hookgate-lean" --listen "127.0.0.1:$port" --postgres "$PG_URL" --secret "$SECRET" ${LEAN_ARGS:-} >"$WORK/gate$i.log" 2>&1 &
    GATE_PIDS+=($!)
    wait_port "127.0.0.1:$port"
  else
    # The bench's configuration of the case (bench/lib.sh), on this replica's port.
    PORT_GATE=$port gate_config "$STORE_URL" "$HANDLER" true >"$WORK/gate$i.toml"
    "$GATE" serve --config "$WORK/gate$i.toml" >"$WORK/gate$i.log" 2>&1 &
    GATE_PIDS+=($!)
    wait_ready "http://127.0.0.1:$port/readyz"
  fi
done
[ -n "${PG_SQL:-}" ] && psql -q "$PG_URL" -c "$PG_SQL" >/dev/null

load() { # seconds output-prefix
  local i pids=()
  for i in $(seq 0 $((REPLICAS - 1))); do
    /usr/bin/time -f "%U %S" -o "$2$i.cpu" "$BIN/hookgate-load" --url "http://127.0.0.1:$((PORT_GATE + i))/webhooks/bench" --provider stripe --secret "$SECRET" \
      --connections $((CONNS / REPLICAS)) --threads $(( REPLICAS > 1 ? 1 : 2 )) --duration "$1" --warmup 0 \
      --repeat "$REPEAT" --json >"$2$i.json" &
    pids+=($!)
  done
  wait "${pids[@]}"
}

load 1 "$WORK/warm"
g0=0; c0=0; for p in "${GATE_PIDS[@]}"; do g0=$((g0 + $(cpu_ticks "$p"))); c0=$((c0 + $(ctx_switches "$p"))); done
m0=$(machine_ctx)
p0=$(pg_ticks); i0=$(idle_ticks); h0=0; [ "$HANDLER" = 1 ] && h0=$(cpu_ticks "$HANDLER_PID")
load "$DUR" "$WORK/out" &
LOAD=$!
sleep 1
if [ -n "${PERF:-}" ]; then
  perf record -F ${PERF_FREQ:-2000} ${PERF_CALLGRAPH:--g} -o "$OUT/gateway.perf.data" -p "${GATE_PIDS[0]}" -- sleep $((DUR - 2)) >/dev/null 2>&1
fi
if [ -n "${PG_PERF:-}" ] && [ "$ENGINE" = postgres ]; then
  perf record -F 4000 -g -o "$OUT/backend.perf.data" -p "$(backend_pid)" -- sleep 3 >/dev/null 2>&1
fi
if [ -n "${STRACE:-}" ] && [ "$ENGINE" = postgres ]; then
  tid="$(grep -l pg-wri /proc/"${GATE_PIDS[0]}"/task/*/comm | head -1 | cut -d/ -f5)"
  timeout 0.3 strace -tt -T -p "$tid" -e trace=sendto,recvfrom -o "$OUT/writer.strace" 2>/dev/null
fi
if [ -n "${SAMPLE:-}" ]; then
  for _ in $(seq 150); do
    curl -s "http://127.0.0.1:$PORT_GATE/metrics" | awk '/body_bytes_held\{stage="queued"\}/ {print $2}'
    sleep 0.02
  done >"$WORK/samples"
fi
wait "$LOAD"
g1=0; c1=0; for p in "${GATE_PIDS[@]}"; do g1=$((g1 + $(cpu_ticks "$p"))); c1=$((c1 + $(ctx_switches "$p"))); done
m1=$(machine_ctx)
p1=$(pg_ticks); i1=$(idle_ticks); h1=0; [ "$HANDLER" = 1 ] && h1=$(cpu_ticks "$HANDLER_PID")

python3 - "$WORK" "$REPLICAS" "$(getconf CLK_TCK)" "$DUR" "$g0" "$g1" "$p0" "$p1" "$h0" "$h1" "$i0" "$i1" "$c0" "$c1" "$m0" "$m1" <<'PY'
import json, statistics, sys, os
work, n, tck, dur = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
g0, g1, p0, p1, h0, h1, i0, i1, c0, c1, m0, m1 = map(float, sys.argv[5:])
runs = [json.load(open(f"{work}/out{i}.json")) for i in range(n)]
load_cpu = sum(sum(map(float, open(f"{work}/out{i}.cpu").read().split()[:2])) for i in range(n))
rps = sum(r["rps"] for r in runs)
reqs = rps * dur
per = lambda a, b: (b - a) / tck / reqs * 1e6
line = (f"{rps:.0f} req/s, p99 {max(r['p99_ms'] for r in runs):.2f} ms, non-2xx {sum(r['non_2xx'] for r in runs)}; "
        f"µs of CPU per request: gateway {per(g0, g1):.1f}, postgres {per(p0, p1):.1f}, handler {per(h0, h1):.1f}, "
        f"load generator {load_cpu / reqs * 1e6:.1f}; "
        f"idle {(i1 - i0) / tck / dur:.2f} cores")
print(line)
print(f"context switches per request: gateway {(c1 - c0) / reqs:.2f}, whole machine {(m1 - m0) / reqs:.2f}")
samples = os.path.join(work, "samples")
if os.path.exists(samples):
    v = [float(x) / 1310 for x in open(samples) if x.strip()]  # ~bytes queued per 1 KiB request
    if v:
        print(f"requests in the store path: mean {statistics.mean(v):.1f}, median {statistics.median(v):.1f} ({len(v)} samples)")
PY
