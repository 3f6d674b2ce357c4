"""A team on other machines, in a real headless Chromium: the server listens on an address other than 127.0.0.1 with
the job's links; a worker opens the workers' link, labels a task whose images come through the server's signed
links, an expert opens the experts' link and sees the task's images in the review page's sandboxed preview, and
neither gets into a part of the server their link is not for."""
from __future__ import annotations

from playwright.sync_api import expect

from gt_common.review import ReviewSettings
from local_ground_truth.__main__ import team_links
from local_ground_truth.server import WorkerServer, WorkerSite
from local_ground_truth.stack_reader import read_workflow
from local_ground_truth.team_access import EXPERT, REQUESTER, WORKER, TeamKeys, cookie_name
from tests.runner_helpers import job_name, local_job
from tests.test_review_browser import watched_page

TEAM_HOST = "127.0.0.2"  # not the default address: the server serves as it does on a network, with links


def label_first_task(worker, name: str, origin: str) -> str:
    """Sign in on the open sign-in page as ``name``, open the first task, check that its four images come by signed
    links of ``origin`` and show, and answer it from the keyboard; the object's id."""
    worker.fill("input[name=worker]", name)
    worker.click("text=Start")
    worker.click("#start")
    worker.wait_for_url("**/task/*")
    images = worker.locator("classification-target img")
    expect(images).to_have_count(4)
    assert all(src.startswith(f"{origin}/media/") for src in images.evaluate_all("is => is.map(i => i.src)"))
    assert images.evaluate_all("is => Promise.all(is.map(i => i.decode().then(() => i.naturalWidth > 0)))") \
        == [True] * 4
    object_id = worker.url.rsplit("/task/", 1)[1]
    worker.keyboard.press("2")
    worker.keyboard.press("Enter")
    worker.wait_for_function(f"!location.pathname.endsWith('/task/{object_id}')")
    return object_id


def test_a_worker_and_an_expert_work_through_their_links_and_only_there(browser, runner_assembly, tmp_path):
    spec = read_workflow(runner_assembly, "welding")  # dev: one worker per object, so each answer is routed
    keys = TeamKeys.kept_in(tmp_path / "keys.json")
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "team")) as job:
        site = WorkerSite(job, review=ReviewSettings(enabled=True, threshold=spec.review.threshold))
        server = WorkerServer(site, port=0, host=TEAM_HOST, team=keys).start()
        try:
            links = team_links(server, keys)
            problems: list[str] = []
            stranger = watched_page(browser, problems)
            stranger.goto(f"{server.url}/worker/ana/next")
            assert "open to its team only" in stranger.inner_text("body")  # no link, no task
            assert job.workers_of("0") == set()

            worker = watched_page(browser, problems)
            worker.goto(links[WORKER])
            assert worker.url == f"{server.url}/"  # the key is out of the address once the cookie holds it
            object_id = label_first_task(worker, "ana", server.url)
            assert job.answer_of(object_id, "ana") is not None
            assert site.consolidator.wait_idle(timeout=120)
            worker.goto(f"{server.url}/requester")
            assert "the requester's link" in worker.inner_text("body")  # a worker's link opens no more

            expert = watched_page(browser, problems)
            expert.goto(links[EXPERT])
            assert expert.url == f"{server.url}/review"
            expert.fill("#reviewer-name", "Dr. Okafor")
            expert.click("#sign-in button")
            expert.click("#start")
            expert.wait_for_url(f"**/object/{object_id}")
            preview = expert.frame_locator("#task-frame").locator("classification-target img")
            expect(preview).to_have_count(4)
            assert preview.evaluate_all("is => Promise.all(is.map(i => i.decode().then(() => i.naturalWidth > 0)))") \
                == [True] * 4  # the sandboxed frame sends no cookie: its images come by their signed links alone
            expert.goto(f"{server.url}/worker/ana")
            assert "the workers' link" in expert.inner_text("body")

            requester = watched_page(browser, problems)
            requester.goto(links[REQUESTER])
            expect(requester.get_by_role("main").locator("#team-links")).to_contain_text(links[WORKER])  # in the main
            expect(requester.locator("#review-state")).to_contain_text("1 awaits review")
            assert not [p for p in problems if "403" not in p], problems
        finally:
            server.stop()


class TlsProxy:
    """A reverse proxy that terminates TLS, as Caddy or nginx would in front of the server: each connection's bytes,
    decrypted, go to the server on 127.0.0.1 as they came (the browser's Host header with them)."""

    def __init__(self, folder) -> None:
        import socket
        import ssl
        import threading

        certificate, key = _self_signed(folder)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(certificate, key)
        self.target_port = 0  # the server's, once it listens
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._threads = threading
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                secure = self.context.wrap_socket(client, server_side=True)
            except OSError:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._threads.Thread(target=_relay, args=(secure, upstream), daemon=True).start()

    def close(self) -> None:
        self.listener.close()


def _relay(secure, upstream) -> None:
    """Both directions of one connection in one thread: an SSL socket read in one thread while written in another
    may garble its records (OpenSSL's state is not shared safely), which reached the server as a malformed request."""
    import select

    try:
        while True:
            readable = [secure] if secure.pending() else select.select([secure, upstream], [], [])[0]
            for source, sink in ((secure, upstream), (upstream, secure)):
                if source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (secure, upstream):
            try:
                end.close()
            except OSError:
                pass


def _self_signed(folder):
    """A certificate for localhost and its key, made for this test."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(hours=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
                   .sign(key, hashes.SHA256()))
    certificate_path, key_path = folder / "proxy.crt", folder / "proxy.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return certificate_path, key_path


def test_a_worker_labels_over_https_through_a_reverse_proxy(browser, runner_assembly, tmp_path):
    """--public-url: the server on 127.0.0.1 behind a proxy that terminates TLS. The worker's browser opens the https
    link, gets a cookie only HTTPS carries, sees the task's images by https links (no mixed content, which a browser
    would block) and its answer, sent from the https page, is recorded."""
    from local_ground_truth.public_url import parse_public_url

    spec = read_workflow(runner_assembly, "welding")
    keys = TeamKeys.kept_in(tmp_path / "keys.json")
    with local_job(spec, tmp_path / "s3", job_name(tmp_path, "tls")) as job:
        proxy = TlsProxy(tmp_path)
        server = WorkerServer(WorkerSite(job), port=0, team=keys,
                              public=parse_public_url(f"https://localhost:{proxy.port}")).start()
        proxy.target_port = server.port
        context = browser.new_context(ignore_https_errors=True)  # the test's own certificate
        try:
            public = f"https://localhost:{proxy.port}"
            link = team_links(server, keys)[WORKER]
            assert link.startswith(f"{public}/?key=")
            problems: list[str] = []
            worker = context.new_page()
            worker.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            worker.goto(link)
            assert worker.url == f"{public}/"
            [cookie] = [cookie for cookie in context.cookies() if cookie["name"] == cookie_name(WORKER, server.port)]
            assert cookie["secure"] and cookie["httpOnly"]
            object_id = label_first_task(worker, "ana", public)
            assert job.answer_of(object_id, "ana") is not None
            assert not problems, problems
        finally:
            context.close()
            server.stop()
            proxy.close()
