"""Runs pigw as a real subprocess (the built pigw.pyz, isolated with -I) for end-to-end tests and the smoke run."""

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional, Tuple

from tests.support.json_schema import check_openai_response

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_BANNER = re.compile(r"listening on http://([^ ]+):(\d+)/v1")
_built: Dict[str, str] = {}
_build_lock = threading.Lock()


def built_pyz() -> str:
    """Build dist-like pigw.pyz once per test process into a temp dir (never touches the checkout's dist/)."""
    with _build_lock:
        if "path" not in _built:
            folder = tempfile.mkdtemp(prefix="pigw-pyz-")
            output = os.path.join(folder, "pigw.pyz")
            subprocess.run(
                [sys.executable, os.path.join(ROOT, "build_zipapp.py"), "--output", output],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            _built["path"] = output
        return _built["path"]


class GatewayProcess:
    """pigw started with the given flags and environment; ``port`` is known once the banner is read."""

    def __init__(self, args: List[str], env: Optional[Dict[str, str]] = None, pyz: Optional[str] = None) -> None:
        self.args = args
        self.env = env or {}
        self.pyz = pyz or built_pyz()
        self.process: Optional[subprocess.Popen] = None
        self.port = 0
        self.stdout_lines: List[str] = []
        self.stderr_text = ""
        self._threads: List[threading.Thread] = []

    def start(self, timeout: float = 10.0) -> "GatewayProcess":
        env = {"PATH": os.environ.get("PATH", ""), "HOME": self.env.get("HOME", tempfile.gettempdir())}
        env.update(self.env)
        self.process = subprocess.Popen(
            [sys.executable, "-I", self.pyz, "--port", "0"] + self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        timer = threading.Timer(timeout, self.process.kill)
        timer.start()
        try:
            for line in self.process.stdout:  # type: ignore[union-attr]
                self.stdout_lines.append(line)
                match = _BANNER.search(line)
                if match:
                    self.port = int(match.group(2))
                if line.startswith("models:"):
                    break
        finally:
            timer.cancel()
        if not self.port:
            self.stop()
            raise RuntimeError("pigw did not start: %s%s" % ("".join(self.stdout_lines), self.stderr_text))
        self._threads = [
            threading.Thread(target=self._drain_stdout, daemon=True),
            threading.Thread(target=self._drain_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Signal the process and return its exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        for thread in self._threads:
            thread.join(2)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                if pipe is self.process.stderr and not self._threads:
                    self.stderr_text += pipe.read()
                pipe.close()
        self.assert_no_secret("its output", "".join(self.stdout_lines) + self.stderr_text)
        return code

    def secrets(self) -> List[str]:
        """Every secret this gateway was given (8+ characters): key-like environment values, the auth dir's
        auth.json values and models.json keys and headers, the --config file's apiKey."""
        found = [value for name, value in self.env.items() if re.search(r"KEY|TOKEN|SECRET|PASSWORD", name.upper())]
        auth_dir = self._flag("--auth-dir") or os.path.join(self.env.get("HOME", "/nonexistent"), ".pi", "agent")
        found += _values(_read_json(os.path.join(auth_dir, "auth.json")))
        models = _read_json(os.path.join(auth_dir, "models.json"))
        for provider in (models.get("providers") or {}).values() if isinstance(models, dict) else ():
            if isinstance(provider, dict):
                found += [provider.get("apiKey")] + _values(provider.get("headers"))
        for path in (self._flag("--config"), os.path.join(auth_dir, "gateway.json")):
            config = _read_json(path) if path else None
            if isinstance(config, dict):
                found.append(config.get("apiKey"))
        return sorted({value for value in found if isinstance(value, str) and len(value) >= 8 and "!" not in value})

    def assert_no_secret(self, where: str, text: str) -> None:
        """The canary check every end-to-end test gets: no secret the gateway holds ever shows in what it sends."""
        leaked = [secret for secret in self.secrets() if secret in text]
        if leaked:
            raise AssertionError("a secret (%d characters) appeared in %s" % (len(leaked[0]), where))

    def _flag(self, name: str) -> Optional[str]:
        return self.args[self.args.index(name) + 1] if name in self.args[:-1] else None

    def __enter__(self) -> "GatewayProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def connection(self, timeout: float = 10.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body=None,
        headers: Optional[Dict[str, str]] = None,
        connection: Optional[http.client.HTTPConnection] = None,
    ) -> Tuple[int, http.client.HTTPMessage, bytes]:
        """One request; a dict body is sent as JSON. Returns (status, headers, body bytes).

        Responses of the OpenAI surface must match `schemas/openai/` (an AssertionError says how they do not).
        """
        own = connection is None
        conn = connection or self.connection()
        try:
            data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
            all_headers = {"Content-Type": "application/json"} if data is not None else {}
            all_headers.update(headers or {})
            conn.request(method, path, body=data, headers=all_headers)
            response = conn.getresponse()
            answer = response.read()
            check_openai_response(path, response.status, response.getheader("Content-Type") or "", answer)
            self.assert_no_secret(
                "the answer to %s %s" % (method, path), str(response.headers) + answer.decode("latin-1")
            )
            return response.status, response.headers, answer
        finally:
            if own:
                conn.close()

    def wait_for_log(self, text: str, timeout: float = 3.0) -> bool:
        """True once text appears in what the process wrote to stderr."""
        deadline = time.monotonic() + timeout
        while text not in self.stderr_text:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def _drain_stdout(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.stdout_lines.append(line)

    def _drain_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr_text += line


def _read_json(path: str):
    try:
        with open(path, "rb") as handle:
            return json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError):
        return None


def _values(value) -> List[str]:
    """Every string inside a JSON value."""
    if isinstance(value, dict):
        return [item for child in value.values() for item in _values(child)]
    if isinstance(value, list):
        return [item for child in value for item in _values(child)]
    return [value] if isinstance(value, str) else []


def sse_data(body: bytes) -> List[str]:
    """The `data:` payloads of an SSE body, in order."""
    return [line[6:] for line in body.decode().split("\n") if line.startswith("data: ")]
