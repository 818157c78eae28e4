-- The JSON object administrators and hooks set on an account (empty: none).
ALTER TABLE users ADD COLUMN app_metadata TEXT NOT NULL DEFAULT '';
