# syntax=docker/dockerfile:1
# Build stage: compile the release binary (migrations are embedded at compile time).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY providers ./providers
COPY migrations ./migrations
COPY src ./src
COPY benches ./benches
COPY bench ./bench
RUN cargo build --release --locked --bin hookgate

# Runtime stage: slim Debian, non-root, data under /var/lib/hookgate.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/hookgate --create-home hookgate
COPY --from=build /src/target/release/hookgate /usr/local/bin/hookgate
USER 10001:10001
WORKDIR /var/lib/hookgate
# The allocator settings the binary would otherwise apply by re-running itself (src/telemetry.rs).
ENV MIMALLOC_PURGE_DELAY=0 \
    MIMALLOC_ARENA_EAGER_COMMIT=0
ENV HOOKGATE_SERVER__LISTEN=0.0.0.0:8080 \
    HOOKGATE_STORE__URL=sqlite:///var/lib/hookgate/hookgate.db \
    HOOKGATE_CONFIG=/etc/hookgate/hookgate.toml
EXPOSE 8080
VOLUME ["/var/lib/hookgate"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["hookgate"]
CMD ["serve"]
