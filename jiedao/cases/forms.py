"""Forms of the case pages. They parse and shape input; every rule is checked by the services
(jiedao.cases.services), whose DomainError the views show on the field it names."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from jiedao.cases import selectors
from jiedao.cases.catalogue import selectors as catalogue_selectors
from jiedao.cases.models import DESCRIPTION_MAX, Category, LimitUnit, Rating, Source, Tier, Urgency
from jiedao.cases.workflow import Action, Transition
from jiedao.core import caching, scope
from jiedao.core.permissions import Perm
from jiedao.org.forms import PICKER_SELECT_LIMIT, NodeChoiceField, NodePickerWidget
from jiedao.org.models import NodeKind, OrgNode

PLACE_KINDS = (NodeKind.COMMUNITY, NodeKind.VILLAGE, NodeKind.GRID, NodeKind.MICROGRID)
RULE_KINDS = (NodeKind.SUBDISTRICT, *PLACE_KINDS)
# The place pickers' htmx search (cases:places) answers per field name: which permission the
# user must hold on a node and which kinds it lists.
PLACE_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "node": (Perm.REPORT_CASES, PLACE_KINDS),
    "building": (Perm.REPORT_CASES, (NodeKind.BUILDING,)),
    "area": (Perm.VIEW_ORG, PLACE_KINDS),
    "rule_node": (Perm.MANAGE_CATALOGUE, RULE_KINDS),
}


def places(user: Any, field: str) -> QuerySet[OrgNode]:
    """The active nodes a place field offers `user` (already narrowed by the scoping function)."""
    from jiedao.core import scope

    perm, kinds = PLACE_FIELDS[field]
    qs = OrgNode.objects.filter(is_active=True, kind__in=kinds).select_related("parent")
    return scope.restrict(qs, user, perm)


def place_label(node: OrgNode) -> str:
    if node.kind == NodeKind.BUILDING and node.parent_id:
        return f"{node.parent.name} · {node.name}"
    return f"{node.name}（{node.get_kind_display()}）"


class PlaceWidget(NodePickerWidget):
    """The org node picker, searching through cases:places, with readable option labels."""

    def __init__(self, attrs: dict | None = None, *, empty_label: str = "") -> None:
        super().__init__(attrs)
        self.empty_label = empty_label

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer: Any = None) -> str:
        attrs = self.build_attrs(self.attrs, attrs)
        widget_id = attrs.get("id") or f"id_{name}"
        value = str(value) if value not in (None, "") else ""
        nodes = list(self.queryset.order_by("path")[: PICKER_SELECT_LIMIT + 1])
        context: dict[str, Any] = {
            "name": name,
            "id": widget_id,
            "value": value,
            "required": self.is_required,
            "invalid": "aria-invalid" in attrs,
            "describedby": attrs.get("aria-describedby", ""),
            "search_url": reverse("cases:places"),
            "empty_label": self.empty_label or _("请选择"),
        }
        if len(nodes) <= PICKER_SELECT_LIMIT:
            context["mode"] = "select"
            context["options"] = [(str(n.pk), place_label(n)) for n in nodes]
        else:
            context["mode"] = "search"
            context["selected"] = self.queryset.filter(pk=value).first() if value.isdigit() else None
        return mark_safe(render_to_string("cases/_place_picker.html", context))


class PlaceField(NodeChoiceField):
    widget = PlaceWidget
    default_error_messages = {
        "invalid_choice": _("请选择您负责范围内的地点。"),
        "required": _("请选择地点。"),
    }


class CategorySelect(forms.Select):
    """Category options carry their default tier (data-tier), which the page copies to the tier."""

    def __init__(self, *args: Any, tiers: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tiers = tiers or {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        tier = self.tiers.get(str(value))
        if tier:
            option["attrs"]["data-tier"] = tier
        return option


class CategoryField(forms.ChoiceField):
    """An active category (grouped by its group); cleans to a Category or None. The form calls
    `load()` in its __init__ (the choices come from the database, never at import time)."""

    def __init__(self, *, include_groups: bool = False, empty_label: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(choices=(), **kwargs)
        self.include_groups = include_groups
        self.empty_label = empty_label or _("请选择类别")

    def load(self) -> None:
        leaves = catalogue_selectors.leaf_categories()
        groups: dict[Any, list[tuple[str, str]]] = {}
        for category in leaves:
            groups.setdefault(category.parent, []).append((str(category.pk), category.name))
        choices: list[Any] = [("", self.empty_label)]
        for parent, items in groups.items():
            if self.include_groups and parent is not None:
                items = [(str(parent.pk), _("全部（%(name)s）") % {"name": parent.name}), *items]
            choices.append((parent.name if parent else _("其他"), items))
        widget = CategorySelect(tiers={str(c.pk): c.default_tier for c in leaves}, attrs=self.widget.attrs)
        widget.is_required = self.required
        self.widget = widget
        self.choices = choices

    def clean(self, value: Any) -> Category | None:
        value = super().clean(value)
        if not value:
            return None
        return Category.objects.filter(pk=value).first()


class CategoryFilterField(CategoryField):
    """The list filter's category (or group): the same choices, built once per language and cache
    generation rather than once a request; the category itself from the cached catalogue."""

    def load(self) -> None:
        def build() -> tuple:
            super(CategoryFilterField, self).load()
            return tuple(self.choices), self.widget

        choices, widget = caching.get(("category-filter-choices", get_language()), build)
        self.widget = copy.deepcopy(widget)
        self.choices = list(choices)

    def clean(self, value: Any) -> Category | None:
        value = forms.ChoiceField.clean(self, value)
        if not value:
            return None
        return selectors.category_cached(int(value))


def tier_field(*, required: bool = False, label: Any = None) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label or _("三事分流"), required=required, choices=Tier.choices,
        widget=forms.RadioSelect(attrs={"class": "segmented"}),
        help_text=_("大事：政府部门办理；小事：社区组织协商；私事：引导居民自行解决。默认取类别的分流。"),
    )


def urgency_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        label=_("紧急程度"), choices=Urgency.choices, initial=Urgency.NORMAL,
        widget=forms.RadioSelect(attrs={"class": "segmented"}),
    )


def phone_field() -> forms.CharField:
    return forms.CharField(
        label=_("联系电话"), max_length=20, required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )


class ReporterMixin:
    """Name and phone of the person who raised the matter, or anonymous."""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("anonymous"):
            data["reporter_name"], data["reporter_phone"] = "", ""
        return data


# --- intake -----------------------------------------------------------------------------------

STAFF_SOURCES = [(s, label) for s, label in Source.choices if s not in (Source.HOTLINE, Source.SELF_REPORT)]


class IntakeForm(ReporterMixin, forms.Form):
    """A grid worker's door-step form: building, photo, words, category, done."""

    node = PlaceField(OrgNode.objects.none(), label=_("所在网格"), required=False,
                      widget=PlaceWidget(empty_label=_("按楼栋确定")))
    building = PlaceField(OrgNode.objects.none(), label=_("楼栋"), required=False,
                          widget=PlaceWidget(empty_label=_("不在楼栋（街面、公共区域）")))
    household = forms.ChoiceField(label=_("户（可选）"), required=False, choices=[("", _("不指定"))])
    photo = forms.FileField(
        label=_("现场照片"), required=False,
        widget=forms.FileInput(attrs={"accept": "image/*", "capture": "environment"}),
        help_text=_("JPG、PNG 或 WEBP，不超过 10 MB；更多照片和文件可在登记后添加。"),
    )
    description = forms.CharField(
        label=_("情况描述"), max_length=DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("例如：1幢楼下垃圾堆放三天无人清运")}),
    )
    title = forms.CharField(label=_("标题"), max_length=100, required=False, help_text=_("不填则取描述的前 30 个字。"))
    category = CategoryField(label=_("类别"))
    tier = tier_field()
    urgency = urgency_field()
    latitude = forms.DecimalField(label=_("纬度"), required=False, max_digits=9, decimal_places=6,
                                  widget=forms.TextInput(attrs={"inputmode": "decimal", "data-geo": "latitude"}))
    longitude = forms.DecimalField(label=_("经度"), required=False, max_digits=9, decimal_places=6,
                                   widget=forms.TextInput(attrs={"inputmode": "decimal", "data-geo": "longitude"}))
    address = forms.CharField(label=_("地点描述"), max_length=200, required=False,
                              widget=forms.TextInput(attrs={"placeholder": _("如：2单元门口、小区东门")}))
    source = forms.ChoiceField(label=_("来源"), choices=STAFF_SOURCES, initial=Source.DOOR_VISIT)
    reporter_name = forms.CharField(label=_("反映人"), max_length=64, required=False)
    reporter_phone = phone_field()
    anonymous = forms.BooleanField(label=_("反映人要求匿名"), required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["node"].queryset = places(user, "node")
        self.fields["building"].queryset = places(user, "building")
        if "node" not in self.initial:
            first = self.fields["node"].queryset.order_by("depth", "path").first()
            if first is not None:
                self.initial["node"] = first.pk
        building = self._chosen_building()
        if building is not None:
            self.fields["household"].choices = [("", _("不指定")), *household_choices(user, building)]
        self.fields["category"].load()

    def _chosen_building(self) -> OrgNode | None:
        raw = self.data.get("building") if self.is_bound else self.initial.get("building")
        if not raw or not str(raw).isdigit():
            return None
        return self.fields["building"].queryset.filter(pk=raw).first()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        # With a building chosen, the case hangs where the building is (case_create's rule); the
        # grid field, under "more", is for a case with no building.
        if data.get("building") is not None:
            data["node"] = None
        household = data.get("household")
        data["household"] = None
        if household:
            from jiedao.people import selectors as people

            data["household"] = people.households_visible(self.user).filter(pk=household).first()
            if data["household"] is None:
                self.add_error("household", _("该户不在所选楼栋。"))
        return data


def household_choices(user: Any, building: OrgNode, limit: int = 300) -> list[tuple[str, str]]:
    """Households of the building the user may see (people register), for the intake form."""
    from jiedao.people import selectors as people

    rows = people.households_visible(user).filter(node=building).order_by("number")[:limit]
    return [(str(h.pk), f"{h.number} {h.room or h.address}".strip()) for h in rows]


class HotlineForm(ReporterMixin, forms.Form):
    """A hotline (12345) operator's form: any grid in the operator's scope, the caller's details."""

    node = PlaceField(OrgNode.objects.none(), label=_("事发网格或社区"))
    reporter_name = forms.CharField(label=_("来电人"), max_length=64, required=False)
    reporter_phone = phone_field()
    anonymous = forms.BooleanField(label=_("来电人要求匿名"), required=False)
    title = forms.CharField(label=_("标题"), max_length=100, required=False, help_text=_("不填则取描述的前 30 个字。"))
    description = forms.CharField(label=_("来电内容"), max_length=DESCRIPTION_MAX, widget=forms.Textarea(attrs={"rows": 4}))
    category = CategoryField(label=_("类别"))
    tier = tier_field()
    urgency = urgency_field()
    address = forms.CharField(label=_("事发地点"), max_length=200, required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["node"].queryset = places(user, "node")
        self.fields["category"].load()


# --- public forms (no login) -----------------------------------------------------------------


class HoneypotMixin(forms.Form):
    """A field people never see: bots that fill every input give themselves away."""

    homepage_url = forms.CharField(
        label=_("请勿填写此项"), required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def is_bot(self) -> bool:
        return bool(self.data.get("homepage_url"))


def public_communities() -> QuerySet[OrgNode]:
    return OrgNode.objects.filter(is_active=True, kind__in=(NodeKind.COMMUNITY, NodeKind.VILLAGE)).select_related(
        "parent"
    ).order_by("path")


def public_grids(community: OrgNode | None = None) -> QuerySet[OrgNode]:
    qs = OrgNode.objects.filter(is_active=True, kind=NodeKind.GRID).select_related("parent").order_by("path")
    return qs.filter(parent=community) if community is not None else qs


def _grouped(nodes: QuerySet[OrgNode], empty: str) -> list[Any]:
    groups: dict[str, list[tuple[str, str]]] = {}
    for node in nodes:
        groups.setdefault(node.parent.name if node.parent else "", []).append((str(node.pk), node.name))
    if len(groups) == 1:
        return [("", empty), *next(iter(groups.values()))]
    return [("", empty), *groups.items()]


class PublicReportForm(HoneypotMixin, ReporterMixin, forms.Form):
    community = forms.ChoiceField(label=_("所在社区或村"))
    grid = forms.ChoiceField(label=_("所在网格（不清楚可不选）"), required=False,
                             error_messages={"invalid_choice": _("所选网格不属于该社区或村，请重新选择。")})
    title = forms.CharField(label=_("标题"), max_length=100,
                            widget=forms.TextInput(attrs={"placeholder": _("一句话说明问题，如：小区门口路灯不亮")}))
    description = forms.CharField(label=_("具体情况"), max_length=DESCRIPTION_MAX, widget=forms.Textarea(attrs={"rows": 5}),
                                  help_text=_("请写明地点、时间和问题，方便工作人员尽快处理。"))
    photo = forms.FileField(label=_("照片（可选）"), required=False,
                            widget=forms.FileInput(attrs={"accept": "image/*", "capture": "environment"}),
                            help_text=_("JPG、PNG 或 WEBP，不超过 10 MB。"))
    anonymous = forms.BooleanField(label=_("匿名反映（不留姓名和电话）"), required=False)
    reporter_name = forms.CharField(label=_("您的称呼（可选）"), max_length=64, required=False)
    reporter_phone = forms.CharField(label=_("联系电话（可选，便于回访）"), max_length=20, required=False,
                                     widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["community"].choices = _grouped(public_communities(), _("请选择社区或村"))
        community = self._community()
        self.fields["grid"].choices = _grouped(public_grids(community), _("不清楚"))

    def _community(self) -> OrgNode | None:
        raw = self.data.get("community") if self.is_bound else None
        if raw and str(raw).isdigit():
            return public_communities().filter(pk=raw).first()
        return None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        community = self._community()
        data["community"] = community
        grid = data.get("grid")
        data["grid"] = None
        if grid and community is not None:
            data["grid"] = public_grids(community).filter(pk=grid).first()
        return data


class TrackForm(forms.Form):
    ticket = forms.CharField(
        label=_("查询编号"), max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false",
                                      "placeholder": _("如：20261124-ABCD2345")}),
    )

    def clean_ticket(self) -> str:
        return selectors.normalise_ticket(self.cleaned_data["ticket"])


def yes_no_field(label: Any) -> forms.TypedChoiceField:
    """A 是/否 answer of the follow-up (回访), as two big buttons."""
    return forms.TypedChoiceField(label=label, choices=[("1", _("是")), ("0", _("否"))], coerce=lambda v: v == "1",
                                  widget=forms.RadioSelect(attrs={"class": "segmented"}),
                                  error_messages={"required": _("请选择“是”或“否”。")})


class RateForm(forms.Form):
    """The resident's follow-up by ticket: the three questions 12345 asks."""

    ticket = forms.CharField(widget=forms.HiddenInput, max_length=40)
    contacted = yes_no_field(_("工作人员是否及时联系了您？"))
    solved = yes_no_field(_("您反映的问题是否已经解决？"))
    rating = forms.ChoiceField(label=_("您对办理结果是否满意？"), choices=Rating.choices,
                               widget=forms.RadioSelect(attrs={"class": "segmented"}),
                               error_messages={"required": _("请选择满意、基本满意或不满意。")})
    comment = forms.CharField(label=_("意见或建议（可选）"), max_length=500, required=False,
                              widget=forms.Textarea(attrs={"rows": 3}))
    # Tickets of public cases are published (Open311), so a ticket alone no longer proves the
    # reporter: a case filed with a phone asks for its last four digits too.
    phone_tail = forms.CharField(label=_("反映时所留电话的后四位"), min_length=4, max_length=4,
                                 widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
                                 error_messages={"required": _("请填写反映时所留电话的后四位。"),
                                                 "min_length": _("请填写 4 位数字。")})

    def __init__(self, *args: Any, phone_proof: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not phone_proof:
            del self.fields["phone_tail"]

    def clean_ticket(self) -> str:
        return selectors.normalise_ticket(self.cleaned_data["ticket"])


# --- list, actions, attachments ---------------------------------------------------------------


def _render_cached(widget: forms.Widget, key: tuple) -> None:
    """Make `widget` remember its HTML per (key, language, value, attributes) in the per-process
    cache, which drops it when the cache generation moves (a category or node edited)."""
    plain = widget.render

    def render(name: str, value: Any, attrs: dict | None = None, renderer: Any = None) -> str:
        entry = ("filter-widget", *key, get_language(), name, str(value), repr(sorted((attrs or {}).items())))
        return caching.get(entry, lambda: plain(name, value, attrs, renderer))

    widget.render = render


class CaseFilterForm(forms.Form):
    q = forms.CharField(label=_("编号或字词"), required=False, max_length=100)
    state = forms.ChoiceField(label=_("状态"), required=False)
    tier = forms.ChoiceField(label=_("分流"), required=False, choices=[("", _("全部")), *Tier.choices])
    category = CategoryFilterField(label=_("类别"), include_groups=True, empty_label=_("全部类别"))
    area = PlaceField(OrgNode.objects.none(), label=_("社区/网格"), required=False,
                      widget=PlaceWidget(empty_label=_("全部")))
    overdue = forms.BooleanField(label=_("只看超期"), required=False)
    mine = forms.BooleanField(label=_("只看我承办的"), required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from jiedao.cases.models import State

        self.fields["state"].choices = [("", _("全部")), *State.choices]
        self.fields["category"].load()
        self.fields["area"].queryset = places(user, "area")
        # The selects are the same for every request (the area's for everyone with the same
        # scope): rendered once per language, value and cache generation (jiedao.core.caching).
        area_key = scope.granted_paths(user, Perm.VIEW_ORG)
        for name in ("state", "tier", "category", "area"):
            _render_cached(self.fields[name].widget, (name, tuple(area_key) if area_key is not None else None)
                           if name == "area" else (name,))

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "text": data["q"], "state": data["state"], "tier": data["tier"], "category": data["category"],
            "node": data["area"], "overdue": data["overdue"], "mine": data["mine"],
        }


REASON_LABELS = {
    Action.REJECT: _("不予受理的理由"),
    Action.RETURN: _("退回理由"),
    Action.ESCALATE: _("上报理由"),
    Action.SUPERVISE: _("督办意见"),
    Action.RESOLVE: _("办理结果"),
    Action.VERIFY_FAIL: _("不通过的原因"),
    Action.REOPEN: _("重办理由"),
    Action.HANDLE: _("进展说明（可选）"),
    Action.DEFER: _("缓办理由"),
    Action.HAND_OVER: _("移交理由（联席会议协调情况）"),
}
DISTRICT_OUTCOME_CHOICES = [("resolved", _("区级已办结")), ("returned", _("退回街道办理"))]


class ActionForm(forms.Form):
    """One action of the workflow on one case: the fields that action needs, nothing more."""

    action = forms.CharField(widget=forms.HiddenInput)
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, case: Any, action: str, transition: Transition,
                 departments: QuerySet | None = None, default_department: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"act-{action}-%s")
        kwargs.setdefault("initial", {})
        kwargs["initial"].update({"action": action, "version": case.version})
        super().__init__(*args, **kwargs)
        self.action = action
        self.action_code = action  # templates: `form.action` would look up the hidden field first
        self.transition = transition
        self.dispatch_note = ""
        if action in (Action.ACCEPT, Action.TIER):
            self.fields["tier"] = tier_field(required=action == Action.TIER, label=_("分流"))
            self.fields["tier"].help_text = ""
            self.initial.setdefault("tier", case.tier)
        if action == Action.DISPATCH:
            self._dispatch_fields(case, departments, default_department)
        if action == Action.DEFER:
            current = timezone.localdate(case.deadline_at) if case.deadline_at else timezone.localdate()
            earliest = max(current, timezone.localdate()) + timedelta(days=1)
            self.fields["new_deadline"] = forms.DateField(
                label=_("新的办理期限"),
                widget=forms.DateInput(attrs={"type": "date", "min": f"{earliest:%Y-%m-%d}"}, format="%Y-%m-%d"),
                help_text=_("须晚于当前期限（%(date)s）；期限为当日下班时间。缓办事项不计入按期办结考核。")
                % {"date": f"{current:%Y-%m-%d}"},
            )
        if action == Action.HAND_OVER:
            self.fields["district_ref"] = forms.CharField(label=_("区级受理编号"), max_length=64,
                                                          help_text=_("区级（区信访、区指挥中心等）受理后给出的编号。"))
            self.fields["sent_on"] = forms.DateField(
                label=_("移交日期"), required=False, initial=timezone.localdate(),
                widget=forms.DateInput(attrs={"type": "date", "max": f"{timezone.localdate():%Y-%m-%d}"},
                                       format="%Y-%m-%d"),
            )
        if action == Action.DISTRICT_REPLY:
            self.fields["outcome"] = forms.ChoiceField(label=_("区级反馈结果"), choices=DISTRICT_OUTCOME_CHOICES,
                                                       widget=forms.RadioSelect(attrs={"class": "segmented"}))
            self.fields["reply"] = forms.CharField(label=_("区级答复"), max_length=DESCRIPTION_MAX,
                                                   widget=forms.Textarea(attrs={"rows": 3}))
        if action == Action.FOLLOW_UP:
            # 回访: the resident's three answers; "否" to solved or 不满意 sends the case back (重办).
            self.fields["contacted"] = yes_no_field(_("居民：是否及时联系了他？"))
            self.fields["solved"] = yes_no_field(_("居民：问题是否已经解决？"))
            self.fields["rating"] = forms.ChoiceField(
                label=_("居民：是否满意？"), choices=Rating.choices, widget=forms.RadioSelect(attrs={"class": "segmented"}),
                help_text=_("问题未解决或不满意时，事项退回重办。"),
                error_messages={"required": _("请选择满意、基本满意或不满意。")})
            self.fields["comment"] = forms.CharField(label=_("回访意见"), max_length=500, required=False,
                                                     widget=forms.Textarea(attrs={"rows": 2}))
        if action == Action.MERGE:
            self.fields["into"] = forms.CharField(
                label=_("并入事项的编号"), max_length=40,
                widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
                help_text=_("重复反映同一问题时，将本件并入先登记的那件一并办理。"),
            )
        if transition.needs_reason or action == Action.HANDLE:
            label = REASON_LABELS.get(action, _("说明"))
            if action == Action.RESOLVE and getattr(case, "tier", "") == Tier.PRIVATE:
                label = _("引导意见")
            self.fields["reason"] = forms.CharField(
                label=label, max_length=2000, required=transition.needs_reason,
                widget=forms.Textarea(attrs={"rows": 2}),
                error_messages={"required": _("请填写%(label)s。") % {"label": label}},
            )

    def _dispatch_fields(self, case: Any, departments: QuerySet | None, routed: Any) -> None:
        """大事: the department, preselected when a routing rule names one (and saying so). 小事:
        no department — the case goes to its own community, and the form says which."""
        if case.tier == Tier.PUBLIC:
            if routed is not None:
                help_text = _("已按派遣规则预选“%(name)s”，可改选。") % {"name": routed.name}
                self.initial.setdefault("department", routed.pk)
            else:
                help_text = _("没有适用的派遣规则，请选择承办的街道科室或联合执法队。")
            self.fields["department"] = forms.ModelChoiceField(
                departments, label=_("承办部门"), empty_label=_("请选择承办部门"), help_text=help_text,
                error_messages={"required": _("大事需选择承办部门。")},
            )
        elif case.tier == Tier.COMMUNITY:
            community = getattr(case, "community", None) if case.community_id else None
            self.dispatch_note = _("小事由本社区办理：派至%(name)s。如需部门办理，请先将分流改为大事。") % {
                "name": community.name if community else _("本社区")}

    def params(self) -> dict[str, Any]:
        """Keyword arguments for services.case_act (the merge target is resolved by the view)."""
        data = self.cleaned_data
        params: dict[str, Any] = {"reason": data.get("reason", "")}
        if data.get("tier"):
            params["tier"] = data["tier"]
        if self.action == Action.DISPATCH and data.get("department") is not None:
            params["department"] = data["department"]
        if self.action == Action.DEFER:
            params["new_deadline"] = data["new_deadline"]
        if self.action == Action.HAND_OVER:
            params["district_ref"] = data["district_ref"]
            params["sent_on"] = data.get("sent_on")
        if self.action == Action.DISTRICT_REPLY:
            params["outcome"] = data["outcome"]
            params["reply"] = data["reply"]
        if self.action == Action.FOLLOW_UP:
            params["contacted"] = data["contacted"]
            params["solved"] = data["solved"]
            params["rating"] = data["rating"]
            params["comment"] = data.get("comment", "")
        return params


class AttachForm(forms.Form):
    upload = forms.FileField(
        label=_("添加照片或文件"),
        widget=forms.FileInput(attrs={"accept": "image/*,.pdf,.docx,.xlsx"}),
        help_text=_("JPG、PNG、WEBP 图片或 PDF、Word（.docx）、Excel（.xlsx），每个不超过 10 MB，每件最多 9 个。"),
    )


# --- catalogue administration -----------------------------------------------------------------


class CategoryForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=64)
    default_tier = forms.ChoiceField(label=_("默认分流"), choices=Tier.choices)
    time_limit = forms.DecimalField(label=_("办理时限"), min_value=0.5, max_value=365, decimal_places=1,
                                    widget=forms.NumberInput(attrs={"step": "0.5", "inputmode": "decimal"}))
    time_limit_unit = forms.ChoiceField(label=_("时限单位"), choices=LimitUnit.choices)
    accept_conditions = forms.CharField(label=_("受理条件"), max_length=300, required=False,
                                        widget=forms.Textarea(attrs={"rows": 2}))
    close_conditions = forms.CharField(label=_("结案条件"), max_length=300, required=False,
                                       widget=forms.Textarea(attrs={"rows": 2}))
    keywords = forms.CharField(label=_("关键词"), max_length=300, required=False,
                               help_text=_("以空格分隔，用于登记时的类别建议。"))
    sort_order = forms.IntegerField(label=_("排序"), min_value=0, required=False)
    is_active = forms.BooleanField(label=_("启用"), required=False)

    @classmethod
    def for_category(cls, category: Category, data: Any = None) -> CategoryForm:
        initial = {f: getattr(category, f) for f in ("name", "default_tier", "time_limit", "time_limit_unit",
                                                     "accept_conditions", "close_conditions", "keywords",
                                                     "sort_order", "is_active")}
        return cls(data, initial=initial)


class RoutingRuleForm(forms.Form):
    rule_node = PlaceField(OrgNode.objects.none(), label=_("适用范围"),
                           widget=PlaceWidget(empty_label=_("请选择街道、社区或网格")))
    department = forms.ModelChoiceField(
        queryset=None, label=_("承办部门"), required=False, empty_label=_("（属地社区办理）"),
        help_text=_("留空表示由事发地所在社区（村）办理。"),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from jiedao.core import scope
        from jiedao.org.models import Department

        self.fields["rule_node"].queryset = places(user, "rule_node")
        departments = Department.objects.filter(is_active=True).select_related("subdistrict")
        self.fields["department"].queryset = scope.restrict(departments, user, Perm.MANAGE_CATALOGUE)
        self.fields["department"].label_from_instance = lambda d: f"{d.subdistrict.name} · {d.name}"


class HolidayForm(forms.Form):
    date = forms.DateField(label=_("日期"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    is_workday = forms.TypedChoiceField(
        label=_("当天"), choices=[("0", _("放假（休息）")), ("1", _("调休上班"))], coerce=lambda v: v == "1",
        initial="0", widget=forms.RadioSelect(attrs={"class": "segmented"}),
    )
    name = forms.CharField(label=_("名称"), max_length=32, required=False,
                           widget=forms.TextInput(attrs={"placeholder": _("如：春节、调休上班")}))


class RevealPhoneForm(forms.Form):
    """The reason asked before a case reporter's phone is shown in clear (services.case_reveal_phone
    checks it: required, at most 200 characters)."""

    reason = forms.CharField(
        label=_("查看事由"), max_length=500, required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "maxlength": "200",
                                      "placeholder": _("例如：电话回访办理结果")}),
    )


class CasePolicyForm(forms.Form):
    """办件规则: the service (case_policy_update) checks the sums and the order of the hours."""

    weight_response = forms.DecimalField(label=_("响应率权重"), min_value=0, max_value=1, decimal_places=3,
                                         widget=forms.NumberInput(attrs={"step": "0.05", "inputmode": "decimal"}))
    weight_resolution = forms.DecimalField(label=_("解决率权重"), min_value=0, max_value=1, decimal_places=3,
                                           widget=forms.NumberInput(attrs={"step": "0.05", "inputmode": "decimal"}))
    weight_satisfaction = forms.DecimalField(label=_("满意率权重"), min_value=0, max_value=1, decimal_places=3,
                                             widget=forms.NumberInput(attrs={"step": "0.05", "inputmode": "decimal"}),
                                             help_text=_("三项权重之和应为 1。"))
    weight_basic = forms.DecimalField(label=_("基本满意折算"), min_value=0, max_value=1, decimal_places=3,
                                      widget=forms.NumberInput(attrs={"step": "0.05", "inputmode": "decimal"}),
                                      help_text=_("计算满意率时，一件“基本满意”折算为几件“满意”（0 到 1）。"))
    morning_start = forms.TimeField(label=_("上午上班"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    morning_end = forms.TimeField(label=_("上午下班"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    afternoon_start = forms.TimeField(label=_("下午上班"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    afternoon_end = forms.TimeField(label=_("下午下班"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                                    help_text=_("按工作日计的时限到最后一个工作日的下午下班时截止。"))
    separate_verifier = forms.BooleanField(label=_("办结人不得核查"), required=False,
                                           help_text=_("同一人不能既办结又核查同一事项。"))

    FIELDS = ("weight_response", "weight_resolution", "weight_satisfaction", "weight_basic", "morning_start",
              "morning_end", "afternoon_start", "afternoon_end", "separate_verifier")

    @classmethod
    def for_policy(cls, policy: Any, data: Any = None) -> CasePolicyForm:
        return cls(data, initial={name: getattr(policy, name) for name in cls.FIELDS})
