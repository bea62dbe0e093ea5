"""The English interface: the catalogue jiedao/locale/en is complete, compiled, and used.

The msgids are the Chinese UI strings (zh-hans is the default language); English comes only from
jiedao/locale/en/LC_MESSAGES/django.po. The .mo is git-ignored, so a session fixture compiles it
(`compilemessages`, which needs GNU gettext's msgfmt) when it is missing or older than the .po.
"""

from __future__ import annotations

import ast
import contextlib
import gettext
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "jiedao"
LOCALE_DIR = PACKAGE_DIR / "locale"
PO = LOCALE_DIR / "en" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
PLACEHOLDER = re.compile(r"%\([^)]+\)[-#0 +]*\d*(?:\.\d+)?[sdif]|%[sdif]|%%")


def html(response) -> str:
    return response.content.decode()


# --- the catalogue, parsed without any extra dependency ------------------------------------------


def parse_po(path: Path) -> list[dict]:
    """Entries of a .po file: flags, msgid, msgid_plural and msgstr (index → text)."""
    entries: list[dict] = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
        entry: dict = {"flags": set(), "msgctxt": None, "msgid": None, "msgid_plural": None, "msgstr": {}}
        key: tuple | None = None
        for line in block.splitlines():
            line = line.strip()
            if not line or (line.startswith("#") and not line.startswith("#,")):
                continue
            if line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
                continue
            keyword, _, rest = line.partition(" ") if not line.startswith('"') else ("", "", line)
            text = ast.literal_eval(rest)
            if keyword.startswith("msgstr["):
                key = ("msgstr", int(keyword[7:-1]))
                entry["msgstr"][key[1]] = text
            elif keyword == "msgstr":
                key = ("msgstr", 0)
                entry["msgstr"][0] = text
            elif keyword in ("msgid", "msgid_plural", "msgctxt"):
                key = (keyword,)
                entry[keyword] = text
            elif not keyword and key is not None:  # a continuation line
                if key[0] == "msgstr":
                    entry["msgstr"][key[1]] += text
                else:
                    entry[key[0]] += text
            else:
                raise AssertionError(f"unexpected line in {path.name}: {line!r}")
        if entry["msgid"] is not None:
            entries.append(entry)
    return entries


@pytest.fixture(autouse=True)
def _default_language_afterwards():
    """LocaleMiddleware leaves the last request's language active in the thread: the tests that
    follow in this worker (e.g. the generated workflow doc) must not run in English."""
    yield
    translation.deactivate()


@pytest.fixture(scope="module")
def po_entries() -> list[dict]:
    return parse_po(PO)


def test_locale_settings_point_at_the_catalogue():
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert [code for code, _ in settings.LANGUAGES] == ["zh-hans", "en"]
    assert [Path(p).resolve() for p in settings.LOCALE_PATHS] == [LOCALE_DIR.resolve()]
    assert PO.is_file()


def test_po_header_has_english_plural_forms(po_entries):
    header = po_entries[0]
    assert header["msgid"] == ""
    assert "fuzzy" not in header["flags"]
    assert "Language: en\n" in header["msgstr"][0]
    assert "Plural-Forms: nplurals=2; plural=(n != 1);" in header["msgstr"][0]
    assert "charset=UTF-8" in header["msgstr"][0]


def test_every_msgid_has_an_english_translation(po_entries):
    entries = po_entries[1:]
    assert len(entries) > 500
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert not fuzzy, f"fuzzy entries: {fuzzy}"
    empty = [e["msgid"] for e in entries if not e["msgstr"] or any(not s.strip() for s in e["msgstr"].values())]
    assert not empty, f"untranslated msgids: {empty}"
    plural = [e for e in entries if e["msgid_plural"] is not None]
    assert plural and all(sorted(e["msgstr"]) == [0, 1] for e in plural)
    assert all(list(e["msgstr"]) == [0] for e in entries if e["msgid_plural"] is None)


def test_translations_keep_placeholders_and_markup(po_entries):
    wrong = []
    for e in po_entries[1:]:
        for text in e["msgstr"].values():
            if sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(e["msgid"])):
                wrong.append((e["msgid"], text))
            if sorted(re.findall(r"</?\w+", text)) != sorted(re.findall(r"</?\w+", e["msgid"])):
                wrong.append((e["msgid"], text))
    assert not wrong, wrong


def test_no_chinese_left_in_translations(po_entries):
    # Data-like examples (a search hint naming a grid, "e.g. 第一网格") may keep their Chinese;
    # everything else is English.
    allowed = {"输入名称或编码查找，例如：第一网格"}
    cjk = re.compile(r"[\u4e00-\u9fff]")
    left = [
        e["msgid"]
        for e in po_entries[1:]
        if e["msgid"] not in allowed and any(cjk.search(s) for s in e["msgstr"].values())
    ]
    assert not left, left


# --- compiling ------------------------------------------------------------------------------------


@contextlib.contextmanager
def _compile_lock():
    """pytest-xdist workers share the work tree: one compiles while the others wait."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(Path(tempfile.gettempdir()) / "jiedao-compilemessages.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _stale() -> bool:
    return not MO.exists() or MO.stat().st_mtime < PO.stat().st_mtime


def _reset_translation_caches() -> None:
    """Forget catalogues Django may have loaded (without the new .mo) earlier in this process."""
    from asgiref.local import Local
    from django.utils.translation import trans_real

    trans_real._translations = {}
    trans_real._default = None
    trans_real._active = Local()
    cache = getattr(trans_real, "translation_catalog_exists", None)  # Django ≥ 5.2
    if cache is not None:
        cache.cache_clear()


@pytest.fixture(scope="session")
def compiled_en() -> Path:
    if _stale():
        if shutil.which("msgfmt") is None:
            pytest.skip(
                "GNU gettext's msgfmt is not installed and jiedao/locale/en/LC_MESSAGES/django.mo is "
                "missing or older than django.po: install gettext (apt-get install gettext) or run "
                "`django-admin compilemessages` in jiedao/"
            )
        with _compile_lock():
            if _stale():
                cwd = os.getcwd()
                os.chdir(PACKAGE_DIR)  # compilemessages walks the working directory for locale/ dirs
                try:
                    call_command("compilemessages", locale=["en"], verbosity=0)
                finally:
                    os.chdir(cwd)
        _reset_translation_caches()
    assert MO.is_file()
    return MO


def test_compiled_catalogue_matches_the_po(compiled_en, po_entries):
    with open(compiled_en, "rb") as fp:
        catalogue = gettext.GNUTranslations(fp)
    for e in po_entries[1:]:
        if e["msgid_plural"] is None:
            assert catalogue.gettext(e["msgid"]) == e["msgstr"][0], e["msgid"]
        else:
            assert catalogue.ngettext(e["msgid"], e["msgid_plural"], 1) == e["msgstr"][0]
            assert catalogue.ngettext(e["msgid"], e["msgid_plural"], 2) == e["msgstr"][1]
    assert catalogue.ngettext("%(n)s 个下级", "%(n)s 个下级", 1) % {"n": 1} == "1 child node"
    assert catalogue.ngettext("%(n)s 个下级", "%(n)s 个下级", 3) % {"n": 3} == "3 child nodes"


# --- pages ----------------------------------------------------------------------------------------


def test_chinese_is_the_default(client, world):
    client.force_login(world.admin)
    for headers in ({}, {"HTTP_ACCEPT_LANGUAGE": "fr-FR,fr;q=0.9"}):
        page = html(client.get(reverse("home"), **headers))
        assert '<html lang="zh-CN"' in page
        assert "组织架构</a>" in page and "退出" in page
        assert "Org structure" not in page and "Log out" not in page


def test_login_page_in_english_with_accept_language(client, db, compiled_en):
    page = html(client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9"))
    assert '<html lang="en"' in page
    assert "<title>Log in · " in page
    assert "Staff login" in page
    assert '<label for="id_username">Username</label>' in page
    assert '<label for="id_password">Password</label>' in page
    assert ">Log in</button>" in page
    assert "工作人员登录" not in page and "登录</button>" not in page
    chinese = html(client.get(reverse("login")))
    assert "工作人员登录" in chinese and "Staff login" not in chinese


def test_home_and_nav_in_english_with_accept_language(client, world, compiled_en):
    client.force_login(world.admin)
    page = html(client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en"))
    assert '<html lang="en"' in page
    for text in (
        "Org structure</a>",
        "Users</a>",
        "Audit log</a>",
        "My account</a>",
        ">Log out</button>",
        "Skip to main content",
        "Hello, 管理员",
        "Administration",
    ):
        assert text in page, text
    # Proper nouns are data: the sub-district keeps its name.
    assert "丹西街道" in page
    for text in ("组织架构", "审计日志", "我的账号", "退出", "您好"):
        assert text not in page, text


def test_setlang_post_switches_the_following_pages(client, world, compiled_en):
    client.force_login(world.worker)
    response = client.post("/i18n/setlang/", {"language": "en", "next": reverse("org:index")})
    assert response.status_code == 302 and response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    page = html(client.get(reverse("org:index")))
    assert '<html lang="en"' in page
    assert "<h1>Org structure</h1>" in page and "My area of responsibility" in page
    assert "东门第一网格" in page
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": reverse("org:index")})
    page = html(client.get(reverse("org:index")))
    assert "<h1>组织架构</h1>" in page and "My area of responsibility" not in page


def test_language_cookie_and_english_plurals(client, world, compiled_en):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(world.admin)
    page = html(client.get(reverse("org:node", args=[world.subdistrict.pk])))
    assert "Child nodes" in page and "Add child node" in page
    assert "2 child nodes" in page  # 东门社区: two grids
    assert "1 child node<" in page  # 横塘村: one grid
    assert "个下级" not in page


def test_cases_pages_in_english(client, world, compiled_en):
    client.force_login(world.worker)
    page = html(client.get(reverse("cases:list"), HTTP_ACCEPT_LANGUAGE="en"))
    assert "<h1>Requests & events</h1>" in page and "Register request" in page and "Filter" in page
    page = html(client.get(reverse("cases:new"), HTTP_ACCEPT_LANGUAGE="en"))
    assert "Description" in page and "Urgency" in page and "Three-way triage" in page


def test_public_pages_in_english(client, world, compiled_en):
    page = html(client.get(reverse("cases:public_report"), HTTP_ACCEPT_LANGUAGE="en"))
    assert "Report a problem" in page and "我要反映" not in page
    page = html(client.get(reverse("cases:public_track"), HTTP_ACCEPT_LANGUAGE="en"))
    assert "Track progress" in page and "Tracking number" in page
