"""`make run`: the whole SAM application on this machine, no Docker and no AWS account.

- DynamoDB: moto in server mode, with the template's tables and the demo catalog;
- the HTTP API on API_PORT (3000), routed from template.yaml, with the JWT authorizer emulated;
- the Lambda Invoke API on LAMBDA_PORT (3001), like `sam local start-lambda`;
- /openapi.json and /docs on the API port.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from loyalty_local import apigw
from loyalty_local.functions import FunctionError, FunctionPool, FunctionTimeout
from loyalty_local.template import LOCAL_REGION, ROOT, create_tables, functions, load_template

sys.path.insert(0, str(ROOT / "layers" / "loyalty"))  # the shared layer, as /opt/python is in Lambda

DOCS_PAGE = Path(__file__).with_name("docs.html")
EVENTS_FILE = ROOT / ".local" / "events.jsonl"
INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")


def log(message: str) -> None:
    print(message, flush=True)


class Runtime:
    def __init__(self, api_port: int, lambda_port: int, dynamodb_port: int, secret: str) -> None:
        self.api_port, self.lambda_port, self.dynamodb_port, self.secret = api_port, lambda_port, dynamodb_port, secret
        self.servers: list[ThreadingHTTPServer] = []
        self.dynamodb = None
        self.pool: FunctionPool | None = None
        self.poller = None
        self.router: apigw.Router | None = None
        self.openapi: bytes = b"{}"

    # ---------------------------------------------------------------- start and stop

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        from loyalty_local.moto_atomic import make_dynamodb_atomic

        make_dynamodb_atomic()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto logs every request otherwise
        self.dynamodb = ThreadedMotoServer(ip_address="127.0.0.1", port=self.dynamodb_port, verbose=False)
        self.dynamodb.start()
        endpoint = f"http://127.0.0.1:{self.dynamodb_port}"
        aws = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
               "AWS_DEFAULT_REGION": LOCAL_REGION, "LOCAL_EVENTS_FILE": str(EVENTS_FILE)}
        os.environ.update(aws)  # for the seeding and the OpenAPI build in this process

        import boto3

        template = load_template()
        create_tables(boto3.client("dynamodb", region_name=LOCAL_REGION, endpoint_url=endpoint), template)
        from loyalty.seed import seed_demo

        seed_demo()
        specs = functions(template)
        self.router = apigw.Router(specs)
        self.pool = FunctionPool(specs, aws, log)
        EVENTS_FILE.parent.mkdir(exist_ok=True)
        EVENTS_FILE.write_text("")  # the events of this run
        from loyalty_local.streams import StreamPoller

        self.poller = StreamPoller(endpoint, specs, self._deliver_stream, log)
        self.poller.start()
        from loyalty_local.openapi import build_openapi

        self.openapi = json.dumps(build_openapi(), indent=2).encode()
        self.servers = [
            ThreadingHTTPServer(("127.0.0.1", self.api_port), self._handler(self._serve_api)),
            ThreadingHTTPServer(("127.0.0.1", self.lambda_port), self._handler(self._serve_invoke)),
        ]
        for server in self.servers:
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def _deliver_stream(self, function: str, event: dict) -> None:
        try:
            self.pool.invoke(function, event)
        except (FunctionError, FunctionTimeout) as error:
            log(f"[streams] {function} failed on a stream batch: {error}")

    def stop(self) -> None:
        if self.poller:
            self.poller.stop()
        for server in self.servers:
            server.shutdown()
            server.server_close()
        if self.pool:
            self.pool.stop()
        if self.dynamodb:
            self.dynamodb.stop()

    # ---------------------------------------------------------------- HTTP plumbing

    def _handler(self, serve):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave in two writes: no 40 ms delayed-ACK stall

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, data = serve(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                              body, self.client_address[0])
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _any

            def log_message(self, format: str, *args: Any) -> None:
                log(f"[http] {self.address_string()} {format % args}")

        return Handler

    @staticmethod
    def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        return status, {"content-type": "application/json", **(headers or {})}, json.dumps(body).encode()

    # ---------------------------------------------------------------- the HTTP API

    def _serve_api(self, method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str):
        path, _, query = target.partition("?")
        if method == "GET" and path == "/openapi.json":
            return 200, {"content-type": "application/json"}, self.openapi
        if method == "GET" and path in ("/docs", "/docs/"):
            return 200, {"content-type": "text/html; charset=utf-8"}, DOCS_PAGE.read_bytes()
        match = self.router.match(method, path)
        if match is None:
            return self._json(404, {"message": "Not Found"})
        try:
            claims = apigw.authorize(headers, self.secret)
        except apigw.Unauthorized:
            return self._json(401, {"message": "Unauthorized"}, {"www-authenticate": "Bearer"})
        if not apigw.has_scope(claims, match.route):
            return self._json(403, {"message": "Forbidden"})
        event = apigw.http_event(match, method, path, query, headers, body, claims, source_ip)
        try:
            result = self.pool.invoke(match.function.logical_id, event, event["requestContext"]["requestId"])
        except FunctionTimeout as error:
            log(f"[api] {error}")
            return self._json(503, {"message": "Service Unavailable"})
        except FunctionError as error:
            log(f"[api] {match.function.logical_id} failed: {error.payload.get('errorType')}: {error.payload.get('errorMessage')}")
            return self._json(502, {"message": "Internal Server Error"})
        return apigw.http_response(result)

    # ---------------------------------------------------------------- the Lambda Invoke API

    def _serve_invoke(self, method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str):
        found = INVOKE_PATH.match(target.partition("?")[0])
        if method != "POST" or not found:
            return self._json(404, {"Type": "User", "message": "Unknown operation"})
        name = found["name"].split(":")[-1]
        if name not in self.pool:
            return self._json(404, {"Type": "User", "message": f"Function not found: {name}"},
                              {"x-amzn-errortype": "ResourceNotFoundException"})
        try:
            event = json.loads(body or b"{}")
        except json.JSONDecodeError:
            return self._json(400, {"Type": "User", "message": "Could not parse request body into json"},
                              {"x-amzn-errortype": "InvalidRequestContentException"})
        executed = {"x-amz-executed-version": "$LATEST"}
        try:
            return self._json(200, self.pool.invoke(name, event), executed)
        except FunctionTimeout as error:
            return self._json(200, {"errorMessage": str(error), "errorType": "Sandbox.Timedout"},
                              {**executed, "x-amz-function-error": "Unhandled"})
        except FunctionError as error:
            return self._json(200, error.payload, {**executed, "x-amz-function-error": "Unhandled"})


def serve() -> int:
    secret = os.environ.get("LOCAL_JWT_SECRET", apigw.DEFAULT_SECRET)
    runtime = Runtime(
        api_port=int(os.environ.get("API_PORT", "3000")), lambda_port=int(os.environ.get("LAMBDA_PORT", "3001")),
        dynamodb_port=int(os.environ.get("DYNAMODB_PORT", "3002")), secret=secret,
    )
    started = time.perf_counter()
    runtime.start()
    api = f"http://127.0.0.1:{runtime.api_port}"
    log(f"""
Loyalty API running locally ({time.perf_counter() - started:.1f} s to start)
  HTTP API         {api}            (try {api}/v1/program)
  API docs         {api}/docs       OpenAPI: {api}/openapi.json
  Lambda invoke    http://127.0.0.1:{runtime.lambda_port}   (aws lambda invoke --endpoint-url ...)
  DynamoDB (moto)  http://127.0.0.1:{runtime.dynamodb_port}
  Domain events    logged here, and listed by `make events` ({EVENTS_FILE})
Tokens (12 h; `make token ROLE=member|pos|admin [SUB=...]` for more):
  member  {apigw.make_token("member", secret)}
  pos     {apigw.make_token("pos", secret)}
  admin   {apigw.make_token("admin", secret)}
Ready. Ctrl-C stops everything.""")
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    stopping.wait()
    log("stopping...")
    runtime.stop()
    return 0


def list_events(detail_type: str | None) -> int:
    if not EVENTS_FILE.exists():
        print("no events yet: start `make run` and use the API")
        return 0
    for line in EVENTS_FILE.read_text().splitlines():
        event = json.loads(line)
        if detail_type in (None, event["detail-type"]):
            print(f"{event['time']}  {event['detail-type']:<20} {json.dumps(event['detail'])}")
    return 0


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m loyalty_local", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="start the local runtime")
    token = commands.add_parser("token", help="print a local JWT")
    token.add_argument("--role", choices=sorted(apigw.ROLE_SCOPES), default="member")
    token.add_argument("--sub", help="the token's subject (default: one per role)")
    listing = commands.add_parser("events", help="list the domain events published by the running `make run`")
    listing.add_argument("--type", help="only this detail-type, e.g. PointsExpiringSoon")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve()
    if args.command == "events":
        return list_events(args.type)
    print(apigw.make_token(args.role, os.environ.get("LOCAL_JWT_SECRET", apigw.DEFAULT_SECRET), args.sub))
    return 0


if __name__ == "__main__":
    sys.exit(main())
