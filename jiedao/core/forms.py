"""Forms of the core pages: they parse input only; the rules live in the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


class PasswordPairMixin:
    """A new password typed twice. The strength rules are the service's (user_set_password)."""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("password") and data.get("password_confirm") and data["password"] != data["password_confirm"]:
            self.add_error("password_confirm", _("两次输入的密码不一致。"))
        return data


def password_fields() -> tuple[forms.CharField, forms.CharField]:
    return (
        forms.CharField(
            label=_("新密码"),
            strip=False,
            widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
            help_text=_("至少 8 位，不能全是数字，不能是常见密码，不能与用户名相近。"),
        ),
        forms.CharField(
            label=_("确认密码"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
        ),
    )


class PasswordChangeForm(PasswordPairMixin, forms.Form):
    current_password = forms.CharField(
        label=_("当前密码"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    password, password_confirm = password_fields()

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_current_password(self) -> str:
        # Re-authentication of the person at the keyboard, as Django's own form does.
        value = self.cleaned_data["current_password"]
        if not self.user.check_password(value):
            raise forms.ValidationError(_("当前密码不正确。"))
        return value


EXPIRY_CHOICES = [(30, _("30 天")), (90, _("90 天")), (180, _("180 天")), (365, _("一年"))]


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        label=_("用途"), max_length=100, help_text=_("例如：区平台数据对接。"), widget=forms.TextInput()
    )
    expires_days = forms.TypedChoiceField(label=_("有效期"), choices=EXPIRY_CHOICES, coerce=int, initial=180)


class AuditFilterForm(forms.Form):
    action = forms.CharField(
        label=_("动作前缀"),
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"list": "audit-actions", "placeholder": "org.user"}),
    )
    object_type = forms.ChoiceField(label=_("对象类型"), required=False)
    object_id = forms.CharField(label=_("对象编号"), required=False, max_length=64, widget=forms.HiddenInput())
    actor = forms.IntegerField(label=_("操作人"), required=False, min_value=1, widget=forms.HiddenInput())

    def __init__(self, *args: Any, object_types: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["object_type"].choices = [("", _("全部类型")), *object_types]
