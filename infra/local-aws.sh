# Sourced by the test and run scripts: starts the local AWS-compatible server (moto, from PyPI,
# serving DynamoDB, SES v2 and Secrets Manager in one process) on a free 127.0.0.1 port, and
# stops it when the calling script exits. Sets AUTHYY_MOTO_URL. An argument fixes the port.
start_local_aws() {
  ensure_tool moto_server "$MOTO_REQ"
  local port=${1:-}
  if [ -z "$port" ]; then
    port=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  fi
  mkdir -p "$ROOT/target"
  say "starting the local AWS server (moto) on 127.0.0.1:$port"
  "$VENV/bin/python" "$ROOT/infra/moto_server.py" "$port" > "$ROOT/target/moto.log" 2>&1 &
  MOTO_PID=$!
  trap 'kill $MOTO_PID 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    if "$VENV/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/data.json', timeout=1)" 2>/dev/null; then
      export AUTHYY_MOTO_URL="http://127.0.0.1:$port"
      return 0
    fi
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then
      cat "$ROOT/target/moto.log" >&2
      echo "the local AWS server did not start" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "the local AWS server did not answer within 20 s (log: target/moto.log)" >&2
  exit 1
}
