"""`jiedao worker`: run the queued background work and periodic jobs (needs JIEDAO_QUEUE_URL)."""

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("启动任务队列工作进程（Celery，需设置 JIEDAO_QUEUE_URL），执行后台任务和定时任务"
            " / run a queue worker (Celery; needs JIEDAO_QUEUE_URL) for background tasks and periodic jobs")

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=None,
                            help="并行执行的任务数，默认为 CPU 核数 / tasks run in parallel (default: CPU cores)")
        parser.add_argument("--pool", choices=["prefork", "threads", "solo"], default="prefork",
                            help="执行方式：prefork 多进程（默认）、threads 多线程、solo 单个 / execution pool"
                                 " (default prefork: processes)")
        parser.add_argument("--no-beat", action="store_true",
                            help="不在本进程中排定定时任务（由其他 worker 或 jiedao scheduler 排定）"
                                 " / do not enqueue the periodic jobs from this process (another worker"
                                 " or `jiedao scheduler` does)")
        parser.add_argument("--loglevel", choices=["DEBUG", "INFO", "WARNING", "ERROR"], default="INFO",
                            help="日志级别 / log level (default INFO)")

    def handle(self, *args, concurrency=None, pool="prefork", no_beat=False, loglevel="INFO", **options):
        from jiedao.core import queue, queue_worker

        if not queue.enabled():
            raise CommandError(
                "未设置 JIEDAO_QUEUE_URL，没有任务队列：后台任务和定时任务在 jiedao serve 进程内运行，"
                "无需 worker。/ JIEDAO_QUEUE_URL is not set: without a queue, background tasks and periodic"
                " jobs run inside `jiedao serve` and no worker is needed.", returncode=2)
        if concurrency is not None and concurrency < 1:
            raise CommandError("--concurrency 至少为 1 / --concurrency must be at least 1", returncode=2)
        self.stdout.write(f"任务队列工作进程 / queue worker: 队列 queue {queue.queue_name()}"
                          f"{'' if no_beat else '，含定时任务排定 / with the beat'}")
        queue_worker.run_worker(concurrency=concurrency, pool=pool, beat=not no_beat, loglevel=loglevel)
