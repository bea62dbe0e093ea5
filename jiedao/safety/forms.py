"""Forms of the safety pages: they parse input into what the services take; the services decide."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jiedao.core import scope
from jiedao.core.permissions import Perm
from jiedao.org.models import NodeKind, OrgNode
from jiedao.people.models import RiskColour
from jiedao.safety import selectors
from jiedao.safety.models import CampaignKind, HazardState, SafetyField, Severity, TenancyKind
from jiedao.safety.services import CAMPAIGN_NODE_KINDS, DEADLINE_DAYS_MAX, RULE_FIELDS

DATE = forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
FINDING_ROWS = 3


def _nodes(user: Any, perm: str, kinds: Any) -> list[tuple[int, str]]:
    qs = scope.restrict(OrgNode.objects.filter(kind__in=kinds, is_active=True), user, perm).order_by("path")
    return [(n.pk, ("\u3000" * max(0, n.depth - 1)) + n.name) for n in qs[:500]]


class CampaignForm(forms.Form):
    title = forms.CharField(label=_("名称"), max_length=100)
    kind = forms.ChoiceField(label=_("类型"), choices=CampaignKind.choices)
    field = forms.ChoiceField(label=_("领域"), choices=SafetyField.choices)
    node = forms.TypedChoiceField(label=_("范围（街道、社区/村或网格）"), coerce=int)
    starts_on = forms.DateField(label=_("开始日期"), widget=DATE)
    ends_on = forms.DateField(label=_("结束日期"), widget=DATE)
    grids = forms.TypedMultipleChoiceField(label=_("只排摸这些网格"), coerce=int, required=False,
                                           widget=forms.CheckboxSelectMultiple)
    industries = forms.CharField(label=_("只排摸这些行业"), required=False, max_length=300,
                                 help_text=_("多个行业用空格分隔，与主体登记的行业完全一致；不填为全部行业"))
    colours = forms.MultipleChoiceField(label=_("只排摸这些风险等级"), choices=RiskColour.choices, required=False,
                                        widget=forms.CheckboxSelectMultiple)
    site = forms.TypedChoiceField(label=_("只排摸这个园区/厂区及其承租主体"), coerce=int, required=False,
                                  empty_value=None)
    notes = forms.CharField(label=_("工作要求"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["node"].choices = _nodes(user, Perm.MANAGE_SAFETY, CAMPAIGN_NODE_KINDS)
        self.fields["grids"].choices = _nodes(user, Perm.VIEW_SAFETY, {NodeKind.GRID})
        sites = selectors.businesses_visible(user).filter(tenancies__isnull=False).distinct().order_by("name")
        self.fields["site"].choices = [("", "—"), *((b.pk, b.name) for b in sites[:200])]

    def values(self) -> dict[str, Any]:
        d = self.cleaned_data
        rule = {"nodes": d["grids"], "industries": (d["industries"] or "").split(), "colours": d["colours"],
                "site": d["site"]}
        return {"node": OrgNode.objects.get(pk=d["node"]), "title": d["title"], "kind": d["kind"],
                "field": d["field"], "starts_on": d["starts_on"], "ends_on": d["ends_on"], "notes": d["notes"],
                "rule": rule}


class InspectionForm(forms.Form):
    """One inspection; the checklist's items become radio fields `item_<id>` (合格/不合格/不适用)."""

    inspected_on = forms.DateField(label=_("检查日期"), widget=DATE)
    campaign = forms.TypedChoiceField(label=_("所属行动"), coerce=int, required=False, empty_value=None)
    contact_name = forms.CharField(label=_("企业陪同人"), required=False, max_length=64)
    contact_confirmed = forms.BooleanField(label=_("企业陪同人已确认检查结果"), required=False)
    notes = forms.CharField(label=_("检查情况"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))
    submission = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def __init__(self, *args: Any, template: Any, campaigns: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.template = template
        self.fields["submission"].initial = uuid.uuid4().hex
        self.fields["inspected_on"].initial = timezone.localdate()
        self.fields["campaign"].choices = [("", _("（日常检查，不属于行动）")), *((c.pk, c.title) for c in campaigns)]
        self.item_fields = []
        for item in (template.items.all() if template is not None else []):
            name = f"item_{item.pk}"
            self.fields[name] = forms.ChoiceField(
                label=f"{item.seq}. {item.text}", choices=[("ok", _("合格")), ("fail", _("不合格")), ("na", _("不适用"))],
                initial="ok", widget=forms.RadioSelect(attrs={"class": "answer"}),
                help_text=" · ".join(filter(None, [item.legal_basis, str(item.get_severity_display())])))
            self.item_fields.append(name)
        self.finding_rows = []
        for n in range(1, FINDING_ROWS + 1):
            self.fields[f"finding_{n}"] = forms.CharField(label=_("其他隐患 %(n)s") % {"n": n}, required=False,
                                                          max_length=500)
            self.fields[f"severity_{n}"] = forms.ChoiceField(label=_("等级"), choices=Severity.choices,
                                                             initial=Severity.ORDINARY)
            self.fields[f"days_{n}"] = forms.IntegerField(label=_("整改期限（工作日）"), initial=5, min_value=1,
                                                          max_value=DEADLINE_DAYS_MAX)
            self.finding_rows.append((f"finding_{n}", f"severity_{n}", f"days_{n}"))

    def rows(self) -> list[list[Any]]:
        return [[self[name] for name in row] for row in self.finding_rows]

    def items(self) -> list[Any]:
        return [self[name] for name in self.item_fields]

    def values(self) -> dict[str, Any]:
        d = self.cleaned_data
        answers = {name.removeprefix("item_"): d[name] for name in self.item_fields}
        findings = [{"description": d[text], "severity": d[sev], "deadline_days": d[days]}
                    for text, sev, days in self.finding_rows if (d.get(text) or "").strip()]
        return {"inspected_on": d["inspected_on"], "answers": answers, "findings": findings,
                "contact_name": d["contact_name"], "contact_confirmed": d["contact_confirmed"], "notes": d["notes"],
                "submission": d.get("submission") or ""}


class HazardActionForm(forms.Form):
    action = forms.CharField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("说明"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))
    deadline_days = forms.IntegerField(label=_("新的整改期限（工作日）"), required=False, min_value=1,
                                       max_value=DEADLINE_DAYS_MAX)
    measures = forms.CharField(label=_("整改措施"), required=False, max_length=500)
    responsible_person = forms.CharField(label=_("企业整改责任人"), required=False, max_length=64)

    def params(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k not in ("action", "reason") and v not in (None, "")}


class HazardFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("状态"), required=False,
                              choices=[("", _("全部")), ("open", _("未销号")), *HazardState.choices])
    severity = forms.ChoiceField(label=_("等级"), required=False, choices=[("", _("全部")), *Severity.choices])
    field = forms.ChoiceField(label=_("领域"), required=False, choices=[("", _("全部")), *SafetyField.choices])
    overdue = forms.BooleanField(label=_("只看逾期"), required=False)
    q = forms.CharField(label=_("编号、主体或描述"), required=False, max_length=50)

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


class BusinessFilterForm(forms.Form):
    q = forms.CharField(label=_("名称"), required=False, max_length=50)
    colour = forms.ChoiceField(label=_("风险等级"), required=False, choices=[("", _("全部")), *RiskColour.choices])
    node = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)  # a grid or unit (the map's links)


class TenancyForm(forms.Form):
    site = forms.TypedChoiceField(label=_("所在园区/厂区"), coerce=int)
    kind = forms.ChoiceField(label=_("类型"), choices=TenancyKind.choices)

    def __init__(self, *args: Any, user: Any, business: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        candidates = (selectors.businesses_visible(user).filter(subdistrict_id=business.subdistrict_id, is_active=True)
                      .exclude(pk=business.pk).exclude(tenancy__isnull=False).order_by("name"))
        self.fields["site"].choices = [(b.pk, b.name) for b in candidates[:300]]


class RiskRuleForm(forms.Form):
    red_open_major = forms.IntegerField(min_value=0, max_value=99)
    red_open_overdue = forms.IntegerField(min_value=0, max_value=99)
    yellow_open = forms.IntegerField(min_value=0, max_value=99)
    yellow_recent = forms.IntegerField(min_value=0, max_value=99)
    recent_days = forms.IntegerField(min_value=1, max_value=3660)
    high_risk_industries = forms.CharField(required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}),
                                           help_text=_("用空格分隔"))

    def __init__(self, *args: Any, rule: Any, **kwargs: Any) -> None:
        from jiedao.safety.models import RiskRule

        initial = {f: getattr(rule, f) for f in RULE_FIELDS}
        initial["high_risk_industries"] = " ".join(rule.high_risk_industries or [])
        super().__init__(*args, initial=initial, **kwargs)
        for name, field in self.fields.items():
            field.label = RiskRule._meta.get_field(name).verbose_name


SEVERITY_WORDS = {"一般": "ordinary", "重大": "major", "ordinary": "ordinary", "major": "major", "": "ordinary"}
SEVERITY_TYPED = {"ordinary": "一般", "major": "重大"}  # what the edit box shows (the words people type)


class TemplateForm(forms.Form):
    """A checklist with its items typed one per line: 检查内容 | 依据 | 一般/重大 | 整改期限（工作日）."""

    field = forms.ChoiceField(label=_("领域"), choices=SafetyField.choices)
    name = forms.CharField(label=_("名称"), max_length=100)
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)
    items = forms.CharField(
        label=_("检查项"), widget=forms.Textarea(attrs={"rows": 10}),
        help_text=_("每行一项：检查内容 | 依据 | 一般或重大 | 整改期限（工作日）。后三项可省略，默认一般、5 个工作日。"))

    def __init__(self, *args: Any, template: Any = None, **kwargs: Any) -> None:
        if template is not None:
            kwargs.setdefault("initial", {
                "field": template.field, "name": template.name, "is_active": template.is_active,
                "items": "\n".join(" | ".join([i.text, i.legal_basis, SEVERITY_TYPED[i.severity], str(i.deadline_days)])
                                   for i in template.items.all())})
        super().__init__(*args, **kwargs)
        if template is not None:
            self.fields["field"].disabled = True

    def clean_items(self) -> list[dict[str, Any]]:
        rows = []
        for n, line in enumerate((self.cleaned_data["items"] or "").splitlines(), start=1):
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split("|")] + ["", "", ""]
            severity = SEVERITY_WORDS.get(parts[2].removesuffix("隐患").lower())
            if severity is None:
                raise forms.ValidationError(_("第 %(n)s 行：等级只能是“一般”或“重大”。") % {"n": n})
            days = parts[3] or "5"
            if not days.isdigit():
                raise forms.ValidationError(_("第 %(n)s 行：整改期限应为工作日天数。") % {"n": n})
            rows.append({"text": parts[0], "legal_basis": parts[1], "severity": severity, "deadline_days": int(days)})
        return rows
