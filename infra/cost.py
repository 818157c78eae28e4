#!/usr/bin/env python3
"""What authyy costs to run, from what ./infra/bench.sh measured, at AWS's public prices.

  python3 infra/cost.py [--functions target/bench-functions.json] [--dynamodb target/bench-dynamodb.json]

Reads the medians of the function bench (each function's warm time and peak memory on SQLite,
which is its own work without network waits) and the DynamoDB request units each request
consumes (the AWS half of the bench, counted from the requests the SDK sends), and prints:

  1. each function's memory size: the cost and duration of one request at each size Lambda
     offers, and the size the template uses;
  2. the cost of one million requests of each function (Lambda, API Gateway, DynamoDB, SQS,
     SES, logs);
  3. a month of 100,000 monthly active users with the usage pattern below, beside what
     Amazon Cognito charges for as many users.

The model, stated so it can be argued with: a request's billed duration is its CPU time
(the warm median measured here on one x86-64 core, taken as Graviton's) stretched by the share
of a vCPU its memory size buys (a full vCPU at 1,769 MB, proportionally less below), plus a
wait per call to an AWS service (DynamoDB, SQS, SES; the figures in WAIT_MS). Standard library
only.
"""
import argparse
import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Public prices, US East (N. Virginia), as published on 2026-12-02 (the pages below). Lambda on
# arm64, first tier; API Gateway HTTP API, first 300 million; DynamoDB on demand; SES without
# a pricing plan ("a la carte"; the Essentials plan new accounts get by default is $0.16 per
# 1,000); SQS standard; CloudWatch Logs standard ingestion.
PRICES = {
    "lambda_gb_second": 0.0000133334,   # https://aws.amazon.com/lambda/pricing/
    "lambda_request": 0.20 / 1e6,       # https://aws.amazon.com/lambda/pricing/
    "http_api_request": 1.00 / 1e6,     # https://aws.amazon.com/api-gateway/pricing/
    "dynamodb_wru": 0.625 / 1e6,        # https://aws.amazon.com/dynamodb/pricing/on-demand/
    "dynamodb_rru": 0.125 / 1e6,        # https://aws.amazon.com/dynamodb/pricing/on-demand/
    "dynamodb_gb_month": 0.25,          # https://aws.amazon.com/dynamodb/pricing/on-demand/
    "ses_mail": 0.10 / 1000,            # https://aws.amazon.com/ses/pricing/
    "sqs_request": 0.40 / 1e6,          # https://aws.amazon.com/sqs/pricing/
    "logs_gb": 0.50,                    # https://aws.amazon.com/cloudwatch/pricing/
    "secret_month": 0.40,               # https://aws.amazon.com/secrets-manager/pricing/
    "secrets_call": 0.05 / 10_000,      # https://aws.amazon.com/secrets-manager/pricing/
}
# Amazon Cognito user pools (https://aws.amazon.com/cognito/pricing/): the Essentials tier
# (the default for new pools) and the Lite tier, per monthly active user above 10,000 free.
COGNITO = {"Essentials": [(10_000, 0.0), (math.inf, 0.015)],
           "Lite": [(10_000, 0.0), (100_000, 0.0055), (1_000_000, 0.0046), (math.inf, 0.00325)]}

# Waits per call to an AWS service, in milliseconds: assumptions, not measurements (DynamoDB
# answers in single-digit milliseconds within a region; a queue send and a mail send take
# longer). The function bench's times over the local AWS server are the server's, not these.
WAIT_MS = {"dynamodb": 5.0, "sqs": 10.0, "ses": 40.0}
FULL_VCPU_MB = 1769
SIZES = [128, 256, 512, 1024, 1769]
LOG_BYTES = 400  # Lambda's START/END/REPORT lines per invoke (the functions log only failures)

# Per function: the route in the DynamoDB bench, the extra SQS / SES calls of a request, and
# the template's memory size. `None`: no DynamoDB calls. Three have no route of their own there
# and take their nearest: resend-verification is forgot-password's work; verify-email and
# reset-password are costed as a lookup of an unknown token (a used one adds a transaction).
FUNCTIONS = {
    "signup": ("POST /auth/users (signup)", {"sqs": 1}, 1024),
    "login": ("POST /auth/login", {}, 1024),
    "me": ("GET /auth/me", {}, 256),
    "refresh": ("POST /auth/tokens (refresh)", {}, 256),
    "list-users": ("GET /auth/users (50 per page)", {}, 256),
    "sessions": ("GET /auth/sessions", {}, 256),
    "logout": ("POST /auth/logout", {}, 256),
    "forgot-password": ("POST /auth/forgot-password (+1 SQS call)", {"sqs": 1}, 256),
    "resend-verification": ("POST /auth/forgot-password (+1 SQS call)", {"sqs": 1}, 256),
    "mailer": ("mailer: a reset job (+1 SES call)", {"ses": 1}, 256),
    "reset-password": ("POST /auth/reset-password (bad token)", {}, 1024),
    "verify-email": ("POST /auth/reset-password (bad token)", {}, 256),
    "change-password": ("POST /auth/password (+1 SQS call)", {"sqs": 1}, 1024),
    "change-email": ("POST /auth/email (+1 SQS call)", {"sqs": 1}, 1024),
    "delete-account": ("DELETE /auth/me (one session)", {}, 1024),
    "discovery": (None, {}, 128),
    "docs": (None, {}, 128),
}

# A month of one active user: signs in on a new device or after the 30-day session ends
# 4 times; uses the app on 20 days, each day opening it once (a refresh) and staying an hour
# (3 more refreshes of the 15-minute access token) and reading the profile 5 times; 1 in 10
# users is new this month (signup, its verification mail, one verify), 1 in 20 resets a
# password (forgot, the mail, the reset). Services that trust authyy's tokens verify them
# themselves with the cached JWKS: a discovery call per service instance, not per request.
MONTH_PER_USER = {
    "login": 4, "refresh": 20 * 4, "me": 20 * 5, "logout": 1,
    "signup": 0.1, "verify-email": 0.1, "mailer": 0.1 + 0.05,
    "forgot-password": 0.05, "reset-password": 0.05,
    "sessions": 0.2, "change-password": 0.02,
}
MAU = 100_000
DISCOVERY_PER_MONTH = 50_000


def duration_ms(cpu_ms, waits, memory):
    stretch = max(1.0, FULL_VCPU_MB / memory)
    return cpu_ms * stretch + sum(WAIT_MS[s] * n for s, n in waits.items())


def cost_per_request(name, m, units, memory):
    route, extra, _ = FUNCTIONS[name]
    u = units.get(route, {}) if route else {}
    waits = {"dynamodb": u.get("calls", 0.0), **extra}
    billed = math.ceil(duration_ms(m["warm_p50_ms"], waits, memory))
    parts = {
        "lambda": PRICES["lambda_request"] + billed / 1000 * memory / 1024 * PRICES["lambda_gb_second"],
        "api": PRICES["http_api_request"] if name != "mailer" else 0.0,
        "dynamodb": u.get("read_units", 0.0) * PRICES["dynamodb_rru"] + u.get("write_units", 0.0) * PRICES["dynamodb_wru"],
        "sqs": extra.get("sqs", 0) * 3 * PRICES["sqs_request"],  # a send, a receive, a delete
        "ses": extra.get("ses", 0) * PRICES["ses_mail"],
        "logs": LOG_BYTES / 1e9 * PRICES["logs_gb"],
    }
    return billed, parts


def cognito(mau, tiers):
    total, below = 0.0, 0
    for upto, price in tiers:
        n = max(0, min(mau, upto) - below)
        total += n * price
        below = upto
    return total


HASHING = {"signup", "login", "reset-password", "change-password", "change-email", "delete-account"}


def targets(measured, primitives):
    """The performance targets, against the hello-world floor of the same run (SQLite)."""
    floor = measured["hello-world"]
    others = {f: m for f, m in measured.items() if f != "hello-world"}
    init = {f: m["init_ms"] - floor["init_ms"] for f, m in others.items()}
    worst = max(init, key=init.get)
    print(f"0. Targets (SQLite, medians, against hello-world in the same run)")
    print(f"  init within 2 ms of the floor ({floor['init_ms']:.2f} ms): "
          f"{'met' if init[worst] <= 2 else 'NOT met'}, worst {worst} +{init[worst]:.2f} ms")
    warm = {f: m["warm_p50_ms"] - floor["warm_p50_ms"] for f, m in others.items() if f not in HASHING}
    over = {f: w for f, w in warm.items() if w > 0.1}
    print(f"  warm p50 at most 0.1 ms over the floor, functions that hash no password: "
          f"{len(warm) - len(over)} of {len(warm)}"
          + (f"; over: " + ", ".join(f"{f} +{w:.3f}" for f, w in sorted(over.items(), key=lambda x: -x[1])) if over else ""))
    if "login" in measured:
        rss = measured["login"]["peak_rss_mb"]
        print(f"  login peak RSS at most 48 MB: {'met' if rss <= 48 else 'NOT met'}, {rss:.1f} MB")
    rs, hs = primitives.get("JWT RS256 sign (access token)"), primitives.get("JWT HS256 sign (refresh token)")
    if rs is not None and hs is not None and "refresh" in measured:
        p50 = measured["refresh"]["warm_p50_ms"]
        print(f"  refresh p50 within 1.5 ms of its HS256 figure: {'met' if rs - hs <= 1.5 else 'NOT met'}: "
              f"{p50:.3f} ms with an RS256 access token, {p50 - rs + hs:.3f} ms had it been HS256 "
              f"(RS256 sign {rs:.3f} ms, HS256 sign {hs:.4f} ms)")
    print()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--functions", default=str(ROOT / "target" / "bench-functions.json"))
    p.add_argument("--dynamodb", default=str(ROOT / "target" / "bench-dynamodb.json"))
    p.add_argument("--primitives", default=str(ROOT / "target" / "bench-primitives.json"))
    args = p.parse_args()
    measured = json.loads(Path(args.functions).read_text())["SQLite"]
    units = json.loads(Path(args.dynamodb).read_text())
    primitives = json.loads(Path(args.primitives).read_text()) if Path(args.primitives).exists() else {}
    names = [n for n in FUNCTIONS if n in measured]
    targets(measured, primitives)

    print("1. Memory: billed ms and $ per million requests at each size (template's size marked *)")
    print(f"{'function':<20}{'CPU ms':>8}{'peak MB':>9}" + "".join(f"{s:>16}" for s in SIZES))
    for name in names:
        m = measured[name]
        cells = []
        for size in SIZES:
            billed, parts = cost_per_request(name, m, units, size)
            mark = "*" if size == FUNCTIONS[name][2] else " "
            cells.append(f"{billed:>6}ms ${parts['lambda'] * 1e6:>6.2f}{mark}")
        print(f"{name:<20}{m['warm_p50_ms']:>8.2f}{m['peak_rss_mb']:>9.1f}" + "".join(f"{c:>16}" for c in cells))
    print()

    print("2. Cost of one million requests at the template's sizes, US$")
    print(f"{'function':<20}{'memory':>7}{'billed ms':>10}{'Lambda':>9}{'HTTP API':>9}{'DynamoDB':>9}"
          f"{'SQS+SES':>9}{'logs':>7}{'total':>9}")
    per_request = {}
    for name in names:
        memory = FUNCTIONS[name][2]
        billed, parts = cost_per_request(name, measured[name], units, memory)
        per_request[name] = sum(parts.values())
        M = 1e6
        print(f"{name:<20}{memory:>7}{billed:>10}{parts['lambda'] * M:>9.2f}{parts['api'] * M:>9.2f}"
              f"{parts['dynamodb'] * M:>9.2f}{(parts['sqs'] + parts['ses']) * M:>9.2f}{parts['logs'] * M:>7.2f}"
              f"{per_request[name] * M:>9.2f}")
    print()

    print(f"3. A month of {MAU:,} monthly active users (per user: "
          + ", ".join(f"{k} {v:g}" for k, v in MONTH_PER_USER.items()) + "), US$")
    total = 0.0
    for name, per_user in MONTH_PER_USER.items():
        if name in per_request:
            cost = per_request[name] * per_user * MAU
            total += cost
            print(f"  {name:<20}{per_user * MAU:>14,.0f} requests {cost:>10.2f}")
    if "discovery" in per_request:
        cost = per_request["discovery"] * DISCOVERY_PER_MONTH
        total += cost
        print(f"  {'discovery':<20}{DISCOVERY_PER_MONTH:>14,} requests {cost:>10.2f}")
    # The table: a user's items (account, its email and username, sessions with their current
    # refresh tokens, counters) are a few KB; 25 GB a month are free, not counted here.
    storage_gb = MAU * 5_000 / 1e9
    storage = storage_gb * PRICES["dynamodb_gb_month"]
    total += storage
    print(f"  {'DynamoDB storage':<20}{f'{storage_gb:.1f} GB (5 KB a user)':>23} {storage:>10.2f}")
    # Two secrets; each function environment reads its key set every few minutes (a cache).
    fixed = 2 * PRICES["secret_month"] + 500_000 * PRICES["secrets_call"]
    total += fixed
    print(f"  {'secrets':<20}{'2 secrets, 500,000 reads':>23} {fixed:>10.2f}")
    print(f"  {'authyy total':<43}{total:>10.2f}  (${total / MAU * 1000:.3f} per 1,000 users)")
    for tier, tiers in COGNITO.items():
        c = cognito(MAU, tiers)
        print(f"  {'Cognito ' + tier:<43}{c:>10.2f}  (${c / MAU * 1000:.3f} per 1,000 users; mail and API extra)")


if __name__ == "__main__":
    main()
