"""The local outbox dates each e-mail by the business clock the local runtime keeps (the one every function and job
reads), not by the machine's time: an e-mail sent after `POST /_local/clock` moved the clock a year on says so."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from loyalty.clock import FixedClock
from loyalty.messages.mail import Email
from loyalty_local.local_platform import FileOutbox, LocalPlatform

EMAIL = Email(sender="rewards@example.com", to="sam@example.com", subject="Hi", text="Hi\n", html="<p>Hi</p>")


def test_the_outbox_dates_each_e_mail_by_its_clock(tmp_path):
    at = datetime(2031, 2, 3, 4, 5, 6, 789000, tzinfo=timezone.utc)
    outbox = FileOutbox(tmp_path / "outbox.jsonl", FixedClock(at))
    message_id = outbox(EMAIL)
    (line,) = [json.loads(text) for text in (tmp_path / "outbox.jsonl").read_text().splitlines()]
    assert line["message_id"] == message_id
    assert datetime.fromisoformat(line["sent_at"]) == at
    assert line["request"] == EMAIL.ses_request()


def test_the_local_platform_s_outbox_reads_the_business_clock_the_runtime_moved(tmp_path):
    clock_file = tmp_path / "clock.json"
    clock_file.write_text(json.dumps({"offset_seconds": 86_400 * 400}))  # as `POST /_local/clock` leaves it
    send = LocalPlatform().mail_sender({"LOCAL_OUTBOX_FILE": str(tmp_path / "outbox.jsonl"),
                                        "LOCAL_CLOCK_FILE": str(clock_file)})
    before = datetime.now(timezone.utc)
    send(EMAIL)
    (line,) = [json.loads(text) for text in (tmp_path / "outbox.jsonl").read_text().splitlines()]
    ahead = datetime.fromisoformat(line["sent_at"]) - before
    assert timedelta(days=400) <= ahead < timedelta(days=401), "the business clock's time, 400 days on"


def test_make_outbox_piped_into_head_stops_quietly(tmp_path):
    """`make outbox | head`: the reader closing the pipe early is not an error worth a traceback."""
    import subprocess
    import sys
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from pathlib import Path

    outbox = FileOutbox(tmp_path / "outbox.jsonl", FixedClock(datetime(2031, 2, 3, tzinfo=timezone.utc)))
    for _ in range(300):
        outbox(Email(sender="rewards@example.com", to="sam@example.com", subject="Hi", text="line\n" * 40, html=""))
    body = json.dumps({"items": [json.loads(text) for text in (tmp_path / "outbox.jsonl").read_text().splitlines()]})

    class Api(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        reader = subprocess.Popen([sys.executable, "-m", "loyalty_local.outbox", "--api", f"http://127.0.0.1:{server.server_port}"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=Path(__file__).resolve().parents[2])
        assert reader.stdout.readline().decode().startswith("2031-02-03")
        reader.stdout.close()  # as head does after its lines
        assert reader.wait(timeout=30) == 0
        assert b"Traceback" not in reader.stderr.read()
    finally:
        server.shutdown()
