-- The key sets of local mode, in the same JSON forms as the two Secrets Manager secrets:
-- 'private' (the RSA lifecycle and the refresh-token HMAC keys) and 'public' (the JWKS).
CREATE TABLE key_sets (
    name TEXT PRIMARY KEY CHECK (name IN ('private', 'public')),
    body TEXT NOT NULL
);
