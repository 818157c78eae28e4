#!/usr/bin/env python3
"""moto's server (DynamoDB, SES v2, Secrets Manager, ...) with one request handled at a time.

moto rolls a failed TransactWriteItems back by restoring a snapshot of the whole table, taken
when the transaction began. With requests handled in parallel, that restore erases writes other
requests committed meanwhile, which real DynamoDB never does. Serialising requests makes each one
atomic, as in DynamoDB; races between clients still happen, between requests, which is where
the store's conditional writes must settle them.

  moto_server.py PORT      serve on 127.0.0.1:PORT until stopped
"""
import signal
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app


class OneAtATime:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # Materialise the body inside the lock: the request's work is done by then.
            return list(self.app(environ, start_response))


def main():
    port = int(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple("127.0.0.1", port, OneAtATime(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
