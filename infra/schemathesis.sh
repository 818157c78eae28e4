#!/usr/bin/env bash
# Holds the API to its OpenAPI description with Schemathesis (pinned, in .venv): serves the whole
# API locally under `cargo lambda watch` on a fresh SQLite file, signs up and logs in an admin,
# and runs every Schemathesis check, authenticated, over every operation (examples, coverage,
# fuzzing, and the stateful phase that follows the description's links signup -> login -> me /
# refresh / logout). Any failure fails the script. Bounded: SCHEMATHESIS_MAX_EXAMPLES cases per
# operation (default 25) and SCHEMATHESIS_MAX_TIME seconds overall (default 240).
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
cd "$ROOT"
ensure_tool cargo-lambda "$CARGO_LAMBDA_REQ"
ensure_tool schemathesis "$SCHEMATHESIS_REQ"

say "building the functions for the local emulator (cargo build --bins)"
cargo build --quiet --workspace --bins

# The emulator's environment comes from Cargo.toml ([workspace.metadata.lambda.env]), and those
# values win over --env-var; their SQLite and outbox paths are relative, so running the emulator
# from a fresh directory puts this run's data there and leaves .local/ alone. The per-client
# limits and the login lockout (tested on their own in tests/api) are lifted, so that the
# thousands of generated logins reach the login logic instead of a 429.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/authyy-schemathesis.XXXXXX")
PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
say "starting cargo lambda watch on $BASE (data in $WORK)"
(cd "$WORK" && exec setsid "$VENV/bin/cargo-lambda" lambda watch -A 127.0.0.1 -P "$PORT" \
  --disable-cors --ignore-changes --manifest-path "$ROOT/Cargo.toml" \
  --env-var AUTH_IP_LIMITS=off \
  --env-var AUTH_LOGIN_MAX_FAILURES=1000000 \
  --env-var AUTH_LOGIN_ACCOUNT_MAX_FAILURES=1000000) > "$WORK/watch.log" 2>&1 &
WATCH_PID=$!
# setsid made the emulator a process group leader: stopping the group stops its functions too.
trap 'kill -- -$WATCH_PID 2>/dev/null || true; wait $WATCH_PID 2>/dev/null || true' EXIT

req() { # req METHOD PATH [BODY] [TOKEN] -> prints "<status> <body>"
  local args=(-s -o "$WORK/out" -w '%{http_code}' --max-time 180 -X "$1" "$BASE$2")
  [ -n "${3:-}" ] && args+=(-H 'content-type: application/json' -d "$3")
  [ -n "${4:-}" ] && args+=(-H "authorization: Bearer $4")
  local code
  code=$(curl "${args[@]}" || echo 000)
  echo "$code $(cat "$WORK/out" 2>/dev/null)"
}

for _ in $(seq 1 120); do
  [ "$(req GET /auth/openapi.json | cut -d' ' -f1)" = 200 ] && break
  kill -0 "$WATCH_PID" 2>/dev/null || { cat "$WORK/watch.log" >&2; echo "cargo lambda watch exited" >&2; exit 1; }
  sleep 1
done

EMAIL=schemathesis-admin@example.com
# Not the OpenAPI examples' password: the examples of the password change and of DELETE /auth/me
# must not change or erase the account Schemathesis signs in with.
PASSWORD="violet quokka harbours seven lanterns"
say "warming up every function, creating and promoting $EMAIL"
r=$(req POST /auth/users "{\"username\":\"st_admin\",\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}")
[ "${r%% *}" = 201 ] || { echo "signup: $r" >&2; exit 1; }
AUTH_SQLITE_PATH="$WORK/.local/authyy.sqlite3" cargo run --quiet -p authyy-admin -- promote "$EMAIL" >/dev/null
r=$(req POST /auth/login "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}")
[ "${r%% *}" = 200 ] || { echo "login: $r" >&2; exit 1; }
TOKEN=$(printf '%s' "${r#* }" | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["tokens"]["access"]["access_token"])')
REFRESH=$(printf '%s' "${r#* }" | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["tokens"]["refresh"]["refresh_token"])')
# Each function compiles and starts on its first request: do that now, not inside a timed case.
for call in "GET /auth/me" "GET /auth/users" "POST /auth/forgot-password {\"email\":\"$EMAIL\"}" \
  "POST /auth/reset-password {\"token\":\"x\",\"password\":\"$PASSWORD\"}" \
  "GET /auth/docs" "GET /auth/.well-known/jwks.json" "GET /auth/.well-known/openid-configuration" \
  "GET /auth/admin/users/1" "DELETE /auth/admin/users/999999"; do
  read -r method path body <<<"$call"
  r=$(req "$method" "$path" "${body:-}" "$TOKEN")
  case "${r%% *}" in 2*|400|404) ;; *) echo "$method $path: $r" >&2; exit 1 ;; esac
done
r=$(req POST /auth/tokens "" "$REFRESH")
[ "${r%% *}" = 200 ] || { echo "refresh: $r" >&2; exit 1; }
r=$(req POST /auth/logout "" "$(printf '%s' "${r#* }" | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["tokens"]["access"]["access_token"])')")
[ "${r%% *}" = 200 ] || { echo "logout: $r" >&2; exit 1; }

say "running Schemathesis ($SCHEMATHESIS_REQ) against $BASE, every check, authenticated"
export AUTHYY_ST_EMAIL="$EMAIL" AUTHYY_ST_PASSWORD="$PASSWORD"
export PYTHONPATH="$ROOT/infra${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=schemathesis_hooks
mkdir -p "$ROOT/target"
# The description is read once, here, with retries: the emulator can answer a request with a 500
# of its own while it starts an instance (its log shows no call), and a schema Schemathesis cannot
# load ends the run.
for _ in $(seq 1 30); do
  r=$(req GET /auth/openapi.json)
  [ "${r%% *}" = 200 ] && break
  sleep 1
done
[ "${r%% *}" = 200 ] || { echo "GET /auth/openapi.json: $r" >&2; exit 1; }
printf '%s' "${r#* }" > "$WORK/openapi.json"
"$VENV/bin/schemathesis" --config-file "$ROOT/infra/schemathesis.toml" run "$WORK/openapi.json" \
  --url "$BASE" \
  --checks all \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-25}" \
  --max-time "${SCHEMATHESIS_MAX_TIME:-240}" \
  --seed "${SCHEMATHESIS_SEED:-20261201}" \
  --request-timeout 30 \
  --workers 1 \
  --no-color \
  --report junit --report-dir "$ROOT/target/schemathesis" \
  2>&1 | tee "$ROOT/target/schemathesis.log"
status=${PIPESTATUS[0]}
# No 5xx or panic came from the functions themselves (the hooks drop only the emulator's own
# answers; this holds them to it).
if grep -E "request failed|panicked" "$WORK/watch.log" >&2; then
  echo "the functions failed requests or panicked during the run (log: $WORK/watch.log)" >&2
  exit 1
fi
exit "$status"
