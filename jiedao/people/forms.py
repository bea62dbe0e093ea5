"""Forms of the register pages. They parse and shape input; every rule is checked by the
services (jiedao.people.services, jiedao.core.imports), whose DomainError the views show on the
field it names.

Personal identifiers are never put into a form as initial values: the edit forms leave the
身份证号 and phone inputs empty ("leave empty to keep") and show the masked value as help.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from jiedao.core.errors import DomainError
from jiedao.core.models import ImportJob
from jiedao.core.permissions import Perm
from jiedao.core.validators import validate_id_number, validate_phone, validate_uscc
from jiedao.org import selectors as org_selectors
from jiedao.org.forms import PICKER_SELECT_LIMIT, NodeChoiceField, NodePickerWidget
from jiedao.org.models import OrgNode
from jiedao.people.models import BusinessSize, Gender, Household, RiskColour, SpecialGroup
from jiedao.people.services import RESIDENT_NODE_KINDS

# What a node picker offers, by purpose: the permission the user must hold on the node and the
# node kinds allowed (None = any kind). Records hang on grids, micro-grids and buildings only.
PICKER_PURPOSES: dict[str, tuple[str, frozenset[str] | None]] = {
    "residents": (Perm.MANAGE_PEOPLE, RESIDENT_NODE_KINDS),
    "businesses": (Perm.MANAGE_BUSINESSES, RESIDENT_NODE_KINDS),
    "residents-filter": (Perm.VIEW_PEOPLE, None),
    "businesses-filter": (Perm.VIEW_BUSINESSES, None),
}


def picker_nodes(user: Any, purpose: str) -> QuerySet[OrgNode]:
    """The active nodes a picker for `purpose` may offer `user` (through the scoping function)."""
    perm, kinds = PICKER_PURPOSES[purpose]
    nodes = org_selectors.nodes_visible(user, perm).filter(is_active=True)
    return nodes.filter(kind__in=kinds) if kinds else nodes


class PlacePickerWidget(NodePickerWidget):
    """The org node picker (a <select> for small trees, an htmx search for large ones), asking
    the register pages' search endpoint, which applies the purpose's permission and kinds."""

    def __init__(self, purpose: str, attrs: dict | None = None) -> None:
        super().__init__(attrs)
        self.purpose = purpose

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
            "search_url": reverse("people:node_picker", args=[self.purpose]),
        }
        if len(nodes) <= PICKER_SELECT_LIMIT:
            top = min((n.depth for n in nodes), default=0)
            context["mode"] = "select"
            context["options"] = [
                (str(n.pk), "　" * (n.depth - top) + f"{n.name}（{n.get_kind_display()}）") for n in nodes
            ]
        else:
            context["mode"] = "search"
            context["selected"] = self.queryset.filter(pk=value).first() if value.isdigit() else None
        return mark_safe(render_to_string("org/_node_picker.html", context))


def place_field(purpose: str, *, label: Any, required: bool = True, help_text: Any = "") -> NodeChoiceField:
    field = NodeChoiceField(
        OrgNode.objects.none(), label=label, required=required, help_text=help_text, widget=PlacePickerWidget(purpose)
    )
    if purpose in ("residents", "businesses"):
        field.error_messages["invalid_choice"] = _("请选择您管理范围内的网格、微网格或楼栋。")
    return field


def _text(label: Any, max_length: int, *, required: bool = False, **attrs: Any) -> forms.CharField:
    return forms.CharField(label=label, max_length=max_length, required=required,
                           widget=forms.TextInput(attrs=attrs) if attrs else None)


def _checked(validator: Any, value: str) -> str:
    """Run one of jiedao.core.validators (the services run it again) so that a form shows every
    malformed field at once, not only the first the service meets."""
    if value:
        try:
            validator(value)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None
    return value


def _identifier(label: Any, max_length: int, **attrs: Any) -> forms.CharField:
    """An input for a personal identifier: never autocompleted, never pre-filled."""
    return forms.CharField(
        label=label, max_length=max_length, required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "class": "mono", **attrs}),
    )


YES_NO_ALL = [("", _("全部")), ("1", _("是")), ("0", _("否"))]
ACTIVE_CHOICES = [("1", _("在册")), ("0", _("已注销")), ("all", _("全部"))]


def _tristate(value: str) -> bool | None:
    return None if value in ("", "all") else value == "1"


# --- filters (GET) ------------------------------------------------------------------------------


class FilterForm(forms.Form):
    """A list's filters, read from the query string; invalid input simply filters nothing."""

    purpose = ""

    def __init__(self, data: Any = None, *, user: Any, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        if "node" in self.fields:
            self.fields["node"].queryset = picker_nodes(user, self.purpose)

    def value(self, name: str, default: Any = "") -> Any:
        if not self.is_bound or not self.is_valid():
            return default
        result = self.cleaned_data.get(name)
        return default if result is None else result

    def has_more(self) -> bool:
        """Whether a filter besides the search text is in use (the page then opens "更多筛选")."""
        return any(self.data.get(name) not in (None, "", self.fields[name].initial)
                   for name in self.fields if name != "q")

    def audit_filters(self) -> dict[str, Any]:
        """The filters as written to the audit log with an export (search text masked)."""
        from jiedao.core import crypto

        if not self.is_bound or not self.is_valid():
            return {}
        data = {k: (v.pk if isinstance(v, OrgNode) else v) for k, v in self.cleaned_data.items() if v not in ("", None)}
        text = "".join(str(data.get("q", "")).split())
        if len(text) == 18:
            data["q"] = crypto.mask(text, "id_number")
        elif len(text) >= 7 and text.replace("-", "").isdigit():
            data["q"] = crypto.mask(text, "phone")
        return data


class ResidentFilterForm(FilterForm):
    purpose = "residents-filter"
    q = forms.CharField(
        label=_("查找居民"), required=False, max_length=64,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("姓名或地址"), "autocomplete": "off"}),
        help_text=_("按姓名或地址查找；按完整的身份证号、电话查找须使用“按号码查找”，并填写事由。"),
    )
    node = place_field("residents-filter", label=_("所在组织"), required=False)
    group = forms.ChoiceField(label=_("特殊人群"), required=False)
    floating = forms.ChoiceField(label=_("流动人口"), required=False, choices=YES_NO_ALL)
    gender = forms.ChoiceField(label=_("性别"), required=False, choices=[("", _("全部")), *Gender.choices])
    active = forms.ChoiceField(label=_("状态"), required=False, choices=ACTIVE_CHOICES, initial="1")

    def __init__(self, *args: Any, groups: QuerySet[SpecialGroup], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = [("", _("全部")), *((g.code, g.name) for g in groups)]

    def filters(self) -> dict[str, Any]:
        return {
            "text": self.value("q"),
            "node": self.value("node", None),
            "group": self.value("group"),
            "is_floating": _tristate(self.value("floating")),
            "gender": self.value("gender"),
            "active": _tristate(self.value("active", "1") or "1"),
        }


class HouseholdFilterForm(FilterForm):
    purpose = "residents-filter"
    q = forms.CharField(label=_("户号或住址"), required=False, max_length=64,
                        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}))
    node = place_field("residents-filter", label=_("所在组织"), required=False)

    def filters(self) -> dict[str, Any]:
        return {"text": self.value("q"), "node": self.value("node", None)}


class BusinessFilterForm(FilterForm):
    purpose = "businesses-filter"
    q = forms.CharField(label=_("名称或统一社会信用代码"), required=False, max_length=64,
                        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}))
    node = place_field("businesses-filter", label=_("所在组织"), required=False)
    risk_colour = forms.ChoiceField(label=_("风险等级"), required=False, choices=[("", _("全部")), *RiskColour.choices])
    industry = forms.CharField(label=_("行业"), required=False, max_length=64)

    def filters(self) -> dict[str, Any]:
        return {"text": self.value("q"), "node": self.value("node", None), "risk_colour": self.value("risk_colour"),
                "industry": self.value("industry").strip()}


class ExportForm(forms.Form):
    """Clear identifiers in an export: offered only to users with the reveal permission."""

    reveal = forms.BooleanField(label=_("导出身份证号、电话明文"), required=False,
                                help_text=_("只导出您有权查看明文的记录，并记入审计日志。"))
    reason = forms.CharField(label=_("导出明文的事由"), required=False, max_length=500,
                             widget=forms.TextInput(attrs={"autocomplete": "off"}))

    def __init__(self, *args: Any, phones_only: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if phones_only:
            self.fields["reveal"].label = _("导出联系电话明文")


# --- residents and households -------------------------------------------------------------------


class ResidentForm(forms.Form):
    name = _text(_("姓名"), 64, required=True, autocomplete="off")
    id_number = _identifier(_("身份证号"), 24, inputmode="text", maxlength="18")
    phone = _identifier(_("联系电话"), 20, inputmode="tel")
    node = place_field("residents", label=_("所在网格/楼栋"))
    household_number = forms.CharField(label=_("户号"), required=False, max_length=32,
                                       help_text=_("填写已登记住户的户号；不属于任何户可留空。"))
    relation = _text(_("与户主关系"), 16)
    registered_address = _text(_("户籍地址"), 200)
    actual_address = _text(_("现住地址"), 200)
    is_floating = forms.BooleanField(label=_("流动人口"), required=False)
    notes = forms.CharField(label=_("备注"), required=False, max_length=500,
                            widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, user: Any, households: QuerySet[Household], resident: Any = None,
                 **kwargs: Any) -> None:
        if resident is not None:
            kwargs.setdefault("initial", {
                "name": resident.name, "node": resident.node_id,
                "household_number": resident.household.number if resident.household_id else "",
                "relation": resident.relation, "registered_address": resident.registered_address,
                "actual_address": resident.actual_address, "is_floating": resident.is_floating,
                "notes": resident.notes, "is_active": resident.is_active,
            })
        super().__init__(*args, **kwargs)
        self.resident = resident
        self.households = households
        self.fields["node"].queryset = picker_nodes(user, "residents")
        self.fields["id_number"].help_text = _("18 位，最后一位可为 X。性别和出生日期由身份证号推出。")
        if resident is not None:
            self.fields["is_active"] = forms.BooleanField(label=_("在册"), required=False,
                                                          help_text=_("迁出、死亡等不再在册时取消勾选。"))
            for name, masked in (("id_number", resident.id_number_masked), ("phone", resident.phone_masked)):
                self.fields[name].help_text = (
                    _("已登记：%(value)s。留空则不修改，填写则替换。") % {"value": masked} if masked
                    else _("尚未登记。")
                )

    def clean_id_number(self) -> str:
        return _checked(validate_id_number, "".join(self.cleaned_data["id_number"].split()).upper())

    def clean_phone(self) -> str:
        return _checked(validate_phone, self.cleaned_data["phone"])

    def clean_household_number(self) -> Household | None:
        number = self.cleaned_data["household_number"].strip()
        if not number:
            return None
        household = self.households.filter(number=number).first()
        if household is None:
            raise forms.ValidationError(_("未找到户号“%(number)s”：请先在“住户”中登记该户。") % {"number": number})
        return household

    def values(self) -> dict[str, Any]:
        """Keyword arguments for resident_create / resident_update (empty identifiers on an
        edit mean "keep")."""
        data = dict(self.cleaned_data)
        data["household"] = data.pop("household_number")
        if self.resident is not None:
            for name in ("id_number", "phone"):
                if not data[name]:
                    data.pop(name)
        return data


class HouseholdForm(forms.Form):
    number = _text(_("户号"), 32, required=True, autocomplete="off")
    address = _text(_("住址"), 200, required=True)
    node = place_field("residents", label=_("所在网格/楼栋"))
    unit = _text(_("单元"), 16)
    floor = forms.IntegerField(label=_("楼层"), required=False, min_value=-10, max_value=300)
    room = _text(_("室号"), 16)
    notes = forms.CharField(label=_("备注"), required=False, max_length=500,
                            widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, user: Any, household: Household | None = None, **kwargs: Any) -> None:
        if household is not None:
            kwargs.setdefault("initial", {f: getattr(household, f) for f in
                                          ("number", "address", "unit", "floor", "room", "notes")}
                              | {"node": household.node_id})
        super().__init__(*args, **kwargs)
        self.fields["node"].queryset = picker_nodes(user, "residents")


class HouseholdHeadForm(forms.Form):
    head = forms.ModelChoiceField(queryset=None, label=_("户主"), required=False, empty_label=_("（未指定）"))

    def __init__(self, *args: Any, members: QuerySet, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["head"].queryset = members


class RevealForm(forms.Form):
    field = forms.ChoiceField(choices=[("id_number", _("身份证号")), ("phone", _("联系电话"))],
                              widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("查看事由"), max_length=500, required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": _("例如：核实低保申请材料")}),
    )


class LookupForm(forms.Form):
    """Find a resident by a full ID number or phone (services.resident_lookup)."""

    kind = forms.ChoiceField(label=_("按什么查找"), choices=[("id_number", _("身份证号")), ("phone", _("联系电话"))],
                             initial="id_number")
    value = forms.CharField(label=_("完整号码"), max_length=32,
                            widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}))
    reason = forms.CharField(label=_("查找事由"), max_length=200,
                             widget=forms.TextInput(attrs={"autocomplete": "off",
                                                           "placeholder": _("例如：核实来访居民身份")}))


class TagForm(forms.Form):
    """Put a resident in a special group. Each group's extra fields are offered as
    data_<code>_<name> inputs; only the chosen group's are shown (jiedao.js) and sent on."""

    group = forms.ModelChoiceField(queryset=None, label=_("特殊人群类别"), empty_label=_("请选择类别"))
    start_date = forms.DateField(label=_("认定日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(label=_("退出日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    notes = forms.CharField(label=_("备注"), required=False, max_length=500)

    def __init__(self, *args: Any, groups: QuerySet[SpecialGroup], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups
        self.extra: dict[str, tuple[SpecialGroup, dict]] = {}
        for group in groups:
            for spec in group.fields:
                name = f"data_{group.code}_{spec['name']}"
                kind = spec.get("type", "text")
                if kind == "choice":
                    field: forms.Field = forms.ChoiceField(
                        required=False, choices=[("", "—"), *((c, c) for c in spec.get("choices", []))])
                elif kind == "date":
                    field = forms.CharField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
                elif kind == "number":
                    field = forms.CharField(required=False, widget=forms.TextInput(attrs={"inputmode": "decimal"}))
                else:
                    field = forms.CharField(required=False, max_length=200)
                field.label = f"{group.name} · {spec['label']}"
                self.fields[name] = field
                self.extra[name] = (group, spec)

    def extra_fields(self) -> list[tuple[str, forms.BoundField]]:
        """(group id, bound field) for the template's show-for-group wrappers."""
        return [(str(group.pk), self[name]) for name, (group, _spec) in self.extra.items()]

    def base_fields_bound(self) -> list[forms.BoundField]:
        return [self[name] for name in ("group", "start_date", "end_date", "notes")]

    def values(self) -> dict[str, Any]:
        group = self.cleaned_data["group"]
        data = {spec["name"]: self.cleaned_data.get(name) for name, (g, spec) in self.extra.items() if g.pk == group.pk}
        return {
            "group": group, "start_date": self.cleaned_data["start_date"], "end_date": self.cleaned_data["end_date"],
            "notes": self.cleaned_data["notes"], "data": {k: v for k, v in data.items() if v not in (None, "")},
        }

    def aliases(self) -> dict[str, str]:
        """A service error on "data.<name>" belongs on the chosen group's input."""
        group = self.cleaned_data.get("group")
        if group is None:
            return {}
        return {f"data.{spec['name']}": f"data_{group.code}_{spec['name']}" for spec in group.fields}


class SpecialGroupForm(forms.Form):
    name = _text(_("名称"), 32, required=True)
    code = forms.SlugField(label=_("代码"), max_length=32, help_text=_("小写字母、数字、下划线或连字符，如 dibao。"))
    visit_interval_days = forms.IntegerField(label=_("走访周期（天）"), required=False, min_value=1, max_value=3650)
    fields_text = forms.CharField(
        label=_("附加字段"), required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "level|残疾等级|choice|一级,二级,三级,四级"}),
        help_text=_("每行一个：字段名|显示名称|类型（text、number、date、choice）|可选值（逗号分隔，choice 时填写）。"),
    )

    def clean_fields_text(self) -> list[dict[str, Any]]:
        fields: list[dict[str, Any]] = []
        for number, line in enumerate(self.cleaned_data["fields_text"].splitlines(), start=1):
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split("|")]
            if len(parts) < 2:
                raise forms.ValidationError(_("第 %(n)s 行应为“字段名|显示名称|类型”。") % {"n": number})
            item: dict[str, Any] = {"name": parts[0], "label": parts[1], "type": parts[2] if len(parts) > 2 and parts[2]
                                    else "text"}
            if item["type"] == "choice":
                item["choices"] = [c.strip() for c in (parts[3] if len(parts) > 3 else "").replace("，", ",").split(",")
                                   if c.strip()]
            fields.append(item)
        return fields


# --- businesses ---------------------------------------------------------------------------------


class BusinessForm(forms.Form):
    name = _text(_("名称"), 128, required=True)
    uscc = forms.CharField(label=_("统一社会信用代码"), required=False, max_length=18,
                           widget=forms.TextInput(attrs={"class": "mono", "autocomplete": "off", "spellcheck": "false"}))
    kind = _text(_("主体类型"), 32)
    legal_rep = _text(_("法定代表人"), 64)
    phone = _identifier(_("联系电话"), 20, inputmode="tel")
    node = place_field("businesses", label=_("所在网格/楼栋"))
    address = _text(_("经营地址"), 200)
    industry = _text(_("行业"), 64)
    size = forms.ChoiceField(label=_("规模"), required=False, choices=[("", _("未填写")), *BusinessSize.choices])

    def __init__(self, *args: Any, user: Any, business: Any = None, **kwargs: Any) -> None:
        if business is not None:
            kwargs.setdefault("initial", {f: getattr(business, f) for f in (
                "name", "uscc", "kind", "legal_rep", "address", "industry", "size", "is_active")}
                | {"node": business.node_id})
        super().__init__(*args, **kwargs)
        self.business = business
        self.fields["node"].queryset = picker_nodes(user, "businesses")
        if business is not None:
            self.fields["is_active"] = forms.BooleanField(label=_("在营"), required=False)
            self.fields["phone"].help_text = (
                _("已登记：%(value)s。留空则不修改，填写则替换。") % {"value": business.phone_masked}
                if business.phone_masked else _("尚未登记。")
            )

    def clean_uscc(self) -> str:
        return _checked(validate_uscc, "".join(self.cleaned_data["uscc"].split()).upper())

    def clean_phone(self) -> str:
        return _checked(validate_phone, self.cleaned_data["phone"])

    def values(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if self.business is not None and not data["phone"]:
            data.pop("phone")
        return data


# --- imports ------------------------------------------------------------------------------------


class ImportUploadForm(forms.Form):
    register = forms.ChoiceField(label=_("导入到"))
    file = forms.FileField(
        label=_("文件"), help_text=_("使用下载的模板填写，.xlsx 或 .csv（UTF-8 或 GBK），单个不超过 200 MB。"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )
    mode = forms.ChoiceField(
        label=_("导入方式"), choices=ImportJob.Mode.choices, initial=ImportJob.Mode.ALL_OR_NOTHING,
        widget=forms.RadioSelect, help_text=_("校验后如有错误行，提交前还可以改为只导入正确的行。"),
    )

    def __init__(self, *args: Any, registers: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["register"].choices = registers
        if len(registers) == 1:
            self.fields["register"].initial = registers[0][0]


class ImportCommitForm(forms.Form):
    """The commit button's form: the mode it commits with (the page offers the allowed one)."""

    mode = forms.ChoiceField(label=_("导入方式"), choices=ImportJob.Mode.choices, widget=forms.HiddenInput)
