"""Keeping pi OAuth logins fresh: one refresh per provider at a time, under pi's lock, saved before use.

In this process, callers needing the same provider's refresh queue on one ``threading.Lock``; each
late arrival re-reads auth.json and reuses a token that is fresh by then. Across processes the
critical section is pi's own (reference/credentials.md section 6): take ``AuthLock``, re-read the
file, stop when the entry is no longer an OAuth login (logged out), reuse it when it is fresh
(another pi or pigw refreshed it), else call the provider's refresher, write the new entry and only
then hand it out, so a rotated refresh token is on disk before its access token is used.
"""

import threading
import time
from typing import Callable, Dict, Mapping

from pigw.credentials import auth_file
from pigw.credentials.auth_file import AuthFile, AuthFileError, Entry
from pigw.credentials.lock import AuthLock, LockCompromised, LockError
from pigw.errors import GatewayError, unauthorized

# Calls the provider's token endpoint for one OAuth entry and returns the entry to store; raises GatewayError.
Refresher = Callable[[str, Entry], Entry]

REFRESH_MARGIN_MS = 300000  # pi refreshes when less than five minutes remain


def expiring(entry: Entry) -> bool:
    """Whether pi would refresh this OAuth entry now."""
    return time.time() * 1000 + REFRESH_MARGIN_MS >= entry["expires"]


class Refreshing:
    """Refreshes OAuth entries of one auth.json, one provider at a time."""

    def __init__(self, auth: AuthFile, refreshers: Mapping[str, Refresher]) -> None:
        self._auth = auth
        self._refreshers = refreshers
        self._guard = threading.Lock()
        self._locks: Dict[str, threading.Lock] = {}

    def has(self, provider: str) -> bool:
        return provider in self._refreshers

    def fresh(self, provider: str) -> Entry:
        """The provider's OAuth entry, refreshed unless it already is fresh; GatewayError on failure."""
        with self._guard:
            provider_lock = self._locks.setdefault(provider, threading.Lock())
        with provider_lock:
            current = self._auth.entries().get(provider)
            if current is not None and current["type"] == "oauth" and not expiring(current):
                return current
            return self._refresh_locked(provider)

    def _refresh_locked(self, provider: str) -> Entry:
        path = self._auth.path
        try:
            with AuthLock(path) as lock:
                entry = auth_file.read_object(lock.target).get(provider)
                if not isinstance(entry, dict) or auth_file.entry_problem(entry) or entry["type"] != "oauth":
                    raise unauthorized(
                        f'The pi login for provider "{provider}" is gone from {path} (logged out); '
                        f"run `pi /login {provider}`."
                    )
                if not expiring(entry):
                    return entry
                entry = self._refreshers[provider](provider, entry)
                lock.check()
                auth_file.write_entry(lock.target, provider, entry)
                self._auth.changed()
                return entry
        except AuthFileError as exc:
            raise unauthorized(
                f'Cannot refresh the pi login for provider "{provider}": {path} {exc}; '
                f"fix the file or run `pi /login {provider}`."
            ) from None
        except LockCompromised as exc:
            raise GatewayError(
                503, f"The refreshed login was not saved because {exc}; try again.", "api_error", "auth_lock_lost"
            ) from None
        except LockError as exc:
            raise GatewayError(
                503, f"Cannot refresh the pi login for provider {provider!r}: {exc}.", "api_error", "auth_locked"
            ) from None
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            raise unauthorized(
                f'The refreshed pi login for provider "{provider}" could not be saved to {path} ({why}); '
                f"run `pi /login {provider}`."
            ) from None
