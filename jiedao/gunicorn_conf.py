"""gunicorn hooks for `jiedao serve`.

Each worker runs the in-process scheduler loop (deadline watch, weekly digests). Jobs are
claimed by compare-and-set in the database, so however many workers or servers run the loop,
each run happens once. Set JIEDAO_SCHEDULER=off to run `jiedao scheduler` separately instead.
"""

import os


def post_worker_init(worker):
    if os.environ.get("JIEDAO_SCHEDULER", "on").lower() in ("off", "0", "false", "no"):
        return
    from jiedao.core import scheduler

    scheduler.start_background()
