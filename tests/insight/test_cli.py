import csv
import re
import subprocess
import sys

from jiedao.insight.text.cli import main, main_evaluate, main_similar

ROWS = [
    ("小区停水三天", "小区已经停水三天，物业不管", "城乡建设"),
    ("物业乱收费", "物业公司乱收停车费", "城乡建设"),
    ("电梯坏了", "小区电梯坏了一个月没人修", "城乡建设"),
    ("工地夜间施工", "工地夜间施工噪音扰民", "环境保护"),
    ("化工厂排污", "化工厂向河里排放污水", "环境保护"),
    ("烧烤油烟", "楼下烧烤店油烟直排", "环境保护"),
    ("补课收费", "学校老师组织有偿补课", "教育文体"),
    ("幼儿园入园难", "小区配套幼儿园不开园", "教育文体"),
    ("学位紧张", "小学招生学位不够", "教育文体"),
]


def _write(path, rows, chinese=True, encoding="utf-8-sig"):
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["留言编号", "留言主题", "留言详情", "一级分类"] if chinese else ["id", "title", "text", "category"])
        for i, (t, x, c) in enumerate(rows, start=1):
            w.writerow([i, t, x, c])


def test_evaluate_prints_the_scores_last(tmp_path, capsys):
    _write(tmp_path / "train.csv", ROWS)
    _write(tmp_path / "test.csv", ROWS[::2], chinese=False, encoding="gbk")
    tree = tmp_path / "tree.csv"
    tree.write_text(
        "一级分类,二级分类,三级分类\n城乡建设,住房保障与房地产,物业服务\n环境保护,环境污染,噪音污染\n", encoding="utf-8"
    )
    assert (
        main_evaluate(
            ["--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"), "--tree", str(tree)]
        )
        == 0
    )
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"macro_f1=[01]\.\d{3} accuracy=[01]\.\d{3}", last)


def test_similar_writes_pairs(tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_text(
        "id,title,text\n"
        "a,A3区枫林路路灯不亮,枫林路路灯坏了半年，晚上出行很不安全。\n"
        "b,A3区枫林路路灯不亮,枫林路路灯坏了半年，晚上出行很不安全。\n"
        "c,社保卡补办,社保卡丢了怎么补办\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    assert main_similar([str(src), str(out)]) == 0
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows[0] == ["id_a", "id_b", "score"] and [r[:2] for r in rows[1:]] == [["a", "b"]]


def test_dispatch_and_module_entry_point(tmp_path):
    assert main([]) == 2 and main(["nope"]) == 2
    src = tmp_path / "in.csv"
    src.write_text("id,title,text\n1,停水,停水\n", encoding="utf-8")
    res = subprocess.run(
        [sys.executable, "-m", "jiedao.insight.text.cli", "similar", str(src), str(tmp_path / "o.csv")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0 and (tmp_path / "o.csv").read_text(encoding="utf-8").startswith("id_a,id_b,score")
