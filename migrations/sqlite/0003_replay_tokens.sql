-- Single-use tokens of schemes whose signature does not cover the body (Mailgun): a token may
-- come again only with the same body (a retry), never with another one (a lifted signature).
CREATE TABLE replay_tokens (
    source      TEXT    NOT NULL,
    token       TEXT    NOT NULL,
    body_sha256 BLOB    NOT NULL,
    seen_at     INTEGER NOT NULL,   -- Unix ms
    PRIMARY KEY (source, token)
);
CREATE INDEX replay_tokens_seen_at ON replay_tokens (seen_at);
