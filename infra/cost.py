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
WAIT_MS = {"dynamodb": 5.0, "sqs": 10.0, "ses": 40.0, "provider": 50.0}
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
    "mfa": ("POST /auth/mfa/totp (start)", {}, 1024),
    "login-mfa": ("POST /auth/login/mfa (TOTP)", {}, 256),
    "passkeys": ("GET /auth/passkeys", {}, 1024),
    "passkey-login": (["POST /auth/passkeys/login/options", "POST /auth/passkeys/login"], {}, 256),
    # The callback's provider calls (its token and key endpoints, or GitHub's user and emails),
    # spread over the callback and the token exchange.
    "oauth": (["GET /auth/oauth/{provider}/callback", "POST /auth/oauth/token"], {"provider": 1.5}, 256),
    "identities": ("GET /auth/identities", {}, 1024),
    "admin-users": ("GET /auth/admin/users/{id}", {}, 256),
    "admin-delete-user": ("DELETE /auth/admin/users/{id}", {}, 256),
    "discovery": (None, {}, 128),
    "docs": (None, {}, 128),
}
# Audit events a request records (each a JSON log line of about AUDIT_LOG_BYTES; its write is
# in the DynamoDB figures). Requests not named record none or one event in rare cases.
AUDIT_EVENTS = {"signup": 1, "login": 1, "login-mfa": 1, "passkey-login": 1, "oauth": 1, "logout": 1,
                "reset-password": 1, "change-password": 1, "change-email": 1, "delete-account": 1,
                "admin-delete-user": 1, "forgot-password": 0.5}
AUDIT_LOG_BYTES = 500

# A month of one active user: signs in on a new device or after the 30-day session ends
# 4 times; uses the app on 20 days, each day opening it once (a refresh) and staying an hour
# (3 more refreshes of the 15-minute access token) and reading the profile 5 times; 1 in 10
# users is new this month (signup, its verification mail, one verify), 1 in 20 resets a
# password (forgot, the mail, the reset). Services that trust authyy's tokens verify them
# themselves with the cached JWKS: a discovery call per service instance, not per request.
#
# Of the 4 sign-ins: 2.6 with a password (1 in 5 of them followed by a TOTP code), 1 with a
# passkey (its options, then the sign-in: 2 requests) and 0.4 with another provider (its
# callback and the token exchange: 2 requests of the oauth function, 3 calls to the provider).
# Each user looks at its security activity once a month (a page of `me`), 1 in 50 turns on TOTP
# (one enrolment), and an admin reads 1 user in 100 and deletes 1 in 1,000.
MONTH_PER_USER = {
    "login": 2.6, "login-mfa": 2.6 / 5, "passkey-login": 2 * 1, "oauth": 2 * 0.4,
    "refresh": 20 * 4, "me": 20 * 5 + 1, "logout": 1,
    "signup": 0.1, "verify-email": 0.1, "mailer": 0.1 + 0.05,
    "forgot-password": 0.05, "reset-password": 0.05,
    "sessions": 0.2, "change-password": 0.02, "mfa": 0.02, "passkeys": 0.05, "identities": 0.02,
    "admin-users": 0.01, "admin-delete-user": 0.001,
}
MAU = 100_000
DISCOVERY_PER_MONTH = 50_000


def duration_ms(cpu_ms, waits, memory):
    stretch = max(1.0, FULL_VCPU_MB / memory)
    return cpu_ms * stretch + sum(WAIT_MS[s] * n for s, n in waits.items())


def route_units(route, units):
    """A route's calls and units per request; for a list of routes (a function that serves
    several, used alike), their mean."""
    routes = [route] if isinstance(route, str) else (route or [])
    found = [units[r] for r in routes if r in units]
    keys = ("calls", "read_units", "write_units")
    return {k: sum(u.get(k, 0.0) for u in found) / len(found) for k in keys} if found else {}


def cost_per_request(name, m, units, memory):
    route, extra, _ = FUNCTIONS[name]
    u = route_units(route, units)
    waits = {"dynamodb": u.get("calls", 0.0), **extra}
    billed = math.ceil(duration_ms(m["warm_p50_ms"], waits, memory))
    parts = {
        "lambda": PRICES["lambda_request"] + billed / 1000 * memory / 1024 * PRICES["lambda_gb_second"],
        "api": PRICES["http_api_request"] if name != "mailer" else 0.0,
        "dynamodb": u.get("read_units", 0.0) * PRICES["dynamodb_rru"] + u.get("write_units", 0.0) * PRICES["dynamodb_wru"],
        "sqs": extra.get("sqs", 0) * 3 * PRICES["sqs_request"],  # a send, a receive, a delete
        "ses": extra.get("ses", 0) * PRICES["ses_mail"],
        "logs": (LOG_BYTES + AUDIT_EVENTS.get(name, 0) * AUDIT_LOG_BYTES) / 1e9 * PRICES["logs_gb"],
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


# The logins the write-unit target holds for (the DynamoDB bench's rows).
LOGIN_ROUTES = ["POST /auth/login (known device)", "POST /auth/login"]


def init_over_floor(m, floor):
    """A function's init over the floor's, both from the starts taken turn about (older figures:
    against the floor's own row)."""
    return m["init_ms"] - m.get("init_floor_ms", floor["init_ms"])


def targets(measured, aws, units, primitives):
    """The performance targets, against the hello-world floor of the same run (SQLite; the
    AWS backend's init against the floor's init in the same run)."""
    floor = measured["hello-world"]
    others = {f: m for f, m in measured.items() if f != "hello-world"}
    init = {f: init_over_floor(m, floor) for f, m in others.items()}
    worst = max(init, key=init.get)
    print("0. Targets (medians, against hello-world in the same run)")
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
    if "passkey-login" in measured:
        p50 = measured["passkey-login"]["warm_p50_ms"]
        print(f"  passkey sign-in warm p50 at most 2 ms: {'met' if p50 <= 2 else 'NOT met'}, {p50:.3f} ms")
    if aws and "hello-world" in aws:
        floor_aws = aws["hello-world"]["init_ms"]
        over = {f: init_over_floor(m, aws["hello-world"]) for f, m in aws.items() if f != "hello-world"}
        worst_aws = max(over, key=over.get)
        print(f"  init on the AWS backend within 1.5 ms of the floor ({floor_aws:.2f} ms): "
              f"{'met' if over[worst_aws] <= 1.5 else 'NOT met'}, worst {worst_aws} +{over[worst_aws]:.2f} ms, "
              f"median +{sorted(over.values())[len(over) // 2]:.2f} ms")
    for route in LOGIN_ROUTES:
        if route in units:
            wru = units[route]["write_units"]
            print(f"  {route}: at most 10 write units: {'met' if wru <= 10 else 'NOT met'}, "
                  f"{wru:.2f} WRU, {units[route]['read_units']:.2f} RRU")
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
    p.add_argument("--chart", default=str(ROOT / "docs" / "cost-chart.svg"),
                   help="where to write the chart of the month's cost (empty: none)")
    args = p.parse_args()
    functions = json.loads(Path(args.functions).read_text())
    measured, aws = functions["SQLite"], functions.get("AWS over moto", {})
    units = json.loads(Path(args.dynamodb).read_text())
    primitives = json.loads(Path(args.primitives).read_text()) if Path(args.primitives).exists() else {}
    names = [n for n in FUNCTIONS if n in measured]
    targets(measured, aws, units, primitives)

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

    rows, total = month(per_request, MAU)
    print(f"3. A month of {MAU:,} monthly active users (per user: "
          + ", ".join(f"{k} {v:g}" for k, v in MONTH_PER_USER.items()) + "), US$")
    for label, amount, cost in rows:
        print(f"  {label:<20}{amount:>23} {cost:>10.2f}")
    print(f"  {'authyy total':<43}{total:>10.2f}  (${total / MAU * 1000:.3f} per 1,000 users)")
    for tier, tiers in COGNITO.items():
        c = cognito(MAU, tiers)
        print(f"  {'Cognito ' + tier:<43}{c:>10.2f}  (${c / MAU * 1000:.3f} per 1,000 users; mail and API extra)")
    if args.chart:
        Path(args.chart).write_text(chart(per_request))
        print(f"\n  chart of 1,000 to 10,000,000 users: {args.chart}")


def month(per_request, mau):
    """The month's parts for `mau` users: (label, amount, US$) rows, and the total."""
    rows, total = [], 0.0
    for name, per_user in MONTH_PER_USER.items():
        if name in per_request:
            cost = per_request[name] * per_user * mau
            total += cost
            rows.append((name, f"{per_user * mau:,.0f} requests", cost))
    # Services verify tokens with the cached JWKS: a discovery call per instance, about one
    # per two users a month (50,000 for 100,000 users).
    if "discovery" in per_request:
        calls = mau * DISCOVERY_PER_MONTH / MAU
        cost = per_request["discovery"] * calls
        total += cost
        rows.append(("discovery", f"{calls:,.0f} requests", cost))
    # The table: a user's items (account, its email and username, sessions with their current
    # refresh tokens, counters, 90 days of security events) are a few KB; 25 GB a month are
    # free, not counted here.
    storage_gb = mau * 5_000 / 1e9
    storage = storage_gb * PRICES["dynamodb_gb_month"]
    total += storage
    rows.append(("DynamoDB storage", f"{storage_gb:.1f} GB (5 KB a user)", storage))
    # Two secrets; each function environment reads its key set every few minutes (a cache):
    # 500,000 reads a month at 100,000 users, and never fewer than 50,000.
    reads = max(50_000, 5 * mau)
    fixed = 2 * PRICES["secret_month"] + reads * PRICES["secrets_call"]
    total += fixed
    rows.append(("secrets", f"2 secrets, {reads:,} reads", fixed))
    return rows, total


CHART_USERS = [1_000 * 10 ** (k / 4) for k in range(17)]  # 1,000 to 10,000,000


def chart(per_request):
    """An SVG line chart of the month's cost against monthly active users (both on log scales):
    authyy with the usage pattern of MONTH_PER_USER, and Cognito's Lite and Essentials prices
    (their per-user price only: 10,000 users free, mail and API extra)."""
    lines = {
        "authyy": ("#1a7f37", [month(per_request, u)[1] for u in CHART_USERS]),
        "Cognito Lite": ("#9a6700", [cognito(u, COGNITO["Lite"]) for u in CHART_USERS]),
        "Cognito Essentials": ("#cf222e", [cognito(u, COGNITO["Essentials"]) for u in CHART_USERS]),
    }
    width, height, left, right, top, bottom = 720, 420, 80, 170, 40, 60
    lo_y, hi_y = 0, 6  # $1 to $1,000,000 (log 10); a month at $0 is drawn at $1
    x = lambda users: left + (math.log10(users) - 3) / 4 * (width - left - right)
    y = lambda usd: top + (hi_y - math.log10(max(usd, 1))) / (hi_y - lo_y) * (height - top - bottom)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="{left}" y="22" font-size="15" font-weight="bold">Monthly cost (US$) by monthly active users</text>']
    for k in range(3, 8):
        users = 10 ** k
        out.append(f'<line x1="{x(users):.1f}" y1="{top}" x2="{x(users):.1f}" y2="{height - bottom}" stroke="#d0d7de"/>')
        label = {3: "1k", 4: "10k", 5: "100k", 6: "1M", 7: "10M"}[k]
        out.append(f'<text x="{x(users):.1f}" y="{height - bottom + 18}" text-anchor="middle">{label}</text>')
    for k in range(lo_y, hi_y + 1):
        out.append(f'<line x1="{left}" y1="{y(10 ** k):.1f}" x2="{width - right}" y2="{y(10 ** k):.1f}" stroke="#d0d7de"/>')
        out.append(f'<text x="{left - 8}" y="{y(10 ** k) + 4:.1f}" text-anchor="end">${10 ** k:,}</text>')
    out.append(f'<text x="{(left + width - right) / 2:.0f}" y="{height - 18}" text-anchor="middle">'
               f'monthly active users (log scale)</text>')
    for i, (name, (colour, costs)) in enumerate(lines.items()):
        points = " ".join(f"{x(u):.1f},{y(c):.1f}" for u, c in zip(CHART_USERS, costs))
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2.5" points="{points}"/>')
        ly = top + 20 + 22 * i
        out.append(f'<line x1="{width - right + 12}" y1="{ly}" x2="{width - right + 36}" y2="{ly}" '
                   f'stroke="{colour}" stroke-width="2.5"/>')
        out.append(f'<text x="{width - right + 42}" y="{ly + 4}">{name}</text>')
    out.append(f'<text x="{width - right + 12}" y="{top + 100}" font-size="10" fill="#57606a">'
               f'<tspan x="{width - right + 12}">authyy: per user a month</tspan>'
               f'<tspan x="{width - right + 12}" dy="13">4 sign-ins, 80 refreshes,</tspan>'
               f'<tspan x="{width - right + 12}" dy="13">101 profile reads (see</tspan>'
               f'<tspan x="{width - right + 12}" dy="13">docs/performance.md).</tspan>'
               f'<tspan x="{width - right + 12}" dy="13">Cognito: its per-user</tspan>'
               f'<tspan x="{width - right + 12}" dy="13">price only, 10k free.</tspan></text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
