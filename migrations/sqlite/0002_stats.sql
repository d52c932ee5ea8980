-- Per-minute counters (stats), flushed from each replica's memory as additive upserts, so
-- figures from several replicas add up. `scope` is 'source' or 'handler'; `name` is the
-- configured source or handler name ('(unknown)' for requests to unconfigured sources);
-- `counter` is one of the names in src/stats/mod.rs (e.g. 'accepted', 'rejected.stale_timestamp').
CREATE TABLE stats_minute (
    minute  INTEGER NOT NULL,  -- Unix ms of the minute's start
    scope   TEXT    NOT NULL,
    name    TEXT    NOT NULL,
    counter TEXT    NOT NULL,
    value   INTEGER NOT NULL,
    PRIMARY KEY (minute, scope, name, counter)
) WITHOUT ROWID;
