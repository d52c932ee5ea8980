#!/usr/bin/env bash
# hookgate's ingest benchmark: one run, one table, baseline beside hookgate.
#
#   bash bench/run.sh                      # all cases, 2 rounds
#   ROUNDS=3 CASES="baseline sqlite postgres" bash bench/run.sh
#   PREFILL=1000000 CASES="sqlite postgres" bash bench/run.sh   # inbox already holds 1M rows
#   SERVE=postgres+handler bash bench/run.sh   # start one case as the bench would, and wait:
#                                              # for driving it with another load generator
#
# Each round runs every case in turn (interleaved, so drift hits all alike), each against a
# fresh store: the no-op baseline server on hookgate's own HTTP stack (`hookgate-noop`), then
# hookgate on SQLite and on Postgres with product defaults (info logs to a file, stats,
# metrics, durable commits), then the same with one `http` handler delivering to a local no-op
# handler while the load runs. The load is `hookgate-load`: Stripe-signed 1 KiB events, signed
# on the fly, 10% byte-identical repeats, 64 keep-alive connections, 2 load threads, warm-up
# excluded. Peak RSS and CPU seconds are the server process's own (for Postgres, the database's
# CPU is not included); with a handler, the table also shows deliveries/s during the load and
# the backlog left when the load stopped.
#
# `lean` is the floor on Postgres: `hookgate-lean`, only verify → event id → one group-commit
# insert per batch → answer after the commit, on the same HTTP stack, no headers, counters,
# logs or metrics (the issue's prototype). `lean-row` is the same writing hookgate's inbox row
# with hookgate's statement (`--full-row`): between the two, what the stored row costs; between
# `lean-row` and `postgres`, what the gateway's own work costs.
#
# Dispatch: `handler-baseline` drives the no-op handler directly with the load generator
# (DRAIN_CONCURRENCY connections); `sqlite:drain` / `postgres:drain` let an ingest-only gateway
# (dispatch.enabled = false) fill the outbox with DRAIN_EVENTS events, then time a gateway with
# default dispatch settings delivering all of them to the no-op handler. `redis_stream:drain`,
# `nats_jetstream:drain` and `rabbitmq:drain` drain the same backlog (SQLite store) into the
# machine's Redis stream / JetStream stream (created by the handler) / RabbitMQ exchange with a
# bound queue, each named with this run's id and removed afterwards; a delivery counts when the
# store has it `delivered` (for brokers: after the ack / publisher confirm).
#
# Env: CASES, ROUNDS (2), STORE_EXTRA / HANDLER_EXTRA (lines added to [store] / the handler), DRAIN_EVENTS (30000), DRAIN_CONCURRENCY (16), DURATION (9 s measured), WARMUP (1 s), CONNECTIONS (64),
# LOAD_THREADS (2), REPEAT (0.10), CHANGED_REPEAT (0), PROVIDER (stripe | standard-webhooks),
# PREFILL (0 rows), HOOKGATE_BENCH_POSTGRES_URL (postgres://postgres@127.0.0.1:5432/hookgate_bench),
# HOOKGATE_BENCH_REDIS_URL (redis://127.0.0.1:6379/), HOOKGATE_BENCH_NATS_URL (nats://127.0.0.1:4222),
# HOOKGATE_BENCH_AMQP_URL (amqp://guest:guest@127.0.0.1:5672/%2f).
set -euo pipefail
cd "$(dirname "$0")/.."

CASES="${CASES:-baseline lean lean-row sqlite postgres sqlite+handler postgres+handler handler-baseline sqlite:drain postgres:drain redis_stream:drain nats_jetstream:drain rabbitmq:drain}"
ROUNDS="${ROUNDS:-2}"
DURATION="${DURATION:-9}"
WARMUP="${WARMUP:-1}"
CONNECTIONS="${CONNECTIONS:-64}"
LOAD_THREADS="${LOAD_THREADS:-2}"
REPEAT="${REPEAT:-0.10}"
CHANGED_REPEAT="${CHANGED_REPEAT:-0}"
PROVIDER="${PROVIDER:-stripe}"
PREFILL="${PREFILL:-0}"
DRAIN_EVENTS="${DRAIN_EVENTS:-30000}"
DRAIN_CONCURRENCY="${DRAIN_CONCURRENCY:-16}"
PG_URL="${HOOKGATE_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/hookgate_bench}"
PG_DB="${PG_URL##*/}"
REDIS_URL="${HOOKGATE_BENCH_REDIS_URL:-redis://127.0.0.1:6379/}"
NATS_URL="${HOOKGATE_BENCH_NATS_URL:-nats://127.0.0.1:4222}"
AMQP_URL="${HOOKGATE_BENCH_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}"
# Broker names of this run: nothing else on the shared brokers is touched.
RUN_ID="$$_$(date +%s)"
PG_ADMIN_URL="${PG_URL%/*}/postgres"
export PGOPTIONS="--client-min-messages=warning"

PORT_GATE=18080
PORT_BASE=18100
PORT_HANDLER=18200

[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p hookgate -p hookgate-bench --bins
BIN=target/release
WORK="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
. bench/lib.sh
write_secrets
SECRET="$BENCH_SECRET"
TICKS="$(getconf CLK_TCK)"
RESULTS="$WORK/results.jsonl"
DRAINS="$WORK/drains.jsonl"
: >"$RESULTS"
: >"$DRAINS"

case "$PROVIDER" in
  stripe) PROVIDER_NAME=stripe ;;
  standard-webhooks) PROVIDER_NAME=standard_webhooks ;;
  *) echo "PROVIDER must be stripe or standard-webhooks" >&2; exit 2 ;;
esac

proc_figures() { # pid -> "peak_rss_kib cpu_seconds"
  local hwm cpu
  hwm="$(awk '/^VmHWM:/ {print $2}' "/proc/$1/status")"
  cpu="$(awk -v t="$TICKS" '{ sub(/^.*\) /, ""); print ($12 + $13) / t }' "/proc/$1/stat")"
  echo "$hwm $cpu"
}

prefill() { # engine store_url
  [ "$PREFILL" -gt 0 ] || return 0
  # Start once so migrations create the schema, then fill the inbox with old-looking rows.
  "$BIN/hookgate" migrate --config "$WORK/gate.toml" >/dev/null
  local now_ms=$(( $(date +%s) * 1000 ))
  if [ "$1" = sqlite ]; then
    sqlite_file="${2#sqlite://}"
    python3 - "$sqlite_file" "$PREFILL" "$now_ms" <<'PY'
import sqlite3, sys, uuid, os
db, n, now = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = sqlite3.connect(db)
body = b'{"id":"x"}' + b"x" * 1000
c.execute("BEGIN")
c.executemany(
    "INSERT INTO inbox (id, source, event_id, event_type, body, headers, body_sha256, received_at) VALUES (?,?,?,?,?,?,?,?)",
    ((str(uuid.uuid4()), "bench", f"prefill_{i}", "prefill", body, "{}", os.urandom(32), now - 3600_000) for i in range(n)),
)
c.commit()
# A store that has held these rows for a while has had them checkpointed into the database
# file; without this the run would spend its time copying a 1 GB WAL back.
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
PY
  else
    psql -q "$PG_URL" -c "INSERT INTO inbox (id, source, event_id, event_type, body, headers, body_sha256, received_at)
      SELECT gen_random_uuid(), 'bench', 'prefill_' || g, 'prefill', convert_to(repeat('x', 1024), 'UTF8'), '{}'::jsonb,
             sha256(g::text::bytea), $now_ms - 3600000 FROM generate_series(1, $PREFILL) g" >/dev/null
    psql -q "$PG_URL" -c "VACUUM ANALYZE inbox" >/dev/null
    # Likewise: write the bulk load's dirty pages out now, not during the measured run.
    psql -q "$PG_URL" -c "CHECKPOINT" >/dev/null
  fi
}

sink_setup() { # kind: make the broker side exist before the drain
  case "$1" in
    rabbitmq) "$BIN/hookgate-brokers" rabbit-setup --url "$AMQP_URL" --exchange "hgbench.$RUN_ID" --queue "hgbench.q.$RUN_ID" ;;
  esac
}

sink_teardown() { # kind: remove what the drain left on the broker
  case "$1" in
    redis_stream) redis-cli -u "$REDIS_URL" DEL "hookgate-bench:$RUN_ID" >/dev/null ;;
    nats_jetstream) "$BIN/hookgate-brokers" nats-delete-stream --url "$NATS_URL" --stream "HGBENCH_$RUN_ID" ;;
    rabbitmq) "$BIN/hookgate-brokers" rabbit-teardown --url "$AMQP_URL" --exchange "hgbench.$RUN_ID" --queue "hgbench.q.$RUN_ID" ;;
  esac
}

drain_case() { # engine round [kind]: deliveries/s draining a backlog of DRAIN_EVENTS to a `kind` handler (http: the no-op handler)
  local engine="$1" round="$2" kind="${3:-http}" store_url pid handler_pid="" start end delivered
  rm -rf "$WORK/store"; mkdir -p "$WORK/store"
  if [ "$engine" = sqlite ]; then store_url="sqlite://$WORK/store/hookgate.db"; else fresh_postgres; store_url="$PG_URL"; fi
  # 1. An ingest-only gateway fills the outbox (the handler is configured, dispatch is off).
  gate_config "$store_url" 1 false "$kind" >"$WORK/gate.toml"
  "$BIN/hookgate" serve --config "$WORK/gate.toml" >"$WORK/gate.log" 2>&1 &
  pid=$!
  wait_ready "http://127.0.0.1:$PORT_GATE/readyz"
  "$BIN/hookgate-load" --url "http://127.0.0.1:$PORT_GATE/webhooks/bench" --provider "$PROVIDER" --secret "$SECRET" \
    --connections "$CONNECTIONS" --threads "$LOAD_THREADS" --requests "$DRAIN_EVENTS" --warmup 0 --repeat 0 --json >/dev/null
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  # 2. A gateway with default dispatch settings drains it; the handler counts what arrives
  # (broker sinks: the store counts what the broker acknowledged).
  if [ "$kind" = http ]; then
    "$BIN/hookgate-noop" --listen "127.0.0.1:$PORT_HANDLER" >"$WORK/handler.log" 2>&1 &
    handler_pid=$!
    wait_port "127.0.0.1:$PORT_HANDLER"
  else
    sink_setup "$kind"
  fi
  gate_config "$store_url" 1 true "$kind" >"$WORK/gate.toml"
  start=$(date +%s.%N); local t0=$SECONDS
  "$BIN/hookgate" serve --config "$WORK/gate.toml" >"$WORK/gate.log" 2>&1 &
  pid=$!
  local cpu0
  cpu0="$(proc_figures "$pid" | cut -d' ' -f2)" || cpu0=0
  while :; do
    if [ "$kind" = http ]; then
      delivered="$(curl -fsS "http://127.0.0.1:$PORT_HANDLER/count" 2>/dev/null || echo 0)"
    else
      delivered="$(sqlite3 "file:${store_url#sqlite://}?mode=ro" "SELECT count(*) FROM deliveries WHERE state = 'delivered'" 2>/dev/null || echo 0)"
      [ -n "$delivered" ] || delivered=0
    fi
    [ "$delivered" -ge "$DRAIN_EVENTS" ] && break
    (( SECONDS - t0 > 120 )) && { echo "drain did not finish in 120 s ($delivered)" >&2; break; }
    # Coarse polling (a curl or sqlite3 process costs CPU the drain would otherwise get); the
    # end is when the last delivery arrived, as the handler or the store recorded it.
    sleep 0.25
  done
  if [ "$kind" = http ]; then
    end="$(curl -fsS "http://127.0.0.1:$PORT_HANDLER/last")"
  else
    end="$(sqlite3 "file:${store_url#sqlite://}?mode=ro" "SELECT max(updated_at) / 1000.0 FROM deliveries WHERE state = 'delivered'")"
  fi
  local figures
  figures="$(proc_figures "$pid")"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  if [ -n "$handler_pid" ]; then kill -INT "$handler_pid"; wait "$handler_pid" 2>/dev/null || true; else sink_teardown "$kind"; fi
  local label="$engine drain"
  [ "$kind" = http ] || label="$kind drain ($engine)"
  python3 - "$label" "$round" "$start" "$end" "$delivered" $figures "$cpu0" >>"$DRAINS" <<'PY'
import json, sys
label, rnd, start, end, n, hwm, cpu, cpu0 = sys.argv[1:9]
secs = float(end) - float(start)
print(json.dumps({"case": label, "round": int(rnd), "deliveries": int(n), "seconds": secs,
                  "per_s": int(n) / secs, "peak_rss_mib": int(hwm) / 1024, "cpu_s": float(cpu) - float(cpu0)}))
PY
}

handler_baseline() { # round: the same no-op handler driven directly by the load generator
  local round="$1" handler_pid
  "$BIN/hookgate-noop" --listen "127.0.0.1:$PORT_HANDLER" >"$WORK/handler.log" 2>&1 &
  handler_pid=$!
  wait_port "127.0.0.1:$PORT_HANDLER"
  "$BIN/hookgate-load" --url "http://127.0.0.1:$PORT_HANDLER/hook" --provider none \
    --connections "$DRAIN_CONCURRENCY" --threads "$LOAD_THREADS" --requests "$DRAIN_EVENTS" --warmup 0 --repeat 0 --json >"$WORK/hb.json"
  kill -INT "$handler_pid"; wait "$handler_pid" 2>/dev/null || true
  python3 - "$WORK/hb.json" "$round" >>"$DRAINS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({"case": "handler baseline", "round": int(sys.argv[2]), "deliveries": r["requests"], "seconds": r["seconds"],
                  "per_s": r["rps"], "peak_rss_mib": None, "cpu_s": None}))
PY
}

start_case() { # case: start its server(s) on a fresh store; sets CASE_PID, CASE_URL, CASE_HANDLER_PID
  local case="$1" engine handler=0 store_url
  CASE_HANDLER_PID=""
  rm -rf "$WORK/store"; mkdir -p "$WORK/store"
  case "$case" in
    baseline)
      "$BIN/hookgate-noop" --listen "127.0.0.1:$PORT_BASE" >"$WORK/noop.log" 2>&1 &
      CASE_PID=$!
      wait_port "127.0.0.1:$PORT_BASE"
      CASE_URL="http://127.0.0.1:$PORT_BASE/webhooks/bench"
      ;;
    lean|lean-row)
      fresh_postgres
      "$BIN/hookgate-lean" --listen "127.0.0.1:$PORT_BASE" --postgres "$PG_URL" --secret "$SECRET" \
        $([ "$case" = lean-row ] && echo --full-row) >"$WORK/lean.log" 2>&1 &
      CASE_PID=$!
      wait_port "127.0.0.1:$PORT_BASE"
      CASE_URL="http://127.0.0.1:$PORT_BASE/webhooks/bench"
      ;;
    sqlite|postgres|sqlite+handler|postgres+handler)
      engine="${case%%+*}"
      [ "$case" != "$engine" ] && handler=1
      if [ "$engine" = sqlite ]; then
        store_url="sqlite://$WORK/store/hookgate.db"
      else
        fresh_postgres
        store_url="$PG_URL"
      fi
      gate_config "$store_url" "$handler" true >"$WORK/gate.toml"
      prefill "$engine" "$store_url"
      if [ "$handler" = 1 ]; then
        "$BIN/hookgate-noop" --listen "127.0.0.1:$PORT_HANDLER" >"$WORK/handler.log" 2>&1 &
        CASE_HANDLER_PID=$!
        wait_port "127.0.0.1:$PORT_HANDLER"
      fi
      "$BIN/hookgate" serve --config "$WORK/gate.toml" >"$WORK/gate.log" 2>&1 &
      CASE_PID=$!
      wait_ready "http://127.0.0.1:$PORT_GATE/readyz"
      CASE_URL="http://127.0.0.1:$PORT_GATE/webhooks/bench"
      ;;
    *) echo "unknown case $case (baseline, lean, lean-row, sqlite, postgres, sqlite+handler, postgres+handler)" >&2; exit 2 ;;
  esac
}

serve_case() { # case: start it exactly as the bench does, for another load generator, until Ctrl-C
  start_case "$1"
  echo "serving $1 (fresh store, product defaults): POST $CASE_URL"
  echo "  provider $PROVIDER, secret $SECRET"
  case "$PROVIDER" in
    stripe) echo '  Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>; the event id is the JSON body'"'"'s "id"' ;;
    standard-webhooks) echo '  webhook-id, webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>, key = base64-decoded secret after whsec_' ;;
  esac
  if [ "$1" != baseline ] && [ "${1#lean}" = "$1" ]; then
    echo "  answers by kind: curl -s http://127.0.0.1:$PORT_GATE/metrics | grep hookgate_ingest"
    echo "  config and log: $WORK/gate.toml, $WORK/gate.log"
  fi
  if [ -n "$CASE_HANDLER_PID" ]; then
    echo "  deliveries the no-op handler received: curl -s http://127.0.0.1:$PORT_HANDLER/count"
  fi
  echo "Ctrl-C stops it (and removes the store)."
  wait "$CASE_PID"
}

run_case() { # case round
  local case="$1" round="$2" pid handler_pid url figures
  start_case "$case"
  pid="$CASE_PID"; handler_pid="$CASE_HANDLER_PID"; url="$CASE_URL"
  local cpu_before
  cpu_before="$(proc_figures "$pid" | cut -d' ' -f2)"
  "$BIN/hookgate-load" --url "$url" --provider "$PROVIDER" --secret "$SECRET" \
    --connections "$CONNECTIONS" --threads "$LOAD_THREADS" --duration "$DURATION" \
    --warmup "$WARMUP" --repeat "$REPEAT" --changed-repeat "$CHANGED_REPEAT" \
    --label "$case" --json >"$WORK/load.json"
  figures="$(proc_figures "$pid")"
  local delivered=null
  if [ -n "$handler_pid" ]; then
    delivered="$(curl -fsS "http://127.0.0.1:$PORT_HANDLER/count")"
  fi
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  [ -n "$handler_pid" ] && { kill -INT "$handler_pid"; wait "$handler_pid" 2>/dev/null || true; }
  python3 - "$WORK/load.json" "$case" "$round" $figures "$cpu_before" "$delivered" "$DURATION" "$WARMUP" >>"$RESULTS" <<'PY'
import json, sys
load = json.load(open(sys.argv[1]))
case, rnd, hwm, cpu, cpu0, delivered, dur, warm = sys.argv[2:10]
load.update(case=case, round=int(rnd), peak_rss_mib=int(hwm) / 1024, cpu_s=float(cpu) - float(cpu0))
if delivered != "null":
    # Deliveries made while the load ran (warm-up included) per second of load.
    load["delivered"] = int(delivered)
    load["deliveries_per_s"] = int(delivered) / (float(dur) + float(warm))
print(json.dumps(load))
PY
  sleep 1
}

if [ -n "${SERVE:-}" ]; then
  trap 'exit 130' INT TERM # the EXIT trap then stops what the case started
  serve_case "$SERVE"
  exit 0
fi

echo "hookgate ingest benchmark: $(nproc) cores, $PROVIDER-signed ${CONNECTIONS}x keep-alive, ${REPEAT} byte-identical repeats, ${DURATION}s measured after ${WARMUP}s warm-up, $ROUNDS rounds, prefill $PREFILL rows"
echo "postgres synchronous_commit=$(psql -tA "$PG_ADMIN_URL" -c 'SHOW synchronous_commit' 2>/dev/null || echo '?'); sqlite synchronous=FULL (WAL)"
for round in $(seq 1 "$ROUNDS"); do
  for case in $CASES; do
    printf '  round %s: %-18s ' "$round" "$case" >&2
    case "$case" in
      sqlite:drain|postgres:drain|redis_stream:drain|nats_jetstream:drain|rabbitmq:drain)
        case "${case%%:*}" in
          sqlite|postgres) drain_case "${case%%:*}" "$round" ;;
          *) drain_case sqlite "$round" "${case%%:*}" ;;
        esac
        tail -1 "$DRAINS" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.0f deliveries/s" % r["per_s"], file=sys.stderr)'
        continue ;;
      handler-baseline)
        handler_baseline "$round"
        tail -1 "$DRAINS" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.0f req/s" % r["per_s"], file=sys.stderr)'
        continue ;;
    esac
    run_case "$case" "$round"
    tail -1 "$RESULTS" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.0f req/s, p99 %.1f ms, non-2xx %d" % (r["rps"], r["p99_ms"], r["non_2xx"] + r["errors"]), file=sys.stderr)'
  done
done

python3 - "$RESULTS" "$DRAINS" <<'PY'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1])]
drains = [json.loads(l) for l in open(sys.argv[2])]
base = [r["rps"] for r in rows if r["case"] == "baseline"]
base_rps = statistics.mean(base) if base else None
hdr = f"| {'case':<18} | {'round':>5} | {'req/s':>8} | {'share':>6} | {'p50 ms':>6} | {'p99 ms':>6} | {'p99.9 ms':>8} | {'peak RSS MiB':>12} | {'CPU s/1k req':>12} | {'non-2xx':>7} | {'accepted':>8} | {'duplicate':>9} | {'deliveries/s':>12} | {'backlog':>7} |"
print()
print(hdr)
print("|" + "|".join("-" * (len(c)) if i == 1 else "-" * (len(c) - 1) + ":" for i, c in enumerate(hdr.split("|")[1:-1], 1)) + "|")
def line(case, rnd, r):
    share = f"{100 * r['rps'] / base_rps:.1f}%" if base_rps else "-"
    cpu_k = 1000 * r["cpu_s"] / max(r["requests"], 1)
    dps = f"{r['deliveries_per_s']:.0f}" if "deliveries_per_s" in r else "-"
    backlog = str(max(r["accepted_all"] - r["delivered"], 0)) if "delivered" in r else "-"
    print(f"| {case:<18} | {rnd:>5} | {r['rps']:>8.0f} | {share:>6} | {r['p50_ms']:>6.2f} | {r['p99_ms']:>6.2f} | {r['p999_ms']:>8.2f} | {r['peak_rss_mib']:>12.1f} | {cpu_k:>12.3f} | {r['non_2xx'] + r['errors']:>7} | {r['accepted']:>8} | {r['duplicate']:>9} | {dps:>12} | {backlog:>7} |")
for r in rows:
    line(r["case"], r["round"], r)
print()
print("mean per case (share of the baseline's mean):")
for case in dict.fromkeys(r["case"] for r in rows):
    rs = [r for r in rows if r["case"] == case]
    m = statistics.mean(r["rps"] for r in rs)
    share = f"{100 * m / base_rps:.1f}%" if base_rps else "-"
    p99 = max(r["p99_ms"] for r in rs)
    rss = max(r["peak_rss_mib"] for r in rs)
    print(f"  {case:<18} {m:>8.0f} req/s  {share:>6}  worst p99 {p99:.2f} ms  peak RSS {rss:.1f} MiB")
if drains:
    print()
    print("| dispatch case | round | deliveries | seconds | deliveries/s | peak RSS MiB | CPU s/1k |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for d in drains:
        rss = f"{d['peak_rss_mib']:.1f}" if d["peak_rss_mib"] is not None else "-"
        cpu = f"{1000 * d['cpu_s'] / max(d['deliveries'], 1):.3f}" if d["cpu_s"] is not None else "-"
        print(f"| {d['case']} | {d['round']} | {d['deliveries']} | {d['seconds']:.2f} | {d['per_s']:.0f} | {rss} | {cpu} |")
PY
