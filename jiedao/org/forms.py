"""Forms of the org pages. They parse and shape input; every rule is checked by the services,
whose DomainError the views show on the field it names."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from jiedao.core.forms import PasswordPairMixin, password_fields
from jiedao.core.permissions import Role
from jiedao.org.models import ALLOWED_CHILDREN, DepartmentKind, NodeKind, OrgNode

# A node picker lists every choice in a <select> up to this many nodes; beyond it (a whole
# demo sub-district has ~3,700) it becomes a search box that asks the server for matches.
PICKER_SELECT_LIMIT = 150


class NodePickerWidget(forms.Widget):
    """A <select> for small trees, an htmx search with radio results for large ones."""

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs)
        self.queryset: QuerySet[OrgNode] = OrgNode.objects.none()

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
            "search_url": reverse("org:node_picker"),
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

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        return data.get(name)


class NodeChoiceField(forms.ModelChoiceField):
    """An org node among `queryset` (already narrowed by the scoping function)."""

    widget = NodePickerWidget
    default_error_messages = {
        "invalid_choice": _("请选择您管理范围内的组织节点。"),
        "required": _("请选择组织节点。"),
    }

    def __init__(self, queryset: QuerySet[OrgNode], **kwargs: Any) -> None:
        super().__init__(queryset=queryset, **kwargs)
        self.widget.queryset = queryset

    def _set_queryset(self, queryset: Any) -> None:
        super()._set_queryset(queryset)
        self.widget.queryset = self._queryset

    queryset = property(forms.ModelChoiceField._get_queryset, _set_queryset)


# --- org tree -----------------------------------------------------------------------------------


class NodeSearchForm(forms.Form):
    q = forms.CharField(label=_("搜索节点"), required=False, max_length=64)


class BoundaryField(forms.CharField):
    """GeoJSON typed or pasted as text; the service checks the geometry."""

    widget = forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "class": "mono"})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False)
        return value

    def to_python(self, value: Any) -> dict | None:
        text = super().to_python(value)
        if not text:
            return None
        try:
            parsed = json.loads(text)
        except ValueError:
            raise forms.ValidationError(_("边界不是有效的 JSON，请粘贴 GeoJSON 文本。")) from None
        if not isinstance(parsed, dict):
            raise forms.ValidationError(_("边界应为 GeoJSON 对象。"))
        return parsed


class NodeFieldsForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=64)
    code = forms.CharField(
        label=_("编码"),
        max_length=24,
        required=False,
        help_text=_("社区/村 12 位统计用区划代码，网格 15 位，微网格 18 位；须以上级编码开头。楼栋可不填。"),
    )
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    floors = forms.IntegerField(label=_("层数"), required=False, min_value=1, max_value=300)
    units = forms.IntegerField(label=_("单元数"), required=False, min_value=1, max_value=300)
    boundary = BoundaryField(
        label=_("边界（GeoJSON）"), required=False, help_text=_("Polygon 或 MultiPolygon，坐标为 [经度, 纬度]。")
    )
    sort_order = forms.IntegerField(label=_("排序"), required=False, min_value=0)

    def drop_building_fields(self) -> None:
        self.fields.pop("floors", None)
        self.fields.pop("units", None)


class NodeCreateForm(NodeFieldsForm):
    field_order = ["kind", "name", "code"]
    kind = forms.ChoiceField(label=_("类型"))

    def __init__(self, *args: Any, parent: OrgNode, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = ALLOWED_CHILDREN[parent.kind]
        self.fields["kind"].choices = [(k, label) for k, label in NodeKind.choices if k in allowed]
        if NodeKind.BUILDING not in allowed:
            self.drop_building_fields()


class NodeUpdateForm(NodeFieldsForm):
    is_active = forms.BooleanField(label=_("启用"), required=False)

    def __init__(self, *args: Any, node: OrgNode, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {f: getattr(node, f) for f in ("name", "code", "address", "floors", "units", "boundary", "sort_order",
                                           "is_active")},
        )
        super().__init__(*args, **kwargs)
        if node.kind != NodeKind.BUILDING:
            self.drop_building_fields()

    def changes(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if data.get("sort_order") is None:
            data.pop("sort_order", None)
        return data


class DepartmentForm(forms.Form):
    name = forms.CharField(label=_("部门名称"), max_length=64)
    kind = forms.ChoiceField(label=_("类型"), choices=DepartmentKind.choices, initial=DepartmentKind.OFFICE)
    duties = forms.CharField(label=_("职责"), max_length=300, required=False)


# --- users and roles ----------------------------------------------------------------------------

ACTIVE_CHOICES = [("", _("全部")), ("1", _("启用")), ("0", _("停用"))]


class UserFilterForm(forms.Form):
    q = forms.CharField(label=_("姓名或用户名"), required=False, max_length=64)
    role = forms.ChoiceField(label=_("角色"), required=False, choices=[("", _("全部角色")), *Role.choices])
    active = forms.ChoiceField(label=_("状态"), required=False, choices=ACTIVE_CHOICES)

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        active = self.cleaned_data["active"]
        return {
            "text": self.cleaned_data["q"],
            "role": self.cleaned_data["role"],
            "active": None if active == "" else active == "1",
        }


class UserCreateForm(PasswordPairMixin, forms.Form):
    username = forms.CharField(
        label=_("用户名"),
        max_length=150,
        help_text=_("3 到 150 位字母、数字、下划线、点或连字符，用于登录。"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}),
    )
    full_name = forms.CharField(label=_("姓名"), max_length=64)
    phone = forms.CharField(
        label=_("联系电话"), max_length=20, required=False, widget=forms.TextInput(attrs={"inputmode": "tel"})
    )
    home_node = NodeChoiceField(OrgNode.objects.none(), label=_("所属组织"))
    password, password_confirm = password_fields()

    def __init__(self, *args: Any, nodes: QuerySet[OrgNode], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["home_node"].queryset = nodes
        self.fields["password"].label = _("初始密码")


class UserEditForm(forms.Form):
    full_name = forms.CharField(label=_("姓名"), max_length=64)
    phone = forms.CharField(
        label=_("联系电话"), max_length=20, required=False, widget=forms.TextInput(attrs={"inputmode": "tel"})
    )
    email = forms.EmailField(label=_("电子邮箱"), required=False)


class PasswordResetForm(PasswordPairMixin, forms.Form):
    password, password_confirm = password_fields()


class RoleAssignForm(forms.Form):
    role = forms.ChoiceField(label=_("角色"), choices=[("", _("请选择角色")), *Role.choices])
    node = NodeChoiceField(OrgNode.objects.none(), label=_("组织节点"))
    department = forms.ModelChoiceField(
        queryset=None,
        label=_("所属科室"),
        required=False,
        empty_label=_("（不适用）"),
        help_text=_("仅科室办理人员需要选择，部门须属于所选街道。"),
    )

    def __init__(self, *args: Any, nodes: QuerySet[OrgNode], departments: QuerySet, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["node"].queryset = nodes
        self.fields["department"].queryset = departments
        self.fields["department"].label_from_instance = lambda d: f"{d.subdistrict.name} · {d.name}"
