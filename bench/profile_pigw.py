#!/usr/bin/env python3
"""cProfile of pigw's request path under load, in CPU time per request.

Starts bench/mock_upstream.py, runs pigw (this checkout, or --pigw-path) in this process (`pigw.cli.main`)
with every connection thread's `Handler.handle` under its own cProfile.Profile timed by
`time.thread_time` (CPU time of that thread, so waiting and the GIL do not count), sends
--requests requests from --clients threads (bench/load.py's client), stops pigw, and prints
the merged profile as shares of CPU time and calls per request. Python 3.8-3.11 (cProfile is
interpreter-wide from 3.12 on).

Usage: python3 bench/profile_pigw.py [--stream] [--clients 16] [--requests 3000] [--sort tottime] [--top 30]
"""

import argparse
import cProfile
import os
import pstats
import signal
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import load  # noqa: E402  (bench/load.py)


def drive(endpoint, args, report):
    """Wait for pigw, warm it up, send the measured requests, then stop pigw with SIGTERM."""
    try:
        load.wait_ready(endpoint.process, endpoint.port, time.perf_counter())
        load.measure(endpoint, endpoint.process, args.stream, 4, 200, 0, True, False)
        report["warm"] = True
        report["result"] = load.measure(
            endpoint, endpoint.process, args.stream, args.clients, args.requests, 0, True, False
        )
    finally:
        os.kill(os.getpid(), signal.SIGTERM)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream", action="store_true", help="streams of 20 chunks instead of non-stream requests")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--sort", default="tottime", choices=("tottime", "cumulative"))
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--callers", metavar="NAME", help="also print who calls functions named NAME, and how often")
    parser.add_argument("--log-level", default="info", help="pigw's --log-level (the access log is a per-request cost)")
    parser.add_argument(
        "--pigw-path", default=load.ROOT, help="where `pigw` is imported from: a checkout or a pigw.pyz"
    )
    args = parser.parse_args()
    sys.path.insert(0, args.pigw_path)
    if sys.version_info >= (3, 12):
        sys.exit("profile_pigw.py needs Python 3.8-3.11: from 3.12 on cProfile cannot profile threads one by one")

    from pigw import cli
    from pigw import server as pigw_server

    folder = tempfile.mkdtemp(prefix="pigw-profile-")
    processes = load.Processes(folder)
    profiles, report = [], {}
    original = pigw_server.Handler.handle

    def profiled_handle(handler):
        profile = cProfile.Profile(time.thread_time)
        if report.get("warm"):
            profiles.append(profile)
            profile.enable()
        try:
            original(handler)
        finally:
            profile.disable()

    pigw_server.Handler.handle = profiled_handle
    try:
        mock_port = load.free_port()
        mock = processes.start("mock", [sys.executable, load.MOCK, "--port", str(mock_port)])
        load.wait_ready(mock, mock_port, time.perf_counter())
        load.write_models_json(folder, mock_port)
        port = load.free_port()
        endpoint = load.Endpoint("pigw", port, "mock/mock-c20-d0", "mock/mock-c20-d5", mock)
        os.environ["PIGW_API_KEY"] = load.KEY
        driver = threading.Thread(target=drive, args=(endpoint, args, report), daemon=True)
        driver.start()
        with open(os.path.join(folder, "pigw.log"), "w") as log:
            argv = ["--port", str(port), "--auth-dir", folder, "--log-level", args.log_level]
            cli.main(argv, stdout=log, stderr=log)
        driver.join()
    finally:
        processes.stop_all()
    result = report["result"]
    requests = result["ok"] + result["errors"]
    stats = pstats.Stats(*profiles) if len(profiles) > 1 else pstats.Stats(profiles[0])
    total = sum(entry[2] for entry in stats.stats.values())
    print(
        "%s, %d clients: %d requests (%d errors), %.1f/s with the profiler on"
        % (
            "streams of 20 chunks" if args.stream else "non-stream",
            args.clients,
            requests,
            result["errors"],
            result["rps"],
        )
    )
    print("shares of the handler threads' profiled CPU time (the profiler inflates call-heavy code)")
    print("%7s %7s %9s  %s" % ("self %", "cum %", "calls/req", "function"))
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2 if args.sort == "tottime" else 3], reverse=True)
    for (path, line, name), (_calls, primitive, tottime, cumtime, _callers) in rows[: args.top]:
        where = "%s:%d" % (path.rpartition("pigw/")[1] + path.rpartition("pigw/")[2] if "pigw/" in path else path, line)
        print(
            "%7.1f %7.1f %9.2f  %s %s"
            % (100 * tottime / total, 100 * cumtime / total, primitive / requests, name, where)
        )
    if args.callers:
        stats.print_callers(args.callers)


if __name__ == "__main__":
    main()
