-- Foreign keys cost every write of the delivery path: each new delivery row checked (and
-- share-locked, which writes WAL) its inbox row, and each attempt row its delivery row. Every
-- writer already guarantees what they checked: deliveries are inserted in the statement that
-- inserts their inbox row, or by a replay that locks the inbox row (`FOR KEY SHARE`); attempt
-- rows come from the update of the delivery they record. Retention deletes an event's
-- deliveries and attempts in the statement that deletes the event (what ON DELETE CASCADE did).
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_event_fkey;
ALTER TABLE delivery_attempts DROP CONSTRAINT IF EXISTS delivery_attempts_delivery_fkey;
