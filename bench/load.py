#!/usr/bin/env python3
"""pigw's benchmark in one run: the mock upstream, pigw and the floor proxy, side by side on loopback.

Starts bench/mock_upstream.py, pigw (`python3 dist/pigw.pyz`, or --pigw-cmd) with a temporary
auth dir whose models.json points an `openai-completions` provider at the mock, and the floor
(/work/shared/bench/floor_proxy.py, a bare stdlib pass-through; skipped when missing). Each
scenario is measured against the mock directly, the floor and pigw, one right after the other
(in reverse order every other round), for --rounds rounds; the report gives medians over rounds,
pigw - direct ("added") and pigw / floor (the median of each round's own ratio, so a round the
whole machine ran slow cancels out). Clients are threads on raw keep-alive sockets. Stdlib only.

Usage: python3 bench/load.py [--quick] [--json PATH] [--pigw-cmd CMD] [--rounds N]
"""

import argparse
import hashlib
import itertools
import json
import os
import re
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time

from harness import (  # noqa: F401  (MOCK: profile_pigw.py uses it as load.MOCK)
    KEY,
    MOCK,
    ROOT,
    Processes,
    free_port,
    pigw_argv,
    pigw_environment,
    proc_cpu,
    proc_rss,
    proc_tree,
    served_models,
    start_mock,
    wait_ready,
    write_models_json,
)

FLOOR = "/work/shared/bench/floor_proxy.py"
CHUNKS = 20  # content events per stream of mock-c20-*
CONTENT = re.compile(rb'"(?:content|text)"\s*:\s*"[^"]')
TIMEOUT = 15.0  # seconds per request
COUNT_CAP_S = 20.0  # wall-clock cap of a counted scenario

MODES = {
    "quick": {"rounds": 1, "n_lat": 200, "n_stream": 100, "n_paced": 8, "seconds": 1.0, "n_noka": 300, "n_start": 2},
    "full": {"rounds": 3, "n_lat": 1000, "n_stream": 300, "n_paced": 30, "seconds": 4.0, "n_noka": 2000, "n_start": 5},
}
# name: (stream, clients, count setting (None: run for `seconds`), keep-alive, paced model)
SCENARIOS = {
    "nonstream_c1": (False, 1, "n_lat", True, False),
    "stream_c1": (True, 1, "n_stream", True, False),
    "paced_c1": (True, 1, "n_paced", True, True),
    "nonstream_c16": (False, 16, None, True, False),
    "stream_c16": (True, 16, None, True, False),
    "nonstream_c64": (False, 64, None, True, False),
    "stream_c64": (True, 64, None, True, False),
    "nonstream_c64_noka": (False, 64, "n_noka", False, False),
}
ANTHROPIC_SCENARIOS = ("nonstream_c1", "stream_c1")
SIDES = ("direct", "floor", "pigw")


class Endpoint:
    """One side of the comparison: a port, a route and its models, and the process that serves it."""

    def __init__(self, name, port, model, paced_model, process, anthropic=False):
        self.name = name
        self.port = port
        self.model = model
        self.paced_model = paced_model
        self.process = process
        self.anthropic = anthropic
        self._requests = {}

    def request(self, stream, paced, keepalive):
        """The request's bytes, built once."""
        key = (stream, paced, keepalive)
        if key not in self._requests:
            model = self.paced_model if paced else self.model
            if self.anthropic:
                path, auth = "/v1/messages", "x-api-key: %s\r\nanthropic-version: 2023-06-01\r\n" % KEY
                body = {"model": model, "system": "You are a benchmark.", "max_tokens": 256}
            else:
                path, auth = "/v1/chat/completions", "Authorization: Bearer %s\r\n" % KEY
                body = {"model": model, "messages": [{"role": "system", "content": "You are a benchmark."}]}
                body["max_tokens"] = 256
            body.setdefault("messages", []).append({"role": "user", "content": "Say hello."})
            if stream:
                body["stream"] = True
                if not self.anthropic:
                    body["stream_options"] = {"include_usage": True}
            data = json.dumps(body).encode()
            head = "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n%s" % (
                path,
                self.port,
                auth,
            )
            head += "Content-Length: %d\r\n%s\r\n" % (len(data), "" if keepalive else "Connection: close\r\n")
            self._requests[key] = head.encode() + data
        return self._requests[key]


class Client:
    """HTTP/1.1 on a raw socket to one port: keep-alive, Content-Length and chunked answers."""

    def __init__(self, port):
        self.port = port
        self.sock = None
        self.buffer = b""

    def call(self, request, keepalive=True):
        """(status, body, seconds to the first content event or None, total seconds) of one request."""
        started = time.perf_counter()
        try:
            if self.sock is None:
                self.sock = socket.create_connection(("127.0.0.1", self.port), TIMEOUT)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock.sendall(request)
            status, length, chunked, close = self._head()
            body, first = self._chunked(started) if chunked else (self._take(length), None)
        except BaseException:
            self.close()
            raise
        if close or not keepalive:
            self.close()
        return status, body, first, time.perf_counter() - started

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.buffer = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buffer += data

    def _take(self, size):
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _line(self):
        end = self.buffer.find(b"\r\n")
        while end < 0:
            self._fill()
            end = self.buffer.find(b"\r\n")
        return self._take(end + 2)[:-2]

    def _head(self):
        status = int(self._line().split()[1])
        length, chunked, close = 0, False, False
        for line in iter(self._line, b""):
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value
            elif name == b"connection":
                close = value == b"close"
        return status, length, chunked, close

    def _chunked(self, started):
        pieces, first, tail = [], None, b""
        while True:
            size = int(self._line().split(b";")[0], 16)
            data = self._take(size + 2)[:size]
            if not size:
                return b"".join(pieces), first
            if first is None:
                if CONTENT.search(tail + data):
                    first = time.perf_counter() - started
                tail = data[-32:]
            pieces.append(data)


def _problem(status, body, stream):
    """What is wrong with an answer, or None."""
    if status != 200:
        return "HTTP %d: %r" % (status, body[:160])
    if not stream:
        return None if b"tok0" in body else "no content: %r" % body[:160]
    if b"[DONE]" not in body and b"message_stop" not in body:
        return "stream ended without [DONE]: %r" % body[-160:]
    events = len(CONTENT.findall(body))
    return None if events == CHUNKS else "%d content events instead of %d" % (events, CHUNKS)


# --------------------------------------------------------------------------- /proc


class PeakRss(threading.Thread):
    """Samples the RSS of some processes every 0.1 s until stopped."""

    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids = pids
        self.peak = 0.0
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.1):
            self.peak = max(self.peak, proc_rss(self.pids))

    def stop(self):
        self.done.set()
        self.join()
        return max(self.peak, proc_rss(self.pids))


# --------------------------------------------------------------------------- measuring


def summary(seconds):
    """Percentiles in ms (linear interpolation) of a list of durations in seconds."""
    values = sorted(value * 1000 for value in seconds)
    if not values:
        return None

    def pct(p):
        k = (len(values) - 1) * p / 100
        low = int(k)
        high = min(low + 1, len(values) - 1)
        return round(values[low] + (values[high] - values[low]) * (k - low), 3)

    return {"n": len(values), "p50": pct(50), "p90": pct(90), "p99": pct(99), "max": round(values[-1], 3)}


def measure(endpoint, mock, stream, clients, count, seconds, keepalive, paced):
    """Run `count` requests (or as many as fit in `seconds`) from `clients` threads; their figures."""
    request = endpoint.request(stream, paced, keepalive)
    cap, count = (seconds, sys.maxsize) if count is None else (COUNT_CAP_S, count)
    counter = itertools.count()
    warm, go = threading.Barrier(clients + 1), threading.Barrier(clients + 1)
    latencies, firsts, errors = [], [], []  # list.append is atomic
    deadline = [0.0]

    def work():
        client = _connected(endpoint.port, request, keepalive)
        warm.wait()
        go.wait()
        while next(counter) < count and time.perf_counter() < deadline[0]:
            _timed_call(client, request, keepalive, stream, latencies, firsts, errors)
        client.close()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    pids = proc_tree(endpoint.process.pid)
    sampler = PeakRss(pids)
    sampler.start()
    warm.wait()
    cpu, mock_cpu, own = proc_cpu(pids), proc_cpu([mock.pid]), sum(os.times()[:2])
    deadline[0] = time.perf_counter() + cap
    go.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cpu, mock_cpu, own = proc_cpu(pids) - cpu, proc_cpu([mock.pid]) - mock_cpu, sum(os.times()[:2]) - own
    return _figures(latencies, firsts, errors, wall, cpu, mock_cpu, own, sampler.stop(), stream)


def measure_alternating(sides, mock, stream, count, keepalive, paced):
    """One client per side, the sides taking turns request by request (in reverse order every other turn).

    For paced streams: their figure is a difference of ~100 ms totals, and the mock's timers drift
    by a few ms between runs; taking turns puts that drift on every side alike. (Unpaced scenarios
    run a side's requests back to back, as the shared harness does: taking turns leaves each server
    idle between its requests, which adds about 0.1 ms to every proxy's latency.) A side's rate is
    its requests over its own request time; its CPU is its processes' over the whole run.
    """
    requests = [side.request(stream, paced, keepalive) for side in sides]
    clients = [_connected(side.port, request, keepalive) for side, request in zip(sides, requests)]
    samples = [([], [], []) for _ in sides]  # latencies, firsts, errors
    trees = [proc_tree(side.process.pid) for side in sides]
    cpu, mock_cpu, own = [proc_cpu(pids) for pids in trees], proc_cpu([mock.pid]), sum(os.times()[:2])
    for turn in range(count):
        for number in range(len(sides)) if turn % 2 == 0 else reversed(range(len(sides))):
            _timed_call(clients[number], requests[number], keepalive, stream, *samples[number])
    cpu = [proc_cpu(pids) - before for pids, before in zip(trees, cpu)]
    mock_cpu, own = proc_cpu([mock.pid]) - mock_cpu, sum(os.times()[:2]) - own
    results = {}
    for side, client, (latencies, firsts, errors), side_cpu, pids in zip(sides, clients, samples, cpu, trees):
        client.close()
        wall = sum(latencies) or 1e-9
        results[side.name] = _figures(latencies, firsts, errors, wall, side_cpu, mock_cpu, own, proc_rss(pids), stream)
    return results


def _connected(port, request, keepalive):
    """A client; with keep-alive, connected (by one request) outside the timed window."""
    client = Client(port)
    if keepalive:
        try:
            client.call(request)
        except Exception:  # the timed requests count the errors
            client.close()
    return client


def _timed_call(client, request, keepalive, stream, latencies, firsts, errors):
    """One request: its total (and first content) time, or what went wrong, appended (list.append is atomic)."""
    try:
        status, body, first, total = client.call(request, keepalive)
    except Exception as exc:  # any failure of one request is an error of the run
        errors.append("%s: %s" % (type(exc).__name__, exc))
        return
    problem = _problem(status, body, stream)
    if problem:
        errors.append(problem)
    else:
        latencies.append(total)
        if stream:
            firsts.append(first)


def _figures(latencies, firsts, errors, wall, cpu, mock_cpu, own, peak_rss, stream):
    done = len(latencies) + len(errors)
    result = {
        "ok": len(latencies),
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:3],
        "wall_s": round(wall, 3),
        "rps": round(len(latencies) / wall, 1),
        "latency_ms": summary(latencies),
        "cpu_s": round(cpu, 2),
        "cpu_s_per_1k": round(cpu * 1000 / done, 3) if done else None,
        "mock_cpu_s": round(mock_cpu, 2),
        "loadgen_cpu_s": round(own, 2),
        "peak_rss_mib": peak_rss,
    }
    if stream:
        result["ttft_ms"] = summary(firsts)
    return result


# --------------------------------------------------------------------------- the run


def run(args, mode, folder, processes):
    python = sys.executable
    mock, mock_port = start_mock(processes)
    write_models_json(folder, mock_port)
    env = pigw_environment(folder)
    commands = {"pigw": lambda port: pigw_argv(args.pigw_cmd, args.pyz, port, folder)}
    if os.path.exists(args.floor):
        upstream = "http://127.0.0.1:%d" % mock_port
        commands["floor"] = lambda port: [python, args.floor, "--port", str(port), "--upstream", upstream]
    report = {"startup_s": {}, "idle_rss_mib": {}}
    servers = {}
    for name, command in commands.items():
        times = []
        for _ in range(mode["n_start"]):
            port = free_port()
            started = time.perf_counter()
            process = processes.start(name + "-start", command(port), env)
            times.append(round(wait_ready(process, port, started), 3))
            processes.stop(process)
        report["startup_s"][name] = times
        port = free_port()
        servers[name] = processes.start(name, command(port), env), port
        wait_ready(servers[name][0], port, time.perf_counter())
    time.sleep(1.0)
    for name, (process, _port) in servers.items():
        report["idle_rss_mib"][name] = proc_rss(proc_tree(process.pid))

    pigw, pigw_port = servers["pigw"]
    endpoints = [Endpoint("direct", mock_port, "mock-c20-d0", "mock-c20-d5", mock)]
    if "floor" in servers:
        endpoints.append(Endpoint("floor", servers["floor"][1], "mock-c20-d0", "mock-c20-d5", servers["floor"][0]))
    endpoints.append(Endpoint("pigw", pigw_port, "mock/mock-c20-d0", "mock/mock-c20-d5", pigw))
    anthropic = []
    if "mockanthropic/claude-mock-c20-d0" in served_models(pigw_port):
        anthropic = [
            Endpoint("direct", mock_port, "claude-mock-c20-d0", "", mock, anthropic=True),
            Endpoint("pigw", pigw_port, "mockanthropic/claude-mock-c20-d0", "", pigw),
        ]

    for endpoint in endpoints + anthropic:  # first-request costs (imports, pools) outside the figures
        for stream in (False, True):
            measure(endpoint, mock, stream, 4, 100, 0, True, False)
    report["rounds"] = []
    for number in range(args.rounds or mode["rounds"]):
        figures = {}
        plan = [(name, endpoints) for name in SCENARIOS]
        plan += [("anthropic_" + name, anthropic) for name in ANTHROPIC_SCENARIOS if anthropic]
        if args.only:
            plan = [(name, sides) for name, sides in plan if name in args.only]
        for name, sides in plan:
            stream, clients, count, keepalive, paced = SCENARIOS[name.replace("anthropic_", "")]
            order = sides if number % 2 == 0 else sides[::-1]
            if paced:
                results = measure_alternating(order, mock, stream, mode[count], keepalive, paced)
            else:
                results = {
                    endpoint.name: measure(
                        endpoint,
                        mock,
                        stream,
                        clients,
                        mode[count] if count else None,
                        mode["seconds"],
                        keepalive,
                        paced,
                    )
                    for endpoint in order
                }
            for endpoint in order:
                figures.setdefault(name, {})[endpoint.name] = results[endpoint.name]
                _progress(number, name, endpoint.name, results[endpoint.name])
        report["rounds"].append(figures)
    time.sleep(1.0)
    report["idle_rss_after_load_mib"] = {"pigw": proc_rss(proc_tree(pigw.pid))}
    report["servers"] = sorted(servers)
    if os.path.exists(args.pyz):
        with open(args.pyz, "rb") as handle:
            report["pyz_sha256"] = hashlib.sha256(handle.read()).hexdigest()
        report["pyz_bytes"] = os.path.getsize(args.pyz)
    return report


def _progress(number, scenario, side, result):
    figure = (result.get("ttft_ms") or result["latency_ms"] or {}).get("p50")
    sys.stderr.write(
        "[round %d] %-22s %-6s %8.1f/s  p50 %s ms  errors %d  cpu %.2f s\n"
        % (number + 1, scenario, side, result["rps"], figure, result["errors"], result["cpu_s"])
    )
    sys.stderr.flush()


# --------------------------------------------------------------------------- the report

# label, unit, scenario, path into a result; "added" (pigw - direct) is shown for ms rows
ROWS = (
    ("non-stream c1 latency p50", "ms", "nonstream_c1", ("latency_ms", "p50")),
    ("non-stream c1 latency p99", "ms", "nonstream_c1", ("latency_ms", "p99")),
    ("stream c1 TTFT p50", "ms", "stream_c1", ("ttft_ms", "p50")),
    ("stream c1 TTFT p99", "ms", "stream_c1", ("ttft_ms", "p99")),
    ("stream c1 total p50 (20 chunks)", "ms", "stream_c1", ("latency_ms", "p50")),
    ("paced 20x5 ms: TTFT p50", "ms", "paced_c1", ("ttft_ms", "p50")),
    ("paced 20x5 ms: total p50", "ms", "paced_c1", ("latency_ms", "p50")),
    ("non-stream c1", "req/s", "nonstream_c1", ("rps",)),
    ("non-stream c16", "req/s", "nonstream_c16", ("rps",)),
    ("non-stream c64", "req/s", "nonstream_c64", ("rps",)),
    ("non-stream c16 p99", "ms", "nonstream_c16", ("latency_ms", "p99")),
    ("non-stream c64 p99", "ms", "nonstream_c64", ("latency_ms", "p99")),
    ("streams c1", "streams/s", "stream_c1", ("rps",)),
    ("streams c16", "streams/s", "stream_c16", ("rps",)),
    ("streams c64", "streams/s", "stream_c64", ("rps",)),
    ("no keep-alive c64", "req/s", "nonstream_c64_noka", ("rps",)),
    ("no keep-alive c64 p99", "ms", "nonstream_c64_noka", ("latency_ms", "p99")),
    ("errors, non-stream c64", "sum", "nonstream_c64", ("errors",)),
    ("errors, streams c64", "sum", "stream_c64", ("errors",)),
    ("errors, no keep-alive c64", "sum", "nonstream_c64_noka", ("errors",)),
    ("CPU per 1000 non-stream (c16)", "CPU-s", "nonstream_c16", ("cpu_s_per_1k",)),
    ("CPU per 1000 streams (c16)", "CPU-s", "stream_c16", ("cpu_s_per_1k",)),
    ("peak RSS, streams c64", "MiB", "stream_c64", ("peak_rss_mib",)),
    ("Anthropic upstream: non-stream c1 p50", "ms", "anthropic_nonstream_c1", ("latency_ms", "p50")),
    ("Anthropic upstream: TTFT c1 p50", "ms", "anthropic_stream_c1", ("ttft_ms", "p50")),
)


def summarize(report):
    """{label: {"unit", "direct", "floor", "pigw", "added", "vs_floor"}}: medians over rounds (errors: sums).

    vs_floor is the median over rounds of that round's pigw / floor: the two sides of a round are
    measured back to back, while the medians of each column may come from different rounds.
    """
    table = {}
    for label, unit, scenario, path in ROWS:
        row = {"unit": unit}
        per_round = {side: [_figure(figures, scenario, side, path) for figures in report["rounds"]] for side in SIDES}
        for side, values in per_round.items():
            values = [value for value in values if value is not None]
            if values:
                row[side] = sum(values) if unit == "sum" else round(statistics.median(values), 3)
        if "pigw" not in row:
            continue
        if unit == "ms" and "direct" in row:
            row["added"] = round(row["pigw"] - row["direct"], 3)
        ratios = [mine / floor for mine, floor in zip(per_round["pigw"], per_round["floor"]) if mine and floor]
        if ratios and unit in ("req/s", "streams/s", "CPU-s", "MiB"):
            row["vs_floor"] = round(statistics.median(ratios), 2)
        table[label] = row
    for label, key, unit in (
        ("start to first /v1/models 200", "startup_s", "s"),
        ("idle RSS after start", "idle_rss_mib", "MiB"),
    ):
        row = {"unit": unit}
        for side, values in report[key].items():
            row[side] = round(statistics.median(values), 3) if isinstance(values, list) else values
        if row.get("floor"):
            row["vs_floor"] = round(row["pigw"] / row["floor"], 2)
        table[label] = row
    if report.get("pyz_bytes"):
        table["pigw.pyz size"] = {"unit": "KB", "pigw": round(report["pyz_bytes"] / 1000, 1)}
    return table


def _figure(figures, scenario, side, path):
    """One round's figure for a side (None when that side or figure is missing)."""
    value = figures.get(scenario, {}).get(side)
    for key in path:
        value = value.get(key) if value else None
    return value


# label, row, column, limit, at most (True) or at least (False)
TARGETS = (
    ("non-stream added p50 <= 0.5 ms", "non-stream c1 latency p50", "added", 0.5, True),
    ("non-stream added p99 <= 2 ms", "non-stream c1 latency p99", "added", 2.0, True),
    ("stream TTFT added p50 <= 0.6 ms", "stream c1 TTFT p50", "added", 0.6, True),
    ("paced total tracks upstream: added p50 <= 2 ms", "paced 20x5 ms: total p50", "added", 2.0, True),
    ("non-stream c16 >= 0.6x floor", "non-stream c16", "vs_floor", 0.6, False),
    ("streams c16 >= 0.7x floor", "streams c16", "vs_floor", 0.7, False),
    ("0 errors, non-stream c64", "errors, non-stream c64", "pigw", 0, True),
    ("0 errors, streams c64", "errors, streams c64", "pigw", 0, True),
    ("0 errors, no keep-alive c64", "errors, no keep-alive c64", "pigw", 0, True),
    ("CPU <= 0.8 CPU-s / 1000 streams", "CPU per 1000 streams (c16)", "pigw", 0.8, True),
    ("idle RSS <= 25 MiB", "idle RSS after start", "pigw", 25, True),
    ("start to first 200 <= 0.25 s", "start to first /v1/models 200", "pigw", 0.25, True),
    ("pigw.pyz <= 400 KB", "pigw.pyz size", "pigw", 400, True),
)


def check_targets(table):
    checked = []
    for label, row, column, limit, at_most in TARGETS:
        value = table.get(row, {}).get(column)
        met = None if value is None else (value <= limit if at_most else value >= limit)
        checked.append({"target": label, "value": value, "met": met})
    return checked


def render(table, targets, report):
    def cell(value):
        return (
            "-"
            if value is None
            else ("%.3f" % value).rstrip("0").rstrip(".")
            if isinstance(value, float)
            else str(value)
        )

    columns = ("direct", "floor", "pigw", "added", "vs_floor")
    lines = ["%-40s %-9s" % ("metric", "unit") + "".join("%11s" % name for name in columns)]
    for label, row in table.items():
        lines.append("%-40s %-9s" % (label, row["unit"]) + "".join("%11s" % cell(row.get(c)) for c in columns))
    lines.append("")
    lines.append(
        "added = pigw - direct; vs_floor = median of each round's pigw / floor; medians of %d round(s)"
        % len(report["rounds"])
    )
    lines.append("")
    for target in targets:
        verdict = {True: "met", False: "MISSED", None: "n/a"}[target["met"]]
        lines.append("%-7s %-48s %s" % (verdict, target["target"], cell(target["value"])))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round (under a minute), for CI smoke")
    parser.add_argument("--rounds", type=int, help="rounds to take medians over (default: full 3, quick 1)")
    parser.add_argument("--pyz", default=os.path.join(ROOT, "dist", "pigw.pyz"), help="the pigw.pyz to run")
    parser.add_argument(
        "--pigw-cmd", help="command starting pigw instead of `python3 PYZ`; `--port N --auth-dir DIR` are appended"
    )
    parser.add_argument("--floor", default=FLOOR, help="floor_proxy.py (skipped when missing)")
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON here")
    parser.add_argument(
        "--only", type=lambda text: set(text.split(",")), help="comma-separated scenarios to run (default: all)"
    )
    args = parser.parse_args()
    if args.only and not args.only <= set(SCENARIOS) | {"anthropic_" + name for name in ANTHROPIC_SCENARIOS}:
        parser.error("--only: scenarios are %s" % ", ".join(sorted(SCENARIOS)))
    if not args.pigw_cmd and not os.path.exists(args.pyz):
        sys.exit("%s is missing: build it with `python3 build_zipapp.py`, or pass --pigw-cmd" % args.pyz)
    mode = MODES["quick" if args.quick else "full"]
    folder = tempfile.mkdtemp(prefix="pigw-bench-")
    processes = Processes(folder)
    started = time.time()
    try:
        report = run(args, mode, folder, processes)
    except (RuntimeError, OSError) as exc:
        sys.exit("bench failed: %s (logs in %s)" % (exc, folder))
    finally:
        processes.stop_all()
    table = summarize(report)
    targets = check_targets(table)
    report.update(
        {
            "meta": {
                "mode": "quick" if args.quick else "full",
                "python": sys.version.split()[0],
                "nproc": os.cpu_count(),
                "loadavg_end": os.getloadavg(),
                "duration_s": round(time.time() - started, 1),
                "pigw": args.pigw_cmd or "%s %s" % (sys.executable, args.pyz),
                "floor": args.floor if "floor" in report["servers"] else None,
            },
            "summary": table,
            "targets": targets,
        }
    )
    print(render(table, targets, report))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)
            handle.write("\n")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
