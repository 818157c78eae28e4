#!/usr/bin/env bash
# Benchmarks. First the functions as Lambda runs them: each release binary (x86_64 here, the
# functions' release profile) spawned under a Runtime API harness of our own
# (infra/lambda_bench.py), with init, first answer, warm p50/p99 and peak RSS, on SQLite and on
# the AWS backends over the local AWS server, beside a hello-world lambda_http binary built with
# the same profile in the same run (infra/bench_functions.py prints the table). Then argon2id,
# JWT and every handler in-process (cargo bench: SQLite, then AWS over moto with the DynamoDB
# calls and request units each request makes). Last, infra/cost.py prices both at AWS's public
# prices. BENCH_RUNS (3) runs of the table; BENCH_ONLY=functions|handlers.
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
source "$ROOT/infra/local-aws.sh"
cd "$ROOT"
start_local_aws
ensure_module pyotp "$PYOTP_REQ"  # codes for the second-factor measures
ensure_module cbor2 "$CBOR2_REQ"  # the software authenticator of the passkey measures
if [ ! -d infra/oidc/node_modules/oidc-provider ]; then
  say "installing the test OpenID provider for the provider sign-in measures (infra/oidc, npm ci)"
  (cd infra/oidc && npm ci --silent --no-audit --no-fund)
fi
run=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(4))')
export AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
"$VENV/bin/python" infra/local_aws.py setup "$AUTHYY_MOTO_URL" \
  --table "authyy-bench-$run" --secret authyy-bench-keys --public-secret authyy-bench-public-keys \
  --sender-domain authyy.test --queue "authyy-bench-mail-$run"
RUNS="${BENCH_RUNS:-3}"

if [ "${BENCH_ONLY:-}" != handlers ]; then
  # Every function but rotate-keys (a Secrets Manager rotation, a few calls a month).
  FUNCTIONS=(hello-world signup login me refresh sessions logout list-users admin-users admin-delete-user identities oauth
    forgot-password mfa login-mfa passkeys passkey-login resend-verification verify-email mailer reset-password
    change-password change-email delete-account discovery docs)
  say "building the release binaries of ${FUNCTIONS[*]} (x86_64, the functions' profile)"
  cargo build --quiet --release $(printf -- '-p %s ' "${FUNCTIONS[@]}")
  cargo build --quiet -p authyy-admin
  # Secrets of their own: the handler half below makes its keys on a clock of its own.
  say "creating the signing keys on the local AWS server (authyy-admin keys rotate)"
  "$VENV/bin/python" infra/local_aws.py setup "$AUTHYY_MOTO_URL" \
    --table "authyy-bench-$run-fn" --secret authyy-bench-fn-keys --public-secret authyy-bench-fn-public-keys \
    --sender-domain authyy.test --queue "authyy-bench-mail-$run" >/dev/null
  AWS_ENDPOINT_URL="$AUTHYY_MOTO_URL" cargo run --quiet -p authyy-admin -- keys rotate \
    --table "authyy-bench-$run-fn" --secret authyy-bench-fn-keys --public-secret authyy-bench-fn-public-keys >/dev/null
  QUEUE_URL=$("$VENV/bin/python" infra/local_aws.py queue-url "$AUTHYY_MOTO_URL" --queue "authyy-bench-mail-$run")
  # A fresh table per run: the local server slows down as a table fills (its transactions copy
  # the table), which DynamoDB does not.
  for i in $(seq 0 $((RUNS - 1))); do
    "$VENV/bin/python" infra/local_aws.py setup "$AUTHYY_MOTO_URL" \
      --table "authyy-bench-$run-$i" --secret authyy-bench-fn-keys --public-secret authyy-bench-fn-public-keys \
      --sender-domain authyy.test --queue "authyy-bench-mail-$run" >/dev/null
  done
  say "cold start and warm invokes of each function under the Runtime API harness ($RUNS runs)"
  "$VENV/bin/python" infra/bench_functions.py --runs "$RUNS" --json target/bench-functions.json \
    --aws "$AUTHYY_MOTO_URL" --table "authyy-bench-$run-{run}" --secret authyy-bench-fn-keys \
    --public-secret authyy-bench-fn-public-keys --queue-url "$QUEUE_URL"
fi
if [ "${BENCH_ONLY:-}" != functions ]; then
  AUTHYY_PYTHON="$VENV/bin/python" AUTHYY_BENCH_TABLE="authyy-bench-$run" AUTHYY_BENCH_RUN="$run" cargo bench -p authyy
fi
if [ -f target/bench-functions.json ] && [ -f target/bench-dynamodb.json ]; then
  say "what it costs at AWS's public prices (infra/cost.py, from the figures above)"
  "$VENV/bin/python" infra/cost.py
fi
