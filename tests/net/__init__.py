"""Tests of the upstream HTTP layer: pooled connections and the SSE reader."""
