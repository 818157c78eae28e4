-- Mail jobs name requests, not addresses: an email change is recorded on the account
-- (`change_request`, random, named by the mail job; `change_email`, the address asked for),
-- and the resets and verifications asked for by address are recorded in `mail_requests` until
-- the mailer has handled them. Verification tokens name the account only: what they prove is
-- read from the account when they are used. A change asked for before this migration has no
-- recorded address, so its link stops working (ask again).
ALTER TABLE users ADD COLUMN change_request TEXT;
ALTER TABLE users ADD COLUMN change_email TEXT;
UPDATE users SET change_hash = NULL;
DELETE FROM verify_tokens WHERE purpose = 'change';
ALTER TABLE verify_tokens DROP COLUMN email;
CREATE TABLE mail_requests (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    email      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX mail_requests_by_email ON mail_requests(email);
CREATE INDEX mail_requests_by_expiry ON mail_requests(expires_at);
