-- A delivery's row holds its latest attempt; `delivery_attempts` holds the attempts before it
-- (see the Postgres migration of the same name): a delivery that succeeds at its first try
-- writes no attempt row.
ALTER TABLE deliveries ADD COLUMN last_attempt INTEGER;
ALTER TABLE deliveries ADD COLUMN last_started_at INTEGER;
ALTER TABLE deliveries ADD COLUMN last_duration_ms INTEGER;
ALTER TABLE deliveries ADD COLUMN last_outcome TEXT;
