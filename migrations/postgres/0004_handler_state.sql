-- Operator-set state of a handler, shared by every replica: a row with `paused_at` set means
-- the handler is paused (its deliveries wait as pending, nothing is attempted); resuming
-- clears it. Handlers that were never paused have no row.
CREATE TABLE IF NOT EXISTS handler_state (
    handler    TEXT   PRIMARY KEY,
    paused_at  BIGINT,             -- Unix ms; NULL when not paused
    updated_at BIGINT NOT NULL
);
