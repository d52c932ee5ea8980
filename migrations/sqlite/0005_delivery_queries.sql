-- The deliveries API lists one handler's deliveries newest first (by id, a UUIDv7 that never
-- changes) and pages with an id cursor; this index serves that without a sort.
CREATE INDEX IF NOT EXISTS deliveries_handler_id ON deliveries (handler, id);
