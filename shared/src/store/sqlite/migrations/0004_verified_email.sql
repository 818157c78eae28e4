-- Verified email: whether the owner proved the address, and one verification token per user
-- (`verify_hash` points at the newest; an older one is unusable, as with reset tokens).
-- Accounts made before this migration start unverified.
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN verify_hash TEXT;

CREATE TABLE verify_tokens (
    hash       TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    email      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX verify_tokens_by_user ON verify_tokens(user_id);
