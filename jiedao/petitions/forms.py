"""Forms of the 信访 pages (the services check everything again; these only parse)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from jiedao.core import scope
from jiedao.core.permissions import Perm
from jiedao.org.models import Department, OrgNode
from jiedao.petitions import selectors
from jiedao.petitions.models import Channel, MatterStage, PetitionCategory, PetitionState, Stability
from jiedao.petitions.services import CONTACT_WAYS, PETITION_NODE_KINDS
from jiedao.petitions.workflow import EXTEND_MAX_DAYS, PetitionAction

_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PetitionFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("状态"), required=False, choices=[("", _("全部")), *PetitionState.choices])
    channel = forms.ChoiceField(label=_("信访形式"), required=False, choices=[("", _("全部")), *Channel.choices])
    overdue = forms.ChoiceField(label=_("逾期"), required=False, choices=[
        ("", _("全部")), ("any", _("任一期限逾期")), ("accept", _("受理逾期")), ("conclude", _("办结逾期")),
        ("review", _("复查逾期")), ("recheck", _("复核逾期"))])
    community = forms.TypedChoiceField(label=_("社区（村）"), required=False, coerce=int, empty_value=None)
    repeat = forms.ChoiceField(label=_("重复信访"), required=False, choices=[("", _("全部")), ("1", _("只看重复件"))])
    q = forms.CharField(label=_("编号、摘要或信访人"), required=False, max_length=50)
    node = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    received_from = forms.DateField(required=False, widget=forms.HiddenInput)
    received_to = forms.DateField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["community"].choices = [("", _("全部")), *((c.pk, c.name) for c in selectors.communities(user))]

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        d = self.cleaned_data
        out: dict[str, Any] = {k: d[k] for k in ("state", "channel", "overdue", "received_from", "received_to") if d[k]}
        if d["q"]:
            out["text"] = d["q"]
        if d["repeat"]:
            out["repeat"] = True
        if d["community"]:
            out["community"] = selectors.communities(self.user).filter(pk=d["community"]).first()
        if d["node"]:
            out["node"] = scope.restrict(OrgNode.objects.filter(pk=d["node"]), self.user, Perm.VIEW_PETITIONS).first()
        return out


def place_choices(user: Any) -> list[tuple[int, str]]:
    qs = scope.restrict(OrgNode.objects.filter(kind__in=sorted(PETITION_NODE_KINDS - {"building"}), is_active=True),
                        user, Perm.HANDLE_PETITIONS).order_by("path")
    return [(n.pk, ("　" * max(n.depth - 3, 0)) + n.name) for n in qs[:500]]


class PetitionForm(forms.Form):
    channel = forms.ChoiceField(label=_("信访形式"), choices=Channel.choices)
    received_on = forms.DateField(label=_("收到日期"), widget=_DATE)
    node = forms.TypedChoiceField(label=_("事项发生地"), coerce=int)
    category = forms.ChoiceField(label=_("问题类别"), choices=PetitionCategory.choices)
    title = forms.CharField(label=_("事项摘要"), required=False, max_length=100)
    content = forms.CharField(label=_("信访事项"), max_length=4000, widget=forms.Textarea(attrs={"rows": 4}))
    demands = forms.CharField(label=_("诉求"), required=False, max_length=500)
    resident = forms.TypedChoiceField(label=_("在册居民（按姓名查找后选择）"), required=False, coerce=int,
                                      empty_value=None)
    name = forms.CharField(label=_("信访人姓名（不在册时填写）"), required=False, max_length=64)
    id_number = forms.CharField(label=_("身份证号"), required=False, max_length=24,
                                help_text=_("加密保存，页面只显示掩码。"))
    phone = forms.CharField(label=_("联系电话"), required=False, max_length=24)
    is_group = forms.BooleanField(label=_("集体访"), required=False)
    people_count = forms.IntegerField(label=_("人数"), required=False, min_value=1)
    department = forms.TypedChoiceField(label=_("责任部门"), required=False, coerce=int, empty_value=None)
    unit_node = forms.TypedChoiceField(label=_("或责任社区（村）"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, user: Any, residents: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["node"].choices = place_choices(user)
        self.fields["resident"].choices = [("", _("不选（填写下方姓名）")),
                                           *((r.pk, f"{r.name} {r.id_number_masked} {r.node.name}") for r in residents)]
        subs = {n.subdistrict_id for n in scope.restrict(OrgNode.objects.filter(kind__in=["community", "village"]),
                                                          user, Perm.VIEW_PETITIONS)}
        self.fields["department"].choices = [("", "—"), *((d.pk, d.name) for d in
                                                          Department.objects.filter(subdistrict_id__in=subs,
                                                                                    is_active=True))]
        self.fields["unit_node"].choices = [("", "—"), *((c.pk, c.name) for c in selectors.communities(user))]


class ActionForm(forms.Form):
    action = forms.ChoiceField(choices=PetitionAction.choices, widget=forms.HiddenInput)
    reason = forms.CharField(label=_("说明"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    days = forms.IntegerField(label=_("延期天数"), required=False, min_value=1, max_value=EXTEND_MAX_DAYS)

    def params(self) -> dict[str, Any]:
        return {"days": self.cleaned_data.get("days")} if self.cleaned_data.get("action") == "extend" else {}


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("理由"), max_length=500)


class MatterFilterForm(forms.Form):
    stage = forms.ChoiceField(label=_("阶段"), required=False, choices=[("", _("全部")), *MatterStage.choices])
    community = forms.TypedChoiceField(label=_("社区（村）"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["community"].choices = [("", _("全部")), *((c.pk, c.name) for c in selectors.communities(user))]


class DiagnosisForm(forms.Form):
    causes = forms.CharField(label=_("问题成因"), max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))
    responsible_unit = forms.CharField(label=_("责任单位"), max_length=100)
    basis = forms.CharField(label=_("法律政策依据"), max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))
    wants = forms.CharField(label=_("信访人诉求"), max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))


class MeasureForm(forms.Form):
    text = forms.CharField(label=_("措施"), max_length=300)
    owner = forms.CharField(label=_("责任人"), max_length=64)
    due_on = forms.DateField(label=_("完成时限"), widget=_DATE)


class NoteForm(forms.Form):
    text = forms.CharField(label=_("进展"), max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))


class StrikeForm(forms.Form):
    evidence = forms.CharField(label=_("化解情况及佐证"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class KeyFlagForm(forms.Form):
    reason = forms.CharField(label=_("列为重点的原因"), max_length=500)
    responsible = forms.TypedChoiceField(label=_("包联责任人"), coerce=int)
    interval_days = forms.IntegerField(label=_("联系周期（天）"), min_value=1, max_value=180, initial=30)
    stability = forms.ChoiceField(label=_("稳控状态"), choices=Stability.choices, initial=Stability.WATCH)

    def __init__(self, *args: Any, users: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.users = {u.pk: u for u in users}
        self.fields["responsible"].choices = [(u.pk, u.get_full_name() or u.username) for u in users]


class ContactForm(forms.Form):
    contacted_on = forms.DateField(label=_("联系日期"), widget=_DATE)
    way = forms.ChoiceField(label=_("方式"), choices=[(w, w) for w in CONTACT_WAYS])
    note = forms.CharField(label=_("情况"), max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))
    stability = forms.ChoiceField(label=_("稳控状态"), choices=Stability.choices)


class RevealForm(forms.Form):
    field = forms.ChoiceField(label=_("查看"), choices=[("id_number", _("身份证号")), ("phone", _("联系电话"))])
    reason = forms.CharField(label=_("事由"), max_length=200)
