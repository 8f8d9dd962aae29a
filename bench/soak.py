#!/usr/bin/env python3
"""pigw's soak test: hundreds of concurrent clients for a bounded time while the mock upstream injects faults.

Starts bench/mock_upstream.py with fault injection (resets before the head and mid-stream, clean
cuts mid-stream, stalls before the first byte and mid-stream, 429 with Retry-After 0 or 1, and
500/502/503 in each provider's error shape) and pigw (`python3 dist/pigw.pyz`, or --pigw-cmd) with
a temporary auth dir whose models.json points an `openai-completions` and an `anthropic-messages`
provider at the mock. Streaming clients, and some non-stream ones, loop requests on keep-alive
connections to /v1/chat/completions and /v1/messages through both providers: first a warm-up,
then --seconds of soak. Every answer must be a full answer or a proper error (an HTTP error with
the API's error JSON, or a well-formed SSE error frame); anything else is a failure, printed with
details. pigw's threads, RSS, open fds and sockets are read from /proc at baseline (idle after the
warm-up), during the soak (peak) and after it (idle again). Verdict PASS (exit 0) or FAIL (exit 1).
Loopback only, stdlib only; every request has a deadline and the run always ends by itself.

Usage: python3 bench/soak.py [--quick] [--seconds N] [--clients N] [--json PATH] [--pigw-cmd CMD]
"""

import argparse
import asyncio
import collections
import http.client
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time

from harness import (
    KEY,
    ROOT,
    Processes,
    established,
    free_port,
    pigw_argv,
    pigw_environment,
    proc_cpu,
    proc_fds,
    proc_status,
    proc_tree,
    start_mock,
    wait_ready,
    write_models_json,
)
from load import summary as percentiles

MODES = {
    "full": {"seconds": 60.0, "clients": 200, "nonstream_clients": 20, "warmup": 5.0},
    "quick": {"seconds": 10.0, "clients": 50, "nonstream_clients": 5, "warmup": 2.0},
}
# About a quarter of upstream requests are faulted. pigw retries what fails before the first byte
# (reset_head, http_*) up to twice, so few of those reach a client; mid-stream faults always do.
DEFAULT_FAULTS = (
    "reset_head=0.04,reset_mid=0.03,eof_mid=0.02,stall_head=0.02,stall_mid=0.03,"
    "http_429=0.04,http_500=0.03,http_502=0.03,http_503=0.03"
)
# Statuses a proper error may have here: upstream 429/5xx passed on, 502/504 for broken or silent
# upstreams, 503 when pigw is at maxConnections.
ERROR_STATUSES = (429, 500, 502, 503, 504)
SURFACES = ("chat", "messages")
PATHS = {"chat": "/v1/chat/completions", "messages": "/v1/messages"}
SETTLE_S = 10.0  # longest wait for pigw to be idle again
SAMPLE_S = 0.5
MAX_SHOWN = 20  # failures printed in full


def main():
    args = parse_args()
    folder = tempfile.mkdtemp(prefix="pigw-soak-")
    processes = Processes(folder)
    started = time.time()
    try:
        report = run(args, folder, processes)
    except (RuntimeError, OSError) as exc:
        sys.exit("soak failed: %s (logs in %s)" % (exc, folder))
    finally:
        processes.stop_all()
    report["meta"]["duration_s"] = round(time.time() - started, 1)
    report["meta"]["loadavg_end"] = os.getloadavg()
    print(render(report))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)
            handle.write("\n")
    if report["verdict"]["pass"] and not args.keep_logs:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        print("logs kept in %s" % folder)
    return 0 if report["verdict"]["pass"] else 1


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 + 5 clients for 10 s (about 20 s in all)")
    parser.add_argument("--seconds", type=float, help="length of the soak (default 60; quick 10)")
    parser.add_argument("--clients", type=int, help="streaming clients (default 200; quick 50)")
    parser.add_argument("--nonstream-clients", type=int, help="non-stream clients (default 20; quick 5)")
    parser.add_argument("--warmup", type=float, help="seconds of load before the baseline (default 5; quick 2)")
    parser.add_argument("--timeout", type=float, default=30.0, help="deadline of one request, in seconds")
    parser.add_argument("--faults", default=DEFAULT_FAULTS, help="mock_upstream.py --faults (kind=rate,...)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the mock's fault RNG")
    parser.add_argument("--stall-ms", type=float, default=2500.0, help="length of a stall fault")
    parser.add_argument("--chunks", type=int, default=20, help="content events per answer")
    parser.add_argument("--chunk-ms", type=float, default=10.0, help="pause between the mock's content events")
    parser.add_argument(
        "--keepalive-seconds", type=float, default=1.0, help="pigw's keepaliveSeconds (so stalls get keepalives)"
    )
    parser.add_argument("--thread-margin", type=int, default=2, help="threads allowed above baseline after")
    parser.add_argument("--rss-margin-mib", type=float, default=10.0, help="RSS allowed above baseline after")
    parser.add_argument("--pyz", default=os.path.join(ROOT, "dist", "pigw.pyz"), help="the pigw.pyz to run")
    parser.add_argument(
        "--pigw-cmd", help="command starting pigw instead of `python3 PYZ`; `--port N --auth-dir DIR` are appended"
    )
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON here")
    parser.add_argument("--keep-logs", action="store_true", help="keep the work folder (pigw.log, mock.log) on PASS")
    args = parser.parse_args()
    mode = MODES["quick" if args.quick else "full"]
    for name, value in mode.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if not args.pigw_cmd and not os.path.exists(args.pyz):
        sys.exit("%s is missing: build it with `python3 build_zipapp.py`, or pass --pigw-cmd" % args.pyz)
    return args


# --------------------------------------------------------------------------- the run


def run(args, folder, processes):
    mock_options = ["--faults", args.faults, "--seed", str(args.seed), "--stall-ms", str(args.stall_ms)]
    mock_port = start_mock(processes, mock_options)[1]
    shape = "-c%d-d%g" % (args.chunks, args.chunk_ms)
    write_models_json(folder, mock_port, ("mock" + shape,), ("claude-mock" + shape,))
    with open(os.path.join(folder, "gateway.json"), "w") as handle:
        json.dump({"keepaliveSeconds": args.keepalive_seconds}, handle)
    port = free_port()
    pigw = processes.start("pigw", pigw_argv(args.pigw_cmd, args.pyz, port, folder), pigw_environment(folder))
    wait_ready(pigw, port, time.perf_counter())
    watcher = Watcher(proc_tree(pigw.pid), port, mock_port)
    log = PigwLog(os.path.join(folder, "pigw.log"))
    expected = "".join("tok%d " % number for number in range(args.chunks))
    kinds = client_kinds(args, port, shape, expected)
    report = {"meta": meta(args, folder), "process": {"start": watcher.sample()}}

    warmup = asyncio.run(load(kinds, port, args.warmup, args.timeout, "warmup"))
    report["process"]["baseline"], report["process"]["baseline_settle_s"] = watcher.settle()
    faults_before = mock_faults(mock_port)
    log.mark()
    cpu_before = proc_cpu(watcher.pids)
    watcher.start()
    soak = asyncio.run(load(kinds, port, args.seconds, args.timeout, "soak"))
    report["process"]["peak"] = watcher.stop()
    report["process"]["rss_timeline_mib"] = watcher.rss_timeline
    report["pigw_cpu_s"] = round(proc_cpu(watcher.pids) - cpu_before, 2)
    baseline = report["process"]["baseline"]
    report["process"]["after"], report["process"]["after_settle_s"] = watcher.settle(
        baseline["threads"] + args.thread_margin, baseline["rss_mib"] + args.rss_margin_mib
    )
    report["pigw_log"] = log.read()
    faults_after = mock_faults(mock_port)
    report["upstream_requests"] = faults_after["requests"] - faults_before["requests"]
    report["faults"] = {
        kind: faults_after["faults"][kind] - faults_before["faults"][kind] for kind in faults_after["faults"]
    }
    report["warmup"] = warmup.summary()
    report["soak"] = soak.summary()
    report["failures"] = warmup.failures + soak.failures
    report["verdict"] = verdict(report, args)
    return report


def meta(args, folder):
    return {
        "mode": "quick" if args.quick else "full",
        "seconds": args.seconds,
        "warmup_s": args.warmup,
        "clients": args.clients,
        "nonstream_clients": args.nonstream_clients,
        "timeout_s": args.timeout,
        "faults": args.faults,
        "seed": args.seed,
        "stall_ms": args.stall_ms,
        "chunks": args.chunks,
        "chunk_ms": args.chunk_ms,
        "keepalive_seconds": args.keepalive_seconds,
        "python": sys.version.split()[0],
        "nproc": os.cpu_count(),
        "pigw": args.pigw_cmd or "%s %s" % (sys.executable, args.pyz),
        "work_folder": folder,
    }


def mock_faults(port):
    """The mock's counts: upstream requests to model routes and faults drawn, so far."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/_mock/faults")
    data = json.loads(connection.getresponse().read())
    connection.close()
    return data


# --------------------------------------------------------------------------- clients


class Kind:
    """One kind of client: API surface, upstream provider, stream or not; its request and the text it expects."""

    def __init__(self, surface, model, stream, port, expected):
        self.surface = surface
        self.stream = stream
        self.expected = expected
        self.name = "%s %s via %s" % (surface, "stream" if stream else "non-stream", model.split("/")[0])
        body = {"model": model, "max_tokens": 256, "messages": [{"role": "user", "content": "Say hello."}]}
        if stream:
            body["stream"] = True
            if surface == "chat":
                body["stream_options"] = {"include_usage": True}
        if surface == "chat":
            auth = "Authorization: Bearer %s\r\n" % KEY
        else:
            auth = "x-api-key: %s\r\nanthropic-version: 2023-06-01\r\n" % KEY
        data = json.dumps(body).encode()
        self.head = "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n%s" % (
            PATHS[surface],
            port,
            auth,
        )
        self.tail = ("Content-Length: %d\r\n\r\n" % len(data)).encode() + data

    def request(self, request_id):
        """The request's bytes; pigw logs request_id as the request's id."""
        return (self.head + "x-client-request-id: %s\r\n" % request_id).encode() + self.tail


def client_kinds(args, port, shape, expected):
    """The kind of each client: streaming clients first; surfaces alternate, and upstreams every second client."""
    models = ("mock/mock" + shape, "mockanthropic/claude-mock" + shape)
    kinds = []
    for count, stream in ((args.clients, True), (args.nonstream_clients, False)):
        for number in range(count):
            kinds.append(Kind(SURFACES[number % 2], models[number // 2 % 2], stream, port, expected))
    return kinds


async def load(kinds, port, seconds, timeout, phase):
    """Every client loops requests for `seconds`; requests under way then may take up to `timeout` more."""
    loop = asyncio.get_running_loop()
    tally = Tally(phase, loop.time(), seconds)
    end = loop.time() + seconds
    await asyncio.gather(*(client(number, kind, port, end, timeout, tally) for number, kind in enumerate(kinds)))
    return tally


async def client(number, kind, port, end, timeout, tally):
    loop = asyncio.get_running_loop()
    connection = Connection(port)
    sequence = 0
    while loop.time() < end:
        sequence += 1
        request_id = "soak-%s-%d-%d" % (tally.phase, number, sequence)
        answer = Answer()
        started = loop.time()
        try:
            await asyncio.wait_for(connection.exchange(kind.request(request_id), answer), timeout)
        except asyncio.TimeoutError:
            answer.problem = ("hang", "no complete answer within %g s" % timeout)
        except asyncio.IncompleteReadError:
            answer.problem = ("connection closed mid-answer", "the connection closed before the end of the body")
        except (OSError, ValueError) as exc:
            answer.problem = ("connection error", "%s: %s" % (type(exc).__name__, exc))
        if answer.problem is not None:
            connection.close()
        tally.add(kind, answer, request_id, loop.time() - started)
    connection.close()


class Answer:
    """What came back for one request, as far as it got."""

    __slots__ = ("status", "close", "reused", "pieces", "problem")

    def __init__(self):
        self.status = None
        self.close = False
        self.reused = False
        self.pieces = []  # body bytes (de-chunked)
        self.problem = None  # (failure label, detail) of a transport failure

    def body(self):
        return b"".join(self.pieces)


class Connection:
    """A keep-alive HTTP/1.1 connection to pigw, opened on first use and again after a close."""

    def __init__(self, port):
        self.port = port
        self.reader = self.writer = None

    async def exchange(self, request, answer):
        """Send the request and read the whole answer into `answer`."""
        answer.reused = self.writer is not None
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = self.reader
        self.writer.write(request)
        line = await reader.readline()
        if not line:
            raise ConnectionError("the connection closed before the status line")
        words = line.split(None, 2)
        if len(words) < 2 or not words[0].startswith(b"HTTP/") or not words[1].isdigit():
            raise ValueError("a bad status line: %r" % line[:100])
        answer.status = int(words[1])
        chunked, length = False, None
        while True:
            line = await reader.readline()
            if not line.endswith(b"\n"):
                raise asyncio.IncompleteReadError(line, None)
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"transfer-encoding":
                chunked = b"chunked" in value
            elif name == b"content-length":
                length = int(value)
            elif name == b"connection":
                answer.close = value == b"close"
        if chunked:
            while True:
                line = await reader.readline()
                if not line.endswith(b"\n"):
                    raise asyncio.IncompleteReadError(line, None)
                size = int(line.split(b";")[0], 16)
                data = await reader.readexactly(size + 2)
                if data[-2:] != b"\r\n":
                    raise ValueError("a chunk of %d bytes is not followed by CRLF" % size)
                if not size:
                    break
                answer.pieces.append(data[:-2])
        elif length is not None:
            answer.pieces.append(await reader.readexactly(length))
        else:
            answer.pieces.append(await reader.read())
            answer.close = True
        if answer.close:
            self.close()

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


# --------------------------------------------------------------------------- judging answers


def judge(kind, status, body):
    """("full" | "error" | "failure", label, detail) of a whole answer."""
    if status != 200:
        return judge_error(kind, status, body)
    if not kind.stream:
        return judge_body(kind, body)
    events, rest = sse_events(body)
    if rest.strip():
        return "failure", "bad SSE", "the stream ends inside an SSE event: %r" % rest[-200:]
    judge_stream = judge_chat_stream if kind.surface == "chat" else judge_messages_stream
    return judge_stream(kind, events)


def judge_error(kind, status, body):
    """An HTTP error is proper when its body is the API's error JSON and its status one of ERROR_STATUSES."""
    try:
        value = json.loads(body)
    except ValueError:
        return "failure", "non-JSON error body", "HTTP %d: %r" % (status, body[:300])
    envelope = error_envelope(kind.surface, value)
    if envelope is None:
        return "failure", "error body not in the API's shape", "HTTP %d: %r" % (status, body[:300])
    label, message = envelope
    if b"Traceback" in body or message.startswith("Internal error in pigw"):
        return "failure", "pigw internal error", "HTTP %d: %r" % (status, body[:300])
    if status not in ERROR_STATUSES:
        return "failure", "unexpected status", "HTTP %d: %r" % (status, body[:300])
    return "error", "http %d %s" % (status, label), None


def error_envelope(surface, value):
    """(code or type, message) of a well-formed error body of this surface, else None.

    Chat Completions: {"error": {"message", "type", "param", "code"}};
    Messages: {"type": "error", "error": {"type", "message"}}.
    """
    if not isinstance(value, dict) or (surface == "messages" and value.get("type") != "error"):
        return None
    error = value.get("error")
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return None
    if not isinstance(error.get("type"), str):
        return None
    if surface == "messages":
        return error["type"], error["message"]
    if "param" not in error or "code" not in error:
        return None
    return error["code"] or error["type"], error["message"]


def judge_body(kind, body):
    """A non-stream 200: the whole expected text and a normal stop."""
    try:
        value = json.loads(body)
        if kind.surface == "chat":
            choice = value["choices"][0]
            text, stop = choice["message"]["content"], choice["finish_reason"]
        else:
            text = "".join(block["text"] for block in value["content"] if block["type"] == "text")
            stop = value["stop_reason"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        return "failure", "bad answer body", "%s %s in %r" % (type(exc).__name__, exc, body[:300])
    if text != kind.expected or stop not in ("stop", "end_turn"):
        return (
            "failure",
            "incomplete non-stream answer",
            "%d of %d characters, stop %r"
            % (
                len(text or ""),
                len(kind.expected),
                stop,
            ),
        )
    return "full", "full answer", None


def judge_chat_stream(kind, events):
    """Chat Completions SSE: content deltas, a finish chunk, [DONE]; or an OpenAI error envelope as the last event."""
    texts, finish, done, error = [], None, False, None
    for _name, data in events:
        if done or error is not None:
            return "failure", "bad SSE", "an event after the end: %r" % data[:200]
        if data == "[DONE]":
            done = True
            continue
        try:
            chunk = json.loads(data)
        except ValueError:
            return "failure", "bad SSE", "data that is not JSON: %r" % data[:200]
        if isinstance(chunk, dict) and "error" in chunk:
            error = error_envelope("chat", chunk)
            if error is None:
                return "failure", "bad SSE error frame", data[:300]
            continue
        choices = _dig(chunk, "choices")
        if not isinstance(choices, list):
            return "failure", "bad SSE", "a chunk without a choices list: %r" % data[:200]
        for choice in choices:
            piece = _dig(choice, "delta", "content")
            texts.append(piece if isinstance(piece, str) else "")
            finish = _dig(choice, "finish_reason") or finish
    return _stream_verdict(kind, "".join(texts), error, done and finish == "stop", done, finish)


def judge_messages_stream(kind, events):
    """Messages SSE: message_start ... message_stop; or an `event: error` (Anthropic's envelope) as the last event."""
    texts, stop_reason, stopped, error = [], None, False, None
    for name, data in events:
        if stopped or error is not None:
            return "failure", "bad SSE", "an event after the end: %r" % data[:200]
        try:
            event = json.loads(data)
        except ValueError:
            return "failure", "bad SSE", "data that is not JSON: %r" % data[:200]
        if name == "error":
            error = error_envelope("messages", event)
            if error is None:
                return "failure", "bad SSE error frame", data[:300]
            continue
        if not isinstance(event, dict) or event.get("type") != name:
            return "failure", "bad SSE", "event %r carries %r" % (name, data[:200])
        if name == "content_block_delta":
            piece = _dig(event, "delta", "text")
            texts.append(piece if isinstance(piece, str) else "")
        elif name == "message_delta":
            stop_reason = _dig(event, "delta", "stop_reason")
        elif name == "message_stop":
            stopped = True
    return _stream_verdict(kind, "".join(texts), error, stopped and stop_reason == "end_turn", stopped, stop_reason)


def _stream_verdict(kind, text, error, normal_end, ended, stop):
    if not kind.expected.startswith(text):
        return "failure", "corrupt stream content", "got %r" % text[:200]
    if error is not None:
        return "error", "sse error frame %s" % error[0], None
    if ended and normal_end and text == kind.expected:
        return "full", "full answer", None
    if ended:
        return (
            "failure",
            "clean stop on a faulted stream",
            "%d of %d characters, then a normal end (stop %r)"
            % (
                len(text),
                len(kind.expected),
                stop,
            ),
        )
    return (
        "failure",
        "truncated stream",
        "ended without an end event or an error frame after %d of %d characters"
        % (
            len(text),
            len(kind.expected),
        ),
    )


def _dig(value, *keys):
    """value[key][key]..., or None where a level is not an object or lacks the key."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def sse_events(body):
    """([(event name or None, data)], the unterminated rest) of an SSE body; comment-only blocks are skipped."""
    blocks = body.decode("utf-8", "replace").replace("\r\n", "\n").split("\n\n")
    rest = blocks.pop()
    events = []
    for block in blocks:
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[6:] if line[5:6] == " " else line[5:])
        if data:
            events.append((name, "\n".join(data)))
    return events, rest


class Tally:
    """One phase's answers: counts by outcome, by client kind, latencies, and the failures in detail."""

    def __init__(self, phase, started, seconds):
        self.phase = phase
        self.started = started
        self.seconds = seconds
        self.outcomes = collections.Counter()  # (outcome, label) -> count
        self.by_kind = collections.defaultdict(collections.Counter)
        self.latencies = collections.defaultdict(list)
        self.failures = []

    def add(self, kind, answer, request_id, seconds):
        if answer.problem is not None:
            outcome, (label, detail) = "failure", answer.problem
        else:
            outcome, label, detail = judge(kind, answer.status, answer.body())
        self.outcomes[outcome, label] += 1
        self.by_kind[kind.name][outcome] += 1
        self.latencies["%s, %s" % (outcome, "stream" if kind.stream else "non-stream")].append(seconds)
        if outcome == "failure":
            tail = answer.body()[-300:]
            self.failures.append(
                {
                    "phase": self.phase,
                    "at_s": round(asyncio.get_running_loop().time() - self.started, 2),
                    "client": kind.name,
                    "request_id": request_id,
                    "failure": label,
                    "detail": detail,
                    "status": answer.status,
                    "reused_connection": answer.reused,
                    "seconds": round(seconds, 3),
                    "body_tail": tail.decode("utf-8", "replace"),
                }
            )

    def summary(self):
        requests = sum(self.outcomes.values())
        grouped = {"full": {}, "error": {}, "failure": {}}
        for (outcome, label), count in sorted(self.outcomes.items()):
            grouped[outcome][label] = count
        return {
            "requests": requests,
            "per_s": round(requests / self.seconds, 1),
            "full_answers": sum(grouped["full"].values()),
            "proper_errors": grouped["error"],
            "failures": grouped["failure"],
            "by_client_kind": {name: dict(counts) for name, counts in sorted(self.by_kind.items())},
            "latency_ms": {name: percentiles(values) for name, values in sorted(self.latencies.items())},
        }


# --------------------------------------------------------------------------- pigw's process and log


class Watcher:
    """pigw's process as /proc shows it: threads, RSS, open fds, established sockets; peaks while sampling."""

    def __init__(self, pids, port, mock_port):
        self.pids = pids
        self.port = port
        self.mock_port = mock_port
        self.peak = {}
        self.rss_timeline = []  # (seconds into the sampling, RSS MiB) every SAMPLE_S
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self):
        status = proc_status(self.pids)
        fds, inodes = proc_fds(self.pids)
        connections = established(self.pids[0], inodes)
        return {
            "threads": status[b"Threads"],
            "rss_mib": round(status[b"VmRSS"] / 1024, 1),
            "fds": fds,
            "upstream_sockets": sum(1 for _local, remote in connections if remote == self.mock_port),
            "client_sockets": sum(1 for local, _remote in connections if local == self.port),
        }

    def start(self):
        """Sample every SAMPLE_S until stop(), keeping the highest value of each figure."""
        self.peak = self.sample()
        self._thread.start()

    def stop(self):
        self._done.set()
        self._thread.join()
        self._note(self.sample())
        return self.peak

    def settle(self, threads=None, rss_mib=None):
        """(sample, seconds waited) once pigw is idle, or the last sample after SETTLE_S.

        Idle: no client connection, and threads and RSS at most the limits given; without limits,
        the thread count unchanged over a second.
        """
        started = time.monotonic()
        previous = None
        while True:
            sample = self.sample()
            waited = round(time.monotonic() - started, 2)
            if threads is None:
                idle = previous is not None and previous["threads"] == sample["threads"]
            else:
                idle = sample["threads"] <= threads and sample["rss_mib"] <= rss_mib
            if (idle and not sample["client_sockets"]) or waited >= SETTLE_S:
                return sample, waited
            previous = sample
            time.sleep(1.0 if threads is None else 0.25)

    def _run(self):
        started = time.monotonic()
        while not self._done.wait(SAMPLE_S):
            sample = self.sample()
            self.rss_timeline.append((round(time.monotonic() - started, 1), sample["rss_mib"]))
            self._note(sample)

    def _note(self, sample):
        for name, value in sample.items():
            self.peak[name] = max(self.peak.get(name, value), value)


class PigwLog:
    """pigw's output: its JSON log lines and anything else (tracebacks); counts from a mark on."""

    BANNER = ("pigw ", "pigw: warning: ", "auth dir: ", "models: ")

    def __init__(self, path):
        self.path = path
        self.offset = 0

    def mark(self):
        self.offset = os.path.getsize(self.path)

    def read(self):
        """Requests by status and other events after the mark; internal errors and other output over the whole run."""
        with open(self.path, "rb") as handle:
            data = handle.read()
        statuses, events = collections.Counter(), collections.Counter()
        internal, unexpected = [], []
        position = 0
        for line in data.splitlines(True):
            in_window = position >= self.offset
            position += len(line)
            text = line.decode("utf-8", "replace").rstrip("\n")
            try:
                record = json.loads(text)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                if text.strip() and not text.startswith(self.BANNER):
                    unexpected.append(text)
                continue
            if record.get("level") == "error":
                internal.append(record)
            if in_window and record.get("event") == "request":
                statuses[str(record.get("status"))] += 1
            elif in_window:
                events[str(record.get("event"))] += 1
        return {
            "soak_requests_by_status": dict(sorted(statuses.items())),
            "soak_other_events": dict(sorted(events.items())),
            "error_lines": len(internal),
            "error_samples": internal[:3],
            "other_lines": len(unexpected),
            "other_samples": unexpected[:30],
        }


# --------------------------------------------------------------------------- verdict and report


def verdict(report, args):
    """PASS when no client failed, pigw logged no error or traceback, and its threads and RSS came back."""
    baseline, after = report["process"]["baseline"], report["process"]["after"]
    log = report["pigw_log"]
    requests = report["warmup"]["requests"] + report["soak"]["requests"]
    failures = len(report["failures"])
    checks = [
        ("no client failures", not failures, "%d in %d requests (warm-up and soak)" % (failures, requests)),
        (
            "no error or traceback in pigw's output",
            not (log["error_lines"] or log["other_lines"]),
            "%d error log lines, %d other lines" % (log["error_lines"], log["other_lines"]),
        ),
        (
            "threads back to baseline",
            after["threads"] <= baseline["threads"] + args.thread_margin,
            "%d after, baseline %d + %d" % (after["threads"], baseline["threads"], args.thread_margin),
        ),
        (
            "RSS back within the margin",
            after["rss_mib"] <= baseline["rss_mib"] + args.rss_margin_mib,
            "%.1f MiB after, baseline %.1f + %g MiB" % (after["rss_mib"], baseline["rss_mib"], args.rss_margin_mib),
        ),
    ]
    return {
        "pass": all(ok for _name, ok, _figures in checks),
        "checks": [{"check": name, "ok": ok, "figures": figures} for name, ok, figures in checks],
    }


def render(report):
    meta, soak = report["meta"], report["soak"]
    lines = [
        "pigw soak (%s): %d streaming + %d non-stream clients for %g s after a %g s warm-up; %s"
        % (meta["mode"], meta["clients"], meta["nonstream_clients"], meta["seconds"], meta["warmup_s"], meta["pigw"]),
        "mock: %d chunks %g ms apart; faults %s (seed %d, stalls %g ms); pigw keepaliveSeconds %g"
        % (meta["chunks"], meta["chunk_ms"], meta["faults"], meta["seed"], meta["stall_ms"], meta["keepalive_seconds"]),
        "",
        "%-58s %8s" % ("answers during the soak", "count"),
        "%-58s %8d" % ("full answer", soak["full_answers"]),
    ]
    lines += ["%-58s %8d" % ("proper error: " + label, n) for label, n in soak["proper_errors"].items()]
    lines += ["%-58s %8d" % ("FAILURE: " + label, n) for label, n in soak["failures"].items()]
    lines.append(
        "%-58s %8d  (%.1f/s; pigw CPU %.1f s)" % ("total", soak["requests"], soak["per_s"], report["pigw_cpu_s"])
    )
    lines += ["", "%-40s %8s %9s %9s %9s" % ("latency ms", "n", "p50", "p99", "max")]
    for name, figures in soak["latency_ms"].items():
        lines.append(
            "%-40s %8d %9.1f %9.1f %9.1f" % (name, figures["n"], figures["p50"], figures["p99"], figures["max"])
        )
    lines += ["", "%-40s %8s %9s %9s" % ("by client kind", "full", "error", "failure")]
    for name, counts in soak["by_client_kind"].items():
        lines.append(
            "%-40s %8d %9d %9d" % (name, counts.get("full", 0), counts.get("error", 0), counts.get("failure", 0))
        )
    upstream = report["upstream_requests"]
    lines += ["", "upstream requests the mock saw during the soak: %d; faults injected:" % upstream]
    for kind, count in report["faults"].items():
        lines.append("  %-12s %7d  %5.1f%%" % (kind, count, 100.0 * count / upstream if upstream else 0))
    log = report["pigw_log"]
    lines.append(
        "pigw's log during the soak: requests by status %s; other events %s"
        % (json.dumps(log["soak_requests_by_status"]), json.dumps(log["soak_other_events"]))
    )
    process = report["process"]
    columns = ("start", "baseline", "peak", "after")
    lines += ["", "%-22s" % "pigw process" + "".join("%10s" % column for column in columns)]
    for name, label in (
        ("threads", "threads"),
        ("rss_mib", "RSS MiB"),
        ("fds", "open fds"),
        ("upstream_sockets", "upstream sockets"),
        ("client_sockets", "client sockets"),
    ):
        lines.append("%-22s" % label + "".join("%10s" % process[column][name] for column in columns))
    lines.append(
        "(start: idle before the warm-up; baseline: idle after it, settled in %.1f s; after: settled in %.1f s)"
        % (process["baseline_settle_s"], process["after_settle_s"])
    )
    timeline = process["rss_timeline_mib"]
    step = max(1, len(timeline) // 12)
    lines.append("RSS during the soak (s: MiB): " + ", ".join("%g: %.1f" % point for point in timeline[::step]))
    growth = process["after"]["rss_mib"] - process["baseline"]["rss_mib"]
    lines.append(
        "RSS after - baseline: %+.1f MiB, %+.0f bytes per soak request"
        % (growth, growth * 1048576 / soak["requests"] if soak["requests"] else 0)
    )
    failures = report["failures"]
    if failures:
        lines += ["", "failures: %d (the first %d)" % (len(failures), min(len(failures), MAX_SHOWN))]
        for failure in failures[:MAX_SHOWN]:
            lines.append(
                "  [%s +%.1f s] %s, %s: %s: %s (HTTP %s, %s connection, %.2f s) body ends %r"
                % (
                    failure["phase"],
                    failure["at_s"],
                    failure["client"],
                    failure["request_id"],
                    failure["failure"],
                    failure["detail"],
                    failure["status"],
                    "reused" if failure["reused_connection"] else "new",
                    failure["seconds"],
                    failure["body_tail"][-160:],
                )
            )
    for sample in log["error_samples"] + log["other_samples"]:
        lines.append("  pigw: %s" % (json.dumps(sample)[:400] if isinstance(sample, dict) else sample[:400]))
    verdict = report["verdict"]
    lines += ["", "verdict: %s" % ("PASS" if verdict["pass"] else "FAIL")]
    for check in verdict["checks"]:
        lines.append("  %-4s %-40s %s" % ("ok" if check["ok"] else "FAIL", check["check"], check["figures"]))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
