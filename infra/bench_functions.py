#!/usr/bin/env python3
"""Cold start and warm cost of the functions' release binaries, beside a hello-world floor.

Each function's binary (target/release/<name>, built by infra/bench.sh) runs under the Runtime
API harness of lambda_bench.py with a realistic event from events/, on SQLite (a fresh file) and,
with --aws ENDPOINT, on the AWS backends over a local AWS server set up by infra/bench.sh. The
hello-world binary (infra/hello-world) runs first and last, alternating, as the floor.

  python3 infra/bench_functions.py [--aws ENDPOINT --table T-{run} --secret S --public-secret P --queue-url Q]
                                   [--invokes 300] [--logins 200] [--runs 3]

Prints one table (medians over --runs runs of init, first answer, warm p50/p99 and peak RSS).
"""
import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import lambda_bench  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release"
PASSWORD = "correct horse battery staple 42"
OTHER_PASSWORD = "violet tractor jumps over moon 7"


def event(name, body=None, bearer=None, path=None):
    """events/<name>.json with its body and Authorization replaced."""
    e = json.loads((ROOT / "events" / f"{name}.json").read_text())
    if body is not None:
        e["body"] = json.dumps(body)
        e["isBase64Encoded"] = False
    if bearer is not None:
        e["headers"]["authorization"] = f"Bearer {bearer}"
    if path is not None:
        e["rawPath"] = path
        e["requestContext"]["http"]["path"] = path
    return json.dumps(e).encode()


def answer(resp):
    body = resp.get("body") or "{}"
    return resp.get("statusCode"), json.loads(body) if body.startswith(("{", "[")) else body


class Bench:
    def __init__(self, backend_env, invokes, logins, label, logs):
        self.env, self.invokes, self.logins, self.label = backend_env, invokes, logins, label
        self.logs = logs
        self.rows = []

    def measure(self, function, events, count=None, expect=(200,), binary=None, memory=256):
        with open(self.logs / f"{function}.log", "ab") as log:
            measures, answers = lambda_bench.run(str(BIN / (binary or function)), events, count,
                                                 env=self.env, name=function, memory_mb=memory, log=log)
        # The local AWS server answers an odd request with an error of its own under load (its
        # transactions copy the table; it ignores the idempotency token of a retried attempt):
        # counted and shown, not fatal, unless they are more than a few.
        unexpected = [a for a in answers if a.get("statusCode") not in expect]
        if len(unexpected) > max(1, len(answers) // 50):
            raise SystemExit(f"{self.label} {function}: {len(unexpected)} answers not {expect}, e.g. "
                             f"{unexpected[0].get('statusCode')} {unexpected[0].get('body', '')[:300]} "
                             f"(log: {self.logs / (function + '.log')})")
        measures["unexpected"] = len(unexpected)
        self.rows.append((function, measures))
        return answers

    def once(self, function, ev, expect=(200, 201)):
        """One invoke outside the table (to prepare a user or a token)."""
        _, answers = lambda_bench.run(str(BIN / function), [ev], env=self.env, name=function)
        status, body = answer(answers[0])
        if status not in expect:
            raise SystemExit(f"{self.label} {function}: {status} {body}")
        return body

    def suite(self, tag):
        n = self.invokes
        # A fresh SQLite file gets its migrations and first signing key from the first function
        # that starts on it: not in the table.
        self.once("discovery", event("discovery.jwks"))
        hello = event("me")
        self.measure("hello-world", [hello] * n)
        # Accounts: signup hashes a password per invoke (argon2), each with a new address.
        signups = lambda i, _: event("signup", {"username": f"b{tag}_{i}", "email": f"b{tag}_{i}@example.com",
                                               "password": PASSWORD})
        self.measure("signup", signups, min(n, 100), expect=(201,), memory=1024)
        user = f"b{tag}_0@example.com"
        login = event("login", {"email": user, "password": PASSWORD})
        logins = self.measure("login", [login] * self.logins, memory=1024)
        tokens = [answer(a)[1]["tokens"] for a in logins if a.get("statusCode") == 200]
        access = tokens[0]["access"]["access_token"]
        self.measure("me", [event("me", bearer=access)] * n)
        # Refresh: each invoke spends the token the last one answered with.
        current = [tokens[1]["refresh"]["refresh_token"]]

        def refreshes(_i, previous):
            # (After an odd error the same token again: within the grace window it still works.)
            if previous is not None and previous.get("statusCode") == 200:
                current[0] = answer(previous)[1]["tokens"]["refresh"]["refresh_token"]
            return event("refresh", bearer=current[0])
        self.measure("refresh", refreshes, n)
        # A user with one session lists it; the login user above has hundreds.
        second = f"b{tag}_1@example.com"
        own = self.once("login", event("login", {"email": second, "password": PASSWORD}))
        own_access = own["tokens"]["access"]["access_token"]
        self.measure("sessions", [event("sessions.list", bearer=own_access)] * n)
        # Logout ends a session per invoke: the login run's sessions, newest first.
        self.measure("logout", [event("logout", bearer=t["access"]["access_token"]) for t in reversed(tokens[2:])])
        self.measure("forgot-password", [event("forgot-password", {"email": user})] * n)
        self.measure("verify-email", [event("verify-email", {"token": "A" * 43})] * n, expect=(400,))
        self.measure("discovery", [event("discovery.jwks")] * n)
        self.measure("hello-world", [hello] * n)


def medians(all_rows):
    """{function: measures} with each measure the median over the runs (hello-world: both places)."""
    by = {}
    for rows in all_rows:
        for function, m in rows:
            by.setdefault(function, []).append(m)
    out = {}
    for function, ms in by.items():
        out[function] = {k: statistics.median(m[k] for m in ms) for k in ms[0] if ms[0][k] is not None}
    return out


def table(label, med):
    floor = med["hello-world"]
    lines = [f"{label}: medians; 'over floor' is against hello-world in the same run",
             f"{'function':<16}{'init ms':>9}{'first ms':>10}{'warm p50':>10}{'warm p99':>10}"
             f"{'p50 over floor':>16}{'peak RSS MB':>13}{'errors':>8}"]
    for function, m in med.items():
        lines.append(f"{function:<16}{m['init_ms']:>9.2f}{m['first_ms']:>10.2f}{m['warm_p50_ms']:>10.3f}"
                     f"{m['warm_p99_ms']:>10.3f}{m['warm_p50_ms'] - floor['warm_p50_ms']:>16.3f}"
                     f"{m['peak_rss_mb']:>13.1f}{m.get('unexpected', 0):>8.0f}")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--aws")
    p.add_argument("--table")
    p.add_argument("--secret")
    p.add_argument("--public-secret")
    p.add_argument("--queue-url")
    p.add_argument("--invokes", type=int, default=300)
    p.add_argument("--logins", type=int, default=200)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--json", help="also write the medians here")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="authyy-bench-"))
    backends = []
    for run in range(args.runs):
        sqlite = {
            "AUTH_SQLITE_PATH": str(work / f"run{run}.sqlite3"),
            "AUTH_OUTBOX_DIR": str(work / "outbox"),
            "AUTH_RESET_URL": "http://localhost:3000/reset-password",
            "AUTH_VERIFY_URL": "http://localhost:3000/verify-email",
            "AUTH_IP_LIMITS": "off",
        }
        backends.append(("SQLite", sqlite, f"s{run}"))
        if args.aws:
            aws = {
                "AUTH_BACKEND": "aws", "AUTH_TABLE_NAME": args.table.format(run=run),
                "AUTH_SIGNING_SECRET_ID": args.secret, "AUTH_PUBLIC_KEYS_SECRET_ID": args.public_secret,
                "AUTH_MAIL_FROM": "no-reply@authyy.test", "AUTH_MAIL_QUEUE_URL": args.queue_url,
                "AUTH_RESET_URL": "http://localhost:3000/reset-password",
                "AUTH_VERIFY_URL": "http://localhost:3000/verify-email",
                "AUTH_ISSUER": "http://localhost:9000/auth",
                "AUTH_IP_LIMITS": "off",
                "AWS_ENDPOINT_URL": args.aws, "AWS_REGION": "eu-west-1",
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            }
            backends.append(("AWS over moto", aws, f"a{run}"))
    results = {}
    for label, env, tag in backends:
        # Over the local AWS server the warm times are the server's (Python, one request at a
        # time, slower as it fills); init and memory are the functions'. Fewer invokes there.
        aws = env.get("AUTH_BACKEND") == "aws"
        invokes, logins = (min(args.invokes, 100), min(args.logins, 50)) if aws else (args.invokes, args.logins)
        b = Bench(env, invokes, logins, label, work)
        print(f"==> {label}, run {tag}", file=sys.stderr)
        b.suite(tag)
        results.setdefault(label, []).append(b.rows)
    out = {}
    for label, runs in results.items():
        med = medians(runs)
        out[label] = med
        print(table(label, med))
        print()
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
