"""The worker UI on http://127.0.0.1:PORT: queues per worker, the stack's template, answers to S3.

Each task page is the stack's deployed Liquid template rendered with Ground Truth's semantics
(autoescape, ``grant_read_access`` as a presigned URL of the local endpoint), with the crowd
elements script swapped for the offline stand-in in ``static/``. Workers name themselves; each
object goes to N distinct workers; when an object has its N answers the consolidation Lambda runs.
"""
from __future__ import annotations

import html
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from local_ground_truth.job import LocalJob
from local_ground_truth.liquid import make_environment

CROWD_ELEMENTS_URL = "https://assets.crowd.aws/crowd-html-elements.js"
STAND_IN = Path(__file__).resolve().parent / "static" / "crowd-html-elements.js"
WORKER_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}}li{{margin:.3rem 0}}</style>
</head><body>{body}</body></html>"""


class WorkerSite:
    """What the HTTP handler needs: the job, its template, and who has answered what."""

    def __init__(self, job: LocalJob) -> None:
        self.job = job
        self.lock = threading.Lock()  # answers and consolidation are written one at a time
        key = job.spec.task["UiTemplateKey"]
        self.template = job.s3.get_object(Bucket=job.bucket, Key=key)["Body"].read().decode("utf-8")
        self.environment = make_environment(self.presign)
        self.opened: dict[tuple[str, str], float] = {}

    def presign(self, uri: str) -> str:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return self.job.s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600)

    def queue(self, worker: str) -> tuple[list[str], int, int]:
        """(objects this worker may still answer, answered by them, total objects)."""
        needed = self.job.spec.workers_per_object
        answers = self.job.answers()
        ids = sorted(self.job.pre_labeled_ids(), key=int)
        mine = [oid for oid in ids if any(a["workerId"] == worker for a in answers.get(oid, []))]
        open_ids = [oid for oid in ids if oid not in mine and len({a["workerId"] for a in answers.get(oid, [])}) < needed]
        return open_ids, len(mine), len(ids)

    def render_task(self, worker: str, object_id: str) -> str:
        self.opened[(worker, object_id)] = time.time()
        page = self.environment.from_string(self.template).render(task={"input": self.job.task_input(object_id)})
        submit_url = f"/worker/{quote(worker)}/task/{object_id}/submit"
        bootstrap = f'<script>window.LOCAL_GT_SUBMIT_URL = {json.dumps(submit_url)};</script>\n'
        return bootstrap + page.replace(CROWD_ELEMENTS_URL, "/static/crowd-html-elements.js")

    def submit(self, worker: str, object_id: str, answer: dict[str, Any]) -> None:
        with self.lock:
            open_ids, _, _ = self.queue(worker)
            if object_id not in open_ids:
                raise PermissionError(f"object {object_id} is not in {worker}'s queue")
            started = self.opened.pop((worker, object_id), time.time())
            self.job.record_answer(object_id, worker, answer, seconds=time.time() - started)
            self.job.consolidate()


def make_handler(site: WorkerSite):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet: the runner prints its own progress
            pass

        def _send(self, status: int, body: str | bytes, content_type: str = "text/html; charset=utf-8") -> None:
            data = body.encode("utf-8") if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def _redirect(self, location: str) -> None:
            self.send_response(303)
            self.send_header("Location", location)
            self.end_headers()

        def _worker(self, raw: str) -> str | None:
            name = unquote(raw)
            return name if WORKER_NAME.match(name) else None

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlsplit(self.path)
            parts = [p for p in url.path.split("/") if p]
            if url.path == "/static/crowd-html-elements.js":
                return self._send(200, STAND_IN.read_bytes(), "text/javascript; charset=utf-8")
            if not parts:
                name = parse_qs(url.query).get("worker", [""])[0]
                if name:
                    return self._redirect(f"/worker/{quote(name)}") if WORKER_NAME.match(name) else self._send(
                        400, _PAGE.format(title="Bad name", body="<p>Use 1-64 letters, digits, . _ @ or -.</p>"))
                return self._send(200, _PAGE.format(title="Sign in", body=(
                    f"<h1>{html.escape(site.job.spec.task['TaskTitle'])}</h1>"
                    '<form><label>Your worker name <input name="worker" required pattern="[A-Za-z0-9_.@-]{1,64}">'
                    "</label> <button>Start</button></form>")))
            if len(parts) >= 2 and parts[0] == "worker" and (worker := self._worker(parts[1])):
                if len(parts) == 2:
                    open_ids, done, total = site.queue(worker)
                    items = "".join(f'<li><a href="/worker/{quote(worker)}/task/{oid}">Object {oid}</a></li>'
                                    for oid in open_ids)
                    body = (f"<h1>{html.escape(worker)}'s queue</h1><p id=progress>You answered {done} of {total}; "
                            f"{len(open_ids)} waiting.</p><ol id=queue>{items}</ol>"
                            + ("" if open_ids else "<p>Nothing left for you. Thank you!</p>"))
                    return self._send(200, _PAGE.format(title="Queue", body=body))
                if len(parts) == 4 and parts[2] == "task" and parts[3].isdigit():
                    if parts[3] not in site.queue(worker)[0]:
                        return self._redirect(f"/worker/{quote(worker)}")
                    return self._send(200, site.render_task(worker, parts[3]))
            self._send(404, _PAGE.format(title="Not found", body="<p>Not found.</p>"))

        def do_POST(self) -> None:  # noqa: N802
            parts = [p for p in urlsplit(self.path).path.split("/") if p]
            if (len(parts) == 5 and parts[0] == "worker" and parts[2] == "task" and parts[4] == "submit"
                    and (worker := self._worker(parts[1]))):
                try:
                    answer = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                    if not isinstance(answer, dict):
                        raise ValueError("the answer is not a JSON object")
                    site.submit(worker, parts[3], answer)
                except (ValueError, PermissionError) as error:
                    return self._send(400, json.dumps({"error": str(error)}), "application/json")
                return self._send(200, json.dumps({"next": f"/worker/{quote(worker)}"}), "application/json")
            self._send(404, json.dumps({"error": "not found"}), "application/json")

    return Handler


def serve(site: WorkerSite, port: int = 8080) -> ThreadingHTTPServer:
    """Bind on 127.0.0.1 only (workers' answers never leave this machine); caller runs serve_forever."""
    return ThreadingHTTPServer(("127.0.0.1", port), make_handler(site))
