#!/usr/bin/env bash
# Runs the whole API locally on http://localhost:9000/auth/... : SQLite in .local/, mail as .eml
# files in .local/outbox, a signing key generated once and kept in the database. No AWS account.
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
cd "$ROOT"
ensure_tool cargo-lambda "$CARGO_LAMBDA_REQ"
mkdir -p .local/outbox
PORT="${PORT:-9000}"
say "starting cargo lambda watch on http://localhost:$PORT (functions compile on first request)"
say "data: .local/authyy.sqlite3   mail: .local/outbox/*.eml   stop: Ctrl-C"
exec "$VENV/bin/cargo-lambda" lambda watch --invoke-address 127.0.0.1 --invoke-port "$PORT" --disable-cors \
  --env-file "$ROOT/infra/local.env" "$@"
