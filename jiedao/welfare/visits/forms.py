"""Forms of the visit and veterans' pages: they parse input into what the services take; the
services decide."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jiedao.core import scope
from jiedao.core.permissions import Perm
from jiedao.org.models import NodeKind, OrgNode
from jiedao.people.models import SpecialGroup
from jiedao.welfare.models.visits import CardState, RequestKind, RequestState, VeteranCategory, VisitMode

DATE = forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})


def _nodes(user: Any, kinds: Any) -> list[tuple[Any, str]]:
    qs = scope.restrict(OrgNode.objects.filter(kind__in=kinds, is_active=True), user, Perm.VIEW_WELFARE)
    return [("", "—"), *((n.pk, n.name) for n in qs.order_by("path")[:300])]


def scheduled_groups() -> list[tuple[Any, str]]:
    groups = SpecialGroup.objects.filter(is_active=True, visit_interval_days__isnull=False).order_by("sort_order", "id")
    return [(g.pk, _("%(name)s（每 %(n)s 天）") % {"name": g.name, "n": g.visit_interval_days}) for g in groups]


class DueFilterForm(forms.Form):
    bucket = forms.ChoiceField(label=_("范围"), required=False, choices=[
        ("due", _("逾期和本周到期")), ("overdue", _("逾期")), ("week", _("本周到期")), ("never", _("从未走访")),
        ("all", _("全部"))])
    group = forms.TypedChoiceField(label=_("类别"), required=False, coerce=int, empty_value=None)
    community = forms.TypedChoiceField(label=_("社区（村）"), required=False, coerce=int, empty_value=None)
    grid = forms.TypedChoiceField(label=_("网格"), required=False, coerce=int, empty_value=None)
    q = forms.CharField(label=_("姓名"), required=False, max_length=20)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = [("", _("全部类别")), *scheduled_groups()]
        self.fields["community"].choices = _nodes(user, {NodeKind.COMMUNITY, NodeKind.VILLAGE})
        self.fields["grid"].choices = _nodes(user, {NodeKind.GRID})


class VisitForm(forms.Form):
    visited_on = forms.DateField(label=_("走访日期"), widget=DATE)
    mode = forms.ChoiceField(label=_("走访方式"), choices=VisitMode.choices, widget=forms.RadioSelect)
    groups = forms.TypedMultipleChoiceField(label=_("计入的类别"), coerce=int, required=False,
                                            widget=forms.CheckboxSelectMultiple,
                                            help_text=_("不选为该居民的全部走访类别"))
    findings = forms.CharField(label=_("走访情况"), max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))
    needs = forms.CharField(label=_("反映的需求"), max_length=1000, required=False,
                            widget=forms.Textarea(attrs={"rows": 2}),
                            help_text=_("有需要办理的事项时填写，保存后可转为事项办理"))
    submission = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def __init__(self, *args: Any, group_choices: list[tuple[int, str]], **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"visited_on": timezone.localdate(), "mode": VisitMode.HOME,
                                      "submission": uuid.uuid4().hex})
        super().__init__(*args, **kwargs)
        self.fields["groups"].choices = group_choices


class VeteranFilterForm(forms.Form):
    q = forms.CharField(label=_("姓名"), required=False, max_length=20)
    category = forms.ChoiceField(label=_("类别"), required=False, choices=[("", _("全部")), *VeteranCategory.choices])
    card_status = forms.ChoiceField(label=_("优待证"), required=False,
                                    choices=[("", _("全部")), ("none", _("未申领")), ("applying", _("申领中")),
                                             ("issued", _("已发放"))])
    community = forms.TypedChoiceField(label=_("社区（村）"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["community"].choices = _nodes(user, {NodeKind.COMMUNITY, NodeKind.VILLAGE})


class VeteranForm(forms.Form):
    category = forms.ChoiceField(label=_("类别"), choices=VeteranCategory.choices)
    enlisted_year = forms.IntegerField(label=_("入伍年份"), required=False, min_value=1930, max_value=2100)
    discharged_year = forms.IntegerField(label=_("退役年份"), required=False, min_value=1930, max_value=2100)
    filed = forms.BooleanField(label=_("已建档立卡"), required=False)
    notes = forms.CharField(label=_("备注"), required=False, max_length=500)


class VeteranNewForm(VeteranForm):
    resident = forms.TypedChoiceField(label=_("居民"), coerce=int, help_text=_("登记簿中带“退役军人”标签、尚未建档的居民"))

    field_order = ["resident", "category", "enlisted_year", "discharged_year", "filed", "notes"]

    def __init__(self, *args: Any, residents: list[tuple[int, str]], searched: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["resident"].choices = residents
        if searched:
            self.fields["resident"].help_text = _("按姓名找到的、您管辖范围内尚未建档的在册居民（最多 20 人）")


class CheckForm(forms.Form):
    checked_on = forms.DateField(label=_("核对日期"), widget=DATE)
    notes = forms.CharField(label=_("核对情况"), required=False, max_length=500)
    filed = forms.BooleanField(label=_("同时完成建档立卡"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"checked_on": timezone.localdate()})
        super().__init__(*args, **kwargs)


class RequestForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=RequestKind.choices)
    content = forms.CharField(label=_("内容"), max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))
    received_on = forms.DateField(label=_("登记日期"), widget=DATE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"received_on": timezone.localdate()})
        super().__init__(*args, **kwargs)


class ApplyForm(forms.Form):
    applied_on = forms.DateField(label=_("申请日期"), widget=DATE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"applied_on": timezone.localdate()})
        super().__init__(*args, **kwargs)


class ActionForm(forms.Form):
    action = forms.CharField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("说明"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))
    card_number = forms.CharField(label=_("优待证号"), required=False, max_length=32)


class RequestFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("状态"), required=False,
                              choices=[("", _("全部")), ("open", _("未办结")), *RequestState.choices])


class CardFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("状态"), required=False, choices=[("", _("全部")), *CardState.choices])
    year = forms.IntegerField(label=_("年份"), required=False, min_value=2000, max_value=2100)
