"""`make run`: the whole SAM application on this machine, no Docker and no AWS account.

- DynamoDB: moto in server mode, with the template's tables and the demo catalog;
- the HTTP API on API_PORT (3000), routed from template.yaml, with the JWT authorizer emulated;
- the Lambda Invoke API on LAMBDA_PORT (3001), like `sam local start-lambda`;
- /openapi.json and /docs on the API port, and the business clock at /_local/clock.
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
import traceback
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote

from loyalty_local import apigw, console, events
from loyalty_local.clock import ClockError, LocalClock, clock_body
from loyalty_local.outbox import outbox_file, read_outbox
from loyalty_local.functions import FunctionError, FunctionPool, FunctionTimeout
from loyalty_local.throttle import TOO_MANY_REQUESTS, Throttle, parse_overrides
from loyalty_local.template import LOCAL_ACCOUNT, LOCAL_REGION, ROOT, create_tables, functions, load_template

sys.path.insert(0, str(ROOT / "layers" / "loyalty"))  # the shared layer, as /opt/python is in Lambda

# The API page is powertools' Swagger UI with the assets powertools ships, served from here: it works offline.
SWAGGER_ASSETS = {"/docs/swagger-ui-bundle.min.js": "application/javascript", "/docs/swagger-ui.min.css": "text/css"}
# A fixed key for the e-mail hash: deployed functions read theirs from SSM, the local ones get this one.
LOCAL_EMAIL_HASH_KEY = "loyalty-local-email-hash-key-not-for-production"
LOCAL_SENDER = "rewards@loyalty.localhost"  # member e-mail's From in the outbox
INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")

Response = tuple[int, list[tuple[str, str]], bytes]


def log(message: str) -> None:
    print(message, flush=True)


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a keep-alive connection must not hold up the exit
    request_queue_size = 128  # the default 5 drops connections when a test or a script sends a burst

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that went away needs no traceback
            super().handle_error(request, client_address)


def json_response(status: int, body: Any, *headers: tuple[str, str]) -> Response:
    return status, [("content-type", "application/json"), *headers], json.dumps(body, separators=(",", ":")).encode()


class Runtime:
    def __init__(self, api_port: int, lambda_port: int, dynamodb_port: int, secret: str,
                 issuer: str = apigw.DEFAULT_ISSUER, audience: str = apigw.DEFAULT_AUDIENCE) -> None:
        self.api_port, self.lambda_port, self.dynamodb_port = api_port, lambda_port, dynamodb_port
        self.secret, self.issuer, self.audience = secret, issuer, audience
        self.clock: LocalClock | None = None
        self.http_servers: list[HTTPServer] = []
        self.serving = False
        self.dynamodb = None
        self.pool: FunctionPool | None = None
        self.poller = None
        self.analytics = None  # the events follower feeding the analytics store (loyalty_local/analytics.py)
        self.bus = None  # the local EventBridge, its queues and SQS event sources (loyalty_local/bus.py)
        self.router: apigw.Router | None = None
        self.throttle: Throttle | None = None  # set by start() from the template; none: nothing is throttled
        self.openapi: bytes = b"{}"
        self.docs_page: bytes = b""

    # ---------------------------------------------------------------- start and stop

    def start(self) -> None:
        """Start everything, or stop what was started and raise (a port in use is an OSError)."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        # Bind the ports first: a port in use fails here, before anything slow has started.
        self.http_servers = [
            HTTPServer(("127.0.0.1", self.api_port), self._handler(self.serve_api, self.api_port)),
            HTTPServer(("127.0.0.1", self.lambda_port), self._handler(self.serve_invoke, self.lambda_port)),
        ]
        self.dynamodb = _start_dynamodb(self.dynamodb_port)
        endpoint = f"http://127.0.0.1:{self.dynamodb_port}"
        published = events.events_file()
        self.clock = LocalClock(published.with_name(f"clock-{self.api_port}.json"))
        aws = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
               "AWS_DEFAULT_REGION": LOCAL_REGION}
        from loyalty_local.bus import LocalBus

        aws.update(LocalBus.environment(endpoint))  # SQS and KMS are moto's too
        local = local_environment(published, self.clock.path)
        local["PUBLIC_API_URL"] = f"http://127.0.0.1:{self.api_port}"  # the unsubscribe links of member e-mail
        os.environ.update({**aws, **local})  # for the seeding and the OpenAPI build in this process

        import boto3

        template = load_template()
        create_tables(boto3.client("dynamodb", region_name=LOCAL_REGION, endpoint_url=endpoint), template)
        from loyalty.seed import seed_demo

        seed_demo("CatalogTable", LOCAL_REGION)
        self.bus = LocalBus(template, endpoint, published, log)
        specs = self.bus.prepare(functions(template))
        self.router = apigw.Router(specs)
        # API Gateway's route throttling, with the template's limits (LOCAL_PARAMETER_OVERRIDES may change them)
        self.throttle = Throttle.from_template(template, parse_overrides(os.environ.get("LOCAL_PARAMETER_OVERRIDES", "")))
        self.pool = FunctionPool(specs, {**aws, **local}, log)
        published.parent.mkdir(parents=True, exist_ok=True)
        published.write_text("")  # the events of this run
        outbox_file(published).write_text("")  # and its e-mail
        from loyalty_local.streams import StreamPoller

        self.poller = StreamPoller(endpoint, specs, self._deliver_stream_batch, log, give_up=self.bus.send)
        self.poller.start()
        from loyalty_local import analytics

        self.analytics = analytics.start(published, log)
        self.bus.start(lambda name, event: self.pool.invoke(name, event, str(uuid.uuid4())),
                       lambda name, event: self._invoke_unwaited(name, event, str(uuid.uuid4())))
        from loyalty_local.openapi import build_openapi

        self.openapi = json.dumps(build_openapi(), indent=2).encode()
        from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

        self.docs_page = generate_swagger_html(self.openapi.decode(), *SWAGGER_ASSETS, swagger_base_url="/docs",
                                               oauth2_config=None, persist_authorization=True).encode()
        for server in self.http_servers:  # a short poll interval keeps shutdown() quick
            threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
        self.serving = True

    def stop(self) -> None:
        """Take no more requests, end the functions (which frees whatever waits on them), then the rest."""
        for server in self.http_servers:
            if self.serving:  # shutdown() would wait forever for a server that never served
                server.shutdown()
            server.server_close()
        for follower in (self.bus, self.analytics):  # they take nothing more while the functions end
            if follower:
                follower.signal_stop()
        if self.pool:
            self.pool.stop()
        if self.poller:
            self.poller.stop()
        if self.analytics:
            self.analytics.stop()
        if self.bus:
            self.bus.stop()
        if self.dynamodb:
            self.dynamodb.shutdown()

    def _deliver_stream_batch(self, name: str, event: dict) -> Any:
        """As Lambda's event source mapping does: the function's result (its batchItemFailures); a failure raises,
        so the poller offers the batch again."""
        return self.pool.invoke(name, event, str(uuid.uuid4()))

    def _invoke_unwaited(self, name: str, event: Any, request_id: str) -> None:
        """An `Event` invocation, after its 202: nobody waits for it, so a failure goes to the log."""
        try:
            self.pool.invoke(name, event, request_id)
        except FunctionError as error:
            log(f"[invoke] {name} failed: {error}")

    # ---------------------------------------------------------------- HTTP plumbing

    def _handler(self, serve: Callable[[apigw.Request], Response], port: int):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave in two writes: no 40 ms delayed-ACK stall

            def __getattr__(self, name: str) -> Any:
                if name.startswith("do_"):  # every method, known or not, is routed: no 501 page
                    return self._any
                raise AttributeError(name)

            def _any(self) -> None:
                try:
                    path, _, query = self.path.partition("?")
                    request = apigw.Request(self.command, path, query, _joined_headers(self.headers),
                                            _read_body(self.headers, self.rfile), self.client_address[0], port)
                except ValueError:
                    self._send(*json_response(400, {"message": "Bad Request"}))
                    return
                try:
                    response = serve(request)
                except Exception:  # noqa: BLE001 - a bug of the runtime, not of a function
                    log(f"[runtime] {self.command} {self.path}\n{traceback.format_exc()}")
                    response = json_response(500, {"message": "Internal Server Error"})
                self._send(*response)

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                """What the HTTP layer refuses (a malformed request line, headers too long) is JSON too."""
                self.close_connection = True
                self._send(*json_response(code, {"message": HTTPStatus(code).phrase}, ("connection", "close")))

            def _send(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":  # a body the client does not read would garble the connection's next answer
                    self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                # Without query strings: they may hold personal data (GET /v1/members?email=...).
                log(f"[http] {self.address_string()} {re.sub(r'[?][^ ]*', '', format % args)}")

        return Handler

    # ---------------------------------------------------------------- the HTTP API

    def serve_api(self, request: apigw.Request) -> Response:
        """One request to the HTTP API, answered as API Gateway answers it."""
        request_id = str(uuid.uuid4())
        status, headers, body = self._answer_api(request, request_id)
        return status, [*headers, ("apigw-requestid", request_id)], body

    def _answer_api(self, request: apigw.Request, request_id: str) -> Response:
        if request.method == "GET" and (request.path == "/openapi.json" or (request.path == "/docs" and request.query == "format=json")):
            return 200, [("content-type", "application/json")], self.openapi
        if request.method == "GET" and request.path in ("/docs", "/docs/"):
            return 200, [("content-type", "text/html; charset=utf-8")], self.docs_page
        if request.method == "GET" and request.path in SWAGGER_ASSETS:
            return 200, [("content-type", SWAGGER_ASSETS[request.path]), ("cache-control", "max-age=86400")], _swagger_asset(request.path)
        if request.path == "/_local/clock" and request.method in ("GET", "POST"):
            return self._serve_clock(request)
        if request.path == "/_local/outbox" and request.method == "GET":
            return json_response(200, {"items": read_outbox(outbox_file(events.events_file()))})
        if console.is_console(request.path):  # the back-office console, signed in with a local admin token
            return console.serve(request.method, request.path, request.headers.get("accept-encoding", ""),
                                 lambda: apigw.make_token("admin", self.secret, issuer=self.issuer, audience=self.audience))
        match = self.router.match(request.method, request.path)
        if match is None:
            return json_response(404, {"message": "Not Found"})
        # Throttling comes before the authorizer, as in API Gateway: a flood of bad tokens is refused cheaply too.
        # (a runtime not started, as a test builds one, has no throttle: no limits to enforce)
        wait = self.throttle.retry_after(f"{match.route.method} {match.route.path}") if self.throttle else None
        if wait:
            return json_response(429, {"code": TOO_MANY_REQUESTS, "message": "too many requests on this route; retry "
                                       f"after {wait} s"}, ("retry-after", str(wait)))
        try:
            authorization = None if match.route.public else \
                apigw.authorize(request.headers, self.secret, match.route, self.issuer, self.audience)
        except apigw.Unauthorized as refused:
            return json_response(401, {"message": "Unauthorized"}, ("www-authenticate", refused.challenge()))
        except apigw.Forbidden as refused:
            return json_response(403, {"message": "Forbidden"}, ("www-authenticate", refused.challenge()))
        event = apigw.http_event(match, request, authorization, request_id)
        name = match.function.logical_id
        try:
            return apigw.http_response(self.pool.invoke(name, event, request_id))
        except FunctionTimeout as error:
            log(f"[api] {request.method} {request.path}: {name} {error}")
            return json_response(503, {"message": "Service Unavailable"}, ("retry-after", "1"))
        except (FunctionError, apigw.InvalidResponse) as error:
            log(f"[api] {request.method} {request.path}: {name} failed: {error}")
            return json_response(502, {"message": "Internal Server Error"})

    def _serve_clock(self, request: apigw.Request) -> Response:
        if request.method == "GET":
            return json_response(200, clock_body(self.clock.now()))
        try:
            moved = self.clock.move(json.loads(request.body))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return json_response(400, {"code": "MALFORMED_JSON", "message": "the body is not valid JSON"})
        except ClockError as refused:
            return json_response(refused.status, {"code": refused.code, "message": str(refused)})
        log(f"[clock] moved to {clock_body(moved)['now']}")
        return json_response(200, clock_body(moved))

    # ---------------------------------------------------------------- the Lambda Invoke API

    def serve_invoke(self, request: apigw.Request) -> Response:
        """One request to the Lambda Invoke API, answered as Lambda answers it."""
        request_id = str(uuid.uuid4())
        found = INVOKE_PATH.match(request.path)
        if request.method != "POST" or not found:
            return _lambda_error(404, "UnknownOperationException", f"no such operation: {request.method} {request.path}")
        name = _function_name(unquote(found["name"]))
        if name not in self.pool:
            arn = f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{name}"
            return _lambda_error(404, "ResourceNotFoundException", f"Function not found: {arn}")
        try:
            event = json.loads(request.body or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return _lambda_error(400, "InvalidRequestContentException", f"Could not parse request body into json: {error}")
        headers = [("x-amzn-requestid", request_id), ("x-amz-executed-version", "$LATEST")]
        invocation_type = request.headers.get("x-amz-invocation-type", "RequestResponse")
        if invocation_type == "DryRun":
            return 204, headers, b""
        if invocation_type == "Event":
            threading.Thread(target=self._invoke_unwaited, args=(name, event, request_id), daemon=True).start()
            return 202, headers, b""
        if invocation_type != "RequestResponse":
            return _lambda_error(400, "InvalidParameterValueException", f"unknown invocation type {invocation_type}")
        try:
            return json_response(200, self.pool.invoke(name, event, request_id), *headers)
        except FunctionError as error:
            return json_response(200, error.payload, *headers, ("x-amz-function-error", "Unhandled"))


def local_environment(events_file: Path, clock_file: Path) -> dict[str, str]:
    """What deployed functions get from the template and SSM, given explicitly: no setting has a default."""
    from loyalty_local.analytics import local_environment as analytics_environment

    from loyalty_local.outbox import LOCAL_UNSUBSCRIBE_KEY, outbox_environment

    return {"EMAIL_HASH_KEY": LOCAL_EMAIL_HASH_KEY, "JOB_QUEUE_URL": "local", "EVENT_BUS_NAME": "local",
            "UNSUBSCRIBE_KEY": LOCAL_UNSUBSCRIBE_KEY, "MESSAGE_SENDER": LOCAL_SENDER, **outbox_environment(events_file),
            "LOCAL_EVENTS_FILE": str(events_file), "LOCAL_CLOCK_FILE": str(clock_file), **analytics_environment(events_file),
            **{name: os.environ[name] for name in ("PROGRAM_FILE",) if os.environ.get(name)},
            **_faults()}


def _faults() -> dict[str, str]:
    """FAULTS (loyalty.store.faults' plan), checked here so that a typo stops `make run` instead of every function."""
    plan = os.environ.get("FAULTS", "").strip()
    if not plan:
        return {}
    from loyalty.store.faults import FaultPlan

    FaultPlan.parse(plan)
    log(f"[faults] injecting under every function: {plan}")
    return {"LOCAL_FAULTS": plan}


def _start_dynamodb(port: int):
    """moto's server app on a thread (ThreadedMotoServer would wait forever if the port were taken)."""
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from loyalty_local.moto_atomic import make_dynamodb_atomic

    make_dynamodb_atomic()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto logs every request otherwise
    server = make_server("127.0.0.1", port, DomainDispatcherApplication(create_backend_app), threaded=True)
    threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
    return server


def _swagger_asset(path: str) -> bytes:
    import aws_lambda_powertools

    return (Path(aws_lambda_powertools.__file__).parent / "event_handler" / "openapi" / "swagger_ui" / path.rsplit("/", 1)[1]).read_bytes()


def _joined_headers(message) -> dict[str, str]:
    """Lower-cased names; a repeated header joined as API Gateway joins it."""
    headers: dict[str, str] = {}
    for name, value in message.items():
        name = name.lower()
        headers[name] = f"{headers[name]}{'; ' if name == 'cookie' else ','}{value}" if name in headers else value
    return headers


def _read_body(headers, stream) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        from werkzeug.serving import DechunkedInput  # werkzeug's decoder; it raises OSError on a malformed chunk

        try:
            return DechunkedInput(stream).read()
        except OSError as error:
            raise ValueError(str(error)) from error
    length = int(headers.get("content-length") or 0)
    if length < 0:
        raise ValueError(f"content-length {length}")
    return stream.read(length)


def _function_name(identifier: str) -> str:
    """The name in a function name, a partial ARN or an ARN, with or without a qualifier."""
    parts = identifier.split(":")
    return parts[parts.index("function") + 1] if "function" in parts else parts[0]


def _lambda_error(status: int, error_type: str, message: str) -> Response:
    return json_response(status, {"Type": "User", "Message": message}, ("x-amzn-errortype", error_type))


# ---------------------------------------------------------------- command line


DEMO_MEMBER_EMAIL = "member@example.com"  # the e-mail the banner's member token proves


def token_settings() -> dict[str, str]:
    """The authorizer's secret, issuer and audience, which `make token` signs for."""
    return {"secret": os.environ.get("LOCAL_JWT_SECRET") or apigw.DEFAULT_SECRET,
            "issuer": os.environ.get("LOCAL_JWT_ISSUER") or apigw.DEFAULT_ISSUER,
            "audience": os.environ.get("LOCAL_JWT_AUDIENCE") or apigw.DEFAULT_AUDIENCE}


def serve() -> int:
    settings = token_settings()
    runtime = Runtime(
        api_port=int(os.environ.get("API_PORT", "3000")), lambda_port=int(os.environ.get("LAMBDA_PORT", "3001")),
        dynamodb_port=int(os.environ.get("DYNAMODB_PORT", "3002")), **settings,
    )
    started = time.perf_counter()
    try:
        runtime.start()
    except KeyboardInterrupt:  # Ctrl-C while starting: what had started is stopped already
        return 130
    except OSError as error:
        ports = f"API_PORT={runtime.api_port}, LAMBDA_PORT={runtime.lambda_port}, DYNAMODB_PORT={runtime.dynamodb_port}"
        print(f"cannot start: {error} ({ports}; set them to free ports)", file=sys.stderr)
        return 1
    api = f"http://127.0.0.1:{runtime.api_port}"

    def analytics_dir() -> str:
        from loyalty_local.analytics import store_dir

        return str(store_dir(events.events_file()))

    def token(role: str) -> str:
        return apigw.make_token(role, **settings, email=DEMO_MEMBER_EMAIL if role == "member" else None)

    log(f"""
Loyalty API running locally ({time.perf_counter() - started:.1f} s to start)
  HTTP API         {api}            (try {api}/v1/program)
  API docs         {api}/docs       OpenAPI: {api}/openapi.json
  Console          {api}/console/   (the back office, signed in as a local admin)
  Lambda invoke    http://127.0.0.1:{runtime.lambda_port}   (aws lambda invoke --endpoint-url ...)
  DynamoDB (moto)  http://127.0.0.1:{runtime.dynamodb_port}
  Business clock   {api}/_local/clock  (POST {{"advance_days": 30}} moves every function and job forward)
  Domain events    logged here, and listed by `make events` ({events.events_file()})
  Analytics store  {analytics_dir()}  (Parquet by day; POST /v1/insights/queries, docs/insights.md)
Tokens (12 h; `make token ROLE=member|pos|admin [SUB=...] [EMAIL=...]` for more):
  member  {token("member")}
          (proves {DEMO_MEMBER_EMAIL}: a member token enrolls only the e-mail it proves)
  pos     {token("pos")}
  admin   {token("admin")}
Ready. Ctrl-C stops everything.""")
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    # A signal may be delivered to any thread: the handler runs only once the main thread is back in the
    # interpreter, which a wait without a timeout never is (the runtime would ignore SIGTERM until killed).
    while not stopping.wait(0.2):
        pass
    log("stopping...")
    runtime.stop()
    log("stopped.")
    # All it started has stopped; what is left is freeing the heap object by object (moto's tables), which
    # takes seconds after a long session and does nothing useful: end the process now.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m loyalty_local", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="start the local runtime")
    token = commands.add_parser("token", help="print a local JWT")
    token.add_argument("--role", choices=sorted(apigw.ROLE_SCOPES), default="member")
    token.add_argument("--sub", help="the token's subject (default: one per role)")
    token.add_argument("--email", help="a verified e-mail claim (email, email_verified): a member token enrolls "
                                       "only this e-mail")
    commands.add_parser("events", add_help=False,  # its options, -h included, are loyalty_local.events'
                        help="list the domain events published locally: events -h for its options")
    args, rest = parser.parse_known_args(argv)
    if args.command == "events":
        return events.main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "serve":
        return serve()
    print(apigw.make_token(args.role, sub=args.sub, email=args.email, **token_settings()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
