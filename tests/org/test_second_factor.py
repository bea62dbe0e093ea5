"""Administrators sign in with a second factor (TOTP, RFC 6238); anyone may add one.

Through the pages, as the named users of the test world: the password alone never signs an
administrator in; codes are single-use, wrong ones counted across processes (core.limits);
recovery codes work once; the key is sealed in the database; resets are audited."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import Http404
from django.urls import reverse

from jiedao.core import sealed, totp
from jiedao.core.errors import DomainError
from jiedao.core.models import AuditEvent
from jiedao.org import services
from jiedao.org.models import SecondFactor
from tests.conftest import PASSWORD


def _password_step(client, username):
    return client.post(reverse("login"), {"username": username, "password": PASSWORD})


def _secret_on_page(response) -> str:
    match = re.search(r'id="sf-secret">([A-Z2-7 ]+)<', response.content.decode())
    assert match, "the set-up page shows the key to type"
    return match.group(1).replace(" ", "")


def _code(secret: str, shift: int = 0) -> str:
    return totp.code_at(secret, totp.current_step() + shift)


def _signed_in(client) -> bool:
    return client.get(reverse("account")).status_code == 200


def _enrolled_admin(client, world) -> tuple[str, list[str]]:
    """Sign the administrator in for the first time: set-up, then the recovery codes; signs out."""
    _password_step(client, "admin")
    secret = _secret_on_page(client.get(reverse("login_second_factor")))
    page = client.post(reverse("login_second_factor"), {"code": _code(secret)})
    assert page.status_code == 201
    codes = re.findall(r"<li>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</li>", page.content.decode())
    client.post(reverse("logout"))
    return secret, codes


def test_an_administrators_password_alone_does_not_sign_in(client, world):
    response = _password_step(client, "admin")
    assert response.status_code == 302 and response["Location"] == reverse("login_second_factor")
    assert not _signed_in(client)
    page = client.get(reverse("login_second_factor"))
    assert page.status_code == 200 and "设置两步验证" in page.content.decode() and "<svg" in page.content.decode()
    assert page["Cache-Control"].startswith("max-age=0") or "no-store" in page["Cache-Control"]


def test_first_sign_in_sets_the_factor_up_and_shows_ten_recovery_codes(client, world):
    _password_step(client, "admin")
    secret = _secret_on_page(client.get(reverse("login_second_factor")))
    # A reload shows the same key: the app may already hold it.
    assert _secret_on_page(client.get(reverse("login_second_factor"))) == secret
    wrong = client.post(reverse("login_second_factor"), {"code": "000000" if _code(secret) != "000000" else "111111"})
    assert wrong.status_code == 400 and "验证码不正确" in wrong.content.decode() and not _signed_in(client)
    page = client.post(reverse("login_second_factor"), {"code": _code(secret)})
    assert page.status_code == 201 and _signed_in(client)
    codes = re.findall(r"<li>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</li>", page.content.decode())
    assert len(set(codes)) == 10
    factor = SecondFactor.objects.get(user=world.admin)
    assert factor.confirmed_at and secret not in factor.secret_enc and sealed.reveal(factor, "secret") == secret
    assert not any(code.replace("-", "") in str(factor.recovery_digests) for code in codes)
    actions = set(AuditEvent.objects.filter(object_id=str(world.admin.pk)).values_list("action", flat=True))
    assert {"org.second_factor.begin", "org.second_factor.failed", "org.second_factor.confirm"} <= actions


def test_a_code_is_accepted_once_and_a_recovery_code_once(client, world):
    secret, codes = _enrolled_admin(client, world)
    # The set-up consumed the current step: the same code cannot sign in again (replay).
    _password_step(client, "admin")
    assert client.post(reverse("login_second_factor"), {"code": _code(secret)}).status_code == 400
    assert client.post(reverse("login_second_factor"), {"code": _code(secret, 1)}).status_code == 302
    assert _signed_in(client)
    client.post(reverse("logout"))
    for expected in (302, 400):
        _password_step(client, "admin")
        assert client.post(reverse("login_second_factor"), {"code": codes[0].lower()}).status_code == expected
        client.post(reverse("logout"))
    assert len(SecondFactor.objects.get(user=world.admin).recovery_digests) == 9
    assert AuditEvent.objects.filter(action="org.second_factor.recovery_used").count() == 1


def test_wrong_codes_are_throttled_even_before_a_right_one(client, world, settings):
    settings.JIEDAO_SECOND_FACTOR_LIMIT = (3, 900)
    secret, _codes = _enrolled_admin(client, world)
    _password_step(client, "admin")
    bad = "999999" if _code(secret, 1) != "999999" else "888888"
    for _ in range(3):
        assert client.post(reverse("login_second_factor"), {"code": bad}).status_code == 400
    refused = client.post(reverse("login_second_factor"), {"code": _code(secret, 1)})
    assert refused.status_code == 429 and not _signed_in(client)


def test_the_pending_sign_in_expires(client, world, monkeypatch):
    _password_step(client, "admin")
    session = client.session
    pending = session["jiedao_second_factor_pending"]
    pending["at"] -= 301
    session["jiedao_second_factor_pending"] = pending
    session.save()
    response = client.get(reverse("login_second_factor"))
    assert response.status_code == 302 and response["Location"] == reverse("login")


def test_a_grid_worker_signs_in_with_the_password_and_may_add_a_factor(client, world):
    assert _password_step(client, "worker")["Location"] == reverse("home")
    secret = _secret_on_page(client.get(reverse("account_second_factor")))
    assert client.post(reverse("account_second_factor"), {"code": _code(secret)}).status_code == 201
    client.post(reverse("logout"))
    assert _password_step(client, "worker")["Location"] == reverse("login_second_factor")
    assert client.post(reverse("login_second_factor"), {"code": _code(secret, 1)}).status_code == 302
    # and may turn it off again, proving it with a code
    client.post(reverse("account_second_factor_remove"), {"code": _code(secret, -1)})
    assert SecondFactor.objects.filter(user=world.worker).exists()  # an older step than the last one: refused
    client.post(reverse("account_second_factor_remove"), {"code": _code(secret, 1)})
    assert SecondFactor.objects.filter(user=world.worker).exists()  # already used
    factor = SecondFactor.objects.get(user=world.worker)
    factor.last_step = 0
    factor.save()
    client.post(reverse("account_second_factor_remove"), {"code": _code(secret)})
    assert not SecondFactor.objects.filter(user=world.worker).exists()


def test_an_administrator_keeps_the_factor_and_resets_go_through_scope_and_audit(client, world):
    _enrolled_admin(client, world)
    with pytest.raises(DomainError) as refused:
        services.second_factor_remove(actor=world.admin, user=world.admin)
    assert refused.value.status_code == 403
    with pytest.raises(Http404):  # a grid worker does not even see the administrator's place
        services.second_factor_remove(actor=world.worker, user=world.admin, reason="丢失手机")
    services.second_factor_begin(actor=world.secretary)
    with pytest.raises(DomainError) as no_reason:
        services.second_factor_remove(actor=world.admin, user=world.secretary)
    assert no_reason.value.field == "reason"
    services.second_factor_remove(actor=world.admin, user=world.secretary, reason="更换手机")
    call_command("twofactor_reset", "admin", reason="手机丢失")
    assert not SecondFactor.objects.filter(user__in=[world.admin, world.secretary]).exists()
    assert AuditEvent.objects.filter(action="org.second_factor.remove").count() == 2
    # The next sign-in sets a new factor up: the password alone still does not sign in.
    assert _password_step(client, "admin")["Location"] == reverse("login_second_factor")


def test_the_demo_code_command_serves_demo_accounts_only(world, capsys):
    services.second_factor_begin(actor=world.admin)
    with pytest.raises(CommandError):
        call_command("twofactor_code", "admin")
    secret = totp.new_secret()
    services.second_factor_enrol_demo(user=world.admin, secret=secret)
    call_command("twofactor_code", "admin")
    assert capsys.readouterr().out.strip() == _code(secret)


def test_an_administrator_resets_a_users_factor_on_the_user_page(client, world):
    services.second_factor_begin(actor=world.worker)
    client.force_login(world.admin)
    page = client.get(reverse("org:user", args=[world.worker.pk])).content.decode()
    assert "重置两步验证" in page
    url = reverse("org:user_second_factor_reset", args=[world.worker.pk])
    assert client.post(url, {"reason": ""}).status_code == 400
    assert client.post(url, {"reason": "手机丢失"}).status_code == 302
    assert not SecondFactor.objects.filter(user=world.worker).exists()
    # Out of scope: a grid worker gets 404 for another user's page and reset.
    services.second_factor_begin(actor=world.admin)
    client.force_login(world.worker)
    assert client.post(reverse("org:user_second_factor_reset", args=[world.admin.pk]),
                       {"reason": "试试"}).status_code == 404
    assert SecondFactor.objects.filter(user=world.admin).exists()
