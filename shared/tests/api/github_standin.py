"""A stand-in for GitHub's OAuth and REST API, shaped as GitHub answers, for authyy's GitHub
sign-in tests: the authorize page (a login form, as drive.mjs fills it), the token endpoint
(client secret by HTTP Basic, the PKCE verifier checked), `/user` and `/user/emails`.

    python github_standin.py CLIENT_ID CLIENT_SECRET

Prints one line of JSON, {"base": "http://127.0.0.1:<port>"}, once it listens on a free port.
It exits when its standard input closes. A login that is an address is that address, primary and
verified; `unverified:<address>` is primary and not verified. Every user also has a verified
secondary address, which must never be the one used.
"""

import base64
import hashlib
import json
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

CLIENT_ID, CLIENT_SECRET = sys.argv[1], sys.argv[2]
PENDING = {}  # authorization in progress: id -> the authorize request's parameters
CODES = {}  # code -> (login, redirect_uri, code_challenge)
TOKENS = {}  # access token -> login


def user_id(login):
    return int.from_bytes(hashlib.sha256(login.encode()).digest()[:4], "big")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body=None, headers=()):
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if body is not None and not isinstance(body, bytes):
            self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def form(self):
        length = int(self.headers.get("content-length", "0"))
        return {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}

    def do_GET(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/login/oauth/authorize":
            if query.get("client_id") != CLIENT_ID:
                return self.answer(404, {"message": "Not Found"})
            pending = secrets.token_urlsafe(8)
            PENDING[pending] = query
            page = (f'<form method="post" action="/session/{pending}">'
                    '<input type="hidden" name="prompt" value="login"/>'
                    '<input name="login"/><input name="password" type="password"/>'
                    '<button type="submit">Sign in</button></form>').encode()
            return self.answer(200, page, [("content-type", "text/html")])
        token = self.headers.get("authorization", "").removeprefix("Bearer ").strip()
        login = TOKENS.get(token)
        if login is None:
            return self.answer(401, {"message": "Bad credentials"})
        unverified = login.startswith("unverified:")
        email = login.removeprefix("unverified:")
        name = email.split("@")[0]
        if url.path == "/user":
            return self.answer(200, {"id": user_id(login), "login": name, "type": "User"})
        if url.path == "/user/emails":
            return self.answer(200, [
                {"email": f"secondary-{email}", "primary": False, "verified": True, "visibility": None},
                {"email": email, "primary": True, "verified": not unverified, "visibility": "private"},
            ])
        return self.answer(404, {"message": "Not Found"})

    def do_POST(self):
        url = urlsplit(self.path)
        if url.path.startswith("/session/"):
            query = PENDING.pop(url.path.removeprefix("/session/"), None)
            if query is None:
                return self.answer(404, {"message": "Not Found"})
            code = secrets.token_urlsafe(16)
            CODES[code] = (self.form()["login"], query["redirect_uri"], query.get("code_challenge"))
            location = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
            return self.answer(302, None, [("location", location)])
        if url.path == "/login/oauth/access_token":
            basic = self.headers.get("authorization", "").removeprefix("Basic ")
            if base64.b64decode(basic or "Og==").decode() != f"{CLIENT_ID}:{CLIENT_SECRET}":
                return self.answer(200, {"error": "incorrect_client_credentials"})
            form = self.form()
            found = CODES.pop(form.get("code", ""), None)
            if found is None or found[1] != form.get("redirect_uri"):
                return self.answer(200, {"error": "bad_verification_code"})
            login, _, challenge = found
            verifier = form.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if digest != challenge:
                return self.answer(200, {"error": "bad_verification_code"})
            token = "gho_" + secrets.token_urlsafe(24)
            TOKENS[token] = login
            return self.answer(200, {"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"})
        return self.answer(404, {"message": "Not Found"})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(json.dumps({"base": f"http://127.0.0.1:{server.server_address[1]}"}), flush=True)
sys.stdin.read()
