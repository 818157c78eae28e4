-- Each account's security log. No foreign key: erasure deletes an account's events itself and
-- then records the one event that outlives the account.
CREATE TABLE audit_events (
    user_id INTEGER NOT NULL,
    sort_key TEXT NOT NULL,
    event TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, sort_key)
) WITHOUT ROWID;
CREATE INDEX audit_events_expiry ON audit_events (expires_at);
