#!/usr/bin/env bash
# Benchmarks: argon2id, JWT and every handler on SQLite, then every handler on the AWS backends
# over the local AWS server, with the DynamoDB calls each request makes.
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
source "$ROOT/infra/local-aws.sh"
cd "$ROOT"
start_local_aws
run=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(4))')
"$VENV/bin/python" infra/local_aws.py setup "$AUTHYY_MOTO_URL" \
  --table "authyy-bench-$run" --secret authyy-bench-keys --public-secret authyy-bench-public-keys --sender-domain authyy.test
AUTHYY_BENCH_TABLE="authyy-bench-$run" AUTHYY_BENCH_RUN="$run" cargo bench -p authyy
