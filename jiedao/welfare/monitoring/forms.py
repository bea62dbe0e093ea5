"""Forms of the monitoring pages: they parse input into what the services take; the services decide."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jiedao.core.errors import DomainError
from jiedao.welfare.models.monitoring import (
    LeadSource,
    MeasureCategory,
    MeasureStatus,
    MonitoringKind,
    MonitoringState,
    RiskType,
)
from jiedao.welfare.monitoring import selectors
from jiedao.welfare.monitoring.workflow import MonitoringAction

DATE = forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
MONEY = forms.NumberInput(attrs={"inputmode": "numeric", "min": 0, "step": 1})
STATE_FILTERS = [("", _("全部")), ("monitored_all", _("监测中（含退出流程）")), ("entry", _("认定流程中")),
                 *MonitoringState.choices]


def _cadre_choices(users: Any) -> list[tuple[Any, str]]:
    return [("", "—"), *((u.pk, u.get_full_name() or u.get_username()) for u in users)]


class FilterForm(forms.Form):
    node = forms.TypedChoiceField(label=_("社区（村）"), coerce=int, required=False, empty_value=None)
    kind = forms.ChoiceField(label=_("类型"), choices=[("", _("全部")), *MonitoringKind.choices], required=False)
    risk = forms.ChoiceField(label=_("风险类型"), choices=[("", _("全部")), *RiskType.choices], required=False)
    state = forms.ChoiceField(label=_("状态"), choices=STATE_FILTERS, required=False)
    cadre = forms.TypedChoiceField(label=_("帮扶干部"), coerce=int, required=False, empty_value=None)
    q = forms.CharField(label=_("户号或住址"), required=False, max_length=50)
    late = forms.BooleanField(label=_("只看超 15 天未认定"), required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.communities = list(selectors.communities(user))
        self.fields["node"].choices = [("", _("全部")), *((n.pk, n.name) for n in self.communities)]
        self.fields["cadre"].choices = _cadre_choices(selectors.cadres_in_scope(user))

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        d = self.cleaned_data
        node = next((n for n in self.communities if n.pk == d.get("node")), None)
        return {"node": node, "kind": d.get("kind") or "", "risk": d.get("risk") or "", "state": d.get("state") or "",
                "cadre": d.get("cadre"), "q": d.get("q") or "", "late": bool(d.get("late"))}


class LeadForm(forms.Form):
    household = forms.CharField(label=_("户号"), max_length=32,
                                help_text=_("登记簿上的户号；只能登记您负责范围内的户"))
    kind = forms.ChoiceField(label=_("监测对象类型"), choices=MonitoringKind.choices)
    risk_types = forms.MultipleChoiceField(label=_("风险类型"), choices=RiskType.choices,
                                           widget=forms.CheckboxSelectMultiple)
    lead_source = forms.ChoiceField(label=_("线索来源"), choices=LeadSource.choices)
    lead_on = forms.DateField(label=_("线索日期"), widget=DATE)
    income_per_head = forms.IntegerField(label=_("人均纯收入（元/年，估计）"), required=False, min_value=0, widget=MONEY)
    lead_note = forms.CharField(label=_("线索情况"), required=False, max_length=500,
                                widget=forms.Textarea(attrs={"rows": 3}),
                                help_text=_("写明困难情况；公示时不会显示"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lead_on"].initial = timezone.localdate()


class ActionForm(forms.Form):
    action = forms.ChoiceField(choices=MonitoringAction.choices, widget=forms.HiddenInput)
    reason = forms.CharField(label=_("说明"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))
    consent_on = forms.DateField(label=_("农户书面授权日期"), required=False, widget=DATE)
    income_per_head = forms.IntegerField(label=_("核实人均纯收入（元/年）"), required=False, min_value=0, widget=MONEY)
    members = forms.IntegerField(label=_("核实家庭人口"), required=False, min_value=1, max_value=30)
    notice_from = forms.DateField(label=_("公示开始日期"), required=False, widget=DATE)
    notice_to = forms.DateField(label=_("公示结束日期"), required=False, widget=DATE,
                                help_text=_("不少于 5 天；不填为开始日起 5 天"))
    exit_income = forms.IntegerField(label=_("人均纯收入（元/年）"), required=False, min_value=0, widget=MONEY)
    secure_education = forms.BooleanField(label=_("义务教育有保障"), required=False)
    secure_medical = forms.BooleanField(label=_("基本医疗有保障"), required=False)
    secure_housing = forms.BooleanField(label=_("住房安全有保障"), required=False)
    secure_water = forms.BooleanField(label=_("饮水安全有保障"), required=False)

    PARAMS = {
        MonitoringAction.VERIFY: ("consent_on", "income_per_head", "members"),
        MonitoringAction.PUBLISH: ("notice_from", "notice_to"),
        MonitoringAction.EXIT_PUBLISH: ("notice_from", "notice_to"),
        MonitoringAction.EXIT_VERIFY: ("exit_income", "secure_education", "secure_medical", "secure_housing",
                                       "secure_water"),
    }

    def params(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {name: d.get(name) for name in self.PARAMS.get(d["action"], ())}


class AdjustForm(forms.Form):
    kind = forms.ChoiceField(label=_("监测对象类型"), choices=MonitoringKind.choices)
    risk_types = forms.MultipleChoiceField(label=_("风险类型"), choices=RiskType.choices,
                                           widget=forms.CheckboxSelectMultiple)
    cadre = forms.TypedChoiceField(label=_("帮扶干部"), coerce=int, required=False, empty_value=None)
    income_per_head = forms.IntegerField(label=_("人均纯收入（元/年）"), required=False, min_value=0, widget=MONEY)
    members = forms.IntegerField(label=_("家庭人口"), required=False, min_value=1, max_value=30)
    reason = forms.CharField(label=_("调整原因"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, cadres: Any, can_manage: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cadre"].choices = _cadre_choices(cadres)
        if not can_manage:  # kind and cadre are the community's to change
            self.fields["kind"].disabled = True
            self.fields["cadre"].disabled = True


class MeasureForm(forms.Form):
    category = forms.ChoiceField(label=_("帮扶类别"), choices=MeasureCategory.choices)
    content = forms.CharField(label=_("帮扶措施"), max_length=300)
    owner = forms.CharField(label=_("责任人（单位）"), max_length=64)
    due_on = forms.DateField(label=_("完成时限"), widget=DATE)


class MeasureUpdateForm(forms.Form):
    """A measure's progress on the detail page: status, note, a new due date, the day it was done."""

    status = forms.ChoiceField(label=_("进展"), choices=MeasureStatus.choices)
    progress = forms.CharField(label=_("进展情况"), required=False, max_length=300)
    due_on = forms.DateField(label=_("完成时限"), required=False, widget=DATE)
    done_on = forms.DateField(label=_("完成日期"), required=False, widget=DATE, help_text=_("已完成时填写，默认今天"))

    @classmethod
    def for_measure(cls, measure: Any) -> MeasureUpdateForm:
        return cls(initial={"status": measure.status, "progress": measure.progress, "due_on": measure.due_on,
                            "done_on": measure.done_on}, auto_id=f"m{measure.pk}_%s")


class VisitForm(forms.Form):
    """A visit on a phone: the date, what changed, the measures' progress (fields
    `m<id>_status`, `m<id>_progress`) and optionally a new measure."""

    visited_on = forms.DateField(label=_("走访日期"), widget=DATE)
    income_per_head = forms.IntegerField(label=_("人均纯收入有变化（元/年）"), required=False, min_value=0, widget=MONEY,
                                         help_text=_("没有变化不用填"))
    risks_added = forms.MultipleChoiceField(label=_("新增风险"), choices=RiskType.choices, required=False,
                                            widget=forms.CheckboxSelectMultiple)
    risks_removed = forms.MultipleChoiceField(label=_("已消除的风险"), choices=RiskType.choices, required=False,
                                              widget=forms.CheckboxSelectMultiple)
    note = forms.CharField(label=_("走访情况"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))
    new_category = forms.ChoiceField(label=_("新增帮扶措施：类别"), choices=MeasureCategory.choices, required=False)
    new_content = forms.CharField(label=_("新增帮扶措施：内容"), required=False, max_length=300)
    new_owner = forms.CharField(label=_("新增帮扶措施：责任人（单位）"), required=False, max_length=64)
    new_due_on = forms.DateField(label=_("新增帮扶措施：完成时限"), required=False, widget=DATE)
    submission = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def __init__(self, *args: Any, monitored: Any, open_measures: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["visited_on"].initial = timezone.localdate()
        self.fields["submission"].initial = uuid.uuid4().hex
        present = set(monitored.risk_types)
        self.fields["risks_added"].choices = [(v, label) for v, label in RiskType.choices if v not in present]
        self.fields["risks_removed"].choices = [(v, label) for v, label in RiskType.choices if v in present]
        self.measure_rows = []
        for m in open_measures:
            status = forms.ChoiceField(label=_("进展"), choices=MeasureStatus.choices, initial=m.status)
            progress = forms.CharField(label=_("进展情况"), required=False, max_length=300, initial=m.progress)
            self.fields[f"m{m.pk}_status"], self.fields[f"m{m.pk}_progress"] = status, progress
            self.measure_rows.append((m, f"m{m.pk}_status", f"m{m.pk}_progress"))

    def measure_fields(self) -> list[tuple[Any, Any, Any]]:
        return [(m, self[s], self[p]) for m, s, p in self.measure_rows]

    def values(self) -> dict[str, Any]:
        d = self.cleaned_data
        measures = [{"id": m.pk, "status": d.get(s), "progress": d.get(p) or ""} for m, s, p in self.measure_rows]
        new = None
        if d.get("new_content") or d.get("new_owner"):
            new = {"category": d.get("new_category"), "content": d.get("new_content"), "owner": d.get("new_owner"),
                   "due_on": d.get("new_due_on")}
        return {"visited_on": d["visited_on"], "income_per_head": d.get("income_per_head"),
                "risks_added": d.get("risks_added") or [], "risks_removed": d.get("risks_removed") or [],
                "note": d.get("note") or "", "measures": measures, "new_measure": new,
                "submission": d.get("submission") or ""}


class LineForm(forms.Form):
    subdistrict = forms.TypedChoiceField(label=_("街道"), coerce=int)
    year = forms.IntegerField(label=_("年度"), min_value=2020, max_value=2100)
    amount = forms.IntegerField(label=_("监测标准（元/人/年）"), min_value=1, widget=MONEY)
    notes = forms.CharField(label=_("依据"), required=False, max_length=200)

    def __init__(self, *args: Any, subdistricts: Any = (), **kwargs: Any) -> None:
        """`subdistricts`: the sub-districts whose line the user manages (the only choices)."""
        super().__init__(*args, **kwargs)
        self.subdistricts = list(subdistricts)
        self.fields["subdistrict"].choices = [(n.pk, n.name) for n in self.subdistricts]
        if len(self.subdistricts) == 1:
            self.fields["subdistrict"].initial = self.subdistricts[0].pk
        self.fields["year"].initial = timezone.localdate().year

    def chosen(self) -> Any:
        return next(n for n in self.subdistricts if n.pk == self.cleaned_data["subdistrict"])


class OverdueForm(forms.Form):
    month = forms.CharField(label=_("月份"), required=False, max_length=7,
                            widget=forms.TextInput(attrs={"type": "month"}))
    node = forms.TypedChoiceField(label=_("社区（村）"), coerce=int, required=False, empty_value=None)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.communities = list(selectors.communities(user))
        self.fields["node"].choices = [("", _("全部")), *((n.pk, n.name) for n in self.communities)]

    def clean_month(self) -> Any:
        from datetime import date

        value = self.cleaned_data.get("month") or ""
        if not value:
            return selectors.previous_month(selectors.month_start(timezone.localdate()))
        try:
            year, month = (int(x) for x in value.split("-"))
            first = date(year, month, 1)
        except ValueError:
            raise forms.ValidationError(_("月份应为年月，如 2026-03。")) from None
        try:
            return selectors.check_year(first, field="month", label=_("月份"))
        except DomainError as exc:
            raise forms.ValidationError(str(exc)) from None
