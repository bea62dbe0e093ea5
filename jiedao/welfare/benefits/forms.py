"""Forms of the benefit pages: they parse input into what the services take; the services decide."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jiedao.core.models import ImportJob
from jiedao.welfare.benefits import selectors
from jiedao.welfare.benefits.workflow import GrantAction
from jiedao.welfare.models.benefits import GrantState, GrantUnit, Headline, PayPeriod

DATE = forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
MONTH = forms.DateInput(format="%Y-%m", attrs={"type": "month"})


class MonthField(forms.DateField):
    input_formats = ["%Y-%m", "%Y-%m-%d", "%Y/%m", "%Y%m"]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MONTH)
        super().__init__(**kwargs)


def _programme_choices(empty: bool) -> list[tuple[Any, str]]:
    choices = [(p.pk, p.name) for p in selectors.programmes(active_only=not empty)]
    return [("", _("全部项目")), *choices] if empty else choices


def _community_choices(user: Any) -> list[tuple[Any, str]]:
    return [("", _("全部社区（村）")), *((c.pk, c.name) for c in selectors.communities(user))]


class ProgrammeForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=32)
    code = forms.CharField(label=_("代码"), max_length=32, help_text=_("英文字母、数字、下划线，如 dibao_urban"))
    unit = forms.ChoiceField(label=_("计发单位"), choices=GrantUnit.choices)
    period = forms.ChoiceField(label=_("发放周期"), choices=PayPeriod.choices)
    review_months = forms.IntegerField(label=_("复核周期（月）"), required=False, min_value=1, max_value=60,
                                       help_text=_("如低保每年复核一次填 12；不需复核的留空"))
    default_amount = forms.DecimalField(label=_("标准金额（元）"), required=False, max_digits=12, decimal_places=2)
    amount_rule = forms.CharField(label=_("金额标准说明"), required=False, max_length=500,
                                  widget=forms.Textarea(attrs={"rows": 2}))
    headline = forms.ChoiceField(label=_("统计口径"), choices=Headline.choices,
                                 help_text=_("工作报告中怎样说这个项目的数字：人次与人均补差（低保）、户数与金额、人数与金额"))
    sort_order = forms.IntegerField(label=_("排序"), required=False, min_value=0, initial=100)
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)


class GrantFilterForm(forms.Form):
    programme = forms.TypedChoiceField(label=_("项目"), coerce=int, required=False, empty_value=None)
    state = forms.ChoiceField(label=_("状态"), required=False, choices=[("", _("全部状态")), *GrantState.choices])
    community = forms.TypedChoiceField(label=_("社区（村）"), coerce=int, required=False, empty_value=None)
    q = forms.CharField(label=_("姓名或户号"), required=False, max_length=40)
    due = forms.BooleanField(label=_("只看 30 天内待复核"), required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["programme"].choices = _programme_choices(True)
        self.fields["community"].choices = _community_choices(user)

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        d = self.cleaned_data
        return {"programme": d.get("programme"), "state": d.get("state") or "", "community": d.get("community"),
                "q": (d.get("q") or "").strip(), "due_within": 30 if d.get("due") else None}


class GrantForm(forms.Form):
    programme = forms.TypedChoiceField(label=_("项目"), coerce=int)
    resident = forms.TypedChoiceField(label=_("保障对象（申请人）"), coerce=int, widget=forms.RadioSelect)
    starts_on = forms.DateField(label=_("保障开始日期"), widget=DATE)
    ends_on = forms.DateField(label=_("保障结束日期"), widget=DATE, required=False)
    amount = forms.DecimalField(label=_("每期金额（元）"), required=False, max_digits=12, decimal_places=2,
                                help_text=_("不填按项目标准金额（按人计发的乘以保障人数）"))
    persons = forms.IntegerField(label=_("保障人数"), min_value=1, max_value=30, initial=1)
    next_review_on = forms.DateField(label=_("下次复核日期"), widget=DATE, required=False,
                                     help_text=_("不填按项目的复核周期从开始日期推算"))
    notes = forms.CharField(label=_("备注"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, residents: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["programme"].choices = _programme_choices(False)
        self.fields["resident"].choices = [
            (r.pk, f"{r.name} · {r.id_number_masked or '—'} · {r.node.name}") for r in residents]
        self.fields["starts_on"].initial = timezone.localdate().replace(day=1)


class GrantEditForm(forms.Form):
    starts_on = forms.DateField(label=_("保障开始日期"), widget=DATE, required=False,
                                help_text=_("可以提前或推后，但不能晚于已有的发放月份，也不能与同一对象在该项目的另一条资格重叠"))
    amount = forms.DecimalField(label=_("每期金额（元）"), max_digits=12, decimal_places=2)
    persons = forms.IntegerField(label=_("保障人数"), min_value=1, max_value=30)
    ends_on = forms.DateField(label=_("保障结束日期"), widget=DATE, required=False)
    next_review_on = forms.DateField(label=_("下次复核日期"), widget=DATE, required=False)
    notes = forms.CharField(label=_("备注"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class GrantActionForm(forms.Form):
    action = forms.ChoiceField(choices=GrantAction.choices, widget=forms.HiddenInput)
    reason = forms.CharField(label=_("说明"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))
    next_review_on = forms.DateField(label=_("下次复核日期"), widget=DATE, required=False,
                                     help_text=_("复核时用；不填按复核周期顺延"))


class PaymentForm(forms.Form):
    month = MonthField(label=_("发放月份"))
    amount = forms.DecimalField(label=_("发放金额（元）"), required=False, max_digits=12, decimal_places=2,
                                help_text=_("不填按资格的每期金额"))
    persons = forms.IntegerField(label=_("保障人数"), required=False, min_value=1, max_value=30)


class PaymentFilterForm(forms.Form):
    programme = forms.TypedChoiceField(label=_("项目"), coerce=int, required=False, empty_value=None)
    community = forms.TypedChoiceField(label=_("社区（村）"), coerce=int, required=False, empty_value=None)
    start = MonthField(label=_("从"), required=False)
    end = MonthField(label=_("到"), required=False)
    q = forms.CharField(label=_("姓名"), required=False, max_length=40)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["programme"].choices = _programme_choices(True)
        self.fields["community"].choices = _community_choices(user)

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        d = self.cleaned_data
        return {"programme": d.get("programme"), "community": d.get("community"), "start": d.get("start"),
                "end": d.get("end"), "q": (d.get("q") or "").strip()}


class TotalsForm(forms.Form):
    granularity = forms.ChoiceField(label=_("按"), choices=[("year", _("年")), ("quarter", _("季度")), ("month", _("月"))],
                                    required=False)
    start = forms.DateField(label=_("开始日期"), widget=DATE, required=False)
    end = forms.DateField(label=_("结束日期"), widget=DATE, required=False)
    programme = forms.TypedChoiceField(label=_("项目"), coerce=int, required=False, empty_value=None)
    community = forms.TypedChoiceField(label=_("社区（村）"), coerce=int, required=False, empty_value=None)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        today = timezone.localdate()
        kwargs.setdefault("initial", {"granularity": "year", "start": date(today.year, 1, 1), "end": today})
        super().__init__(*args, **kwargs)
        self.fields["programme"].choices = _programme_choices(True)
        self.fields["community"].choices = _community_choices(user)

    def values(self) -> dict[str, Any]:
        today = timezone.localdate()
        d = self.cleaned_data if self.is_valid() else {}
        start = d.get("start") or date(today.year, 1, 1)
        end = d.get("end") or today
        if end < start:
            start, end = end, start
        return {"granularity": d.get("granularity") or "year", "start": start, "end": end,
                "programme": d.get("programme"), "community": d.get("community")}


class PaymentImportForm(forms.Form):
    file = forms.FileField(label=_("民政发放表"), help_text=_("使用下载的模板或民政系统导出的发放明细，.xlsx 或 .csv，单个不超过 200 MB。"),
                           widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}))
    mode = forms.ChoiceField(label=_("导入方式"), choices=ImportJob.Mode.choices, initial=ImportJob.Mode.ALL_OR_NOTHING,
                             widget=forms.RadioSelect, help_text=_("校验后如有错误行，提交前还可以改为只导入正确的行。"))


class ImportCommitForm(forms.Form):
    mode = forms.ChoiceField(choices=ImportJob.Mode.choices)
