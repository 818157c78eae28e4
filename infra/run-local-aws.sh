#!/usr/bin/env bash
# Runs the API locally on its production backends, DynamoDB, SES v2, SQS and Secrets Manager,
# served by a local AWS-compatible server (moto): http://localhost:9000/auth/... with no AWS
# account. The table comes from template.yaml; mail is read back from the server's state dump.
# A pump (infra/local_aws.py pump) hands the mail queue to the mailer function, as Lambda does.
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
source "$ROOT/infra/local-aws.sh"
cd "$ROOT"
ensure_tool cargo-lambda "$CARGO_LAMBDA_REQ"
start_local_aws "${MOTO_PORT:-4599}"
export AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
"$VENV/bin/python" infra/local_aws.py setup "$AUTHYY_MOTO_URL" \
  --table authyy-local --secret authyy-local-signing-keys --public-secret authyy-local-public-keys \
  --sender-domain authyy.test --queue authyy-local-mail
MAIL_QUEUE_URL=$("$VENV/bin/python" infra/local_aws.py queue-url "$AUTHYY_MOTO_URL" --queue authyy-local-mail)
# As a fresh deploy does (the rotation function runs once): the first RSA keys. A second run
# finds the next key too young to sign and changes nothing.
say "creating the signing keys (authyy-admin keys rotate)"
AWS_ENDPOINT_URL="$AUTHYY_MOTO_URL" cargo run --quiet -p authyy-admin -- keys rotate \
  --table authyy-local --secret authyy-local-signing-keys --public-secret authyy-local-public-keys \
  || true
PORT="${PORT:-9000}"
"$VENV/bin/python" infra/local_aws.py pump "$AUTHYY_MOTO_URL" --queue authyy-local-mail \
  --invoke "http://127.0.0.1:$PORT/2015-03-31/functions/mailer/invocations" &
PUMP_PID=$!
trap 'kill $PUMP_PID $MOTO_PID 2>/dev/null || true' EXIT
say "starting cargo lambda watch on http://localhost:$PORT with AUTH_BACKEND=aws"
say "mail sent through SES: curl -s '$AUTHYY_MOTO_URL/moto-api/data.json?service=ses' (ses.Message)   stop: Ctrl-C"
"$VENV/bin/cargo-lambda" lambda watch --invoke-address 127.0.0.1 --invoke-port "$PORT" --disable-cors \
  --env-var AUTH_BACKEND=aws \
  --env-file "$ROOT/infra/local.env" \
  --env-var AUTH_TABLE_NAME=authyy-local \
  --env-var AUTH_SIGNING_SECRET_ID=authyy-local-signing-keys \
  --env-var AUTH_PUBLIC_KEYS_SECRET_ID=authyy-local-public-keys \
  --env-var AUTH_MAIL_FROM=no-reply@authyy.test \
  --env-var AUTH_MAIL_QUEUE_URL="$MAIL_QUEUE_URL" \
  --env-var AWS_ENDPOINT_URL="$AUTHYY_MOTO_URL" \
  --env-var AWS_REGION=eu-west-1 \
  --env-var AWS_ACCESS_KEY_ID=testing \
  --env-var AWS_SECRET_ACCESS_KEY=testing \
  "$@"
