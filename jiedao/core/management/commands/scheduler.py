"""`jiedao scheduler`: run the periodic jobs in the foreground (or once, for cron); with a queue
(JIEDAO_QUEUE_URL) it is the beat: it puts the due jobs on the queue for `jiedao worker`."""

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("运行定时任务（时限监控、每周周集）；设置了任务队列时只把到期任务放入队列"
            " / run the periodic jobs (deadline watch, weekly digests); with a queue, enqueue them")

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true",
                            help="只运行一次到期任务后退出（供 cron 使用）/ run due jobs once and exit (for cron)")

    def handle(self, *args, once: bool = False, **options):
        from jiedao.core import queue, scheduler

        if once:
            ran = scheduler.run_due()
            done = "已放入队列 / queued: " if queue.enabled() else "已运行 / ran: "
            self.stdout.write((done + "、".join(ran)) if ran else "没有到期的任务 / nothing due")
            return
        self.stdout.write("定时任务运行中，Ctrl-C 退出 / scheduler running, Ctrl-C to stop")
        scheduler.run_forever()
