"""Upstream failures to client errors: upstream messages kept (secrets scrubbed), context overflow recognised."""

import unittest

from pigw.providers import upstream


class ErrorBodies(unittest.TestCase):
    def test_openai_anthropic_google_and_plain_bodies(self) -> None:
        cases = [
            (
                400,
                b'{"error":{"message":"bad","type":"invalid_request_error","param":"x","code":"c"}}',
                ("bad", "invalid_request_error", "c", "x"),
            ),
            (
                529,
                b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
                ("Overloaded", "overloaded_error", None, None),
            ),
            (
                429,
                b'[{"error":{"code":429,"message":"Quota","status":"RESOURCE_EXHAUSTED"}}]',
                ("Quota", "rate_limit_error", "429", None),
            ),
            (503, b"upstream connect error", ("upstream connect error", "api_error", None, None)),
            (500, b"", ("The upstream answered HTTP 500.", "api_error", None, None)),
        ]
        for status, raw, expected in cases:
            with self.subTest(raw=raw):
                error = upstream.error_from_body(status, raw)
                self.assertEqual(
                    (error.status, error.message, error.type, error.code, error.param),
                    (502 if status >= 500 else status,) + expected,
                )

    def test_secrets_scrubbed(self) -> None:
        error = upstream.error_from_body(
            401, b'{"error":{"message":"Incorrect API key: sk-live-12345"}}', ["sk-live-12345"]
        )
        self.assertEqual(error.message, "Incorrect API key: ***")

    def test_context_overflow_wordings(self) -> None:
        for message in (
            "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
            "prompt is too long: 210000 tokens > 200000 maximum",
            "Input validation error: the input is longer than the model's context length",
            "context_length_exceeded",
        ):
            with self.subTest(message=message):
                error = upstream.error_from_body(400, ('{"error":{"message":"%s"}}' % message).encode())
                self.assertEqual((error.status, error.code, error.param), (400, "context_length_exceeded", "messages"))
        self.assertIsNone(
            upstream.error_from_body(429, b'{"error":{"message":"Rate limit: too many tokens per min"}}').code
        )
        self.assertFalse(upstream.is_context_overflow("Invalid value for temperature"))


if __name__ == "__main__":
    unittest.main()
