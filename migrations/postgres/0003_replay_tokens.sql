-- Single-use tokens of schemes whose signature does not cover the body (Mailgun): a token may
-- come again only with the same body (a retry), never with another one (a lifted signature).
CREATE TABLE IF NOT EXISTS replay_tokens (
    source      TEXT   NOT NULL,
    token       TEXT   NOT NULL,
    body_sha256 BYTEA  NOT NULL,
    seen_at     BIGINT NOT NULL,   -- Unix ms
    PRIMARY KEY (source, token)
);
CREATE INDEX IF NOT EXISTS replay_tokens_seen_at ON replay_tokens (seen_at);
