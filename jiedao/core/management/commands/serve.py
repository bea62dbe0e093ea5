"""`jiedao serve`: run the platform under gunicorn (threads; WhiteNoise serves static files).

The module imports nothing from the project at load time, so `jiedao serve --help` works even
before the settings can be loaded.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_THREADS = 2
WSGI_APP = "jiedao.wsgi:application"
# Paths only: query strings may carry search terms (names, ID numbers) and are never logged.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(L)ss rid=%({x-request-id}o)s'


def default_workers() -> int:
    """Two processes per core (a 2-core machine gets 4 × 2 threads), at most 16. Intake and the
    pages are mostly Python: with four threads per process they queued for the GIL, and a
    thread holding SQLite's write lock waited behind them (bench/intake.py, docs/benchmarks.md)."""
    return max(2, min(2 * (os.cpu_count() or 1), 16))


def add_server_arguments(parser, *, workers: bool = True) -> None:
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"监听地址，0.0.0.0 表示所有网卡 / address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"端口 / port (default {DEFAULT_PORT})")
    if workers:
        parser.add_argument("--workers", type=int, default=None,
                            help=f"进程数，默认为 CPU 核数（至少 2）/ worker processes (default: CPU cores, at least 2; here {default_workers()})")
        parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                            help=f"每个进程的线程数 / threads per worker (default {DEFAULT_THREADS})")


def pending_migrations() -> int:
    """How many migrations the configured database still lacks."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def check_database(stdout, stderr) -> None:
    """Stop with a clear message if the database is unreachable or holds encrypted data the
    present keyring cannot open (jiedao.core.keys.startup_problems); warn about pending migrations."""
    from django.db import DatabaseError

    try:
        pending = pending_migrations()
    except DatabaseError as exc:
        raise CommandError(f"无法连接数据库 / cannot reach the database: {exc}", returncode=1) from None
    if not pending:
        from jiedao.core import keys

        problem = keys.startup_problems()
        if problem:
            raise CommandError(problem, returncode=1)
    if pending:
        stderr.write(
            f"提示：数据库还有 {pending} 个迁移未执行，页面可能出错。请先运行 jiedao manage migrate（或 jiedao demo）。\n"
            f"hint: {pending} migrations are not applied yet; run `jiedao manage migrate` first."
        )


def display_address(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def _gunicorn_has_control_socket() -> bool:
    from gunicorn.config import KNOWN_SETTINGS

    return any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS)


def run_gunicorn(host: str, port: int, workers: int | None = None, threads: int = DEFAULT_THREADS) -> None:
    """Replace this process with gunicorn serving the platform (never returns)."""
    from django.conf import settings
    from django.db import connections

    if not 0 < port < 65536:
        raise CommandError(f"端口 {port} 无效 / invalid port", returncode=2)
    workers = workers or default_workers()
    if workers < 1 or threads < 1:
        raise CommandError("进程数和线程数都至少为 1 / workers and threads must be at least 1", returncode=2)
    connections.close_all()  # nothing open may leak into the forked workers
    # WhiteNoise serves from the finders (WHITENOISE_USE_FINDERS); an existing STATIC_ROOT only
    # silences its "No directory at" warning.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    argv = [
        sys.executable, "-m", "gunicorn", WSGI_APP,
        "--bind", bind,
        "--worker-class", "gthread",
        "--preload",
        "--workers", str(workers),
        "--threads", str(threads),
        "--timeout", "120",
        "--graceful-timeout", "30",
        # A worker is replaced after this many requests (a guard against slow leaks); 0 never.
        "--max-requests", str(settings.JIEDAO_MAX_REQUESTS),
        "--max-requests-jitter", str(settings.JIEDAO_MAX_REQUESTS // 10),
        "--access-logfile", "-",
        "--access-logformat", ACCESS_LOG_FORMAT,
        "--error-logfile", "-",
        "--config", "python:jiedao.gunicorn_conf",
    ]
    if _gunicorn_has_control_socket():
        # gunicorn ≥ 25.1 opens a control socket at one fixed path in $HOME: two instances on one
        # machine would fight over it, and we do not use it.
        argv.append("--no-control-socket")
    env = dict(os.environ, DJANGO_SETTINGS_MODULE=os.environ.get("DJANGO_SETTINGS_MODULE", "jiedao.settings"))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)


class Command(BaseCommand):
    help = "用 gunicorn 启动网站服务（多进程多线程，静态文件由应用自身提供）/ serve the platform with gunicorn (threads; static files served by the app)"
    requires_system_checks = []

    def add_arguments(self, parser):
        add_server_arguments(parser)

    def handle(self, *args, host: str, port: int, workers: int | None, threads: int, **options):
        check_database(self.stdout, self.stderr)
        self.stdout.write(f"街道 Jiedao 服务地址 / serving at {display_address(host, port)}")
        run_gunicorn(host, port, workers, threads)
