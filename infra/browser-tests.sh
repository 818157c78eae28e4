#!/usr/bin/env bash
# The browser part of the test command: the JS client's unit tests, then the example app and the
# client in headless Chromium (Debian's chromium package, installed when missing) against the API
# served locally under `cargo lambda watch` on a fresh SQLite file. The app is served twice: on an
# origin the API allows, with the test hooks (the page's client as `window.auth`), and on one it
# does not, as in production (no hooks). Screenshots of the main screens go to
# target/screenshots/. Needs Node.js 18+ with npm. Arguments go to `node --test` (for example
# --test-name-pattern "two tabs").
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
cd "$ROOT"
ensure_tool cargo-lambda "$CARGO_LAMBDA_REQ"
command -v npm >/dev/null || { echo "the browser tests need Node.js 18+ with npm" >&2; exit 1; }

CHROMIUM="${CHROMIUM:-$(command -v chromium || true)}"
if [ -z "$CHROMIUM" ]; then
  say "installing Debian's chromium package (first run only)"
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null ||
    { $SUDO apt-get update -q >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
  CHROMIUM=$(command -v chromium)
fi
export CHROMIUM

say "building the JS client (clients/js: npm ci, types from the OpenAPI description, tsc)"
(cd clients/js && npm ci --silent --no-audit --no-fund && npm run --silent build)
say "the JS client's unit tests (node --test)"
(cd clients/js && npm test --silent)
(cd examples/web && npm ci --silent --no-audit --no-fund)

say "building the functions for the local emulator (cargo build --bins)"
cargo build --quiet --workspace --bins

free_port() { "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/authyy-browser.XXXXXX")
API_PORT=$(free_port); APP_PORT=$(free_port); OTHER_PORT=$(free_port)
export AUTHYY_API="http://127.0.0.1:$API_PORT" APP_URL="http://127.0.0.1:$APP_PORT" OTHER_APP_URL="http://127.0.0.1:$OTHER_PORT"
# Passkeys need a domain (a browser refuses an IP address as the rp id): the passkey test opens
# the same app as http://localhost:$APP_PORT, allowed too. Lists go in a file (--env-var splits
# its value on commas).
export PASSKEY_APP_URL="http://localhost:$APP_PORT"
# The admin test makes its admin with the CLI, on the emulator's SQLite file.
export AUTHYY_ADMIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/authyy-admin" AUTHYY_SQLITE="$WORK/.local/authyy.sqlite3"
OIDC_PORT=$(free_port)
printf '%s\n' "AUTH_CORS_ORIGINS=$APP_URL,$PASSKEY_APP_URL" "AUTH_WEBAUTHN_RP_ID=localhost" \
  "AUTH_WEBAUTHN_ORIGINS=$PASSKEY_APP_URL" "AUTH_ISSUER=$AUTHYY_API/auth" \
  "AUTH_OAUTH_REDIRECT_URLS=$APP_URL/callback,$PASSKEY_APP_URL/callback" \
  "AUTH_OIDC_PROVIDERS='{\"local\": {\"kind\": \"oidc\", \"issuer\": \"http://127.0.0.1:$OIDC_PORT\", \"client_id\": \"authyy\", \"client_secret\": \"authyy-test-secret\"}}'" \
  "AUTH_HOOK_BEFORE_SIGNUP=lambda:authyy-example-hooks" "AUTH_HOOK_TOKEN=lambda:authyy-example-hooks" \
  "ALLOWED_DOMAINS=example.com" \
  > "$WORK/api.env"
# Both hooks are the example Lambda function (examples/hooks), which the emulator serves through
# the Lambda Invoke API as AWS would: only addresses at example.com sign up, each starting on the
# "free" plan, and access tokens carry the plan as a claim.
# The emulator runs from $WORK, so the SQLite file and the outbox are this run's. Only APP_URL
# (and its localhost name) is an allowed origin; access tokens live 5 seconds, so the tabs refresh all the time; the
# grace window for a refresh token used twice is 2 seconds (tabs that raced one later would end
# their session); the per-client limits are off (every test signs in from 127.0.0.1).
say "starting the API on $AUTHYY_API and the example app on $APP_URL (allowed) and $OTHER_APP_URL (not allowed)"
(cd "$WORK" && exec setsid "$VENV/bin/cargo-lambda" lambda watch -A 127.0.0.1 -P "$API_PORT" \
  --disable-cors --ignore-changes --manifest-path "$ROOT/Cargo.toml" \
  --env-file "$WORK/api.env" \
  --env-var AUTH_ACCESS_TTL_SECONDS=5 \
  --env-var AUTH_REFRESH_GRACE_SECONDS=2 \
  --env-var AUTH_IP_LIMITS=off) > "$WORK/watch.log" 2>&1 &
WATCH_PID=$!
# A real OpenID provider (node's oidc-provider) the app's "Sign in with local" goes through.
(cd infra/oidc && npm ci --silent --no-audit --no-fund)
node infra/oidc/provider.mjs "$OIDC_PORT" "$AUTHYY_API/auth/oauth/local/callback" > "$WORK/oidc.log" 2>&1 &
OIDC_PID=$!
PORT=$APP_PORT AUTHYY_API="$AUTHYY_API" AUTHYY_TEST_HOOKS=1 AUTHYY_PROVIDERS=local node examples/web/serve.mjs 2> "$WORK/app.log" &
APP_PID=$!
PORT=$OTHER_PORT AUTHYY_API="$AUTHYY_API" node examples/web/serve.mjs 2> "$WORK/other.log" &
OTHER_PID=$!
trap 'kill -- -$WATCH_PID 2>/dev/null || true; kill $APP_PID $OTHER_PID $OIDC_PID 2>/dev/null || true; wait 2>/dev/null || true' EXIT

for _ in $(seq 1 120); do
  curl -sf -o /dev/null "$AUTHYY_API/auth/openapi.json" && break
  kill -0 "$WATCH_PID" 2>/dev/null || { cat "$WORK/watch.log" >&2; echo "cargo lambda watch exited" >&2; exit 1; }
  sleep 1
done
# Each function starts on its first request: do that now, not inside a timed test.
for path in users login login/mfa tokens me logout sessions password email forgot-password reset-password verify-email \
  verify-email/resend mfa/totp mfa/totp/confirm mfa/recovery-codes passkeys/register passkeys/login; do
  curl -s -o /dev/null --max-time 120 -X POST -H 'content-type: application/json' -d '{}' "$AUTHYY_API/auth/$path" || true
done
curl -s -o /dev/null --max-time 120 "$AUTHYY_API/auth/sessions" || true
curl -s -o /dev/null --max-time 120 "$AUTHYY_API/auth/admin/users/1" || true
curl -s -o /dev/null --max-time 120 -X POST -d '{"event": "before_signup", "email": "warm@example.com"}' \
  "$AUTHYY_API/2015-03-31/functions/authyy-example-hooks/invocations" || true
curl -s -o /dev/null --max-time 120 "$AUTHYY_API/auth/oauth/local/callback" || true
curl -s -o /dev/null --max-time 120 "$AUTHYY_API/auth/identities" || true
curl -s -o /dev/null --max-time 120 -X DELETE "$AUTHYY_API/auth/me" || true
curl -s -o /dev/null --max-time 120 -X DELETE "$AUTHYY_API/auth/mfa/totp" || true
curl -s -o /dev/null --max-time 120 -X DELETE "$AUTHYY_API/auth/sessions/x" || true

say "the example app and the client in headless Chromium ($("$CHROMIUM" --version 2>/dev/null || echo chromium))"
mkdir -p target/screenshots
start=$(date +%s)
OUTBOX_DIR="$WORK/.local/outbox" SCREENSHOTS_DIR="$ROOT/target/screenshots" PYTHON="$VENV/bin/python" \
  node --test --test-concurrency=1 "$@" examples/web/tests/
say "browser tests passed in $(( $(date +%s) - start )) s; screenshots in target/screenshots/"
if grep -E "request failed|panicked" "$WORK/watch.log" >&2; then
  echo "the functions failed requests or panicked during the browser tests (log: $WORK/watch.log)" >&2
  exit 1
fi
