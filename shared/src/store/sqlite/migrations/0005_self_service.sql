-- Self-service: a session shows where it was last used (`last_used_ms`, `ip`, `user_agent`,
-- updated at each refresh), and counts against the user's cut-off from `valid_from_ms` (its
-- start, or the password change made in it). Ended and expired sessions are swept with their
-- refresh tokens, so both tables are read by user or by session.
ALTER TABLE sessions ADD COLUMN valid_from_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN last_used_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
UPDATE sessions SET valid_from_ms = created_ms, last_used_ms = created_ms;
CREATE INDEX sessions_by_expiry ON sessions(expires_at);
CREATE INDEX sessions_revoked ON sessions(sid) WHERE revoked = 1;
CREATE INDEX refresh_tokens_by_session ON refresh_tokens(sid);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens(user_id);
CREATE INDEX reset_tokens_by_user ON reset_tokens(user_id);
-- An email change has its own pending token (`change_hash`), so asking to move the account
-- does not spend the pending verification of its current address, nor the reverse.
ALTER TABLE users ADD COLUMN change_hash TEXT;
ALTER TABLE verify_tokens ADD COLUMN purpose TEXT NOT NULL DEFAULT 'verify';
