"""headroom's lean client for declared scenarios (``loadtest/load/lean_http.py``) against a real HTTP server.

What a declared scenario got from Locust's FastHttpUser must still hold on the lean client:
keep-alive, the base URL's path, cookies set by the service, same-origin redirects (POST to GET
on 303), the 3xx of a redirect elsewhere, timeouts labelled ``timeout``, refused connections
labelled as connection errors, a request cut off by the end of a run recorded as in flight, and
users that alternate between canary and primary.
The client runs where it runs in a load test: in a child process that gevent has patched,
against a gevent WSGI server on a free port, each request counted by Locust's own request event.
"""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import free_port

CHILD = r"""
import json, sys, time
from gevent import monkey
monkey.patch_all()
import gevent
from gevent.pywsgi import WSGIServer
from locust.env import Environment
from loadtest.load import recorder
from loadtest.load.lean_http import LeanHttpSession
from loadtest.load.scenario_users import declared_user

port, closed_port = int(sys.argv[1]), int(sys.argv[2])
connections = set()

def app(environ, start_response):
    connections.add(environ["REMOTE_PORT"])
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    headers = [("Content-Type", "text/plain")]
    if path == "/api/login":
        headers.append(("Set-Cookie", "sid=abc123; Path=/; HttpOnly"))
        body, status = "in", "200 OK"
    elif path == "/api/logout":
        headers.append(("Set-Cookie", "sid=; Max-Age=0; Path=/"))
        body, status = "out", "200 OK"
    elif path == "/api/whoami":
        body, status = environ.get("HTTP_COOKIE", "-"), "200 OK"
    elif path == "/api/hop":
        headers.append(("Location", "method?from=hop"))  # relative to /api/hop
        body, status = "", "303 See Other"
    elif path == "/api/away":
        headers.append(("Location", f"http://127.0.0.1:{closed_port}/elsewhere"))
        body, status = "", "302 Found"
    elif path == "/api/method":
        body, status = method + " " + environ.get("QUERY_STRING", ""), "200 OK"
    elif path == "/api/slow":
        gevent.sleep(3)
        body, status = "late", "200 OK"
    elif path == "/api/order":
        body, status = json.dumps({"id": 42, "echo": json.loads(environ["wsgi.input"].read() or b"null")}), "201 Created"
        headers = [("Content-Type", "application/json")]
    elif path == "/api/order/42":
        body, status = json.dumps({"id": 42}), "200 OK"
    else:
        body, status = "no", "404 Not Found"
    start_response(status, headers)
    return [body.encode()]

server = WSGIServer(("127.0.0.1", port), app, log=None)
server.start()
env = Environment()
events = []
env.events.request.add_listener(lambda **kw: events.append(
    {"name": kw["name"], "exception": None if kw["exception"] is None else str(kw["exception"]), "url": kw["url"]}))
base = f"http://127.0.0.1:{port}/api"
session = LeanHttpSession(base, env.events.request, connection_timeout=1.0, network_timeout=0.5)
judge = lambda answer: recorder.failure_reason(answer.error) if answer.error else (None if 200 <= answer.status < 300 else f"HTTP {answer.status}")
out = {}
out["login"] = session.request("GET", "/login", name="login", judge=judge).body.decode()
out["cookie"] = session.request("GET", "/whoami", name="whoami").body.decode()
out["hop"] = session.request("POST", "/hop", name="hop", body=b"x", headers={"Content-Type": "text/plain"}, judge=judge).body.decode()
away = session.request("GET", "/away", name="away", judge=judge)
out["away"] = [away.status, away.failure]
session.request("GET", "/logout", name="logout")
out["after_logout"] = session.request("GET", "/whoami", name="whoami").body.decode()
out["missing"] = session.request("GET", "/nothing", name="missing", judge=judge).failure
out["slow"] = session.request("GET", "/slow", name="slow", judge=judge).failure
refused = LeanHttpSession(f"http://127.0.0.1:{closed_port}", env.events.request, 1.0, 0.5)
out["refused"] = refused.request("GET", "/", name="refused", judge=judge).failure
out["connections_before_slow"] = len(connections)

# A declared user: the JSON body, its Content-Type, the capture and the check, through Locust's User.
spec = {"class": "Shop", "wait": {"pacing": 1.0}, "variables": {},
        "requests": [{"name": "create", "method": "POST", "path": "/order", "headers": {}, "body": {"sku": "A"},
                      "has_body": True, "weight": 1, "status": [201], "checks": [], "variables": [],
                      "capture": {"order": "id"}},
                     {"name": "read", "method": "GET", "path": "/order/{order}", "headers": {}, "body": None,
                      "has_body": False, "weight": 1, "status": None, "checks": [{"field": "id", "equals": 42}],
                      "variables": ["order"]}]}
Shop = declared_user(spec, {})
Shop.host = base
user = Shop(env)
read = next(task for task in Shop.tasks if task.__name__ == "read")
read(user)  # no order captured yet: it creates one first
read(user)
out["declared"] = [(e["name"], e["exception"]) for e in events if e["name"] in ("create", "read")]
first, second = Shop(env).client, Shop(env).client  # each user its own connection, one cache of request heads
out["heads"] = [first.client is second.client, first.client._heads is second.client._heads is session.client._heads]

# validate --compare-host: every second user of a declared scenario targets the baseline (loadtest.load.canary).
from loadtest.load.canary import alternate_targets
alternate_targets([Shop], f"http://127.0.0.1:{closed_port}")
out["canary"] = [Shop(env).client.base_url for _ in range(2)]

# The end of a run: a request whose greenlet is killed is recorded as in flight (recorder.track_in_flight).
cut = []
recorder.track_in_flight(lambda name, started: cut.append(name), 30.0)
hung = LeanHttpSession(base, env.events.request, 1.0, 10.0)
greenlet = gevent.spawn(hung.request, "GET", "/slow", name="hung")
gevent.sleep(0.3)
greenlet.kill()
out["cut_off"] = cut
out["urls"] = sorted({e["url"] for e in events if e["name"] == "whoami"})
print(json.dumps(out))
"""


def test_the_lean_client_keeps_what_a_declared_scenario_relied_on() -> None:
    port, closed_port = free_port(), free_port()
    result = subprocess.run([sys.executable, "-c", CHILD, str(port), str(closed_port)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["login"] == "in"
    assert found["cookie"] == "sid=abc123"  # the service's cookie came back
    assert found["after_logout"] == "-"  # Max-Age=0 removed it
    assert found["hop"] == "GET from=hop"  # 303 after a POST: followed as a GET, query kept
    assert found["away"] == [302, "HTTP 302"]  # another origin: not followed, judged by its status
    assert found["missing"] == "HTTP 404"
    assert found["slow"] == "timeout"
    assert found["refused"].startswith("connection error: ")
    assert found["connections_before_slow"] == 1  # one keep-alive connection for every request above
    assert found["declared"] == [["create", None], ["read", None]]
    assert found["heads"] == [False, True]
    assert found["canary"] == [f"http://127.0.0.1:{port}/api", f"http://127.0.0.1:{closed_port}"]
    assert found["cut_off"] == ["hung"]
    assert found["urls"] == [f"http://127.0.0.1:{port}/api/whoami"]  # the canary's split reads the full URL
