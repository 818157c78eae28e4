#!/usr/bin/env bash
# Runs every test: formatting, lints, the whole workspace's test suite on both backends
# (SQLite, and DynamoDB/SES/Secrets Manager over a local AWS server), the SAM template checks,
# Schemathesis, the browser tests (clients/js and examples/web in headless Chromium), and a
# release arm64 build of one function with its size checked.
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
source "$ROOT/infra/local-aws.sh"
cd "$ROOT"

say "checking formatting (cargo fmt --check)"
cargo fmt --all -- --check

say "linting (cargo clippy --all-targets -D warnings)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

start_local_aws
# An independent JWT implementation, for the test that verifies authyy's tokens from nothing but
# the discovery URL (its RSA support comes from cryptography, which moto already brings).
ensure_module jwt "$PYJWT_REQ"
# An independent TOTP implementation, for the tests that compute codes against the API.
ensure_module pyotp "$PYOTP_REQ"
# A software WebAuthn authenticator for the passkey tests (shared/tests/api/authenticator.py).
ensure_module cbor2 "$CBOR2_REQ"
# The Standard Webhooks library, which verifies the HTTP hooks' signatures in the hook tests.
ensure_module standardwebhooks "$STANDARDWEBHOOKS_REQ"
# bcrypt (and hashlib's scrypt and PBKDF2) make the hashes the import tests bring in.
ensure_module bcrypt "$BCRYPT_REQ"
export AUTHYY_PYTHON="$VENV/bin/python"
say "extracting the DynamoDB table definition from template.yaml"
"$VENV/bin/python" infra/local_aws.py table-definition > target/authyy-table.json
export AUTHYY_TABLE_DEFINITION="$ROOT/target/authyy-table.json"

# A real OpenID provider (node's oidc-provider) for the federation tests, on 127.0.0.1.
command -v npm >/dev/null || { echo "the federation tests need Node.js 20+ with npm" >&2; exit 1; }
say "installing the test OpenID provider (infra/oidc: oidc-provider, npm ci)"
(cd infra/oidc && npm ci --silent --no-audit --no-fund)

say "running the test suite on both backends (cargo test --workspace)"
export AUTHYY_OPENAPI_OUT="$ROOT/target/openapi.json"
cargo test --workspace

say "validating the generated OpenAPI description (openapi-spec-validator)"
"$VENV/bin/openapi-spec-validator" target/openapi.json

bash infra/lint-template.sh

# The API held to its own OpenAPI description by a tool nobody here wrote: Schemathesis against
# the functions served locally (cargo lambda watch, a fresh SQLite file), authenticated, every
# check, bounded to a few minutes (see the script for the bounds).
say "Schemathesis against the locally served API (infra/schemathesis.sh)"
bash infra/schemathesis.sh

# The JS client's unit tests, then the example app and the client in headless Chromium against
# the functions served locally (the same build as Schemathesis's).
bash infra/browser-tests.sh

# One function built as `sam build` builds it (release, arm64, cargo-lambda with zig), with its
# size checked; ./infra/build-lambda.sh with no arguments builds and measures all of them.
bash infra/build-lambda.sh login
