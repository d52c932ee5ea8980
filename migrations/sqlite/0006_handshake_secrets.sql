-- Signing secrets a provider hands over in its handshake (Asana `X-Hook-Secret`), one per
-- source. Written once (INSERT … ON CONFLICT DO NOTHING: the first hand-over wins), read by
-- every replica, kept across restarts. An operator resets a source with
-- `hookgate handshake-secret reset SOURCE` (deletes the row) before re-creating the webhook.
CREATE TABLE IF NOT EXISTS handshake_secrets (
    source      TEXT    NOT NULL PRIMARY KEY,
    secret      BLOB    NOT NULL,
    stored_at   INTEGER NOT NULL   -- Unix ms
);
