"""pigw: every model the pi coding agent can reach, behind an OpenAI-compatible HTTP API."""

__version__ = "0.1.0"
