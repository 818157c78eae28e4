"""Password hashes made by implementations other than authyy's, for the import tests: Python's
`bcrypt` package, and the standard library's `hashlib.scrypt` and `hashlib.pbkdf2_hmac` in the
PHC and Django forms another system exports.

    python make_hashes.py   (the password on standard input, as UTF-8, without a newline)

Prints one JSON object: {scheme: hash}.
"""

import base64
import hashlib
import json
import os
import sys

import bcrypt

password = sys.stdin.buffer.read()


def phc_b64(data):
    return base64.b64encode(data).decode().rstrip("=")


salt = os.urandom(16)
bcrypt_2b = bcrypt.hashpw(password, bcrypt.gensalt(rounds=5)).decode()
scrypt = hashlib.scrypt(password, salt=salt, n=2**14, r=8, p=1, maxmem=64 * 1024 * 1024, dklen=32)
pbkdf2_256 = hashlib.pbkdf2_hmac("sha256", password, salt, 10_000, 32)
pbkdf2_512 = hashlib.pbkdf2_hmac("sha512", password, salt, 10_000, 64)
django_salt = "Zq8kVd3pTnW1xR7mLs2bQe"
django = hashlib.pbkdf2_hmac("sha256", password, django_salt.encode(), 20_000, 32)

print(json.dumps({
    "bcrypt_2b": bcrypt_2b,
    # The same algorithm under the prefixes older libraries (PHP's, OpenBSD's) wrote.
    "bcrypt_2a": "$2a$" + bcrypt_2b[4:],
    "bcrypt_2y": "$2y$" + bcrypt_2b[4:],
    "scrypt": f"$scrypt$ln=14,r=8,p=1${phc_b64(salt)}${phc_b64(scrypt)}",
    "pbkdf2_sha256": f"$pbkdf2-sha256$i=10000,l=32${phc_b64(salt)}${phc_b64(pbkdf2_256)}",
    "pbkdf2_sha512": f"$pbkdf2-sha512$i=10000,l=64${phc_b64(salt)}${phc_b64(pbkdf2_512)}",
    "django": f"pbkdf2_sha256$20000${django_salt}${base64.b64encode(django).decode()}",
}))
