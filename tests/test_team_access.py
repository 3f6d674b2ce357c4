"""A worker server other machines reach: the job's links and their keys, the files pages show through signed links,
what each role may open, and the runner's --host."""
from __future__ import annotations

import html
import http.client
import json
import re
import stat
from contextlib import contextmanager

import pytest

from local_ground_truth.__main__ import parse_args, proxy_note, serves_a_team, serves_the_network, team_links
from local_ground_truth.media_links import LIFETIME_SECONDS, MediaLinks, MediaRefused, ROUNDING_SECONDS
from local_ground_truth.public_url import parse_public_url
from local_ground_truth.server import WorkerServer, WorkerSite
from local_ground_truth.stack_reader import read_workflow
from local_ground_truth.team_access import EXPERT, REQUESTER, WORKER, TeamKeys, cookie_name, without_key
from tests.runner_helpers import job_name, local_job

TEAM_HOST = "127.0.0.2"  # a loopback address other than the default one: served "to the network" in these tests
GOOD = {"WeldingClassification": {"label": "Good Weld"}}


# -- signed links to the files pages show ----------------------------------------------------------------------
class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_link_names_its_object_and_lives_an_hour_to_an_hour_and_a_half():
    clock = Clock()
    links = MediaLinks(b"s" * 32, clock)
    token = links.token("bucket", "data/run 1/image ü.png")
    bucket, key, left = links.open(token)
    assert (bucket, key) == ("bucket", "data/run 1/image ü.png")
    assert LIFETIME_SECONDS <= left < LIFETIME_SECONDS + ROUNDING_SECONDS
    clock.now += 600  # expiry rounded to the same half hour: the same link, so the browser reuses the image
    assert links.token("bucket", "data/run 1/image ü.png") == token
    clock.now += ROUNDING_SECONDS  # the next half hour: a new link
    assert links.token("bucket", "data/run 1/image ü.png") != token
    clock.now -= 600 + ROUNDING_SECONDS
    clock.now += left  # past its expiry
    with pytest.raises(MediaRefused, match="expired"):
        links.open(token)


@pytest.mark.parametrize("tamper", [
    lambda t: t.replace(t.split(".")[0], MediaLinks(b"x" * 32).token("bucket", "other").split(".")[0]),  # payload
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature
    lambda t: MediaLinks(b"another run" * 3).token("bucket", "key"),  # another run's secret
    lambda t: t + ".x", lambda t: "", lambda t: "é" + t, lambda t: t + "A" * 5000,
])
def test_a_link_changed_or_made_without_the_secret_is_refused(tamper):
    links = MediaLinks(b"s" * 32)
    with pytest.raises(MediaRefused, match="not a link to a file of this job"):
        links.open(tamper(links.token("bucket", "key")))


# -- the keys ----------------------------------------------------------------------------------------------------
def test_keys_are_kept_owner_only_and_read_back_and_an_unusable_file_gets_new_ones(tmp_path):
    path = tmp_path / "job-team-keys.json"
    keys = TeamKeys.kept_in(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len({keys.worker, keys.expert, keys.requester}) == 3
    assert TeamKeys.kept_in(path) == keys  # a restarted runner hands out the same links
    for unusable in ("{", json.dumps({"worker": "short", "expert": "x" * 20, "requester": "y" * 20}), "[]",
                     json.dumps({"worker": "é" * 20, "expert": "x" * 20, "requester": "y" * 20})):
        path.write_text(unusable)
        fresh = TeamKeys.kept_in(path)
        assert fresh != keys and TeamKeys.kept_in(path) == fresh


def test_each_key_opens_its_part_and_the_requesters_opens_all():
    keys = TeamKeys("w" * 20, "e" * 20, "r" * 20)
    cookie = {role: {cookie_name(role, 8080): keys.key_of(role)} for role in (WORKER, EXPERT, REQUESTER)}
    assert keys.role_with("e" * 20) == EXPERT and keys.role_with("e" * 19) is None and keys.role_with("é") is None
    assert keys.allowed(WORKER, cookie[WORKER], 8080) and not keys.allowed(EXPERT, cookie[WORKER], 8080)
    assert not keys.allowed(REQUESTER, cookie[WORKER], 8080) and not keys.allowed(REQUESTER, cookie[EXPERT], 8080)
    assert all(keys.allowed(role, cookie[REQUESTER], 8080) for role in (WORKER, EXPERT, REQUESTER))
    assert not keys.allowed(WORKER, {cookie_name(WORKER, 8080): keys.expert}, 8080)  # a key counts for its role only
    assert not keys.allowed(WORKER, cookie[REQUESTER], 8081)  # another port's server: another cookie
    assert keys.allowed(None, {}, 8080)  # signed files and the stand-in need no key


@pytest.mark.parametrize("path, arguments, target", [
    ("/worker/ana", [("key", "k"), ("notice", "a b"), ("notice", "c")], "/worker/ana?notice=a+b&notice=c"),
    ("/", [("key", "k")], "/"),
    ("//evil.example", [("key", "k")], "/evil.example"),  # never "//host": another site
    ("/\t/evil.example", [], "/%09/evil.example"),
    ("/\\evil.example", [], "/%5Cevil.example"),  # a browser reads "/\\" as "//"
    ("/x\r\nSet-Cookie: a=b", [], "/x%0D%0ASet-Cookie:%20a=b"),
    ("/worker/a%2Fb", [], "/worker/a%2Fb"),  # a worker's path as sent (its name holds a '/') stays as it is
])
def test_a_key_link_goes_on_to_a_page_of_this_server_whatever_its_path(path, arguments, target):
    assert without_key(path, arguments) == target


# -- the runner's --host -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("host, network", [("127.0.0.1", False), ("localhost", False), ("::1", False),
                                           ("127.0.0.2", False), ("192.168.1.20", True), ("labeling.lan", True),
                                           ("fe80::1", True)])
def test_only_a_loopback_address_serves_without_links(host, network):
    assert serves_the_network(host) is network


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_an_address_workers_cannot_type_is_refused(host, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--workflow", "welding", "--host", host])
    assert "give the address or name workers will type" in capsys.readouterr().err


# -- the server served to a team ---------------------------------------------------------------------------------
@contextmanager
def served_to_a_team(assembly, folder, workers=(), **server_options):
    """A pre-labeled welding job served with the keys of a team (of named ``workers``, if any): (job, server, keys)."""
    spec = read_workflow(assembly, "welding")
    keys = TeamKeys.kept_in(folder / "keys.json", list(workers))
    with local_job(spec, folder / "s3", job_name(folder, "team")) as job:
        server = WorkerServer(WorkerSite(job, consolidate_in_background=False), port=0, team=keys,
                              **server_options).start()
        try:
            yield job, server, keys
        finally:
            server.stop()


@pytest.fixture(scope="module")
def team_served(runner_assembly, tmp_path_factory):
    with served_to_a_team(runner_assembly, tmp_path_factory.mktemp("team"), host=TEAM_HOST) as served:
        yield served


def call(server, method: str, path: str, cookies: dict | None = None, body: bytes | None = None,
         host: str | None = None, origin: str | None = None):
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    headers = {"Content-Type": "application/json", **({"Origin": origin} if origin else {})}
    if cookies:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    if host:
        headers["Host"] = host
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data


def holding(keys: TeamKeys, role: str, port: int) -> dict:
    return {cookie_name(role, port): keys.key_of(role)}


def test_the_links_the_runner_prints_carry_each_roles_key(team_served):
    _job, server, keys = team_served
    links = team_links(server, keys)
    assert links[WORKER] == f"http://{TEAM_HOST}:{server.port}/?key={keys.worker}"
    assert links[EXPERT].startswith(f"{server.url}/review?key=") and links[REQUESTER].endswith(keys.requester)
    assert team_links(server, None)[WORKER] == f"{server.url}/"


@pytest.mark.parametrize("path, whose", [("/", "the workers' link"), ("/worker/ana", "the workers' link"),
                                         ("/worker/ana/next", "the workers' link"), ("/review", "the experts' link"),
                                         ("/requester", "the requester's link"),
                                         ("/requester/files/manifests/output/output.manifest", "the requester's link"),
                                         ("/requester/labels.csv", "the requester's link")])
def test_without_a_key_nothing_of_the_job_is_shown(team_served, path, whose):
    _job, server, keys = team_served
    response, page = call(server, "GET", path)
    assert response.status == 403 and whose in html.unescape(page.decode())
    response, page = call(server, "GET", path, holding(keys, WORKER, server.port) if whose != "the workers' link" else None)
    assert response.status == 403


def test_an_answer_without_a_key_is_refused_as_json_and_not_recorded(team_served):
    job, server, _keys = team_served
    response, body = call(server, "POST", "/worker/mallory/task/0/submit", body=json.dumps(GOOD).encode())
    assert response.status == 403 and "open to its team only" in json.loads(body)["error"]
    assert "mallory" not in job.workers_of("0")


def test_a_key_link_sets_its_cookie_and_goes_on_without_the_key(team_served):
    _job, server, keys = team_served
    response, _ = call(server, "GET", f"/worker/ana?key={keys.worker}&notice=hello")
    assert response.status == 303 and response.getheader("Location") == "/worker/ana?notice=hello"
    cookie = response.getheader("Set-Cookie")
    assert cookie.startswith(f"{cookie_name(WORKER, server.port)}={keys.worker};")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Max-Age=2592000" in cookie  # kept across a browser restart: a bookmarked queue opens the next day
    response, page = call(server, "GET", "/worker/ana", holding(keys, WORKER, server.port))
    assert response.status == 200 and "Your tasks" in page.decode()
    response, page = call(server, "GET", f"/?key={keys.worker}x")
    assert response.status == 403 and "not one of this job's" in page.decode()
    # Whatever the path, the key link goes on to a page of this server: no other site, no header injected, no 500.
    for hostile, target in (("/%09/evil.example", "/%09/evil.example"), ("//evil.example", "/evil.example"),
                            ("/%5C%5Cevil.example", "/%5C%5Cevil.example"),
                            ("/x%0D%0ASet-Cookie:%20a=b", "/x%0D%0ASet-Cookie:%20a=b")):
        response, _ = call(server, "GET", f"{hostile}?key={keys.worker}")
        assert response.status == 303 and response.getheader("Location") == target, hostile
        assert response.getheader("Set-Cookie").count("\n") == 0 and "a=b" not in response.getheader("Set-Cookie")


def test_each_role_opens_its_own_part(team_served):
    _job, server, keys = team_served
    assert call(server, "GET", "/review", holding(keys, EXPERT, server.port))[0].status == 200
    assert call(server, "GET", "/requester", holding(keys, EXPERT, server.port))[0].status == 403
    assert call(server, "GET", "/worker/ana", holding(keys, EXPERT, server.port))[0].status == 403
    for path in ("/", "/worker/ana", "/review", "/requester", "/requester/live"):
        assert call(server, "GET", path, holding(keys, REQUESTER, server.port))[0].status == 200, path
    page = call(server, "GET", "/requester", holding(keys, REQUESTER, server.port))[1].decode()
    assert f"http://{TEAM_HOST}:{server.port}/?key={keys.worker}" in page  # the links to hand out
    assert f"/review?key={keys.expert}" in page and keys.requester not in page


def test_a_task_pages_files_come_through_signed_links_of_this_server(team_served):
    job, server, keys = team_served
    response, _ = call(server, "GET", "/worker/bo/task/1", holding(keys, WORKER, server.port))
    assert response.status == 200
    page = call(server, "GET", "/worker/bo/task/1", holding(keys, WORKER, server.port))[1].decode()
    links = re.findall(r'<img src="([^"]+)"', page)
    assert len(links) == 4 and all(link.startswith(f"http://{TEAM_HOST}:{server.port}/media/") for link in links)
    task_input = job.task_input("1")
    expected = job.s3.get_object(Bucket=job.bucket, Key=task_input["image"]["file"].split("/", 3)[3])["Body"].read()
    response, image = call(server, "GET", links[0].split(str(server.port), 1)[1])  # no cookie: the link is enough
    assert response.status == 200 and image == expected
    assert response.getheader("Content-Type").startswith("image/")
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("Content-Security-Policy") == "sandbox"
    token = links[0].rsplit("/", 1)[1]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    response, body = call(server, "GET", f"/media/{forged}")
    assert response.status == 403 and b"not a link to a file of this job" in body
    # Asked for under another of the server's names, the page links its files under that name.
    local = call(server, "GET", "/worker/bo/task/1", holding(keys, WORKER, server.port), host=f"localhost:{server.port}")[1]
    assert f'src="http://localhost:{server.port}/media/' in local.decode()


def test_a_team_member_answers_as_on_one_machine(team_served):
    job, server, keys = team_served
    assert call(server, "GET", "/worker/cy/task/2", holding(keys, WORKER, server.port))[0].status == 200
    response, body = call(server, "POST", "/worker/cy/task/2/submit", holding(keys, WORKER, server.port), json.dumps(GOOD).encode())
    assert response.status == 200 and json.loads(body)["recorded"] is True
    assert job.answer_of("2", "cy") == GOOD


# -- a named team: a link per worker -----------------------------------------------------------------------------
def test_each_named_worker_keeps_a_key_of_their_own_across_runs(tmp_path):
    path = tmp_path / "keys.json"
    first = TeamKeys.kept_in(path, ["ana", "bo"])
    assert set(first.workers) == {"ana", "bo"} and len(set(first.workers.values())) == 2
    again = TeamKeys.kept_in(path, ["bo", "cy"])  # ana left the team, cy joined
    assert again.workers["bo"] == first.workers["bo"] and "ana" not in again.workers
    assert again.worker == first.worker and again.requester == first.requester
    back = TeamKeys.kept_in(path, ["ana"])  # named again: the same link as before
    assert back.workers["ana"] == first.workers["ana"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_named_workers_key_opens_only_their_pages_and_the_shared_one_nothing():
    keys = TeamKeys("w" * 20, "e" * 20, "r" * 20, {"ana": "a" * 20, "bo": "b" * 20})
    ana = {cookie_name(WORKER, 8080): "a" * 20}
    assert keys.role_with("a" * 20) == WORKER and keys.worker_with("a" * 20) == "ana"
    assert keys.role_with("w" * 20) is None  # the shared link signs no one in once workers are named
    assert keys.allowed(WORKER, ana, 8080) and keys.signed_in_as(ana, 8080) == "ana"
    assert not keys.allowed(WORKER, {cookie_name(WORKER, 8080): "w" * 20}, 8080)
    assert not keys.allowed(EXPERT, ana, 8080) and not keys.allowed(REQUESTER, ana, 8080)
    assert keys.signed_in_as({cookie_name(REQUESTER, 8080): "r" * 20}, 8080) is None


@pytest.fixture(scope="module")
def named_team(runner_assembly, tmp_path_factory):
    with served_to_a_team(runner_assembly, tmp_path_factory.mktemp("named"), ["ana", "bo"], host=TEAM_HOST) as served:
        yield served


def test_a_named_workers_link_signs_them_in_and_opens_their_tasks_only(named_team):
    job, server, keys = named_team
    response, _ = call(server, "GET", f"/?key={keys.workers['ana']}")
    assert response.status == 303 and response.getheader("Location") == "/"
    assert response.getheader("Set-Cookie").startswith(f"{cookie_name(WORKER, server.port)}={keys.workers['ana']};")
    ana = {cookie_name(WORKER, server.port): keys.workers["ana"]}
    response, _ = call(server, "GET", "/", ana)  # the sign-in page: straight to her queue
    assert response.status == 303 and response.getheader("Location") == "/worker/ana"
    queue = call(server, "GET", "/worker/ana", ana)[1].decode()
    assert "signed in by your own link" in queue and "Sign in as someone else" not in queue
    for path in ("/worker/bo", "/worker/bo/next", "/worker/b%6F/task/3"):
        response, page = call(server, "GET", path, ana)
        assert response.status == 403 and "signed in as ana" in html.unescape(page.decode()), path
    response, body = call(server, "POST", "/worker/bo/task/3/submit", ana, json.dumps(GOOD).encode())
    assert response.status == 403 and "signed in as ana" in json.loads(body)["error"]
    assert "bo" not in job.workers_of("3")
    assert call(server, "GET", "/worker/ana/task/3", ana)[0].status == 200
    response, body = call(server, "POST", "/worker/ana/task/3/submit", ana, json.dumps(GOOD).encode())
    assert response.status == 200 and job.answer_of("3", "ana") == GOOD
    response, page = call(server, "GET", f"/?key={keys.worker}")  # the shared workers' link opens nothing
    assert response.status == 403 and "not one of this job's" in page.decode()
    # a worker left off the team (served without their name) is told why their link no longer opens
    assert "or a worker's who is no longer on its team (served without their name)" in page.decode()
    response, page = call(server, "GET", "/worker/ana")  # no key: a named worker is told to open their own link
    assert response.status == 403 and "(your own link)" in page.decode()
    page = call(server, "GET", "/requester", {cookie_name(REQUESTER, server.port): keys.requester})[1].decode()
    assert keys.workers["ana"] in page and keys.workers["bo"] in page and f"key={keys.worker}" not in page


def test_another_workers_link_in_a_signed_in_browser_asks_before_switching(named_team):
    """bo's browser opened ana's link and silently became ana's: his next answers would have counted as hers."""
    _job, server, keys = named_team
    bo = {cookie_name(WORKER, server.port): keys.workers["bo"]}
    response, page = call(server, "GET", f"/?key={keys.workers['ana']}", bo)
    text = html.unescape(page.decode())
    assert response.status == 409 and response.getheader("Set-Cookie") is None
    assert "This browser is signed in as bo. The link you opened is ana's own" in re.sub(r"<[^>]+>", "", text)
    switch = re.search(r'id="switch" href="([^"]+)"', text).group(1)
    response, _ = call(server, "GET", html.unescape(switch), bo)  # "I am ana"
    assert response.status == 303 and response.getheader("Location") == "/"
    assert response.getheader("Set-Cookie").startswith(f"{cookie_name(WORKER, server.port)}={keys.workers['ana']};")
    response, _ = call(server, "GET", f"/?key={keys.workers['bo']}", bo)  # one's own link: straight on
    assert response.status == 303


@pytest.mark.parametrize("switch", ["1", "0" * 32, ""])
def test_a_link_made_to_switch_a_signed_in_browser_asks_all_the_same(named_team, switch):
    """ana sent bo her own link with "&switch=1": opened in bo's browser, it signed him in as ana without a word, and
    his answers counted as hers. Only the page that asks gives the link that switches (it proves bo's own key)."""
    _job, server, keys = named_team
    bo = {cookie_name(WORKER, server.port): keys.workers["bo"]}
    response, page = call(server, "GET", f"/worker/ana/next?key={keys.workers['ana']}&switch={switch}", bo)
    assert response.status == 409 and response.getheader("Set-Cookie") is None
    assert "This browser is signed in as bo" in re.sub(r"<[^>]+>", "", html.unescape(page.decode()))
    ana = {cookie_name(WORKER, server.port): keys.workers["ana"]}  # the proof of ana's browser is not bo's
    asked_ana = html.unescape(call(server, "GET", f"/?key={keys.workers['bo']}", ana)[1].decode())
    proof_for_ana = re.search(r'switch=([0-9a-f]+)', asked_ana).group(1)
    response, _ = call(server, "GET", f"/?key={keys.workers['ana']}&switch={proof_for_ana}", bo)
    assert response.status == 409 and response.getheader("Set-Cookie") is None


def test_the_requesters_browser_cannot_label_as_someone_off_a_named_team(named_team):
    """From the requester's page, "Worker sign-in" as Carol took one of an object's slots and counted as a worker."""
    job, server, keys = named_team
    requester = {cookie_name(REQUESTER, server.port): keys.requester}
    for path in ("/worker/carol", "/worker/Carol/next", "/worker/carol/task/5"):
        response, page = call(server, "GET", path, requester)
        assert response.status == 403 and "carol is not on this job's team (ana, bo)" in html.unescape(page.decode()).lower(), path
    response, body = call(server, "POST", "/worker/carol/task/5/submit", requester, json.dumps(GOOD).encode())
    assert response.status == 403 and "not on this job's team" in json.loads(body)["error"]
    assert "carol" not in job.workers_of("5") and not server.site.leases.holders("5")
    assert call(server, "GET", "/worker/Bo", requester)[0].status == 200  # a team member's queue: the requester's to see


@pytest.mark.parametrize("argv, said", [
    (["--worker", "ana"], "give --host or --public-url too"),
    (["--host", "192.168.1.20", "--worker", ".."], "--worker:"),
    # One person to the server (worker_names.same_person): two links would label as one worker.
    (["--host", "192.168.1.20", "--worker", "ana", "--worker", "bo", "--worker", "ANA"],
     "--worker ana and --worker ANA name one worker"),
    (["--host", "192.168.1.20", "--worker", "Straße", "--worker", "STRASSE"],
     "--worker Straße and --worker STRASSE name one worker"),
])
def test_named_workers_need_a_network_address_and_names_that_are_names(argv, said, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--workflow", "welding", *argv])
    assert said in capsys.readouterr().err


def test_named_workers_are_read_as_their_names():
    args = parse_args(["--workflow", "welding", "--host", "192.168.1.20", "--worker", " José ", "--worker", "José"])
    assert args.workers == ["José"]  # spaces dropped, named once


# -- behind a reverse proxy that terminates TLS (--public-url) ---------------------------------------------------
PUBLIC = "label.example.test"


@pytest.fixture(scope="module")
def proxied(runner_assembly, tmp_path_factory):
    """The server on 127.0.0.1 as a proxy on the same machine reaches it, its public address https://PUBLIC."""
    with served_to_a_team(runner_assembly, tmp_path_factory.mktemp("proxied"),
                          public=parse_public_url(f"https://{PUBLIC}/")) as served:
        yield served


@pytest.mark.parametrize("url, origin, host", [
    ("https://Label.Example.test/", "https://label.example.test", "label.example.test"),
    ("https://label.example.test:443", "https://label.example.test", "label.example.test"),
    ("https://label.example.test:8443", "https://label.example.test:8443", "label.example.test:8443"),
    ("http://[fe80::1]:8000", "http://[fe80::1]:8000", "[fe80::1]:8000"),
])
def test_a_public_address_is_read_as_browsers_send_it(url, origin, host):
    public = parse_public_url(url)
    assert (public.origin, public.host) == (origin, host)


@pytest.mark.parametrize("url, said", [
    ("label.example.test", "give an https://"), ("https://label.example.test/labeling", "no path"),
    ("https://u:secret@label.example.test", "user name or password"), ("https://:443", "names no host"),
    ("https://label.example.test?x=1", "no path, query"),
])
def test_a_public_address_the_links_cannot_be_made_of_is_refused(url, said, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--workflow", "welding", "--public-url", url])
    assert said in capsys.readouterr().err


def test_the_runner_says_what_the_proxy_must_do_and_warns_of_plain_http():
    note = proxy_note(parse_public_url("https://label.example.test"), "http://127.0.0.1:8080")
    assert note.startswith("Reverse proxy: https://label.example.test must forward to http://127.0.0.1:8080, passing "
                           "the browser's Host header on") and "plain HTTP" not in note
    assert "is plain HTTP: the team's keys and answers cross the network readable" in proxy_note(
        parse_public_url("http://label.example.test"), "http://127.0.0.1:8080")


def test_a_public_address_serves_a_team_and_takes_named_workers():
    args = parse_args(["--workflow", "welding", "--public-url", f"https://{PUBLIC}", "--worker", "ana"])
    assert serves_a_team(args) and args.workers == ["ana"] and args.host == "127.0.0.1"


def test_through_the_proxy_every_link_is_of_the_public_address_and_the_cookie_is_secure(proxied):
    job, server, keys = proxied
    assert server.url == f"https://{PUBLIC}"
    assert team_links(server, keys)[WORKER] == f"https://{PUBLIC}/?key={keys.worker}"
    response, _ = call(server, "GET", f"/worker/bo?key={keys.worker}", host=PUBLIC)
    assert response.status == 303 and response.getheader("Location") == "/worker/bo"
    assert "; Secure" in response.getheader("Set-Cookie")  # never sent back over plain HTTP
    page = call(server, "GET", "/worker/bo/task/1", holding(keys, WORKER, server.port), host=PUBLIC)[1].decode()
    links = re.findall(r'<img src="([^"]+)"', page)
    assert links and all(link.startswith(f"https://{PUBLIC}/media/") for link in links)  # no mixed content
    requester = call(server, "GET", "/requester", holding(keys, REQUESTER, server.port), host=PUBLIC)[1].decode()
    assert html.escape(f"https://{PUBLIC}/?key={keys.worker}") in requester
    # Opened on the machine itself, without the proxy: its own address, and a cookie that plain HTTP may carry; the
    # links to hand out are still the team's.
    requester = call(server, "GET", "/requester", holding(keys, REQUESTER, server.port))[1].decode()
    assert html.escape(f"https://{PUBLIC}/?key={keys.worker}") in requester
    response, _ = call(server, "GET", f"/worker/bo?key={keys.worker}")
    assert "Secure" not in response.getheader("Set-Cookie")
    direct = call(server, "GET", "/worker/bo/task/1", holding(keys, WORKER, server.port))[1].decode()
    assert f'src="http://127.0.0.1:{server.port}/media/' in direct


def test_through_the_proxy_answers_come_only_from_the_public_pages(proxied):
    job, server, keys = proxied
    worker = holding(keys, WORKER, server.port)
    assert call(server, "GET", "/worker/cy/task/2", worker, host=PUBLIC)[0].status == 200
    for foreign in (f"http://{PUBLIC}", "https://evil.example", f"http://127.0.0.1:{server.port}"):
        response, body = call(server, "POST", "/worker/cy/task/2/submit", worker, json.dumps(GOOD).encode(),
                              host=PUBLIC, origin=foreign)
        assert response.status == 403, foreign
    assert "cy" not in job.workers_of("2")
    response, body = call(server, "POST", "/worker/cy/task/2/submit", worker, json.dumps(GOOD).encode(),
                          host=PUBLIC, origin=f"https://{PUBLIC}")
    assert response.status == 200 and json.loads(body)["recorded"] is True
    # Another name the proxy did not get (DNS rebinding) is still not the server.
    assert call(server, "GET", "/worker/cy", worker, host="evil.example")[0].status == 421
