"""Schemathesis hooks for ./infra/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

Two things, each narrow enough to read at a glance:

1. Authentication: every case without an Authorization header of its own gets the run's access
   token (an admin's); a logout case gets a token of its own, from a new login, since logging
   out the run's token would turn every later request into a 401. Cases of the stateful phase
   carry the tokens the OpenAPI links handed them and keep them (a global `-H` would override
   them).

2. Failures that are not the API's are dropped, and only those:
   - the local emulator's own answers, given before any function runs: `cargo lambda watch`
     answers a method its router has no entry for (TRACE, PUT, ...) with a 404 whose body is its
     own `"title":"Default function disabled"` JSON (API Gateway routes such requests to the
     `$default` route, the docs function, instead), and a request it cannot turn into a Lambda
     event (a body that is not UTF-8, header bytes it refuses) with a 500 whose body is its own
     problem JSON `{"type":"https://httpstatuses.com/500",...}`. Neither shape is one the
     functions can produce (every error of theirs is `{"detail": ...}`), and the script also
     fails the run if the functions' own log shows any failed request or panic.
   - the password policy beyond length: a new password must also not be common, not contain
     the username or the email's local part, and be strong enough by zxcvbn. No JSON Schema
     keyword can say that (it depends on the other fields and a dictionary), so a schema-valid
     signup or reset may get 422 naming exactly `password` with one of those messages. Any
     other 422 to schema-valid data still fails the run.
"""

import atexit
import collections
import json
import os
import sys

import requests
import schemathesis

BASE = os.environ["AUTHYY_ST_BASE"]
TOKEN = os.environ["AUTHYY_ST_TOKEN"]
EMAIL = os.environ["AUTHYY_ST_EMAIL"]
PASSWORD = os.environ["AUTHYY_ST_PASSWORD"]

DROPPED = collections.Counter()


@atexit.register
def _report_dropped():
    if DROPPED:
        parts = ", ".join(f"{n} {why}" for why, n in sorted(DROPPED.items()))
        print(f"schemathesis_hooks: failures dropped as not the API's: {parts}", file=sys.stderr)


POLICY_MESSAGES = ("password is too common", "password is too weak", "password must not contain")


def _fresh_token():
    r = requests.post(f"{BASE}/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=30)
    r.raise_for_status()
    return r.json()["tokens"]["access"]["access_token"]


@schemathesis.hook
def before_call(context, case, kwargs):
    """Authenticates every case that carries no Authorization of its own (the stateful phase's
    cases carry the tokens the links handed them, and keep them); a logout case gets a session
    of its own, so that it cannot end the one the rest of the run uses."""
    headers = dict(case.headers or {})
    if any(k.lower() == "authorization" for k in headers):
        return
    is_logout = case.operation.method.upper() == "POST" and case.operation.path == "/auth/logout"
    headers["Authorization"] = f"Bearer {_fresh_token() if is_logout else TOKEN}"
    case.headers = headers


def _json(response):
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def _is_emulator_answer(response):
    body = _json(response)
    if not isinstance(body, dict) or "detail" in body and response.status_code != 404:
        return False
    if response.status_code == 404:
        return body.get("title") == "Default function disabled"
    return response.status_code == 500 and body == {
        "type": "https://httpstatuses.com/500",
        "status": 500,
        "title": "Internal Server Error",
    }


def _is_password_policy_refusal(case, response):
    if case.operation.path not in ("/auth/users", "/auth/reset-password") or response.status_code != 422:
        return False
    body = _json(response)
    errors = body.get("detail") if isinstance(body, dict) else None
    return (
        isinstance(errors, list)
        and len(errors) > 0
        and all(
            e.get("loc") == ["body", "password"]
            and any(m in e.get("msg", "") for m in POLICY_MESSAGES)
            for e in errors
        )
    )


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """True keeps the failure."""
    if _is_emulator_answer(response):
        DROPPED[f"emulator {response.status_code} ({failure.code})"] += 1
        return False
    if failure.code == "ST202" and _is_password_policy_refusal(case, response):
        DROPPED["password strength 422 (ST202)"] += 1
        return False
    return True
