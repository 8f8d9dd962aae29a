"""Test-only helpers: the loopback mock upstream that stands in for LLM providers."""
