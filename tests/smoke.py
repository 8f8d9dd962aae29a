"""Smoke run of a built pigw.pyz: start it with --demo, use every endpoint once, stop it with SIGTERM.

Usage: python -I tests/smoke.py PATH/TO/pigw.pyz   (exit 0 when everything answered as expected)
"""

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.support.gateway_process import GatewayProcess, sse_data  # noqa: E402


def main(pyz: str) -> int:
    home = tempfile.mkdtemp(prefix="pigw-smoke-")
    gateway = GatewayProcess(["--demo", "--auth-dir", home], {"HOME": home}, pyz=pyz).start()
    try:
        status, _headers, body = gateway.request("GET", "/healthz")
        assert status == 200 and json.loads(body)["ok"] is True, body
        status, _headers, body = gateway.request("GET", "/v1/models")
        assert [entry["id"] for entry in json.loads(body)["data"]] == ["pigw/demo"], body
        request = {"model": "pigw/demo", "messages": [{"role": "user", "content": "hi"}]}
        status, _headers, body = gateway.request("POST", "/v1/chat/completions", request)
        assert status == 200 and json.loads(body)["choices"][0]["message"]["content"].startswith("Hello from pigw"), (
            body
        )
        request["stream"] = True
        status, _headers, body = gateway.request("POST", "/v1/chat/completions", request)
        assert status == 200 and sse_data(body)[-1] == "[DONE]", body
    finally:
        code = gateway.stop()
    assert code == 0, "exit code %d: %s" % (code, gateway.stderr_text)
    sys.stdout.write("smoke OK: %s\n" % pyz)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
