"""An HTTP hook for authyy's hook tests: each request's Standard Webhooks signature is verified
with the reference library (`standardwebhooks`), not authyy's code, and the answer depends on
the path.

    python hook_receiver.py SECRET

Prints one line of JSON, {"base": "http://127.0.0.1:<port>"}, once it listens on a free port;
exits when its standard input closes. Paths (POST):

  /allow      {"allow": true}
  /deny       {"allow": false, "detail": "Sign up with your work address"}
  /metadata   {"allow": true, "app_metadata": {"plan": "trial", "source": "hook"}}
  /claims     {"claims": {"tenant": <the user's app_metadata.tenant>, "sub": <echoed>}}
  /reserved   {"claims": {"scope": "user admin"}}
  /large      {"claims": {"blob": 3000 characters}}
  /migrate    user_migration: {"user": {"username": "legacy.user", "email_verified": true,
              "app_metadata": {"source": "legacy"}}} for an email that starts with "legacy"
              and no password, or the password LEGACY_PASSWORD exactly; else {"user": null}
  /slow       waits 3 s, then {"allow": true, "claims": {}}
  /fail       500
  /garbage    200, not JSON
  /redirect   302 to /allow

It also stands in for the Lambda Invoke API (POST /2015-03-31/functions/NAME/invocations, the
request signed with SigV4, which is not checked), answering by function name:

  metadata    {"allow": true, "app_metadata": {"plan": "trial", "source": "lambda"}}
  deny        {"allow": false, "detail": "Sign up with your work address"}
  claims      {"claims": {"via": "lambda"}}
  crash       the function's own error (X-Amz-Function-Error: Unhandled)
  (other)     404 ResourceNotFoundException

These are listed with "path": "lambda:NAME" and "verified": whether a SigV4 header came.

GET /received?contains=TEXT lists what was received whose body contains TEXT, each as
{"path", "event", "verified"}: a request whose signature did not verify is answered 401 and
listed with "verified": false.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

WEBHOOK = Webhook(sys.argv[1])
INVOKE_PREFIX = "/2015-03-31/functions/"
# The old system's password of every "legacy" user (with U+FB01, which NFKC would change).
LEGACY_PASSWORD = "old system \ufb01ne password"
RECEIVED = []
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlsplit(self.path)
        contains = parse_qs(url.query).get("contains", [""])[0]
        with LOCK:
            found = [r for r in RECEIVED if contains in r["raw"]]
        self.answer(200, [{k: v for k, v in r.items() if k != "raw"} for r in found])

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("content-length", "0") or 0))
        path = urlsplit(self.path).path
        headers = {k.lower(): v for k, v in self.headers.items()}
        if path.startswith(INVOKE_PREFIX) and path.endswith("/invocations"):
            return self.invoke(unquote(path[len(INVOKE_PREFIX):-len("/invocations")]), raw, headers)
        try:
            event = WEBHOOK.verify(raw, headers)
            verified = True
        except WebhookVerificationError:
            event, verified = None, False
        with LOCK:
            RECEIVED.append({"path": path, "event": event, "verified": verified, "raw": raw.decode("utf-8", "replace")})
        if not verified:
            return self.answer(401, {"error": "bad signature"})
        if path == "/allow":
            return self.answer(200, {"allow": True})
        if path == "/deny":
            return self.answer(200, {"allow": False, "detail": "Sign up with your work address"})
        if path == "/metadata":
            return self.answer(200, {"allow": True, "app_metadata": {"plan": "trial", "source": "hook"}})
        if path == "/migrate":
            known = event["email"].startswith("legacy") and event.get("password", LEGACY_PASSWORD) == LEGACY_PASSWORD
            user = {"username": "legacy.user", "email_verified": True, "app_metadata": {"source": "legacy"}}
            return self.answer(200, {"user": user if known else None})
        if path == "/claims":
            user, claims = event["user"], event["claims"]
            return self.answer(200, {"claims": {"tenant": user["app_metadata"].get("tenant"), "sub": claims["sub"]}})
        if path == "/reserved":
            return self.answer(200, {"claims": {"scope": "user admin"}})
        if path == "/large":
            return self.answer(200, {"claims": {"blob": "x" * 3000}})
        if path == "/slow":
            time.sleep(3)
            return self.answer(200, {"allow": True, "claims": {}})
        if path == "/fail":
            return self.answer(500, {"error": "hook crashed"})
        if path == "/garbage":
            return self.answer(200, b"<html>not json</html>")
        if path == "/redirect":
            return self.answer(302, {}, [("location", "/allow")])
        return self.answer(404, {"error": "no such hook"})

    def invoke(self, function, raw, headers):
        signed = headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 ")
        try:
            event = json.loads(raw)
        except ValueError:
            event = None
        with LOCK:
            RECEIVED.append({"path": f"lambda:{function}", "event": event, "verified": signed, "raw": raw.decode("utf-8", "replace")})
        if function == "metadata":
            return self.answer(200, {"allow": True, "app_metadata": {"plan": "trial", "source": "lambda"}})
        if function == "deny":
            return self.answer(200, {"allow": False, "detail": "Sign up with your work address"})
        if function == "claims":
            return self.answer(200, {"claims": {"via": "lambda"}})
        if function == "crash":
            error = {"errorMessage": "hook crashed", "errorType": "Error"}
            return self.answer(200, error, [("x-amz-function-error", "Unhandled")])
        message = {"__type": "ResourceNotFoundException", "Message": f"Function not found: {function}"}
        return self.answer(404, message, [("x-amzn-errortype", "ResourceNotFoundException")])


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()
print(json.dumps({"base": f"http://127.0.0.1:{server.server_address[1]}"}), flush=True)
sys.stdin.read()
