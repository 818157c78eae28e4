-- authyy local schema: the SQLite mirror of the DynamoDB single table, kept by each trait's SQLite file.
CREATE TABLE users (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    username                TEXT NOT NULL,
    username_key            TEXT NOT NULL UNIQUE,
    email                   TEXT NOT NULL UNIQUE,
    password_hash           TEXT NOT NULL,
    role                    TEXT NOT NULL DEFAULT 'user',
    disabled                INTEGER NOT NULL DEFAULT 0,
    created_at              INTEGER NOT NULL,
    sessions_valid_after_ms INTEGER NOT NULL DEFAULT 0,
    reset_hash              TEXT
);

CREATE TABLE sessions (
    sid        TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    created_ms INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE TABLE refresh_tokens (
    jti                  TEXT PRIMARY KEY,
    sid                  TEXT NOT NULL REFERENCES sessions(sid),
    user_id              INTEGER NOT NULL,
    issued_at            INTEGER NOT NULL,
    expires_at           INTEGER NOT NULL,
    rotated_at_ms        INTEGER,
    successor_jti        TEXT,
    successor_issued_at  INTEGER,
    successor_expires_at INTEGER
);

CREATE TABLE reset_tokens (
    hash       TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    expires_at INTEGER NOT NULL
);

CREATE TABLE login_failures (
    email          TEXT PRIMARY KEY,
    count          INTEGER NOT NULL,
    last_failed_at INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
);

CREATE TABLE throttle (
    key        TEXT PRIMARY KEY,
    count      INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE local_keys (
    kid        TEXT PRIMARY KEY,
    secret     BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
