#!/usr/bin/env python3
"""Runs a Lambda function binary the way Lambda does, and times it.

The binary is spawned with AWS_LAMBDA_RUNTIME_API pointing at a minimal Runtime API server of
this script's own (127.0.0.1, a free port), which hands it events and takes its answers:

  init       exec -> the function's first GET /next (everything its main does before serving)
  first      exec -> its first response (init plus the first, cold invoke)
  warm p50/p99   /next answered -> response received, over the warm invokes
  peak RSS   the process's VmHWM after the last invoke

Used by infra/bench.sh, which builds the release binaries and prepares the events; by itself:

  python3 infra/lambda_bench.py BINARY EVENT.json [--invokes 300] [--starts 9] [--env K=V ...]

prints one JSON line of the measures (with --starts, also the init of that many starts that
stop before their first event). Standard library only.
"""
import argparse
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid

PREFIX = "/2018-06-01/runtime"


class RuntimeApi:
    """The Runtime API: GET /invocation/next blocks until an event is offered. HTTP/1.1 over a
    plain socket, parsed by hand, so the harness adds little to what it measures."""

    def __init__(self):
        self.events = queue.Queue()
        self.answers = queue.Queue()
        self.first_next = None
        self.sent_at = {}
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        threading.Thread(target=self.accept, daemon=True).start()

    @property
    def address(self):
        return f"127.0.0.1:{self.listener.getsockname()[1]}"

    def accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        reader = Reader(conn)
        try:
            while True:
                request = reader.request()
                if request is None:
                    return
                method, path, body, at = request
                if method == "GET" and path == f"{PREFIX}/invocation/next":
                    if self.first_next is None:
                        self.first_next = time.perf_counter()
                    event = self.events.get()
                    if event is None:  # the run is over: the process is about to be stopped
                        return
                    request_id = str(uuid.uuid4())
                    deadline = int(time.time() * 1000) + 30_000
                    head = (
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        f"Lambda-Runtime-Aws-Request-Id: {request_id}\r\n"
                        f"Lambda-Runtime-Deadline-Ms: {deadline}\r\n"
                        "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:function:bench\r\n"
                        "Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\n"
                        f"Content-Length: {len(event)}\r\n\r\n"
                    )
                    self.sent_at[request_id] = time.perf_counter()
                    conn.sendall(head.encode() + event)
                    continue
                conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 15\r\n\r\n{\"status\":\"OK\"}")
                parts = path[len(PREFIX):].strip("/").split("/")
                if parts[:1] == ["init"]:
                    self.answers.put(("init-error", None, body, at))
                elif len(parts) == 3 and parts[0] == "invocation":
                    self.answers.put((parts[2], parts[1], body, at))
        except OSError:
            return
        finally:
            conn.close()

    def invoke(self, event, timeout=60):
        """Offers `event`; returns (kind, body, seconds from /next answered to the answer)."""
        self.events.put(event)
        kind, request_id, body, at = self.answers.get(timeout=timeout)
        if kind == "init-error":
            raise RuntimeError(f"the function failed to start: {body.decode(errors='replace')}")
        return kind, body, at - self.sent_at.pop(request_id)

    def close(self):
        self.events.put(None)
        self.listener.close()


class Reader:
    """HTTP/1.1 requests off a socket: Content-Length or chunked bodies."""

    def __init__(self, conn):
        self.conn, self.buf = conn, b""

    def fill(self):
        data = self.conn.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def until(self, mark):
        while mark not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(mark, 1)
        return head

    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def request(self):
        try:
            head = self.until(b"\r\n\r\n")
            at = time.perf_counter()
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body = b""
                while True:
                    size = int(self.until(b"\r\n").split(b";")[0], 16)
                    chunk = self.take(size + 2)[:size]
                    if size == 0:
                        break
                    body += chunk
            else:
                body = self.take(int(headers.get("content-length", "0")))
            return method, path, body, at
        except EOFError:
            return None


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def lambda_env(name, memory_mb, extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "AWS_", "RUST_LOG"))}
    env.update({
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "RUST_LOG": "warn",
    })
    env.update(extra)
    return env


def spawn(binary, env, name, memory_mb, log):
    """`binary` started as Lambda starts it, on a Runtime API of its own: (api, process, the
    perf_counter time of the exec)."""
    api = RuntimeApi()
    environment = lambda_env(name, memory_mb, env or {})
    environment["AWS_LAMBDA_RUNTIME_API"] = api.address
    started = time.perf_counter()
    proc = subprocess.Popen([binary], env=environment, stdout=log or subprocess.DEVNULL,
                            stderr=log or subprocess.DEVNULL)
    return api, proc, started


def run(binary, events, count=None, env=None, name="bench", memory_mb=256, log=None):
    """Spawns `binary`, invokes it `count` times and returns the measures with every answer.

    `events` is a list of events (bytes; the first is the cold invoke), or a function of the
    invoke's number and the previous answer's decoded body (None at first) that returns the
    next event: a refresh takes the token the last one answered with."""
    if not callable(events):
        listed = events
        count = len(listed)
        events = lambda i, _previous: listed[i]
    api, proc, started = spawn(binary, env, name, memory_mb, log)
    answers, warm, previous = [], [], None
    try:
        for i in range(count):
            kind, body, seconds = api.invoke(events(i, previous))
            if i == 0:
                first = time.perf_counter() - started
                init = api.first_next - started
            else:
                warm.append(seconds)
            if kind != "response":
                raise RuntimeError(f"{name}: invoke {i} failed: {body.decode(errors='replace')[:300]}")
            previous = json.loads(body)
            answers.append(previous)
        rss = peak_rss_kib(proc.pid)
    finally:
        api.close()
        proc.kill()
        proc.wait()
    warm.sort()
    return {
        "init_ms": init * 1000,
        "first_ms": first * 1000,
        "warm_p50_ms": statistics.median(warm) * 1000 if warm else None,
        "warm_p99_ms": warm[min(len(warm) - 1, int(0.99 * len(warm)))] * 1000 if warm else None,
        "peak_rss_mb": rss / 1024,
        "invokes": count,
    }, answers


def init_times(binary, count, env=None, name="bench", memory_mb=256, log=None):
    """Starts `binary` `count` times and returns each start's init (exec -> its first
    GET /next, in ms); each process is stopped there, before any invoke, so nothing it would
    do to a store happens and the starts are alike."""
    times = []
    for _ in range(count):
        api, proc, started = spawn(binary, env, name, memory_mb, log)
        try:
            while api.first_next is None:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode} before asking for an event")
                time.sleep(0.0002)
            times.append((api.first_next - started) * 1000)
        finally:
            api.close()
            proc.kill()
            proc.wait()
    return times


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("binary")
    p.add_argument("event")
    p.add_argument("--invokes", type=int, default=300)
    p.add_argument("--starts", type=int, default=0,
                   help="also time this many starts that stop before their first event (init_ms_starts)")
    p.add_argument("--env", action="append", default=[], help="KEY=VALUE for the function")
    args = p.parse_args()
    with open(args.event, "rb") as f:
        event = f.read()
    env = dict(kv.split("=", 1) for kv in args.env)
    measures, answers = run(args.binary, [event] * args.invokes, env=env)
    measures["status"] = answers[-1].get("statusCode")
    measures["last_answer"] = answers[-1]
    if args.starts:
        measures["init_ms_starts"] = init_times(args.binary, args.starts, env=env)
    print(json.dumps(measures))


if __name__ == "__main__":
    sys.exit(main())
