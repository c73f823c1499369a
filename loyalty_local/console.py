"""The back-office console (console/) on the API port at /console/, as CloudFront serves it in AWS: the same
security headers (template.yaml's ConsoleHeadersPolicy), gzip when the browser takes it, nothing outside console/.

Locally the console signs in with a local admin token: /console/config.json is made here for each request (in
AWS `make deploy` writes a config.json naming the Cognito hosted UI instead). The token is never in a shipped file.
"""

from __future__ import annotations

import gzip
import json
import mimetypes
from pathlib import Path
from typing import Callable

from loyalty_local.template import ROOT

CONSOLE_DIR = ROOT / "console"
PREFIX = "/console"

# The policy CloudFront adds in AWS (template.yaml, ConsoleHeadersPolicy): scripts and styles from the console's
# own origin only (no inline script, no eval), the API on the same origin here, never framed.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                           "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; "
                           "frame-ancestors 'none'; object-src 'none'")
SECURITY_HEADERS = [
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
]
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8",
         ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon"}
COMPRESSIBLE = (".js", ".css", ".html", ".json", ".svg")

Response = tuple[int, list[tuple[str, str]], bytes]


def is_console(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def serve(method: str, path: str, accept_encoding: str, admin_token: Callable[[], str],
          directory: Path = CONSOLE_DIR) -> Response:
    """GET or HEAD of a file under console/ (index.html for the folder), or the local config.json."""
    if method not in ("GET", "HEAD"):
        return _text(405, "Method Not Allowed", ("allow", "GET, HEAD"))
    if path == PREFIX:
        return 301, [("location", PREFIX + "/"), *SECURITY_HEADERS], b""
    relative = path[len(PREFIX) + 1:] or "index.html"
    if relative == "config.json":  # the local sign-in: the runtime's own admin token, same-origin API
        body = json.dumps({"mode": "local", "api": "", "token": admin_token()}).encode()
        return 200, [("content-type", TYPES[".json"]), ("cache-control", "no-store"), *SECURITY_HEADERS], body
    root = directory.resolve()
    file = (root / relative).resolve()
    if root not in file.parents or not file.is_file() or any(part.startswith(".") for part in file.relative_to(root).parts):
        return _text(404, "Not Found")
    body = file.read_bytes()
    headers = [("content-type", TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"),
               ("cache-control", "no-cache"), *SECURITY_HEADERS]
    if file.suffix in COMPRESSIBLE and "gzip" in accept_encoding.lower():
        body = gzip.compress(body, compresslevel=6, mtime=0)
        headers += [("content-encoding", "gzip"), ("vary", "accept-encoding")]
    return 200, headers, body


def _text(status: int, text: str, *headers: tuple[str, str]) -> Response:
    return status, [("content-type", "text/plain; charset=utf-8"), *SECURITY_HEADERS, *headers], text.encode()
