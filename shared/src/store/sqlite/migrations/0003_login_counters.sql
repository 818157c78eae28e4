-- Failed logins counted per (email, client network), per email from every network, and per
-- trusted device: one row per counter, `counter` being 'account', 'net:<network>' or
-- 'device:<hash>'. `locked_until` is set when an attempt is reserved, before its password is
-- verified. The old per-email counts are dropped (they only delayed logins).
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
-- Device tokens (OWASP's device cookies) by SHA-256: a device that logged in to `email` before,
-- trusted only while the account's password is the one it logged in with (`credential`, a
-- SHA-256 of that password hash).
CREATE TABLE login_devices (
    hash       TEXT PRIMARY KEY,
    email      TEXT NOT NULL,
    credential TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
