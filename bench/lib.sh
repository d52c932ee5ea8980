# What the bench scripts share: how a case's gateway is configured, a fresh Postgres database,
# waiting for a server. Sourced by run.sh and profile.sh, which set what these read:
# WORK (holds source-secret and handler-secret), PORT_GATE, PORT_HANDLER, PROVIDER_NAME,
# PG_URL, PG_DB, PG_ADMIN_URL, and for broker handlers REDIS_URL, NATS_URL, AMQP_URL, RUN_ID;
# STORE_EXTRA / HANDLER_EXTRA add lines to [store] / the handler.

# The signing secret of every bench source and handler.
BENCH_SECRET='whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'

write_secrets() { # into WORK
  echo "$BENCH_SECRET" >"$WORK/source-secret"
  echo "$BENCH_SECRET" >"$WORK/handler-secret"
}

wait_port() { # host:port
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on $1" >&2
  return 1
}

wait_ready() { # url
  for _ in $(seq 1 200); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "$1 never became ready" >&2
  return 1
}

fresh_postgres() {
  psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" -c "CREATE DATABASE $PG_DB" >/dev/null
}

gate_config() { # store_url handler(0/1) dispatch(true/false) [handler kind: http]
  cat <<EOF
[server]
listen = "127.0.0.1:$PORT_GATE"
[store]
url = "$1"
${STORE_EXTRA:-}
[dispatch]
enabled = $3
[sources.bench]
provider = "$PROVIDER_NAME"
secrets = ["file:$WORK/source-secret"]
EOF
  [ "$2" = 1 ] || return 0
  # One handler of the given kind for the bench source; only its own settings differ.
  case "${4:-http}" in
    http) printf '[handlers.noop]\nkind = "http"\nurl = "http://127.0.0.1:%s/hook"\nsecret = "file:%s"\n' \
      "$PORT_HANDLER" "$WORK/handler-secret" ;;
    redis_stream) printf '[handlers.sink]\nkind = "redis_stream"\nurl = "%s"\nstream = "hookgate-bench:%s"\n' \
      "$REDIS_URL" "$RUN_ID" ;;
    nats_jetstream) printf '[handlers.sink]\nkind = "nats_jetstream"\nurl = "%s"\nsubject = "hgbench_%s.{source}.{type}"\nstream = "HGBENCH_%s"\ncreate_stream = true\n' \
      "$NATS_URL" "$RUN_ID" "$RUN_ID" ;;
    rabbitmq) printf '[handlers.sink]\nkind = "rabbitmq"\nurl = "%s"\nexchange = "hgbench.%s"\n' \
      "$AMQP_URL" "$RUN_ID" ;;
  esac
  printf 'sources = ["bench"]\n%s\n' "${HANDLER_EXTRA:-}"
}
