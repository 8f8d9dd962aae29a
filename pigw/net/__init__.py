"""Upstream HTTP for pigw: pooled keep-alive connections (``http``) and an incremental SSE reader (``sse``).

This package imports nothing else of pigw.
"""
