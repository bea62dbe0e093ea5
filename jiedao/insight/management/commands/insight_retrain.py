"""`jiedao insight retrain [--import FILE] [--map 原类别=类别代码 …]`: train a classifier version."""

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("用已受理事项（及可选的已标注留言）重新训练类别建议模型，不低于当前版本才启用"
            " / retrain the category classifier from handled cases (plus an optional labelled import);"
            " it is activated only if it scores at least as well as the active one")

    def add_arguments(self, parser):
        parser.add_argument("--import", dest="import_path", metavar="FILE",
                            help="已标注留言 csv/xlsx（id,title,text,category 或 留言编号,留言主题,留言详情,一级分类）"
                                 " / labelled messages to add to the training data")
        parser.add_argument("--map", dest="label_map", action="append", default=[], metavar="LABEL=CODE",
                            help="导入文件的类别对应到事项类别（代码或名称），可重复"
                                 " / map a label of the import onto a category (code or name); repeatable")

    def handle(self, *args, import_path=None, label_map=(), **options):
        from jiedao.core.errors import DomainError
        from jiedao.insight import services
        from jiedao.insight.models import ClassifierVersion

        mapping = {}
        for item in label_map or ():
            label, sep, target = item.partition("=")
            if not sep or not label.strip() or not target.strip():
                raise CommandError(f"--map 应写作 原类别=类别代码 / --map takes LABEL=CODE, got {item!r}", returncode=2)
            mapping[label.strip()] = target.strip()
        try:
            version = services.classifier_train(actor=None, trigger=ClassifierVersion.Trigger.COMMAND,
                                                import_path=import_path, label_map=mapping)
        except DomainError as exc:
            raise CommandError(exc.message, returncode=2) from None
        w = self.stdout.write
        w(f"v{version.number}: {version.get_kind_display()}，训练用事项 {version.training_cases} 件，"
          f"导入留言 {version.imported_messages} 条，留出集 {version.holdout_cases} 件，{version.train_seconds}s")
        if version.macro_f1 is not None:
            w(f"留出集 / held-back slice: macro_f1={version.macro_f1:.3f} accuracy={version.accuracy:.3f}")
        if version.message:
            w(version.message)
        w(version.decision)
        w(f"active=v{version.number}" if version.is_active else "active=unchanged")
