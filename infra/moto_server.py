#!/usr/bin/env python3
"""moto's server (DynamoDB, SES v2, Secrets Manager, ...) with one request handled at a time.

moto rolls a failed TransactWriteItems back by restoring a snapshot of the whole table, taken
when the transaction began. With requests handled in parallel, that restore erases writes other
requests committed meanwhile, which real DynamoDB never does. Serialising requests makes each one
atomic, as in DynamoDB; races between clients still happen, between requests, which is where
the store's conditional writes must settle them.

Its TransactWriteItems saves only the items a transaction names, not the whole table, to undo
them (see `rollback_by_item`): the same all-or-nothing outcome, at a cost that does not grow with
the table.

It also serves GET /moto-api/data.json?service=ses: moto's state dump (the same JSON as
/moto-api/data.json) of that one service only. The whole dump holds every item of every table
the run made, so reading mail through it gets slower with each test; one service's is cheap.

  moto_server.py PORT      serve on 127.0.0.1:PORT until stopped
"""
import json
import signal
import sys
import threading
from urllib.parse import parse_qs

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app


def service_data(service):
    """/moto-api/data.json's dump (moto_api's model_data), of `service`'s models only."""
    from moto.core.model_instances import model_data

    models = model_data.get(service, {})
    out = {}
    for name in sorted(models):
        out[name] = []
        for instance in models[name].instances_tracked:
            fields = {}
            for attr in dir(instance):
                if attr.startswith("_"):
                    continue
                try:
                    value = getattr(instance, attr)
                    json.dumps(value)
                except (TypeError, AttributeError, ValueError):
                    continue
                fields[attr] = value
            out[name].append(fields)
    return {service: out}


class OneAtATime:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            query = parse_qs(environ.get("QUERY_STRING", ""))
            if environ.get("PATH_INFO") == "/moto-api/data.json" and "service" in query:
                body = json.dumps(service_data(query["service"][0])).encode()
                start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
                return [body]
            # Materialise the body inside the lock: the request's work is done by then.
            return list(self.app(environ, start_response))


def rollback_by_item():
    """moto 5.2 undoes a cancelled TransactWriteItems by restoring a deep copy of the whole
    table, taken once per item of the transaction: each transaction costs the size of the table
    times its items (an import of 10,000 accounts, hours). This keeps moto's own transaction
    code and outcome, with its table copies made no-ops, and undoes a cancelled transaction by
    putting back the items it names, each saved (as a copy) before it ran."""
    import copy

    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    class TablesUncopied:
        """`copy` as moto's backend module sees it: a table is not copied (the rollback below
        replaces that copy); anything else is, as before."""

        @staticmethod
        def deepcopy(value, *args):
            return value if isinstance(value, Table) else copy.deepcopy(value, *args)

    models.copy = TablesUncopied
    transact = DynamoDBBackend.transact_write_items

    def key_of(backend, item):
        _, op = next(iter(item.items()))
        table = backend.get_table(op["TableName"])
        attrs = op.get("Key") or op.get("Item") or {}
        hash_value = DynamoType(attrs[table.hash_key_attr])
        range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
        return table, hash_value, range_value

    def transact_write_items(self, transact_items):
        saved = []
        for item in transact_items[:100]:
            try:
                table, h, r = key_of(self, item)
            except Exception:  # noqa: BLE001 moto's own code refuses it
                continue
            saved.append((table, h, r, copy.deepcopy(table.get_item(h, r))))
        try:
            return transact(self, transact_items)
        except Exception:
            for table, h, r, before in reversed(saved):
                if r is None:
                    table.items.pop(h, None) if before is None else table.items.__setitem__(h, before)
                    continue
                if before is None:
                    table.items[h].pop(r, None)
                    if not table.items[h]:
                        del table.items[h]
                else:
                    table.items[h][r] = before
            raise

    DynamoDBBackend.transact_write_items = transact_write_items


def main():
    rollback_by_item()
    port = int(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple("127.0.0.1", port, OneAtATime(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
