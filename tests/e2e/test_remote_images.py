"""Remote image URLs end to end: an in-process pigw, a mock upstream, and a loopback image server.

Off (the default), both surfaces answer 400 naming the part and the setting. On, the gateway
fetches the URL and the upstream receives the image inline as base64, whichever surface and
provider; a failed fetch is a 400 naming the part. The fetcher's address check is the one hook
the tests change (to let loopback through); the check pigw builds refuses loopback.
"""

import base64
import http.client
import json
import os
import shutil
import tempfile
import threading
import unittest

from pigw import cli, config, gateway
from pigw.listener import listen
from pigw.log import Log
from pigw.net.remote_image import public_address
from pigw.server import Server
from tests.support.image_server import PNG, ImageServer, loopback_or_public
from tests.support.mock_upstream import MockUpstream

PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
DISABLED = (
    "`%s`: pigw does not fetch image URLs unless allowRemoteImages is on (config key `allowRemoteImages`, "
    "flag --allow-remote-images); send the image as base64 data instead."
)


class _Quiet:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


class RemoteImages(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.mock = MockUpstream().start()
        cls.addClassCleanup(cls.mock.stop)
        cls.dir = tempfile.mkdtemp(prefix="pigw-images-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        models = {
            "providers": {
                "mock": {
                    "baseUrl": cls.mock.base_url + "/v1",
                    "api": "openai-completions",
                    "apiKey": "mock-key",
                    "models": [{"id": "echo-1", "input": ["text", "image"]}],
                },
                "mockant": {
                    "baseUrl": cls.mock.base_url,
                    "api": "anthropic-messages",
                    "apiKey": "mock-key",
                    "models": [{"id": "echo-ant", "input": ["text", "image"]}],
                },
            }
        }
        with open(os.path.join(cls.dir, "models.json"), "w") as handle:
            json.dump(models, handle)

    def setUp(self) -> None:
        self.images = ImageServer()
        self.addCleanup(self.images.stop)
        del self.mock.requests[:]

    def serve(self, **settings) -> gateway.Gateway:
        """An in-process pigw with these config settings; its gateway, for the test to adjust."""
        loaded = config.load(dict(settings, authDir=self.dir, logLevel="error"), {})
        built = gateway.build(loaded)
        server = Server(listen("127.0.0.1", 0), built, loaded, Log("error", _Quiet()))
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        self.port = server.port
        return built

    def post(self, path: str, body: dict):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        self.addCleanup(connection.close)
        connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())

    def chat(self, url: str, model: str = "mock/echo-1"):
        content = [{"type": "text", "text": "what is it?"}, {"type": "image_url", "image_url": {"url": url}}]
        return self.post("/v1/chat/completions", {"model": model, "messages": [{"role": "user", "content": content}]})

    def messages(self, url: str, model: str = "mockant/echo-ant"):
        content = [{"type": "text", "text": "what is it?"}, {"type": "image", "source": {"type": "url", "url": url}}]
        body = {"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": content}]}
        return self.post("/v1/messages", body)

    def test_off_by_default_both_surfaces_answer_400(self) -> None:
        built = self.serve()
        self.assertIsNone(built.remote_images)
        param = "messages[0].content[1].image_url.url"
        self.assertEqual(
            self.chat(self.images.url("/ok.png")),
            (
                400,
                {
                    "error": {
                        "message": DISABLED % param,
                        "type": "invalid_request_error",
                        "param": param,
                        "code": "remote_images_disabled",
                    }
                },
            ),
        )
        self.assertEqual(
            self.messages(self.images.url("/ok.png")),
            (
                400,
                {
                    "type": "error",
                    "error": {
                        "type": "invalid_request_error",
                        "message": DISABLED % "messages[0].content[1].source.url",
                    },
                },
            ),
        )
        self.assertEqual((self.images.seen, self.mock.requests), ([], []))

    def test_on_the_upstream_gets_the_image_inline(self) -> None:
        self.serve(allowRemoteImages=True).remote_images.allow_address = loopback_or_public
        status, body = self.chat(self.images.url("/ok.png"))
        self.assertEqual((status, body["choices"][0]["message"]["content"]), (200, "echo: what is it?"))
        self.assertEqual(
            self.mock.requests[-1].json["messages"],
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is it?"},
                        {"type": "image_url", "image_url": {"url": PNG_URL}},
                    ],
                }
            ],
        )
        status, body = self.messages(self.images.url("/mislabelled"))
        self.assertEqual((status, body["content"]), (200, [{"type": "text", "text": "echo: what is it?"}]))
        self.assertEqual(
            self.mock.requests[-1].json["messages"][0]["content"][1],
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": PNG_URL.split(",")[1]},
                "cache_control": {"type": "ephemeral"},
            },
        )
        self.assertEqual([path for path, _headers in self.images.seen], ["/ok.png", "/mislabelled"])

    def test_tool_result_images_too_and_one_fetch_per_url(self) -> None:
        self.serve(allowRemoteImages=True).remote_images.allow_address = loopback_or_public
        url = self.images.url("/ok.png")
        image = {"type": "image", "source": {"type": "url", "url": url}}
        body = {
            "model": "mockant/echo-ant",
            "max_tokens": 50,
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "look"}, image]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "shot", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [image]}]},
            ],
        }
        self.assertEqual(self.post("/v1/messages", body)[0], 200)
        sent = self.mock.requests[-1].json["messages"]
        inline = {"type": "base64", "media_type": "image/png", "data": PNG_URL.split(",")[1]}
        self.assertEqual(sent[0]["content"][1], {"type": "image", "source": inline})
        self.assertEqual(
            sent[2]["content"][0]["content"],
            [{"type": "text", "text": "(see attached image)"}, {"type": "image", "source": inline}],
        )
        self.assertEqual(self.images.seen, [("/ok.png", self.images.seen[0][1])])

    def test_a_failed_fetch_is_a_400_naming_the_part(self) -> None:
        self.serve(allowRemoteImages=True).remote_images.allow_address = loopback_or_public
        param = "messages[0].content[1].image_url.url"
        self.assertEqual(
            self.chat(self.images.url("/html")),
            (
                400,
                {
                    "error": {
                        "message": "`%s`: the image could not be fetched: the URL does not serve an image pigw "
                        "accepts (Content-Type 'text/html'; accepted: image/png, image/jpeg, image/gif, image/webp)."
                        % param,
                        "type": "invalid_request_error",
                        "param": param,
                        "code": "invalid_image_url",
                    }
                },
            ),
        )
        self.assertEqual(
            self.messages(self.images.url("/missing")),
            (
                400,
                {
                    "type": "error",
                    "error": {
                        "type": "invalid_request_error",
                        "message": "`messages[0].content[1].source.url`: the image could not be fetched: "
                        "the image server answered HTTP 404.",
                    },
                },
            ),
        )
        self.assertEqual(self.mock.requests, [])

    def test_the_built_fetcher_refuses_loopback_and_takes_the_configured_cap(self) -> None:
        built = self.serve(allowRemoteImages=True, remoteImageMaxBytes=1234)
        self.assertIs(built.remote_images.allow_address, public_address)
        self.assertEqual(built.remote_images.max_bytes, 1234)
        status, body = self.chat(self.images.url("/ok.png"))
        self.assertEqual(status, 400)
        self.assertEqual(
            body["error"]["message"],
            "`messages[0].content[1].image_url.url`: the image could not be fetched: the image URL points to a "
            "private, local or reserved network address, which pigw does not fetch.",
        )
        self.assertEqual((self.images.seen, self.mock.requests), ([], []))


class Settings(unittest.TestCase):
    def test_flag_file_and_defaults(self) -> None:
        folder = tempfile.mkdtemp(prefix="pigw-images-config-")
        self.addCleanup(shutil.rmtree, folder, True)
        defaults = config.load({"authDir": folder}, {})
        self.assertEqual((defaults.allow_remote_images, defaults.remote_image_max_bytes), (False, 20 * 1024 * 1024))
        flags = cli._flags(cli._parser().parse_args(["--allow-remote-images"]))
        self.assertEqual(flags, {"allowRemoteImages": True})
        self.assertIs(config.load(dict(flags, authDir=folder), {}).allow_remote_images, True)
        path = os.path.join(folder, "gateway.json")
        with open(path, "w") as handle:
            json.dump({"allowRemoteImages": True, "remoteImageMaxBytes": 0}, handle)
        with self.assertRaises(config.ConfigError) as caught:
            config.load({"authDir": folder}, {})
        self.assertEqual(str(caught.exception), "%s: remoteImageMaxBytes must be a positive integer, not 0." % path)


if __name__ == "__main__":
    unittest.main()
