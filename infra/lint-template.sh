#!/usr/bin/env bash
# Offline checks of template.yaml, failing on any error or warning:
#   1. sam validate          the real SAM transform (aws-sam-translator), as CloudFormation runs it
#   2. sam validate --lint   cfn-lint as SAM CLI runs it, then the SAM transform again with sample
#                            values for the parameters that have no default (AllowedOrigins...)
#   3. cfn-lint              with informational checks too (all clean today, keep it so)
#   4. infra/check_template.py  routes vs the Cargo.toml router, events/, IAM vs infra/permissions.json
#                            (and the statements as infra/iam_sync.py writes them), the mail queue's
#                            senders, CORS methods
#   5-7. steps 1-3 again on examples/protected-api/template.yaml, the example API that trusts authyy's tokens
#   8-9. steps 2-3 on examples/hooks/template.yaml, the example hook function
# No AWS account or network is needed once the tools are installed (dummy credentials, fixed region).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
cd "$ROOT"

SAM_CLI_VERSION="1.170.0"
SAM_CLI_REQ="aws-sam-cli==$SAM_CLI_VERSION"
# SAM CLI lives in its own virtualenv inside .venv: it pins boto3 exactly (and pydantic ~=2.13),
# and installing it into .venv would downgrade the boto3/botocore/pydantic that moto runs on.
SAM_VENV="$VENV/sam"

ensure_tool cfn-lint "$CFN_LINT_REQ"   # also brings PyYAML, which check_template.py uses

if ! { [ -x "$SAM_VENV/bin/sam" ] && "$SAM_VENV/bin/sam" --version 2>/dev/null | grep -qx "SAM CLI, version $SAM_CLI_VERSION"; }; then
  ensure_venv
  say "installing $SAM_CLI_REQ into .venv/sam (first run only, about half a minute)"
  [ -x "$SAM_VENV/bin/python" ] || "$VENV/bin/python" -m venv "$SAM_VENV"
  "$SAM_VENV/bin/pip" install --quiet --disable-pip-version-check "$SAM_CLI_REQ" "$CFN_LINT_REQ"
fi

export AWS_DEFAULT_REGION=eu-west-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export SAM_CLI_TELEMETRY=0 AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN

say "sam validate (SAM transform)"
"$SAM_VENV/bin/sam" validate --template template.yaml

say "sam validate --lint"
"$SAM_VENV/bin/sam" validate --lint --template template.yaml

# AllowedOrigins has no default (a deployer names their origins), and with no value the SAM
# transform sam validate runs leaves the HttpApi's CORS configuration unresolved. So the transform
# runs once more as a deploy does, with sample values for the parameters that have no default,
# and the CORS configuration it yields must allow every method the routes use.
say "SAM transform with deploy-time parameter values"
"$SAM_VENV/bin/python" - <<'PY'
import json, sys
sys.path.insert(0, "infra")
import yaml
from local_aws import CfnLoader
from samtranslator.translator.transform import transform

template = yaml.load(open("template.yaml"), Loader=CfnLoader)
template["Globals"]["Function"]["CodeUri"] = "s3://bucket/key"  # what sam build puts there
values = {
    "AllowedOrigins": "https://app.example.com,https://admin.example.com",
    "SenderEmail": "no-reply@example.com",
    "ResetUrl": "https://app.example.com/reset-password",
    "VerifyUrl": "https://app.example.com/verify-email",
}
missing = [n for n, p in template["Parameters"].items() if "Default" not in p and n not in values]
if missing:
    sys.exit(f"give the transform a sample value for {missing}")


class NoManagedPolicies:
    def load(self):
        return {}


out = transform(template, values, NoManagedPolicies())
cors = out["Resources"]["HttpApi"]["Properties"]["Body"].get("x-amazon-apigateway-cors")
methods = {
    e["Properties"]["Method"].upper()
    for r in template["Resources"].values()
    if r.get("Type") == "AWS::Serverless::Function"
    for e in (r["Properties"].get("Events") or {}).values()
    if e.get("Type") == "HttpApi" and e["Properties"]["Path"] != "$default"
}
if not isinstance(cors, dict) or not methods <= {m.upper() for m in cors.get("allowMethods", [])}:
    sys.exit(f"the transformed CORS configuration {json.dumps(cors)} does not allow {sorted(methods)}")
print(f"transformed: {len(out['Resources'])} resources; CORS allows {', '.join(cors['allowMethods'])}")
PY

# cfn-lint exits non-zero on errors (2) and warnings (4); --include-checks I adds informational (8).
say "cfn-lint $("$VENV/bin/cfn-lint" --version | awk '{print $2}')"
"$VENV/bin/cfn-lint" --include-checks I -- template.yaml

say "template consistency (infra/check_template.py)"
"$VENV/bin/python" infra/check_template.py

# The example stack in examples/protected-api (API Gateway JWT authorizer on authyy's issuer):
# the same three checks, just as strict.
EXAMPLE=examples/protected-api/template.yaml

say "sam validate (SAM transform): $EXAMPLE"
"$SAM_VENV/bin/sam" validate --template "$EXAMPLE"

say "sam validate --lint: $EXAMPLE"
"$SAM_VENV/bin/sam" validate --lint --template "$EXAMPLE"

say "cfn-lint $("$VENV/bin/cfn-lint" --version | awk '{print $2}'): $EXAMPLE"
"$VENV/bin/cfn-lint" --include-checks I -- "$EXAMPLE"

# The example hook's stack (examples/hooks): the same checks.
HOOKS=examples/hooks/template.yaml
say "sam validate --lint: $HOOKS"
"$SAM_VENV/bin/sam" validate --lint --template "$HOOKS"
say "cfn-lint $("$VENV/bin/cfn-lint" --version | awk '{print $2}'): $HOOKS"
"$VENV/bin/cfn-lint" --include-checks I -- "$HOOKS"
