"""What the bench scripts share: starting and stopping the mock upstream and pigw, and reading /proc about them.

Processes run in their own sessions, log into the run's work folder and are stopped by process id.
pigw gets a temporary auth dir whose models.json points a provider of each api kind at the mock,
and a clean environment. The /proc readers give a process tree's CPU, RSS, threads, open fds and
established TCP connections (Linux). Used by load.py and soak.py; stdlib only.
"""

import http.client
import json
import os
import shlex
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MOCK = os.path.join(ROOT, "bench", "mock_upstream.py")
KEY = "sk-bench"
TICK = os.sysconf("SC_CLK_TCK")

# --------------------------------------------------------------------------- processes


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """The processes this run starts, each in its own session, logging to the work folder; stopped by id."""

    def __init__(self, folder):
        self.folder = folder
        self.started = []

    def start(self, name, argv, env=None):
        with open(os.path.join(self.folder, name + ".log"), "ab") as log:
            process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True
            )
        self.started.append(process)
        return process

    def stop(self, process):
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop_all(self):
        for process in reversed(self.started):
            self.stop(process)


def start_mock(processes, options=()):
    """(process, port) of bench/mock_upstream.py on a free port with these extra options, once it answers."""
    port = free_port()
    process = processes.start("mock", [sys.executable, MOCK, "--port", str(port)] + list(options))
    wait_ready(process, port, time.perf_counter())
    return process, port


def pigw_argv(pigw_cmd, pyz, port, auth_dir):
    """pigw's command line: `python3 PYZ`, or the shell words of pigw_cmd, with `--port N --auth-dir DIR`."""
    base = shlex.split(pigw_cmd) if pigw_cmd else [sys.executable, pyz]
    return base + ["--port", str(port), "--auth-dir", auth_dir]


def wait_ready(process, port, started, timeout=30.0):
    """Seconds from `started` to the first 200 on GET /v1/models."""
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError("%s exited with %s" % (process.args, process.returncode))
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/v1/models", headers={"Authorization": "Bearer " + KEY})
            response = connection.getresponse()
            response.read()
            connection.close()
            if response.status == 200:
                return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.002)
    raise RuntimeError("%s did not answer on port %d within %g s" % (process.args, port, timeout))


def write_models_json(
    folder, mock_port, openai_models=("mock-c20-d0", "mock-c20-d5"), anthropic_models=("claude-mock-c20-d0",)
):
    """pi's models.json: the mock as an OpenAI-compatible provider `mock` and an Anthropic one `mockanthropic`."""
    base = "http://127.0.0.1:%d" % mock_port
    compat = {"supportsDeveloperRole": False, "supportsReasoningEffort": False}
    providers = {
        "mock": {
            "baseUrl": base + "/v1",
            "api": "openai-completions",
            "apiKey": "x",
            "compat": compat,
            "models": [{"id": model} for model in openai_models],
        },
        "mockanthropic": {
            "baseUrl": base,
            "api": "anthropic-messages",
            "apiKey": "x",
            "models": [{"id": model} for model in anthropic_models],
        },
    }
    with open(os.path.join(folder, "models.json"), "w") as handle:
        json.dump({"providers": providers}, handle, indent=1)


def pigw_environment(home):
    """A clean environment with the gateway key and a dummy key for every provider, so the whole catalog is served."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "PIGW_API_KEY": KEY}
    try:
        with open(os.path.join(ROOT, "pigw", "data", "provider_auth.json")) as handle:
            table = json.load(handle)
    except OSError:
        table = {}
    for provider, entry in table.items():
        if entry.get("env"):
            env.setdefault(entry["env"][0], "sk-dummy-" + provider)
    return env


def served_models(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/v1/models", headers={"Authorization": "Bearer " + KEY})
    data = json.loads(connection.getresponse().read())
    connection.close()
    return [model["id"] for model in data["data"]]


# --------------------------------------------------------------------------- /proc


def proc_tree(pid):
    """pid and its descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry, "rb") as handle:
                    stat = handle.read()
            except OSError:
                continue
            children.setdefault(int(stat[stat.rfind(b")") + 2 :].split()[1]), []).append(int(entry))
    tree, stack = [], [pid]
    while stack:
        tree.append(stack.pop())
        stack.extend(children.get(tree[-1], []))
    return tree


def proc_cpu(pids):
    """utime + stime of the processes, in seconds."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid, "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / TICK


def proc_status(pids, names=(b"VmRSS", b"Threads")):
    """{name: sum over the processes} of numeric /proc/<pid>/status fields (sizes in kB)."""
    totals = dict.fromkeys(names, 0)
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid, "rb") as handle:
                for line in handle:
                    name, _, value = line.partition(b":")
                    if name in totals:
                        totals[name] += int(value.split()[0])
        except OSError:
            pass
    return totals


def proc_rss(pids):
    """VmRSS of the processes, in MiB."""
    return round(proc_status(pids, (b"VmRSS",))[b"VmRSS"] / 1024, 1)


def proc_fds(pids):
    """(number of open file descriptors, inodes of the sockets among them) of the processes."""
    count, sockets = 0, set()
    for pid in pids:
        folder = "/proc/%d/fd" % pid
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        count += len(names)
        for name in names:
            try:
                target = os.readlink(os.path.join(folder, name))
            except OSError:
                continue
            if target.startswith("socket:["):
                sockets.add(target[8:-1])
    return count, sockets


def established(pid, inodes):
    """(local port, remote port) of each established TCP connection whose socket inode is in inodes.

    Deduplicated by inode: a large table read while it changes can list a socket twice.
    """
    found = {}
    for table in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, table)) as handle:
                next(handle)
                for line in handle:
                    fields = line.split()
                    if fields[3] == "01" and fields[9] in inodes:
                        found[fields[9]] = (int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return list(found.values())
