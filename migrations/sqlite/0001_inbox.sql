-- The inbox: one row per (source, event id) first seen within the dedupe window.
-- Times are Unix milliseconds (the same representation as on Postgres).
CREATE TABLE inbox (
    id                TEXT    PRIMARY KEY,          -- UUIDv7, sortable by arrival
    source            TEXT    NOT NULL,
    event_id          TEXT    NOT NULL,
    event_type        TEXT,
    body              BLOB    NOT NULL,             -- raw bytes exactly as received
    headers           TEXT    NOT NULL DEFAULT '{}', -- JSON object of kept headers (never signatures)
    body_sha256       BLOB    NOT NULL,
    received_at       INTEGER NOT NULL,
    duplicate_count   INTEGER NOT NULL DEFAULT 0,
    mismatch_count    INTEGER NOT NULL DEFAULT 0,   -- repeats whose body hash differed
    last_duplicate_at INTEGER,
    UNIQUE (source, event_id)
);
CREATE INDEX inbox_received_at ON inbox (received_at);

-- The outbox: one row per (event, handler), inserted in the same transaction as the event.
CREATE TABLE deliveries (
    id              TEXT    PRIMARY KEY,
    event           TEXT    NOT NULL REFERENCES inbox (id) ON DELETE CASCADE,
    handler         TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    lease_token     TEXT,                 -- who holds the lease; completion must match
    last_status     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (event, handler)
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);

-- Every delivery attempt, for operators and the admin API.
CREATE TABLE delivery_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery    TEXT    NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,    -- 1-based within the current delivery cycle (replays restart it)
    started_at  INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    status      INTEGER,             -- HTTP status, if any
    error       TEXT,
    outcome     TEXT    NOT NULL     -- delivered | retry | dead
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery, id);
