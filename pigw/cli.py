"""Command line: `pigw [serve]` runs the gateway in the foreground, `pigw models` lists what it would serve.

Exit codes: 0 success, 1 the server could not start (port taken, bind failed), 2 bad usage or
configuration. No flag takes a secret: the gateway's own key comes from a config file or the
environment.
"""

import argparse
import os
import signal
import sys
import threading
from typing import List, Optional, TextIO

from pigw import __version__
from pigw import config as config_module

_DRAIN_SECONDS = 3.0  # how long a stop waits for cut streams to write their last frame
LOG_HOLD_S = 0.2  # access-log lines are written together at most this late (warnings and errors at once)
_NO_MODELS_HELP = """No models are available yet: pigw found no credentials. Add one of:
  - pi /login                 (stores a subscription or key in {auth_dir}/auth.json)
  - an API key in the environment, e.g. OPENAI_API_KEY, GROQ_API_KEY, OPENROUTER_API_KEY
  - a provider with "apiKey" in {auth_dir}/models.json (Ollama, LM Studio, vLLM, ...)
Or start with --demo for the offline model pigw/demo."""


def main(argv: Optional[List[str]] = None, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> int:
    args = _parser().parse_args(argv)
    if args.version:
        stdout.write("pigw %s\n" % __version__)
        return 0
    try:
        config = config_module.load(_flags(args))
    except config_module.ConfigError as exc:
        stderr.write("pigw: %s\n" % exc)
        return 2
    if args.command == "models":
        return _list_models(config, stdout, stderr)
    return _serve(config, stdout, stderr)


def _serve(config, stdout: TextIO, stderr: TextIO) -> int:
    from pigw.config import is_loopback
    from pigw.listener import listen
    from pigw.pidfile import AlreadyRunning, PidFile

    if not config.api_key and (config.require_key_on_loopback or not is_loopback(config.bind)):
        reason = "with --require-key-on-loopback" if is_loopback(config.bind) else "on %s" % config.bind
        stderr.write(
            'pigw: refusing to listen %s without an API key. Set PIGW_API_KEY (or "apiKey" in '
            "%s/gateway.json or a --config file), or bind to 127.0.0.1.\n" % (reason, config.auth_dir)
        )
        return 2
    pidfile = PidFile(config.auth_dir)
    try:
        pidfile.acquire()
    except (AlreadyRunning, OSError) as exc:
        stderr.write("pigw: %s\n" % exc)
        return 1
    try:
        # Listening before the gateway loads: a client that connects meanwhile waits instead of being refused.
        try:
            listener = listen(config.bind, config.port)
        except OSError as exc:
            stderr.write("pigw: cannot listen on %s port %d: %s\n" % (config.bind, config.port, exc.strerror or exc))
            return 1
        with listener:
            return _serve_listening(config, pidfile, listener, stdout, stderr)
    finally:
        pidfile.release()


def _serve_listening(config, pidfile, listener, stdout: TextIO, stderr: TextIO) -> int:
    from pigw import gateway as gateway_module
    from pigw.log import Log
    from pigw.server import Server

    try:
        log_stream = _open_log(config.log_file) if config.log_file else stderr
    except OSError as exc:
        stderr.write("pigw: cannot open log file %s: %s\n" % (config.log_file, exc.strerror or exc))
        return 2
    gateway = gateway_module.build(config)
    for warning in gateway.warnings:
        stderr.write("pigw: warning: %s\n" % warning)
    server = Server(listener, gateway, config, Log(config.log_level, log_stream, LOG_HOLD_S))
    pidfile.record_url(server.url() + "/v1")
    served = gateway.registry.models()
    providers = {model.provider for model in served}
    stdout.write("pigw %s listening on %s/v1\n" % (__version__, server.url()))
    stdout.write("auth dir: %s\n" % config.auth_dir)
    stdout.write("models: %d from %d provider%s\n" % (len(served), len(providers), "" if len(providers) == 1 else "s"))
    if not [model for model in served if model.provider != "pigw"]:
        stdout.write(_NO_MODELS_HELP.format(auth_dir=config.auth_dir) + "\n")
    stop = threading.Event()
    # Handlers go in before the banner is visible (whoever reads it may signal at once) and stay
    # until the process exits, so a second signal during the bounded drain cannot cut it short.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.set())
    stdout.flush()
    code = _run_until(stop, server, stdout)
    # Done: a late signal is ignored from here on, as interpreter teardown would put the default
    # handler back and a second SIGTERM would turn this exit 0 into a kill.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    return code


def _run_until(stop: threading.Event, server, stdout: TextIO) -> int:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.watcher.cancel_all("pigw is shutting down; the answer was cut short.")
        server.watcher.wait_idle(_DRAIN_SECONDS)
        server.server_close()
        server.log.flush()
    stdout.write("pigw stopped\n")
    stdout.flush()
    return 0


def _list_models(config, stdout: TextIO, stderr: TextIO) -> int:
    from pigw import gateway as gateway_module

    gateway = gateway_module.build(config)
    for warning in gateway.warnings:
        stderr.write("pigw: warning: %s\n" % warning)
    served = gateway.registry.models()
    for model in served:
        stdout.write(model.public_id + "\n")
    stderr.write("%d models (auth dir %s)\n" % (len(served), config.auth_dir))
    if not served:
        stderr.write(_NO_MODELS_HELP.format(auth_dir=config.auth_dir) + "\n")
    return 0


def _open_log(path: str) -> TextIO:
    """Append to path, creating it readable by its owner only (logs name models and clients)."""
    descriptor = os.open(os.path.expanduser(path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    return os.fdopen(descriptor, "a", encoding="utf-8")


def _flags(args: argparse.Namespace) -> dict:
    """The flags the user gave, under their config-file names."""
    pairs = {
        "port": args.port,
        "bind": args.bind,
        "logLevel": args.log_level,
        "modelAllowlist": args.model_allowlist,
        "modelDenylist": args.model_denylist,
        "authDir": args.auth_dir,
        "config": args.config,
        "demo": True if args.demo else None,
        "strictParams": True if args.strict else None,
        "allowOrigins": args.allow_origin,
        "requireKeyOnLoopback": True if args.require_key_on_loopback else None,
        "logFile": args.log_file,
        "logBodies": True if args.log_bodies else None,
        "readOnlyAuth": True if args.read_only_auth else None,
        "exposeOAuthSubscriptions": True if args.expose_oauth_subscriptions else None,
        "allowRemoteImages": True if args.allow_remote_images else None,
    }
    return {key: value for key, value in pairs.items() if value is not None}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pigw",
        description="Serve every model pi can reach through an OpenAI-compatible API on loopback.",
        epilog="The gateway's own API key is read from PIGW_API_KEY or a config file, never from a flag.",
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=("serve", "models"),
        help="serve (default): run the gateway; models: print the models it would serve",
    )
    parser.add_argument("--port", type=int, help="port to listen on (default 4000; 0 picks a free one)")
    parser.add_argument("--bind", metavar="HOST", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--config", metavar="PATH", help="JSON config file, read after <auth dir>/gateway.json")
    parser.add_argument(
        "--auth-dir", metavar="PATH", help="pi's agent dir (default $PI_CODING_AGENT_DIR or ~/.pi/agent)"
    )
    parser.add_argument("--log-level", choices=("debug", "info", "warn", "error"), help="default info")
    parser.add_argument(
        "--model-allowlist",
        metavar="ID",
        action="append",
        help="serve only matching models (public or bare id, * globs); repeatable",
    )
    parser.add_argument(
        "--model-denylist", metavar="ID", action="append", help="never serve matching models; repeatable"
    )
    parser.add_argument("--demo", action="store_true", help="add the offline model pigw/demo")
    parser.add_argument("--strict", action="store_true", help="answer 400 to request fields pigw would otherwise drop")
    parser.add_argument(
        "--allow-origin",
        metavar="ORIGIN",
        action="append",
        help="answer CORS for this browser origin (* for any); repeatable",
    )
    parser.add_argument(
        "--require-key-on-loopback", action="store_true", help="require the gateway key on loopback binds too"
    )
    parser.add_argument(
        "--log-file", metavar="PATH", help="write the JSON log lines here (mode 0600) instead of stderr"
    )
    parser.add_argument(
        "--log-bodies",
        action="store_true",
        help="also log request and response bodies (secrets scrubbed, 64 KiB each at most); for debugging",
    )
    parser.add_argument(
        "--read-only-auth", action="store_true", help="never write auth.json (no OAuth refresh; expired tokens get 401)"
    )
    parser.add_argument(
        "--expose-oauth-subscriptions",
        action="store_true",
        help="serve subscription (OAuth) models on a non-loopback bind too",
    )
    parser.add_argument(
        "--allow-remote-images",
        action="store_true",
        help="fetch http(s) image URLs in requests (public addresses only) and send them inline",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    return parser
