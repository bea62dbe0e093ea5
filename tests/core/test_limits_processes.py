"""The public form's limit holds across the worker processes of `jiedao serve`.

Starts the real server (gunicorn, several worker processes) on a copy of the test database and
posts the public report form 100 times from one address, many at once: exactly the limit gets
through (counted in jiedao.core.limits, shared by the processes), every other post is a 429.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

from jiedao.cases.views import PUBLIC_LIMITS

JIEDAO = Path(sys.executable).with_name("jiedao")
REPO = Path(__file__).resolve().parents[2]  # this checkout's code, whatever the venv points at
WORKERS = 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url(tmp_path: Path) -> str:
    """A URL the server processes can open: the test database itself (PostgreSQL) or a file copy
    of it (SQLite: the test database lives in this process's memory)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        target = sqlite3.connect(tmp_path / "served.sqlite3")
        connection.connection.backup(target)
        target.close()
        return f"sqlite:///{tmp_path / 'served.sqlite3'}"
    password = urllib.parse.quote(db.get("PASSWORD") or "")
    auth = f"{db.get('USER') or ''}{':' + password if password else ''}@"
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture
def served(transactional_db, tmp_path):
    port = _free_port()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = dict(os.environ, JIEDAO_DATA_DIR=str(data_dir), JIEDAO_DATABASE_URL=_database_url(tmp_path),
               JIEDAO_SCHEDULER="off", JIEDAO_DEBUG="0",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    log = open(tmp_path / "serve.log", "w+")  # noqa: SIM115 - closed below
    server = subprocess.Popen([str(JIEDAO), "serve", "--port", str(port), "--workers", str(WORKERS), "--threads", "4"],
                              env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(base + "/public/report/", timeout=2).read()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"jiedao serve did not start:\n{log.read()[-3000:]}")
                time.sleep(0.2)
        yield base
    finally:
        server.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def test_public_form_limit_holds_across_worker_processes(served):
    uses, _window = PUBLIC_LIMITS["report"]
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(served + "/public/report/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    body = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "title": "路灯不亮"}).encode()

    def post(_: int) -> int:
        request = urllib.request.Request(served + "/public/report/", data=body, method="POST",
                                         headers={"Cookie": cookie, "Referer": served + "/public/report/"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(post, range(100)))
    refused = statuses.count(429)
    assert 403 not in statuses, "CSRF refused the posts: the test did not reach the limit"
    # Invalid posts (no community chosen) still count: the limit is checked first.
    assert len(statuses) - refused == uses, statuses
    assert refused == 100 - uses
