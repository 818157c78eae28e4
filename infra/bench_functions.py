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
import base64
import email
import email.policy
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import lambda_bench  # noqa: E402
from cost import init_over_floor  # noqa: E402

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


def tokens_in(text):
    """The tokens of the links in a mail (raw MIME, parts quoted-printable or not)."""
    message = email.message_from_string(text, policy=email.policy.default)
    parts = [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"] or [text]
    return re.findall(r"[#?&]token=([A-Za-z0-9_-]+)", " ".join(parts))


class Bench:
    def __init__(self, backend_env, invokes, logins, label, logs, admin, mail):
        self.env, self.invokes, self.logins, self.label = backend_env, invokes, logins, label
        self.logs, self.admin, self.mail = logs, admin, mail
        self.starts = 9
        self.rows = []

    def measure(self, function, events, count=None, expect=(200,), binary=None, memory=256):
        binary = str(BIN / (binary or function))
        with open(self.logs / f"{function}.log", "ab") as log:
            # Init from several starts that stop before their first event (so nothing changes);
            # on SQLite after a checkpoint, as a function would find a file another process
            # closed: the harness kills the processes, which leaves their write-ahead log for the
            # next one to recover, a cost of local mode's SQLite, not of the function.
            # Each start follows one of the floor (hello-world), so the two are measured under
            # the same load: the machine's and the local AWS server's, still busy with the
            # previous function's calls for a moment.
            self.checkpoint()
            inits, floors = [], []
            for _ in range(self.starts):
                floors += lambda_bench.init_times(str(BIN / "hello-world"), 1, env=self.env, name="hello-world", log=log)
                inits += lambda_bench.init_times(binary, 1, env=self.env, name=function, memory_mb=memory, log=log)
            measures, answers = lambda_bench.run(binary, events, count,
                                                 env=self.env, name=function, memory_mb=memory, log=log)
        measures["init_ms"] = statistics.median(inits)
        measures["init_floor_ms"] = statistics.median(floors)
        # The local AWS server answers an odd request with an error of its own under load (its
        # transactions copy the table; it ignores the idempotency token of a retried attempt):
        # counted and shown, not fatal, unless they are more than a few.
        unexpected = [a for a in answers if status_of(a) not in expect]
        if len(unexpected) > max(1, len(answers) // 50):
            raise SystemExit(f"{self.label} {function}: {len(unexpected)} answers not {expect}, e.g. "
                             f"{json.dumps(unexpected[0])[:300]} (log: {self.logs / (function + '.log')})")
        measures["unexpected"] = len(unexpected)
        self.rows.append((function, measures))
        return answers

    def checkpoint(self):
        """Folds SQLite's write-ahead log into the file (nothing to do on the AWS backends)."""
        path = self.env.get("AUTH_SQLITE_PATH")
        if path and Path(path).exists():
            db = sqlite3.connect(path)
            try:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                db.close()

    def many(self, function, events, expect=(200, 201)):
        """Invokes outside the table (to prepare users or tokens), in one process."""
        with open(self.logs / f"{function}.log", "ab") as log:
            _, answers = lambda_bench.run(str(BIN / function), events, env=self.env, name=function, log=log)
        bodies = []
        for a in answers:
            status, body = answer(a)
            if status not in expect:
                raise SystemExit(f"{self.label} {function}: {status} {body}")
            bodies.append(body)
        return bodies

    def once(self, function, ev, expect=(200, 201)):
        return self.many(function, [ev], expect)[0]

    def reset_request(self, address):
        """Stores a reset request for `address` as forgot-password does; returns its id."""
        request = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        expires_at = int(time.time()) + 3600
        path = self.env.get("AUTH_SQLITE_PATH")
        if path:
            db = sqlite3.connect(path)
            try:
                with db:
                    db.execute("INSERT INTO mail_requests (id, kind, email, expires_at) VALUES (?, 'reset', ?, ?)",
                               (request, address, expires_at))
            finally:
                db.close()
        else:
            import boto3  # the local AWS server's own dependency, in .venv
            boto3.client("dynamodb", endpoint_url=self.env["AWS_ENDPOINT_URL"], region_name=self.env["AWS_REGION"],
                         aws_access_key_id="testing", aws_secret_access_key="testing").put_item(
                TableName=self.env["AUTH_TABLE_NAME"],
                Item={"pk": {"S": f"MAILREQ#{request}"}, "sk": {"S": "MAILREQ"}, "kind": {"S": "reset"},
                      "email": {"S": address}, "expires_at": {"N": str(expires_at)}})
        return request

    def access_of(self, address, password=PASSWORD):
        return self.once("login", event("login", {"email": address, "password": password}))["tokens"]["access"]["access_token"]

    def promote(self, address):
        """The admin role, as an operator gives it (authyy-admin promote)."""
        subprocess.run([self.admin, *self.mail["admin_args"], "promote", address], env={**os.environ, **self.env},
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def suite(self, tag):
        n = self.invokes
        address = lambda i: f"b{tag}_{i}@example.com"
        # A fresh SQLite file gets its migrations and first signing key from the first function
        # that starts on it: not in the table.
        self.once("discovery", event("discovery.jwks"))
        hello = event("me")
        self.measure("hello-world", [hello] * n)
        # Accounts: signup hashes a password per invoke (argon2), each with a new address.
        # Who is who: 0 logs in (and its sessions log out), 1 lists its sessions, 2 is the
        # admin, 3 changes its password and email, 4.. reset their passwords, the last half
        # delete their accounts.
        users = min(n, 100)
        signups = lambda i, _: event("signup", {"username": f"b{tag}_{i}", "email": address(i), "password": PASSWORD})
        self.measure("signup", signups, users, expect=(201,), memory=1024)
        login = event("login", {"email": address(0), "password": PASSWORD})
        logins = self.measure("login", [login] * self.logins, memory=1024)
        tokens = [answer(a)[1]["tokens"] for a in logins if status_of(a) == 200]
        access = tokens[0]["access"]["access_token"]
        self.measure("me", [event("me", bearer=access)] * n)
        # Refresh: each invoke spends the token the last one answered with.
        current = [tokens[1]["refresh"]["refresh_token"]]

        def refreshes(_i, previous):
            # (After an odd error the same token again: within the grace window it still works.)
            if previous is not None and status_of(previous) == 200:
                current[0] = answer(previous)[1]["tokens"]["refresh"]["refresh_token"]
            return event("refresh", bearer=current[0])
        self.measure("refresh", refreshes, n)
        # A user with one session lists it; the login user above has hundreds.
        self.measure("sessions", [event("sessions.list", bearer=self.access_of(address(1)))] * n)
        # Logout ends a session per invoke: the login run's sessions, newest first.
        self.measure("logout", [event("logout", bearer=t["access"]["access_token"]) for t in reversed(tokens[2:])])
        self.promote(address(2))
        admin = self.access_of(address(2))
        self.measure("list-users", [event("list-users", bearer=admin)] * n)
        self.admin_routes(tag, admin, self.access_of(address(1)))
        self.measure("forgot-password", [event("forgot-password", {"email": address(0)})] * n)
        self.measure("resend-verification", [event("resend-verification", {"email": address(0)})] * n)
        self.measure("verify-email", [event("verify-email", {"token": "A" * 43})] * n, expect=(400,))
        # The mailer delivers reset mail (a token written, a mail sent) for users 4..; the last
        # of each user's mails carries the token their reset spends.
        resetters = [address(4 + i) for i in range(max(1, min(n, users // 2 - 4, 40)))]
        # Each job names a reset request forgot-password would have recorded (one per job).
        jobs = [sqs_event({"v": 2, "kind": "password_reset", "request": self.reset_request(resetters[i % len(resetters)])})
                for i in range(n)]
        self.measure("mailer", jobs)
        resets = [event("reset-password", {"token": self.newest_token(a), "password": OTHER_PASSWORD}) for a in resetters]
        self.measure("reset-password", resets, memory=1024)
        # User 3 changes its password back and forth from one session, then its email.
        own = self.access_of(address(3))
        passwords = [PASSWORD, OTHER_PASSWORD]
        changes = [event("change-password", {"current_password": passwords[i % 2], "new_password": passwords[(i + 1) % 2]},
                         bearer=own) for i in range(min(n, 50))]
        self.measure("change-password", changes, memory=1024)
        now_password = passwords[len(changes) % 2]
        moves = [event("change-email", {"new_email": f"b{tag}_moved{i}@example.com", "password": now_password},
                       bearer=own) for i in range(min(n, 50))]
        self.measure("change-email", moves, expect=(202,), memory=1024)
        leaving = [address(i) for i in range(users // 2, users)]
        logged_in = self.many("login", [event("login", {"email": a, "password": PASSWORD}) for a in leaving])
        erase = [event("delete-account", {"password": PASSWORD}, bearer=t["tokens"]["access"]["access_token"])
                 for t in logged_in]
        self.measure("delete-account", erase, expect=(204,), memory=1024)
        self.second_factors(tag, min(n, 30))
        self.passkeys(tag, min(n, 100))
        self.measure("discovery", [event("discovery.jwks")] * n)
        self.measure("docs", [event("docs.openapi")] * n, memory=128)
        self.measure("hello-world", [hello] * n)

    def admin_routes(self, tag, admin, user):
        """The admin API (an admin reads a user; deletes accounts made for it), and the routes
        of sign-in with other providers that need no provider: the user's identities, and a
        token exchange with a code that was never issued (a read, then 400)."""
        me = self.once("me", event("me", bearer=user))
        self.measure("admin-users", [event("admin-users.get", bearer=admin, path=f"/auth/admin/users/{me['id']}")]
                     * self.invokes)
        doomed = [f"b{tag}_gone{i}" for i in range(min(self.invokes, 30))]
        made = self.many("signup", [event("signup", {"username": u, "email": f"{u}@example.com", "password": PASSWORD})
                                    for u in doomed])
        deletes = [event("admin-delete-user", bearer=admin, path=f"/auth/admin/users/{m['id']}") for m in made]
        self.measure("admin-delete-user", deletes, expect=(204,))
        self.measure("identities", [event("identities.list", bearer=user)] * self.invokes)
        unknown = {"code": "A" * 43, "code_verifier": "B" * 43}
        self.measure("oauth", [event("oauth.token", unknown)] * self.invokes, expect=(400,))

    def second_factors(self, tag, m):
        """`m` new verified users: one starts an enrolment again and again (mfa); each turns TOTP
        on, then signs in with a code (login-mfa). Codes come from pyotp, not the server's code."""
        import pyotp  # in .venv (infra/bench.sh installs it)
        addresses = [f"b{tag}_mfa{i}@example.com" for i in range(m)]
        self.many("signup", [event("signup", {"username": f"b{tag}_mfa{i}", "email": a, "password": PASSWORD})
                             for i, a in enumerate(addresses)])
        for a in addresses:
            self.verify(a)
        logged_in = self.many("login", [event("login", {"email": a, "password": PASSWORD}) for a in addresses])
        access = [t["tokens"]["access"]["access_token"] for t in logged_in]
        start = lambda bearer: event("mfa.start-totp", bearer=bearer)
        self.measure("mfa", [start(access[0])] * self.invokes, memory=1024)
        secrets = [pyotp.TOTP(b["secret"]) for b in self.many("mfa", [start(t) for t in access])]
        # Each confirm spends its step's code; a later step's code signs in (a step is used once).
        steps = []

        def confirm(i, _previous):
            steps.append(int(time.time()) // 30)
            return event("mfa.confirm-totp", {"code": secrets[i].at(steps[-1] * 30), "password": PASSWORD},
                         bearer=access[i])
        with open(self.logs / "mfa.log", "ab") as log:
            _, answers = lambda_bench.run(str(BIN / "mfa"), confirm, m, env=self.env, name="mfa", log=log)
        refused = [a for a in answers if status_of(a) != 200]
        if refused:
            raise SystemExit(f"{self.label} mfa: a confirm answered {json.dumps(refused[0])[:300]}")
        challenged = self.many("login", [event("login", {"email": a, "password": PASSWORD}) for a in addresses])
        now = int(time.time()) // 30
        second = [event("login-mfa", {"mfa_token": c["mfa_token"], "code": secrets[i].at(max(steps[i] + 1, now) * 30)})
                  for i, c in enumerate(challenged)]
        self.measure("login-mfa", second)

    def passkeys(self, tag, m):
        """A verified user registers a passkey (passkeys: then its list, warm), and signs in with
        it `m` times (passkey-login), each with a challenge of its own. The credentials come from
        the tests' software authenticator (shared/tests/api/authenticator.py), not authyy's code."""
        sys.path.insert(0, str(ROOT / "shared" / "tests" / "api"))
        import authenticator  # noqa: E402 (needs cbor2, which infra/bench.sh installs)
        address, origin = f"b{tag}_pk@example.com", "http://localhost:3000"
        self.once("signup", event("signup", {"username": f"b{tag}_pk", "email": address, "password": PASSWORD}))
        self.verify(address)
        access = self.access_of(address)
        options = self.once("passkeys", event("passkeys.register-options", bearer=access))
        made = authenticator.create({"options": options["publicKey"], "origin": origin, "alg": -7, "fmt": "none"})
        register = {"challenge_id": options["challenge_id"], "credential": made["credential"], "password": PASSWORD}
        self.once("passkeys", event("passkeys.register", register, bearer=access), expect=(201,))
        self.measure("passkeys", [event("passkeys.list", bearer=access)] * self.invokes, memory=1024)
        challenges = self.many("passkey-login", [event("passkey-login.options", {})] * m)
        sign_ins = []
        for i, challenge in enumerate(challenges):
            # Each assertion one count higher than the last (the counter must increase).
            key = dict(made["key"], sign_count=i)
            got = authenticator.get({"options": challenge["publicKey"], "origin": origin, "key": key})
            sign_ins.append(event("passkey-login", {"challenge_id": challenge["challenge_id"],
                                                    "credential": got["credential"]}))
        self.measure("passkey-login", sign_ins)

    def verify(self, address):
        """A verified address, as an operator marks one (authyy-admin verify)."""
        subprocess.run([self.admin, *self.mail["admin_args"], "verify", address], env={**os.environ, **self.env},
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def newest_token(self, address):
        """The token of the newest mail to `address`: the outbox's .eml files, or SES's mail on
        the local AWS server."""
        if "outbox" in self.mail:
            texts = [p.read_text() for p in sorted(Path(self.mail["outbox"]).glob("*.eml"))]
            texts = [t for t in texts if f"To: {address}" in t]
        else:
            with urllib.request.urlopen(f"{self.mail['aws']}/moto-api/data.json?service=ses", timeout=60) as r:
                sent = json.load(r)["ses"]["Message"]
            texts = [m["body"] if isinstance(m["body"], str) else m.get("raw_data", "") for m in sent
                     if address in json.dumps(m.get("destinations", {}))]
        found = [t for text in texts for t in tokens_in(text)]
        if not found:
            raise SystemExit(f"{self.label}: no mail with a token to {address}")
        return found[-1]


def status_of(a):
    """An HTTP answer's status; the mailer's SQS answer as 200 when it reports no failure."""
    if isinstance(a, dict) and "batchItemFailures" in a:
        return 500 if a["batchItemFailures"] else 200
    return a.get("statusCode") if isinstance(a, dict) else None


def sqs_event(job):
    """events/mailer.password-reset.json carrying `job`."""
    e = json.loads((ROOT / "events" / "mailer.password-reset.json").read_text())
    e["Records"][0]["body"] = json.dumps(job)
    e["Records"][0]["messageId"] = str(uuid.uuid4())
    return json.dumps(e).encode()


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
    lines = [f"{label}: medians; 'over floor' is against hello-world in the same run (init: its starts"
             f" taken turn about with the function's)",
             f"{'function':<16}{'init ms':>9}{'over floor':>11}{'first ms':>10}{'warm p50':>10}{'warm p99':>10}"
             f"{'p50 over floor':>16}{'peak RSS MB':>13}{'errors':>8}"]
    for function, m in med.items():
        lines.append(f"{function:<16}{m['init_ms']:>9.2f}{init_over_floor(m, floor):>11.2f}{m['first_ms']:>10.2f}"
                     f"{m['warm_p50_ms']:>10.3f}"
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
    p.add_argument("--admin", default=str(ROOT / "target" / "debug" / "authyy-admin"),
                   help="the authyy-admin binary (gives the list-users admin its role)")
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
        backends.append(("SQLite", sqlite, f"s{run}", {"outbox": sqlite["AUTH_OUTBOX_DIR"], "admin_args": []}))
        if args.aws:
            aws = {
                "AUTH_BACKEND": "aws", "AUTH_TABLE_NAME": args.table.format(run=run),
                "AUTH_SIGNING_SECRET_ID": args.secret, "AUTH_PUBLIC_KEYS_SECRET_ID": args.public_secret,
                "AUTH_MAIL_FROM": "no-reply@authyy.test", "AUTH_MAIL_QUEUE_URL": args.queue_url,
                "AUTH_RESET_URL": "http://localhost:3000/reset-password",
                "AUTH_VERIFY_URL": "http://localhost:3000/verify-email",
                "AUTH_ISSUER": "http://localhost:9000/auth",
                "AUTH_IP_LIMITS": "off",
                # Patient SDK limits, one attempt: the local server slows as its table fills
                # (its transactions copy the table), and it ignores the idempotency token of a
                # retried transaction, so a retry after a timeout fails on the first's writes.
                "AUTH_AWS_ATTEMPT_TIMEOUT_MS": "60000", "AUTH_AWS_OPERATION_TIMEOUT_MS": "120000",
                "AUTH_AWS_MAX_ATTEMPTS": "1",
                "AWS_ENDPOINT_URL": args.aws, "AWS_REGION": "eu-west-1",
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            }
            mail = {"aws": args.aws, "admin_args": ["--table", aws["AUTH_TABLE_NAME"]]}
            backends.append(("AWS over moto", aws, f"a{run}", mail))
    results = {}
    for label, env, tag, mail in backends:
        # Over the local AWS server the warm times are the server's (Python, one request at a
        # time, slower as it fills); init and memory are the functions'. Fewer invokes there.
        aws = env.get("AUTH_BACKEND") == "aws"
        invokes, logins = (min(args.invokes, 100), min(args.logins, 50)) if aws else (args.invokes, args.logins)
        b = Bench(env, invokes, logins, label, work, args.admin, mail)
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
