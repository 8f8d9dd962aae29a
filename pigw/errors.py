"""The one exception type of pigw and its renderings as OpenAI and Anthropic error bodies."""

import json
from typing import Dict, Optional

# Anthropic error types by HTTP status (https://docs.anthropic.com/en/api/errors).
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class GatewayError(Exception):
    """A failure with everything a client needs: HTTP status, error type, code and param."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str = "invalid_request_error",
        code: Optional[str] = None,
        param: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}

    def openai_body(self) -> dict:
        """The OpenAI error envelope."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def anthropic_body(self) -> dict:
        """The Anthropic error envelope."""
        kind = _ANTHROPIC_TYPES.get(self.status)
        if kind is None:
            kind = "api_error" if self.status >= 500 else "invalid_request_error"
        return {"type": "error", "error": {"type": kind, "message": self.message}}

    def openai_json(self) -> bytes:
        return json.dumps(self.openai_body(), separators=(",", ":")).encode()


def invalid_request(message: str, param: Optional[str] = None, code: Optional[str] = None) -> GatewayError:
    """400 invalid_request_error."""
    return GatewayError(400, message, "invalid_request_error", code, param)


def upstream_unreachable(message: str) -> GatewayError:
    """502: the upstream could not be reached or broke the connection."""
    return GatewayError(502, message, "api_error", "upstream_unreachable")


def upstream_timeout(message: str) -> GatewayError:
    """504: the upstream did not answer in time."""
    return GatewayError(504, message, "api_error", "upstream_timeout")


def unauthorized(message: str) -> GatewayError:
    """401 for a missing or unusable credential."""
    return GatewayError(401, message, "authentication_error", "invalid_api_key")
