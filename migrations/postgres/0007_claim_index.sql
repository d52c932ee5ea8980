-- Claims ask for one handler's pending deliveries that are due, oldest first. With the
-- handler's listing index (0005) beside `deliveries_due (state, next_attempt_at)`, the planner
-- combined the two and read every delivery the handler ever had on each claim, so draining
-- slowed as the table grew. This index answers a claim on its own: one handler, pending only,
-- in due order. Rows that are delivered or dead leave it, so it stays as small as the backlog.
CREATE INDEX IF NOT EXISTS deliveries_claim ON deliveries (handler, next_attempt_at) WHERE state = 'pending';
DROP INDEX IF EXISTS deliveries_due;
-- `deliveries_due` also let an operator list dead letters without reading the whole table; a
-- partial index keeps that (dead rows are few) without costing every pending write.
CREATE INDEX IF NOT EXISTS deliveries_dead ON deliveries (id) WHERE state = 'dead';
