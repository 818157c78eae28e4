-- How each session was authenticated: `amr` (the methods, space-separated) and `auth_time`
-- (epoch seconds). Sessions begun before this migration were password logins.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE sessions ADD COLUMN auth_time INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET auth_time = created_ms / 1000;

-- An account's TOTP (the secret sealed; the last time step a code was accepted for) and its
-- enrolment in progress.
CREATE TABLE second_factors (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    totp_secret TEXT,
    totp_last_step INTEGER,
    pending_secret TEXT,
    pending_expires_at INTEGER
);

-- Unspent recovery codes, by hash.
CREATE TABLE recovery_codes (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    PRIMARY KEY (user_id, hash)
);

-- Login's code step: failures in a row per account (cleared only by a completed second step
-- or a password reset).
CREATE TABLE code_failures (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    count INTEGER NOT NULL,
    locked_until INTEGER NOT NULL
);

-- Logins waiting for their second step, by the hash of their mfa_token.
CREATE TABLE mfa_challenges (
    hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    verified_hash TEXT NOT NULL,
    device TEXT,
    trusted_device INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
