#!/usr/bin/env python3
"""Converts another system's user export to the JSON Lines that `authyy-admin import` reads.

  python3 to_authyy.py django   EXPORT > users.jsonl  # python manage.py dumpdata auth.user
  python3 to_authyy.py firebase EXPORT > users.jsonl  # firebase auth:export FILE --format=json
  python3 to_authyy.py auth0    EXPORT > users.jsonl  # an export job's NDJSON, or the hash export
  python3 to_authyy.py cognito  EXPORT > users.jsonl  # aws cognito-idp list-users

EXPORT may be `-` (standard input) or end in `.gz`. Each line written holds `email`, `username`
and, where the export has them, `email_verified`, `created_at` (epoch seconds), `password_hash`
and `role`. Options:

  --admins superuser|staff   django: give the admin role to superusers, or to staff and
                             superusers (default: nobody)
  --verified                 django: mark every address verified (only if your site checked them)
  --keep-id                  put the source's user id in app_metadata (django_id, firebase_uid,
                             auth0_user_id, cognito_sub) for your own data to find the user by

Usernames are made valid (letters, digits, `_`, `.` and `-`, starting with a letter or digit,
3 to 32 characters; else the email's local part, else `user`) and unique in the file,
compared without case (`-2`, `-3`, ... appended). Only hashes authyy accepts are passed on:
Django's pbkdf2_sha256, bcrypt and argon2 hashes, and Auth0's bcrypt, within authyy's cost
bounds; any other is left out and reported, and that user sets a password with "forgot
password". Users with no email, users disabled in the source, and a second user of an address
already written are left out and reported. Reports go to standard error. Standard library only.
"""
import argparse
import datetime
import gzip
import json
import re
import sys
import unicodedata

ALLOWED = re.compile(r"[A-Za-z0-9_.-]")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
BCRYPT = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")
ARGON2 = re.compile(r"^\$argon2(?:id|i)\$(?:v=(?:16|19)\$)?m=(\d+),t=(\d+),p=(\d+)"
                    r"\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$")
DJANGO_PBKDF2 = re.compile(r"^pbkdf2_sha256\$(\d+)\$[^$]{1,128}\$[A-Za-z0-9+/]{43}=$")


def report(who, message):
    print(f"to_authyy: {who}: {message}", file=sys.stderr)


def checked_hash(value, who):
    """The hash as authyy will take it, or None (reported) when authyy would refuse it."""
    if not value or value.startswith("!"):  # none, or Django's unusable password
        return None
    if value.startswith(("bcrypt$$", "argon2$argon2")):  # Django's prefixes on standard strings
        value = value[len("bcrypt$"):] if value.startswith("b") else value[len("argon2"):]
    m = DJANGO_PBKDF2.match(value)
    if m and 1_000 <= int(m[1]) <= 1_500_000:
        return value
    m = BCRYPT.match(value)
    if m and 4 <= int(m[1]) <= 13:
        return value
    m = ARGON2.match(value)
    if m and 1024 <= int(m[1]) <= 65536 and 1 <= int(m[2]) <= 10 and 1 <= int(m[3]) <= 4:
        return value
    scheme = value.split("$")[1] if value.startswith("$") else value.split("$")[0]
    scheme = "bcrypt" if scheme in ("2a", "2b", "2y") else scheme
    report(who, f"{scheme!r} password hash refused by authyy (its format or its cost): "
                "left out, the user will set a password with forgot password")
    return None


def epoch(value):
    """Epoch seconds from a number or an ISO 8601 time (one with no offset is taken as UTC)."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    # Fractions of 6 digits, and an offset for Z, for Pythons before 3.11.
    text = re.sub(r"\.(\d+)", lambda m: "." + (m[1] + "00000")[:6], value.strip())
    when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return int(when.timestamp())


def valid_username(hint):
    kept = "".join(ALLOWED.findall(hint or "")).lstrip("_.-")
    return kept[:32] if len(kept) >= 3 else None


def django(data, opts):
    for entry in data:
        f = entry.get("fields", {})
        admin = (opts.admins == "superuser" and f.get("is_superuser")) or (
            opts.admins == "staff" and (f.get("is_staff") or f.get("is_superuser")))
        yield {"who": f"django pk {entry.get('pk')}", "email": f.get("email"),
               "hints": [f.get("username")], "disabled": f.get("is_active") is False,
               "email_verified": True if opts.verified else None,
               "created_at": epoch(f.get("date_joined")), "hash": f.get("password"),
               "role": "admin" if admin else None, "id": ("django_id", entry.get("pk"))}


def firebase(data, opts):
    hashes = 0
    for u in data.get("users", []):
        hashes += bool(u.get("passwordHash"))
        yield {"who": f"firebase localId {u.get('localId')}", "email": u.get("email"),
               "hints": [u.get("displayName")], "disabled": bool(u.get("disabled")),
               "email_verified": u.get("emailVerified"),
               "created_at": int(u["createdAt"]) // 1000 if u.get("createdAt") else None,
               "id": ("firebase_uid", u.get("localId"))}
    if hashes:
        report("firebase", f"password hashes left out: {hashes} (Firebase's scrypt, which authyy "
                           "cannot verify); those users will set a password with forgot password")


def auth0(data, opts):
    for u in data:
        uid = u.get("user_id") or "auth0|" + ((u.get("_id") or {}).get("$oid") or "?")
        yield {"who": f"auth0 {uid}", "email": u.get("email"), "hints": [u.get("username")],
               "disabled": bool(u.get("blocked")), "email_verified": u.get("email_verified"),
               "created_at": epoch(u.get("created_at")), "hash": u.get("passwordHash"),
               "id": ("auth0_user_id", uid)}


def cognito(data, opts):
    for u in data.get("Users", []):
        a = {x["Name"]: x.get("Value") for x in u.get("Attributes", [])}
        name = u.get("Username")
        yield {"who": f"cognito {name}", "email": a.get("email"),
               "hints": [a.get("preferred_username"), None if UUID.match(name or "") else name],
               "disabled": u.get("Enabled") is False,
               "email_verified": a.get("email_verified") == "true",
               "created_at": epoch(u.get("UserCreateDate")),
               "id": ("cognito_sub", a.get("sub") or name)}


SOURCES = {"django": django, "firebase": firebase, "auth0": auth0, "cognito": cognito}


def read(path, source):
    opener = gzip.open if path.endswith(".gz") else open
    with (sys.stdin if path == "-" else opener(path, "rt", encoding="utf-8")) as f:
        text = f.read()
    if source == "auth0" and not text.lstrip().startswith("["):  # NDJSON
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", choices=SOURCES)
    p.add_argument("export", help="the export file, or - for standard input")
    p.add_argument("--admins", choices=["superuser", "staff"])
    p.add_argument("--verified", action="store_true")
    p.add_argument("--keep-id", action="store_true")
    opts = p.parse_args()
    try:
        data = read(opts.export, opts.source)
    except (OSError, ValueError) as e:
        sys.exit(f"to_authyy: cannot read {opts.export}: {e}")
    try:
        convert(SOURCES[opts.source](data, opts), opts)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        sys.exit(f"to_authyy: {opts.export} is not a {opts.source} export as expected: {e!r}")


def convert(users, opts):
    emails, names, tried, written, left_out = set(), set(), {}, 0, 0
    for u in users:
        email = (u["email"] or "").strip()
        key = unicodedata.normalize("NFKC", email).lower()
        why = ("no email" if not email else "disabled in the source" if u["disabled"]
               else "address already written for another user" if key in emails else None)
        if why:
            report(u["who"], f"{why}: left out")
            left_out += 1
            continue
        emails.add(key)
        base = next(filter(None, map(valid_username, u["hints"] + [email.split("@")[0]])), "user")
        name, n = base, tried.get(base.lower(), 1)
        while name.lower() in names:
            n += 1
            name = f"{base[:32 - len(str(n)) - 1]}-{n}"
        names.add(name.lower())
        tried[base.lower()] = n
        line = {"email": email, "username": name}
        if u.get("email_verified") is not None:
            line["email_verified"] = bool(u["email_verified"])
        if u.get("created_at") is not None:
            line["created_at"] = u["created_at"]
        password_hash = checked_hash(u.get("hash"), u["who"])
        if password_hash:
            line["password_hash"] = password_hash
        if u.get("role"):
            line["role"] = u["role"]
        if opts.keep_id and u["id"][1] is not None:
            line["app_metadata"] = {u["id"][0]: str(u["id"][1])}
        print(json.dumps(line))
        written += 1
    print(f"to_authyy: {written} users written, {left_out} left out", file=sys.stderr)


if __name__ == "__main__":
    main()
