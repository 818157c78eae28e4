-- Identities at other providers, each linked to one account, keyed by (issuer, subject).
CREATE TABLE identities (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    email TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (issuer, subject)
);
CREATE INDEX identities_by_user ON identities (user_id, created_at);

-- A login's second step whose first was a provider sign-in (not a password).
ALTER TABLE mfa_challenges ADD COLUMN federated INTEGER NOT NULL DEFAULT 0;

-- The one-time records of a provider sign-in (a state, a code), by the hash of their value.
CREATE TABLE oauth_handoffs (
    hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (kind, hash)
);
