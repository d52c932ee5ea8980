-- The inbox: one row per (source, event id) first seen within the dedupe window.
-- Times are Unix milliseconds (the same representation as on SQLite).
CREATE TABLE IF NOT EXISTS inbox (
    id                UUID    PRIMARY KEY,          -- UUIDv7, sortable by arrival
    source            TEXT    NOT NULL,
    event_id          TEXT    NOT NULL,
    event_type        TEXT,
    body              BYTEA   NOT NULL,             -- raw bytes exactly as received
    headers           JSONB   NOT NULL DEFAULT '{}', -- kept headers (never signatures)
    body_sha256       BYTEA   NOT NULL,
    received_at       BIGINT  NOT NULL,
    duplicate_count   BIGINT  NOT NULL DEFAULT 0,
    mismatch_count    BIGINT  NOT NULL DEFAULT 0,   -- repeats whose body hash differed
    last_duplicate_at BIGINT,
    UNIQUE (source, event_id)
);
CREATE INDEX IF NOT EXISTS inbox_received_at ON inbox (received_at);

-- The outbox: one row per (event, handler), inserted in the same transaction as the event.
CREATE TABLE IF NOT EXISTS deliveries (
    id              UUID    PRIMARY KEY,
    event           UUID    NOT NULL REFERENCES inbox (id) ON DELETE CASCADE,
    handler         TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    lease_until     BIGINT,
    lease_token     UUID,                 -- who holds the lease; completion must match
    last_status     INTEGER,
    last_error      TEXT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    UNIQUE (event, handler)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_at);

-- Every delivery attempt, for operators and the admin API.
CREATE TABLE IF NOT EXISTS delivery_attempts (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery    UUID    NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,    -- 1-based within the current delivery cycle (replays restart it)
    started_at  BIGINT  NOT NULL,
    duration_ms BIGINT  NOT NULL,
    status      INTEGER,             -- HTTP status, if any
    error       TEXT,
    outcome     TEXT    NOT NULL     -- delivered | retry | dead
);
CREATE INDEX IF NOT EXISTS delivery_attempts_delivery ON delivery_attempts (delivery, id);
