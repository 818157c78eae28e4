-- Failed logins counted per (email, client network) and per email from every network: one row
-- per counter, `counter` being 'account' or 'net:<network>'. `locked_until` is set when an
-- attempt is reserved, before its password is verified. The old per-email counts are dropped
-- (they only delayed logins).
DROP TABLE login_failures;
CREATE TABLE login_failures (
    email        TEXT NOT NULL,
    counter      TEXT NOT NULL,
    count        INTEGER NOT NULL,
    locked_until INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (email, counter)
);
CREATE INDEX login_failures_by_expiry ON login_failures(expires_at);
