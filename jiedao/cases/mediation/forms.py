"""Forms of the 联席会议 pages. They parse input; every rule is checked by the services
(jiedao.cases.mediation.services), whose DomainError the views show on the field it names."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jiedao.cases.mediation import selectors
from jiedao.cases.mediation.services import default_title
from jiedao.cases.models import JointMeeting
from jiedao.org.models import Department

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def _datetime_widget() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL)


class DepartmentChoices(forms.ModelMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple(attrs={"class": "checks"})

    def label_from_instance(self, obj: Department) -> str:
        return obj.name


class MeetingListFilter(forms.Form):
    status = forms.ChoiceField(label=_("状态"), required=False,
                               choices=[("", _("全部")), *JointMeeting.Status.choices])


class MeetingForm(forms.Form):
    """A new meeting: where (the sub-districts the user holds meetings of), name, time, place, host."""

    subdistrict = forms.ModelChoiceField(label=_("街道"), queryset=None, empty_label=None)
    title = forms.CharField(label=_("会议名称"), max_length=100, required=False)
    held_at = forms.DateTimeField(label=_("计划召开时间"), required=False, widget=_datetime_widget())
    location = forms.CharField(label=_("地点"), max_length=100, required=False)
    host = forms.CharField(label=_("主持人"), max_length=64, required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["subdistrict"].queryset = selectors.host_subdistricts(user)
        self.fields["title"].widget.attrs["placeholder"] = default_title(timezone.localdate())
        self.fields["title"].help_text = _("不填则按召开月份命名。")
        if self.fields["subdistrict"].queryset.count() == 1:
            self.fields["subdistrict"].widget = forms.HiddenInput()
            self.initial.setdefault("subdistrict", self.fields["subdistrict"].queryset.first().pk)


class MeetingEditForm(forms.Form):
    """A meeting in preparation: name, planned time, place, host and member departments."""

    title = forms.CharField(label=_("会议名称"), max_length=100)
    held_at = forms.DateTimeField(label=_("计划召开时间"), required=False, widget=_datetime_widget())
    location = forms.CharField(label=_("地点"), max_length=100, required=False)
    host = forms.CharField(label=_("主持人"), max_length=64, required=False)
    members = DepartmentChoices(label=_("成员单位"), queryset=Department.objects.none(), required=False)

    def __init__(self, *args: Any, meeting: JointMeeting, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {
            "title": meeting.title, "location": meeting.location, "host": meeting.host,
            "held_at": timezone.localtime(meeting.held_at) if meeting.held_at else None,
            "members": [d.pk for d in meeting.members.all()],
        })
        kwargs.setdefault("prefix", "edit")
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = Department.objects.filter(
            subdistrict_id=meeting.subdistrict_id, is_active=True).order_by("sort_order", "id")


class DecisionForm(forms.Form):
    """The meeting's decision on one item: what, who leads, who co-operates, by when."""

    decision = forms.CharField(label=_("会议决定"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    lead_department = forms.ModelChoiceField(label=_("牵头单位"), queryset=Department.objects.none(),
                                             empty_label=_("请选择"))
    co_departments = DepartmentChoices(label=_("配合单位"), queryset=Department.objects.none(), required=False)
    due_date = forms.DateField(label=_("办理时限"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                               help_text=_("当天下班时截止；作出决定即派遣给牵头单位。"))

    def __init__(self, *args: Any, item: Any, members: list[Department], **kwargs: Any) -> None:
        kwargs.setdefault("prefix", f"item{item.pk}")
        super().__init__(*args, **kwargs)
        ids = [d.pk for d in members]
        queryset = Department.objects.filter(pk__in=ids).order_by("sort_order", "id")
        self.fields["lead_department"].queryset = queryset
        self.fields["co_departments"].queryset = queryset
        self.item = item


class HoldForm(forms.Form):
    """The meeting was held: when, where, who hosted and attended, the minutes."""

    held_at = forms.DateTimeField(label=_("召开时间"), widget=_datetime_widget())
    location = forms.CharField(label=_("地点"), max_length=100, required=False)
    host = forms.CharField(label=_("主持人"), max_length=64, required=False)
    attendees = forms.CharField(label=_("参会人员"), max_length=1000, required=False,
                                widget=forms.Textarea(attrs={"rows": 2}),
                                help_text=_("如：李主任、城建办孙科员、综治办周主任"))
    summary = forms.CharField(label=_("会议纪要"), max_length=10000, widget=forms.Textarea(attrs={"rows": 5}))

    def __init__(self, *args: Any, meeting: JointMeeting, **kwargs: Any) -> None:
        now = timezone.localtime().replace(second=0, microsecond=0)
        planned = timezone.localtime(meeting.held_at) if meeting.held_at else None
        kwargs.setdefault("initial", {
            "held_at": planned if planned is not None and planned <= now else now,
            "location": meeting.location, "host": meeting.host,
        })
        kwargs.setdefault("prefix", "hold")
        super().__init__(*args, **kwargs)
