"""Schemathesis hooks for ./infra/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

Two things, each narrow enough to read at a glance:

1. Logout gets a fresh session. The run is authenticated with one access token (-H); logging it
   out would turn every later request into a 401. A logout case that carries that token is given
   a token of its own, from a new login, before it is sent. (Logout cases that the stateful
   phase reaches through the OpenAPI links already carry their own token and are left alone.)

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

import json
import os

import requests
import schemathesis

BASE = os.environ["AUTHYY_ST_BASE"]
TOKEN = os.environ["AUTHYY_ST_TOKEN"]
EMAIL = os.environ["AUTHYY_ST_EMAIL"]
PASSWORD = os.environ["AUTHYY_ST_PASSWORD"]

POLICY_MESSAGES = ("password is too common", "password is too weak", "password must not contain")


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.method.upper() != "POST" or case.operation.path != "/auth/logout":
        return
    headers = case.headers or {}
    if headers.get("Authorization") != f"Bearer {TOKEN}":
        return
    r = requests.post(f"{BASE}/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=30)
    r.raise_for_status()
    fresh = r.json()["tokens"]["access"]["access_token"]
    headers["Authorization"] = f"Bearer {fresh}"
    case.headers = headers
    if "headers" in kwargs and isinstance(kwargs["headers"], dict):
        kwargs["headers"]["Authorization"] = f"Bearer {fresh}"


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
        return False
    if failure.code == "ST202" and _is_password_policy_refusal(case, response):
        return False
    return True
