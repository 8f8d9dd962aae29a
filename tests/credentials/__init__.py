"""Shared helpers for the credential tests: portable shell commands that count their runs."""

import os
import sys


def py(code: str) -> str:
    """A shell command line running ``code`` (no double quotes in it) with this interpreter."""
    return f'"{sys.executable}" -c "{code}"'


def counting(counter: str, output: str, exit_code: int = 0, delay: float = 0.0) -> str:
    """A command that appends one byte to ``counter``, prints ``output``, waits ``delay`` s and exits."""
    return py(
        f"import sys, time; open(r'{counter}', 'a').write('x'); sys.stdout.write('{output}'); "
        f"time.sleep({delay}); sys.exit({exit_code})"
    )


def runs(counter: str) -> int:
    """How many times the commands counting into ``counter`` ran."""
    if not os.path.exists(counter):
        return 0
    with open(counter) as f:
        return len(f.read())
