# Sourced by the run and test scripts: a project-local virtualenv (.venv) holding the Python-side
# tools, installed from PyPI at pinned versions the first time they are needed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating the project virtualenv in .venv"
    python3 -m venv "$VENV"
  fi
}

# ensure_tool <command in .venv/bin> <pip requirement>...
ensure_tool() {
  local cmd=$1; shift
  ensure_venv
  if [ ! -x "$VENV/bin/$cmd" ]; then
    say "installing $* into .venv (first run only)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "$@"
  fi
}

# ensure_module <python module> <pip requirement>: a library (no command of its own) in .venv.
ensure_module() {
  ensure_venv
  if ! "$VENV/bin/python" -c "import $1" 2>/dev/null; then
    say "installing $2 into .venv (first run only)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "$2"
  fi
}

CARGO_LAMBDA_REQ="cargo-lambda==1.9.2"
MOTO_REQ="moto[server]==5.2.5"
CFN_LINT_REQ="cfn-lint==1.58.0"
PYJWT_REQ="PyJWT[crypto]==2.10.1"
# An independent TOTP implementation (RFC 6238), for the tests of the second factor.
PYOTP_REQ="pyotp==2.9.0"
# CBOR for the tests' software WebAuthn authenticator (its crypto is cryptography's, from moto).
CBOR2_REQ="cbor2==5.6.5"
# The Standard Webhooks reference library, to verify the signatures of authyy's HTTP hooks.
STANDARDWEBHOOKS_REQ="standardwebhooks==1.3.0"
# bcrypt hashes made by another implementation, for the tests of imported password hashes.
BCRYPT_REQ="bcrypt==4.2.1"
SCHEMATHESIS_REQ="schemathesis==4.32.5"
