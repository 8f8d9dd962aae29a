"""The built pigw.pyz in front of a loopback mock upstream, for the real-client tests.

`mock/<id>` models speak openai-completions and `claude/<id>` models anthropic-messages, both on
the one MockUpstream; `recorded` reads a recorded provider answer to script a model with.
"""

import json
import os
import shutil
import tempfile
import unittest
from typing import List, Sequence

from tests.support.gateway_process import GatewayProcess
from tests.support.mock_upstream import FIXTURES_DIR, MockUpstream

REQUIRED = os.environ.get("PIGW_REQUIRE_SDK") == "1"  # .ci/run: client tests must run, not skip


class MockedGateway:
    def __init__(self, openai_models: Sequence[str], anthropic_models: Sequence[str] = ()) -> None:
        self.openai_models = openai_models
        self.anthropic_models = anthropic_models
        self.mock = MockUpstream()
        self.agent_dir = ""
        self.gateway: GatewayProcess
        self.base_url = ""  # pigw's OpenAI base URL, .../v1

    def start(self) -> "MockedGateway":
        self.mock.start()
        self.agent_dir = tempfile.mkdtemp(prefix="pigw-clients-")
        providers = {
            "mock": {
                "baseUrl": self.mock.base_url + "/v1",
                "api": "openai-completions",
                "apiKey": "mock-key",
                "models": [{"id": name} for name in self.openai_models],
            }
        }
        if self.anthropic_models:
            providers["claude"] = {
                "baseUrl": self.mock.base_url,
                "api": "anthropic-messages",
                "apiKey": "claude-key",
                "models": [{"id": name} for name in self.anthropic_models],
            }
        with open(os.path.join(self.agent_dir, "models.json"), "w") as handle:
            json.dump({"providers": providers}, handle)
        self.gateway = GatewayProcess(["--auth-dir", self.agent_dir], {"HOME": self.agent_dir}).start()
        self.base_url = "http://127.0.0.1:%d/v1" % self.gateway.port
        return self

    def start_unless_missing(self, missing: bool, what: str) -> None:
        """Start, or skip the module that needs the client `what` when it is not installed (fail under .ci/run)."""
        if missing and not REQUIRED:
            raise unittest.SkipTest("%s is not installed here (.ci/run installs it in its virtualenv)" % what)
        self.start()

    def stop(self) -> None:
        self.gateway.stop()
        self.mock.stop()
        shutil.rmtree(self.agent_dir, ignore_errors=True)


def recorded(path: str) -> List[bytes]:
    """The events of a recorded SSE answer (`tests/fixtures/wire/<path>`), one HTTP chunk each."""
    return [event + b"\n\n" for event in recorded_body(path).split(b"\n\n") if event.strip()]


def recorded_body(path: str) -> bytes:
    with open(os.path.join(FIXTURES_DIR, *path.split("/")), "rb") as handle:
        return handle.read()
