"""gunicorn hooks for `jiedao serve`.

The app is preloaded in the master process (`--preload`), which also loads the word segmenter
and the active category model once (`when_ready`): every worker, including the ones gunicorn
replaces after --max-requests, starts from that copy instead of spending about 3 s of CPU on
imports and on its first intake.

Without a queue, each worker runs the in-process scheduler loop (deadline watch, weekly digests).
Jobs are claimed by compare-and-set in the database, so however many workers or servers run the
loop, each run happens once. Set JIEDAO_SCHEDULER=off to run `jiedao scheduler` separately
instead. With a queue (JIEDAO_QUEUE_URL) no scheduler runs here: `jiedao worker` carries it.
"""


def when_ready(server):
    from django.db import connections

    from jiedao.insight import selectors

    try:
        selectors.warm()
    except Exception:  # a warm-up must never keep the server from starting
        server.log.exception("warming the category model failed; workers will load it on first use")
    finally:
        connections.close_all()  # no connection may be shared with the forked workers


def post_worker_init(worker):
    from jiedao.core import scheduler

    if scheduler.in_process():
        scheduler.start_background()


# The longest request line gunicorn accepts (its maximum; the default is 4094 bytes). Long texts
# never travel in a URL — the intake's similar-case and category checks post them — but list
# filters and export links with several parameters may run past 4 KB.
limit_request_line = 8190
