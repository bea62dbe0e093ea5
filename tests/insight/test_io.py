import pytest

from jiedao.insight.text.io import decode_bytes, read_messages, read_tree, write_pairs

CN = '留言编号,留言用户,留言主题,留言时间,留言详情,一级分类\n1,u1,小区停水,2019/1/1,已经停水三天了,城乡建设\n2,u2,"噪音,扰民",2019/1/2,工地夜间施工,环境保护\n'
EN = "id,title,text,category\n7,Bus late,公交车总是晚点,交通运输\n"


@pytest.mark.parametrize(
    "encoding,prefix",
    [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("gbk", b""), ("gb18030", b""), ("utf-16", b"")],
)
def test_reads_chinese_headers_in_any_encoding(tmp_path, encoding, prefix):
    path = tmp_path / "m.csv"
    path.write_bytes(prefix + CN.encode(encoding))
    msgs = read_messages(path, require_label=True)
    assert [m.id for m in msgs] == ["1", "2"]
    assert msgs[0].title == "小区停水" and msgs[0].text == "已经停水三天了" and msgs[0].category == "城乡建设"
    assert msgs[1].title == "噪音,扰民"  # quoted comma
    assert msgs[0].extra["留言用户"] == "u1"


def test_reads_english_headers_and_tabs(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(EN, encoding="utf-8")
    (m,) = read_messages(path)
    assert (m.id, m.title, m.text, m.category) == ("7", "Bus late", "公交车总是晚点", "交通运输")
    tsv = tmp_path / "m.tsv"
    tsv.write_text(EN.replace(",", "\t"), encoding="utf-8")
    assert read_messages(tsv)[0].text == "公交车总是晚点"


def test_unlabelled_rows_and_missing_ids(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("title,text\n停水,三天\n\n断电,两天\n", encoding="utf-8")
    msgs = read_messages(path)
    assert [m.id for m in msgs] == ["1", "2"] and msgs[0].category is None
    with pytest.raises(ValueError):
        read_messages(path, require_label=True)


def test_reads_xlsx(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["留言编号", "留言主题", "留言详情", "一级分类"])
    ws.append([101, "社保补缴", "怎么补缴社保", "劳动和社会保障"])
    wb.save(tmp_path / "m.xlsx")
    (m,) = read_messages(tmp_path / "m.xlsx", require_label=True)
    assert (m.id, m.title, m.category) == ("101", "社保补缴", "劳动和社会保障")


def test_reads_the_tree(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(
        "\ufeff一级分类,二级分类,三级分类\n城乡建设,安全生产,事故处理\n环境保护,环境污染,噪音污染\n".encode()
    )
    assert read_tree(path) == [("城乡建设", "安全生产", "事故处理"), ("环境保护", "环境污染", "噪音污染")]


def test_decode_falls_back_to_gb18030():
    assert decode_bytes("街道办".encode("gbk")) == "街道办"
    assert decode_bytes(b"\xef\xbb\xbfabc") == "abc"


def test_write_pairs(tmp_path):
    path = tmp_path / "p.csv"
    assert write_pairs(path, [("1", "2", 0.91234)]) == 1
    assert path.read_text(encoding="utf-8").splitlines() == ["id_a,id_b,score", "1,2,0.9123"]
