#!/usr/bin/env bash
# Starts pigw for the shared harness: PIGW_CMD=/work/main/bench/pigw_cmd.sh /work/shared/bench/run.sh pigw
# Writes ${TMPDIR:-/tmp}/pigw-bench-auth-$PIGW_PORT/models.json (provider `mock`, openai-completions at
# $MOCK_OPENAI_BASE, models mock-c20-d0 and mock-c20-d5; provider `mockanthropic`, anthropic-messages at
# $MOCK_ANTHROPIC_BASE, model claude-mock-c20-d0), sets the gateway key PIGW_API_KEY (default sk-bench,
# as run.sh), then execs pigw so the harness measures pigw's own process.
# Env: PIGW_PYZ (default <repo>/dist/pigw.pyz), PIGW_PYTHON (default python3); arguments go to pigw.
# The harness times this script too, so it starts one process besides pigw (mkdir) and no subshell.
set -euo pipefail
: "${PIGW_PORT:?}" "${MOCK_OPENAI_BASE:?}" "${MOCK_ANTHROPIC_BASE:?}"
here="${BASH_SOURCE[0]%/*}"
auth="${TMPDIR:-/tmp}/pigw-bench-auth-$PIGW_PORT"
mkdir -p "$auth"
IFS= read -r -d '' models <<JSON || true
{"providers": {
  "mock": {"baseUrl": "$MOCK_OPENAI_BASE", "api": "openai-completions", "apiKey": "x",
           "compat": {"supportsDeveloperRole": false, "supportsReasoningEffort": false},
           "models": [{"id": "mock-c20-d0"}, {"id": "mock-c20-d5"}]},
  "mockanthropic": {"baseUrl": "$MOCK_ANTHROPIC_BASE", "api": "anthropic-messages", "apiKey": "x",
                    "models": [{"id": "claude-mock-c20-d0"}]}}}
JSON
printf '%s' "$models" >"$auth/models.json"
export PIGW_API_KEY="${PIGW_API_KEY:-sk-bench}"
exec "${PIGW_PYTHON:-python3}" "${PIGW_PYZ:-$here/../dist/pigw.pyz}" --port "$PIGW_PORT" --auth-dir "$auth" "$@"
