-- Foreign keys cost every write of the delivery path: each new delivery row checked (and
-- share-locked, which writes WAL) its inbox row, and each attempt row its delivery row. Every
-- writer already guarantees what they checked: deliveries are inserted in the statement that
-- inserts their inbox row, or by a replay that locks the inbox row (`FOR KEY SHARE`); attempt
-- rows come from the update of the delivery they record. Retention deletes an event's
-- deliveries and attempts in the statement that deletes the event (what ON DELETE CASCADE did).
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_event_fkey;
ALTER TABLE delivery_attempts DROP CONSTRAINT IF EXISTS delivery_attempts_delivery_fkey;

-- A claim only sets the lease (no indexed column), so it can be a HOT update (no new index
-- entries) when the row's page has room for the new version. Room is what this leaves: with
-- full pages every claim wrote a new entry into each of the table's indexes.
ALTER TABLE deliveries SET (fillfactor = 70);

-- Keys compare as bytes. Under a libc collation (even C.UTF-8) every b-tree step on a text
-- key called strcoll: the unique (source, event_id) check of each event, and the handler
-- in three delivery indexes. Equality is unchanged (deterministic collations compare equal
-- only when the bytes are equal); only the order of these columns becomes byte order, which
-- is the order the group commit already takes its locks in. The indexes are rebuilt.
ALTER TABLE inbox ALTER COLUMN source TYPE TEXT COLLATE "C",
                  ALTER COLUMN event_id TYPE TEXT COLLATE "C";
ALTER TABLE deliveries ALTER COLUMN handler TYPE TEXT COLLATE "C";

-- An attempt is only ever read with its delivery's other attempts, in order: that index is
-- the primary key, and the identity-only index (one more insert per attempt) goes.
ALTER TABLE delivery_attempts DROP CONSTRAINT IF EXISTS delivery_attempts_pkey;
DROP INDEX IF EXISTS delivery_attempts_delivery;
ALTER TABLE delivery_attempts ADD PRIMARY KEY (delivery, id);
