#!/usr/bin/env bash
# Serves the example app (examples/web) on http://localhost:3000, against the API that
# ./infra/run-local.sh runs on http://localhost:9000 (an origin local mode allows). Builds the JS
# client (clients/js) first: its types are generated from the API's OpenAPI description. Needs
# Node.js 18+ with npm. PORT and AUTHYY_API change the two addresses; AUTHYY_PROVIDERS (names of
# the API's AUTH_OIDC_PROVIDERS, comma-separated) gives the page a "Sign in with" button each.
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
cd "$ROOT"
command -v npm >/dev/null || { echo "the example app needs Node.js 18+ with npm" >&2; exit 1; }
say "building the JS client (clients/js: npm ci, types from the OpenAPI description, tsc)"
(cd clients/js && { [ -d node_modules ] || npm ci --silent --no-audit --no-fund; } && npm run --silent build)
export PORT="${PORT:-3000}" AUTHYY_API="${AUTHYY_API:-http://localhost:9000}"
say "serving the example app on http://localhost:$PORT (API: $AUTHYY_API; stop: Ctrl-C)"
exec node examples/web/serve.mjs
