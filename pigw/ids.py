"""Identifiers of requests and answers: unique per process, not secret, no system call per id."""

import random

_random = random.Random()


def new_id(prefix: str) -> str:
    """``prefix`` and 24 random hex digits (96 bits; seeded once from the OS, never read from it again)."""
    return "%s%024x" % (prefix, _random.getrandbits(96))
