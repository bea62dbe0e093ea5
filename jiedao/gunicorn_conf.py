"""gunicorn hooks for `jiedao serve`.

Without a queue, each worker runs the in-process scheduler loop (deadline watch, weekly digests).
Jobs are claimed by compare-and-set in the database, so however many workers or servers run the
loop, each run happens once. Set JIEDAO_SCHEDULER=off to run `jiedao scheduler` separately
instead. With a queue (JIEDAO_QUEUE_URL) no scheduler runs here: `jiedao worker` carries it.
"""


def post_worker_init(worker):
    from jiedao.core import scheduler

    if scheduler.in_process():
        scheduler.start_background()
