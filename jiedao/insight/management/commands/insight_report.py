"""`jiedao insight report`: the active classifier's scores on its held-back slice and overrides."""

from django.core.management.base import BaseCommand, CommandError


def _pad(text: str, width: int) -> str:
    """Pad to a display width (a Chinese character takes two columns)."""
    w = sum(2 if ord(c) > 0x2E80 else 1 for c in text)
    return text + " " * max(0, width - w)


class Command(BaseCommand):
    help = ("当前类别建议模型在留出集上的准确率、各类别 F1、混淆表和人工改判率"
            " / the active classifier on its held-back slice: accuracy, per-category F1, confusion, override rate")

    def handle(self, *args, **options):
        from jiedao.insight import selectors

        version = selectors.active_version()
        if version is None:
            raise CommandError("还没有训练过模型，请先运行 jiedao insight retrain / no classifier version yet: "
                               "run `jiedao insight retrain`", returncode=1)
        w = self.stdout.write
        names = selectors.current_names()
        w(f"v{version.number} · {version.get_kind_display()} · {version.get_trigger_display()} · "
          f"{version.finished_at:%Y-%m-%d %H:%M}")
        w(f"训练用事项 / training cases: {version.training_cases}  导入留言 / imported: {version.imported_messages}  "
          f"留出集 / held back: {version.holdout_cases}")
        if version.macro_f1 is None:
            w("留出集为空（冷启动）/ no held-back slice (cold start): no scores")
        else:
            w("")
            w(_pad("类别 category", 22) + f"{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}")
            for row in selectors.score_rows(version, names):
                w(_pad(row["name"], 22) + f"{row['precision']:>10.3f}{row['recall']:>8.3f}{row['f1']:>8.3f}"
                  f"{int(row['support']):>9d}")
            confusion = selectors.confusion_rows(version, names)
            w("")
            w("混淆表 / confusion (行 rows: 实际 true, 列 columns: 建议 predicted)")
            short = [n[:4] for n in confusion["labels"]]
            w(" " * 10 + "".join(" " * max(0, 9 - 2 * len(s)) + s for s in short))
            for s, row in zip(short, confusion["rows"], strict=True):
                w(_pad(s, 10) + "".join(f"{v:>9d}" for v in row["cells"]))
        overrides = selectors.override_table(None)
        w("")
        w("人工改判 / overrides (建议类别 suggested → 最终类别 final):")
        for row in overrides["rows"]:
            w(_pad(row["name"], 22) + f"{row['overridden']:>5d}/{row['n']:<5d} {row['rate']:.1%}")
        if overrides["low_total"]:
            w(f"低置信度建议 / low-confidence suggestions: {overrides['low_total']}（与最终类别相同 / same as final: "
              f"{overrides['low_kept']}）")
        rate = "-" if overrides["rate"] is None else f"{overrides['rate']:.3f}"
        if version.macro_f1 is not None:
            w(f"macro_f1={version.macro_f1:.3f} accuracy={version.accuracy:.3f} override_rate={rate}")
        else:
            w(f"override_rate={rate}")
