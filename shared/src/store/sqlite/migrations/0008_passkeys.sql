-- Passkeys: each credential by its id (base64url; unique across accounts), with its COSE
-- public key and signature counter.
CREATE TABLE passkeys (
    credential_id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    public_key BLOB NOT NULL,
    sign_count INTEGER NOT NULL,
    backup_eligible INTEGER NOT NULL,
    transports TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX passkeys_by_user ON passkeys (user_id, created_at);

-- The account's WebAuthn user handle (random; never its id, name or address).
ALTER TABLE second_factors ADD COLUMN webauthn_handle TEXT;

-- Ceremonies in progress: the challenge, until its first use.
CREATE TABLE passkey_challenges (
    id TEXT PRIMARY KEY,
    user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
    challenge TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
