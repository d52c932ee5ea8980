-- A delivery's row holds its latest attempt (`last_attempt` is its number in the cycle it
-- belonged to; `last_status`/`last_error` were already there); `delivery_attempts` holds the
-- attempts before it. Recording an attempt moves the one the row held into
-- `delivery_attempts` in the same statement, so a delivery that succeeds at its first try -
-- nearly all of them - writes no attempt row at all: one heap row and two index entries less
-- per delivery. Rows completed before this migration keep every attempt in
-- `delivery_attempts` and hold none (`last_attempt` NULL). Nullable columns without a default
-- are added without rewriting the table. During a rolling upgrade, an attempt that a replica
-- of the version before records goes straight into `delivery_attempts` while the row keeps
-- the attempt it held, which the log then lists last: the order of that one delivery's log is
-- off, nothing is lost.
ALTER TABLE deliveries
    ADD COLUMN IF NOT EXISTS last_attempt     INTEGER,
    ADD COLUMN IF NOT EXISTS last_started_at  BIGINT,
    ADD COLUMN IF NOT EXISTS last_duration_ms BIGINT,
    ADD COLUMN IF NOT EXISTS last_outcome     TEXT;
