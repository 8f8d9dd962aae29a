"""A second process that refreshes an Anthropic login the way pi does, for the cross-process race test.

Usage: pi_like_refresh.py AUTH_JSON TOKEN_URL GO_FILE. Prints "ready", waits for GO_FILE to exist,
then runs pi's critical section (reference/credentials.md section 6): mkdir the lock directory
(backing off while it exists), re-read auth.json, refresh only when less than five minutes remain
(JSON body to TOKEN_URL), write the whole object back as 2-space JSON, rmdir the lock. Prints the
access token it ended with. Standard library only; pi's own write is a plain overwrite, this one
renames a temp file so the test's torn-file reader watches pigw's writes alone.
"""

import json
import os
import random
import sys
import time
import urllib.request


def main() -> None:
    auth_path, token_url, go_file = sys.argv[1:4]
    print("ready", flush=True)
    deadline = time.monotonic() + 10
    while not os.path.exists(go_file):
        if time.monotonic() > deadline:
            raise SystemExit("no go")
        time.sleep(0.001)
    target = os.path.realpath(auth_path)
    lock = target + ".lock"
    attempt = 0
    while True:
        try:
            os.mkdir(lock)
            break
        except FileExistsError:
            time.sleep(min(0.01 * 2**attempt, 1.0) * (1 + random.random()))
            attempt += 1
    try:
        with open(target, encoding="utf-8") as f:
            data = json.load(f)
        entry = data["anthropic"]
        if time.time() * 1000 + 300000 >= entry["expires"]:
            body = json.dumps({"grant_type": "refresh_token", "refresh_token": entry["refresh"]}).encode()
            request = urllib.request.Request(token_url, body, {"Content-Type": "application/json"})
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(request, timeout=10) as response:
                answer = json.loads(response.read())
            entry = {
                "type": "oauth",
                "refresh": answer["refresh_token"],
                "access": answer["access_token"],
                "expires": int(time.time() * 1000) + answer["expires_in"] * 1000 - 300000,
            }
            data["anthropic"] = entry
            temp = target + ".pi-tmp"
            with open(temp, "w", encoding="utf-8") as f:
                f.write(json.dumps(data, indent=2))
            os.chmod(temp, 0o600)
            os.replace(temp, target)
    finally:
        os.rmdir(lock)
    print(entry["access"], flush=True)


if __name__ == "__main__":
    main()
