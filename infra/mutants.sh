#!/usr/bin/env bash
# Mutation testing of the code that decides who gets in: cargo-mutants (pinned, installed into
# target/tools on first use) changes that code one small way at a time (a `>` for a `>=`, a
# `&&` for a `||`, a function body for a default value) and runs the tests; a mutant no test
# fails on ("missed") is a rule nothing pins. Slow (about half a minute per mutant on two
# cores), so not part of ./infra/test.sh.
#
#   ./infra/mutants.sh                          every file below, SQLite suite and unit tests
#   ./infra/mutants.sh --file shared/src/endpoints/login.rs    one file (repeatable)
#   ./infra/mutants.sh --since main             only what differs from a git base
#   ./infra/mutants.sh --both                   also the DynamoDB suite (starts moto; much slower)
#   ./infra/mutants.sh --list                   the mutants, without testing them
#   ./infra/mutants.sh --iterate ...            only the mutants the last run missed, or new ones
#   ./infra/mutants.sh --crate                  the whole crate, not only the files below
#   ./infra/mutants.sh --exclude GLOB           leave these files out (repeatable)
#   ./infra/mutants.sh --sample N ...           every Nth mutant of the selection: an estimate
#                                               of its score in 1/N of the time
#   ./infra/mutants.sh --sample N --sample-from K   the mutants numbered K mod N instead
#                                               of 0 mod N: a fresh sample of the same size
#   ./infra/mutants.sh --output DIR ...         report in DIR (target/mutants), so two runs
#                                               can go side by side
#
# Ends with one line: `mutation score: caught/viable = N%` (viable: the mutant builds; a
# timeout counts as caught). The full report is in target/mutants/mutants.out/.
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
cd "$ROOT"

MUTANTS_VERSION=27.1.0
TOOLS="$ROOT/target/tools"
MUTANTS="$TOOLS/bin/cargo-mutants"

# The code that decides who gets in: endpoints, tokens and keys, password and domain rules, the
# providers' answers and their configuration, the hooks' contracts and their configuration,
# and the request pipeline.
DEFAULT_FILES=(
  shared/src/endpoints/*.rs
  shared/src/tokens/*.rs
  shared/src/keys/*.rs
  shared/src/domain/*.rs
  shared/src/domain/webauthn/*.rs
  shared/src/federation/*.rs
  shared/src/config/federation.rs
  shared/src/hooks/*.rs
  shared/src/config/hooks.rs
  shared/src/runtime/mod.rs
  shared/src/runtime/limits.rs
  shared/src/routes.rs
  shared/src/config/backend.rs
  shared/src/http.rs
  shared/src/randomness.rs
  shared/src/hashing/*.rs
  shared/src/import.rs
)

files=()
excludes=()
since=""
both=0
list=0
crate=0
sample=""
sample_from=0
output=target/mutants
iterate=()
while [ $# -gt 0 ]; do
  case "$1" in
    --file) files+=("$2"); shift 2 ;;
    --exclude) excludes+=("$2"); shift 2 ;;
    --crate) crate=1; shift ;;
    --sample) sample="$2"; shift 2 ;;
    --sample-from) sample_from="$2"; shift 2 ;;
    --output) output="$2"; shift 2 ;;
    --since) since="$2"; shift 2 ;;
    --both) both=1; shift ;;
    --list) list=1; shift ;;
    --iterate) iterate=(--iterate); shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#files[@]} -gt 0 ] || [ "$crate" = 1 ] || files=("${DEFAULT_FILES[@]}")
if [ -n "$sample" ] && ! [[ "$sample" =~ ^[1-9][0-9]*$ ]]; then
  echo "--sample takes a whole number N (every Nth mutant), not '$sample'" >&2; exit 2
fi
if ! [[ "$sample_from" =~ ^[0-9]+$ ]] || { [ -n "$sample" ] && [ "$sample_from" -ge "$sample" ]; }; then
  echo "--sample-from takes a whole number below N, not '$sample_from'" >&2; exit 2
fi

if [ "$("$MUTANTS" mutants --version 2>/dev/null || true)" != "cargo-mutants $MUTANTS_VERSION" ]; then
  say "installing cargo-mutants $MUTANTS_VERSION into target/tools (first run only, a few minutes)"
  cargo install --quiet --locked --root "$TOOLS" cargo-mutants --version "$MUTANTS_VERSION"
fi

args=(--package authyy --output "$output" --no-shuffle --timeout 300 --build-timeout 600 "${iterate[@]}")
for f in "${files[@]}"; do args+=(--file "$f"); done
for f in "${excludes[@]}"; do args+=(--exclude "$f"); done
# A systematic sample: mutant i is tested when i mod N is K (--sample-from, 0 unless given), so
# every file keeps its share; another K is a fresh sample, e.g. to re-measure after fixing the
# survivors of the last one.
[ -z "$sample" ] || args+=(--shard "$sample_from/$sample" --sharding round-robin)
if [ -n "$since" ]; then
  git diff "$since" -- shared/src > target/mutants.diff
  args+=(--in-diff target/mutants.diff)
fi
if [ "$list" = 1 ]; then
  exec "$MUTANTS" mutants "${args[@]}" --list
fi

# Unit tests and the endpoint suite. Without --both, the DynamoDB cases and the AWS-only
# tests (which need the local AWS server) are skipped by name. One test verifies a token with
# an independent JWT library (PyJWT), as ./infra/test.sh does.
ensure_venv
ensure_module jwt "$PYJWT_REQ"
# An independent TOTP implementation, for the tests that compute codes against the API.
ensure_module pyotp "$PYOTP_REQ"
# A software WebAuthn authenticator for the passkey tests (shared/tests/api/authenticator.py).
ensure_module cbor2 "$CBOR2_REQ"
ensure_module standardwebhooks "$STANDARDWEBHOOKS_REQ"
ensure_module bcrypt "$BCRYPT_REQ"
export AUTHYY_PYTHON="$VENV/bin/python"
test_args=(--lib --test api --)
if [ "$both" = 1 ]; then
  source "$ROOT/infra/local-aws.sh"
  start_local_aws
  "$VENV/bin/python" infra/local_aws.py table-definition > target/authyy-table.json
  export AUTHYY_TABLE_DEFINITION="$ROOT/target/authyy-table.json"
else
  test_args+=(--skip ::dynamo:: --skip aws_faults --skip aws_permissions --skip aws_throttling --skip key_rotation_aws
    --skip mail_queue::a_message_that_keeps --skip mail_queue::the_mailer_reports_a_message_whose
    --skip mail_abuse::after_erasure_no_dynamodb --skip ::secrets_manager::)
fi

# Each mutant is rebuilt and linked: no debug info makes that much faster.
export CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_TEST_DEBUG=0
say "cargo mutants over $([ "$crate" = 1 ] && [ ${#files[@]} = 0 ] && echo "the whole crate" || echo "${#files[@]} file(s)")$([ ${#excludes[@]} -gt 0 ] && echo " less ${#excludes[@]} excluded")$([ -n "$sample" ] && echo ", every ${sample}th mutant")$([ -n "$since" ] && echo ", only what differs from $since")$([ "$both" = 1 ] && echo ", both backends" || echo ", SQLite suite and unit tests")"
set +e
"$MUTANTS" mutants "${args[@]}" -- "${test_args[@]}"
status=$?
set -e

outcomes=$output/mutants.out/outcomes.json
if [ -f "$outcomes" ]; then
  python3 - "$outcomes" "$output" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
caught = o.get("caught", 0) + o.get("timeout", 0)
missed = o.get("missed", 0)
viable = caught + missed
score = 100.0 * caught / viable if viable else 100.0
print(f"mutation score: {caught}/{viable} = {score:.1f}% ({missed} missed, {o.get('unviable', 0)} unviable; "
      f"survivors in {sys.argv[2]}/mutants.out/missed.txt)")
PY
fi
# cargo-mutants exits 2 when mutants were missed: that is the report, not a failure of the run.
[ "$status" = 0 ] || [ "$status" = 2 ] || exit "$status"
