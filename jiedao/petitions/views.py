"""信访 pages: overview, petitions (list, registration, detail with its workflow, repeats, case and
联席会议 links), petitioners and 重点信访人员, and the repeated-matter 销号 campaign. Thin: parse,
call a service or selector, render."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from jiedao.core import exports, scope
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm
from jiedao.core.views import form_error, paginate, render_error, require_perm_anywhere
from jiedao.org.models import Department, OrgNode
from jiedao.people import selectors as people_selectors
from jiedao.people import services as people_services
from jiedao.petitions import exporting, selectors, services, workflow
from jiedao.petitions import forms as f
from jiedao.petitions.models import OVERDUE_LABELS, PlanMeasure
from jiedao.petitions.workflow import PetitionAction

view_required = require_perm_anywhere(Perm.VIEW_PETITIONS)


@view_required
def index(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    start = date(today.year, 1, 1)
    return render(request, "petitions/index.html", {
        "figures": selectors.panel_figures(request.user, None, start, today), "start": start, "end": today,
        "board": selectors.campaign_board(request.user),
        "overdue": selectors.petition_list(request.user, overdue="any").count(),
        "key_due": selectors.key_plans(request.user, due_within=0).count(),
    })


@view_required
def petition_list(request: HttpRequest) -> HttpResponse:
    form = f.PetitionFilterForm(request.GET or None, user=request.user)
    qs = selectors.petition_list(request.user, **form.filters())
    page = paginate(request, qs)
    today = timezone.localdate()
    for p in page.object_list:
        p.flags = [OVERDUE_LABELS[k] for k in p.overdue_flags(today)]
    return render(request, "petitions/petition_list.html", {"form": form, "page": page,
                                                            "query": request.GET.urlencode()})


@view_required
@require_POST
def petition_export(request: HttpRequest) -> HttpResponse:
    """The filtered list as an export job (the same scoped rows as the page; petitioners masked, no
    content); the file is written in the background and downloaded from 我的导出, audited."""
    form = f.PetitionFilterForm(request.GET or None, user=request.user)
    try:
        exports.export_request(actor=request.user, register="petitions.petition",
                               filters=exporting.encode(form.filters()))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("petitions:list") + (f"?{request.GET.urlencode()}" if request.GET else ""))
    messages.success(request, _("已开始导出，完成后可在“我的导出”中下载。"))
    return redirect("exports:list")


def _residents(request: HttpRequest) -> list[Any]:
    """Residents offered in the registration form: found by name (scoped), or by a full ID number
    through people's audited lookup (its permission, reason and throttle)."""
    name = (request.GET.get("resident_q") or "").strip()
    number = (request.GET.get("lookup_id") or "").strip()
    if number:
        try:
            return people_services.resident_lookup(actor=request.user, kind="id_number", value=number,
                                                   reason=request.GET.get("lookup_reason", ""))
        except DomainError as exc:
            messages.error(request, exc.message)
            return []
    if name:
        return list(people_selectors.resident_list(request.user, text=name)[:20])
    return []


@require_perm_anywhere(Perm.HANDLE_PETITIONS)
def petition_new(request: HttpRequest) -> HttpResponse:
    residents = _residents(request)
    if request.method == "POST":
        chosen = request.POST.get("resident")
        if chosen:
            residents = list(people_selectors.residents_visible(request.user).filter(pk=chosen)) if chosen.isdigit() else []
        form = f.PetitionForm(request.POST, user=request.user, residents=residents)
        if form.is_valid():
            d = form.cleaned_data
            party = ({"resident": people_selectors.resident_get(request.user, d["resident"])} if d["resident"]
                     else {"name": d["name"], "id_number": d["id_number"], "phone": d["phone"]})
            try:
                petition = services.petition_register(
                    actor=request.user, node=OrgNode.objects.filter(pk=d["node"]).first(), channel=d["channel"],
                    received_on=d["received_on"], category=d["category"], title=d["title"], content=d["content"],
                    demands=d["demands"], petitioners=[party], is_group=d["is_group"], people_count=d["people_count"],
                    department=Department.objects.filter(pk=d["department"]).first() if d["department"] else None,
                    unit_node=OrgNode.objects.filter(pk=d["unit_node"]).first() if d["unit_node"] else None,
                )
            except DomainError as exc:
                status = form_error(form, exc, {"petitioners": "name"})
                return render(request, "petitions/petition_form.html", {"form": form}, status=status)
            messages.success(request, _("已登记信访件 %(code)s。") % {"code": petition.code})
            return redirect("petitions:petition", pk=petition.pk)
        return render(request, "petitions/petition_form.html", {"form": form}, status=400)
    initial = {"received_on": timezone.localdate(), "resident": residents[0].pk if len(residents) == 1 else None}
    form = f.PetitionForm(initial=initial, user=request.user, residents=residents)
    searched = bool(request.GET.get("resident_q") or request.GET.get("lookup_id"))
    return render(request, "petitions/petition_form.html", {"form": form, "searched": searched,
                                                            "found": len(residents)})


def _petition_page(request: HttpRequest, petition: Any, *, failed: Any = None, status: int = 200) -> HttpResponse:
    user = request.user
    kinds = services.petition_actor_kinds(user, petition)
    actions = []
    for action in workflow.allowed_actions(petition.state, kinds, current=petition, actor=user):
        row = workflow.find(action, petition.state)
        form = failed if failed is not None and failed.data.get("action") == action else \
            f.ActionForm(initial={"action": action})
        actions.append({"action": action, "label": PetitionAction(action).label, "row": row, "form": form})
    steps = list(selectors.petition_history(petition))
    for step in steps:
        step.label = PetitionAction(step.action).label if step.action in PetitionAction.values else step.action
    can_handle = scope.path_allows(user, Perm.HANDLE_PETITIONS, petition.node.path)
    return render(request, "petitions/petition_detail.html", {
        "petition": petition, "actions": actions, "steps": steps,
        "petitioners": selectors.petition_petitioners(petition),
        "candidates": selectors.candidates_for(user, petition), "can_handle": can_handle,
        "flags": [OVERDUE_LABELS[k] for k in petition.overdue_flags(timezone.localdate())],
        "reason_form": f.ReasonForm(),
    }, status=status)


@view_required
def petition_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _petition_page(request, selectors.petition_get(request.user, pk))


@view_required
@require_POST
def petition_act(request: HttpRequest, pk: int) -> HttpResponse:
    petition = selectors.petition_get(request.user, pk)
    form = f.ActionForm(request.POST)
    if not form.is_valid():
        return _petition_page(request, petition, failed=form, status=400)
    try:
        services.petition_act(actor=request.user, petition=petition, action=form.cleaned_data["action"],
                              reason=form.cleaned_data["reason"], **form.params())
    except DomainError as exc:
        if exc.status_code == 403:
            return render_error(request, exc)
        if exc.status_code == 409 or exc.field not in form.fields:
            form.add_error(None, exc.message)
            return _petition_page(request, selectors.petition_get(request.user, pk), failed=form,
                                  status=exc.status_code)
        return _petition_page(request, petition, failed=form, status=form_error(form, exc))
    messages.success(request, _("已%(action)s。") % {"action": PetitionAction(form.cleaned_data["action"]).label})
    return redirect("petitions:petition", pk=petition.pk)


def _post_service(request: HttpRequest, call: Any, ok: str, back: Any) -> HttpResponse:
    try:
        call()
    except DomainError as exc:
        if exc.status_code == 403:
            return render_error(request, exc)
        messages.error(request, exc.message)
        return back
    messages.success(request, ok)
    return back


@view_required
@require_POST
def petition_to_case(request: HttpRequest, pk: int) -> HttpResponse:
    petition = selectors.petition_get(request.user, pk)
    return _post_service(request, lambda: services.petition_to_case(actor=request.user, petition=petition),
                         _("已转为事项办理。"), redirect("petitions:petition", pk=pk))


@view_required
@require_POST
def petition_propose_joint(request: HttpRequest, pk: int) -> HttpResponse:
    petition = selectors.petition_get(request.user, pk)
    return _post_service(request, lambda: services.petition_propose_joint(
        actor=request.user, petition=petition, reason=request.POST.get("reason", "")),
        _("已提请联席会议，事项在联席会议待议清单中。"), redirect("petitions:petition", pk=pk))


@view_required
@require_POST
def candidate_decide(request: HttpRequest, pk: int) -> HttpResponse:
    candidate = selectors.candidate_get(request.user, pk)
    confirm = request.POST.get("decision") == "confirm"
    return _post_service(request, lambda: services.candidate_decide(actor=request.user, candidate=candidate,
                                                                    confirm=confirm),
                         _("已确认为重复信访。") if confirm else _("已排除。"),
                         redirect("petitions:petition", pk=candidate.petition_id))


# --- petitioners and 重点信访人员 -------------------------------------------------------------------------


@view_required
def petitioner_list(request: HttpRequest) -> HttpResponse:
    text = request.GET.get("q", "")[:50]
    key_only = request.GET.get("key") == "1"
    page = paginate(request, selectors.petitioner_list(request.user, text=text, key_only=key_only))
    return render(request, "petitions/petitioner_list.html", {"page": page, "q": text, "key_only": key_only})


def _petitioner_page(request: HttpRequest, petitioner: Any, *, revealed: str = "", status: int = 200,
                     flag_form: Any = None, contact_form: Any = None, reveal_form: Any = None) -> HttpResponse:
    plan = selectors.key_plan(petitioner)
    return render(request, "petitions/petitioner_detail.html", {
        "petitioner": petitioner, "plan": plan, "contacts": plan.contacts.select_related("author") if plan else [],
        "petitions": selectors.petitioner_petitions(request.user, petitioner)[:50],
        "flag_form": flag_form or f.KeyFlagForm(users=selectors.responsible_choices(petitioner.node),
                                                initial={"responsible": request.user.pk}), "reveal_form": reveal_form or f.RevealForm(),
        "contact_form": contact_form or f.ContactForm(initial={"contacted_on": timezone.localdate()}),
        "can_manage": scope.path_allows(request.user, Perm.MANAGE_PETITIONS, petitioner.node.path),
        "can_handle": scope.path_allows(request.user, Perm.HANDLE_PETITIONS, petitioner.node.path),
        "can_reveal": not petitioner.resident_id and scope.path_allows(request.user, Perm.REVEAL_PII,
                                                                       petitioner.node.path),
        "revealed": revealed,
    }, status=status)


@view_required
def petitioner_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _petitioner_page(request, selectors.petitioner_get(request.user, pk))


@view_required
@require_POST
def petitioner_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    petitioner = selectors.petitioner_get(request.user, pk)
    form = f.RevealForm(request.POST)
    if not form.is_valid():
        return _petitioner_page(request, petitioner, reveal_form=form, status=400)
    try:
        value = services.petitioner_reveal(actor=request.user, petitioner=petitioner, **form.cleaned_data)
    except DomainError as exc:
        if exc.status_code == 403:
            return render_error(request, exc)
        return _petitioner_page(request, petitioner, reveal_form=form, status=form_error(form, exc))
    return _petitioner_page(request, petitioner, revealed=value)


@view_required
@require_POST
def key_flag(request: HttpRequest, pk: int) -> HttpResponse:
    petitioner = selectors.petitioner_get(request.user, pk)
    form = f.KeyFlagForm(request.POST, users=selectors.responsible_choices(petitioner.node))
    if form.is_valid():
        d = dict(form.cleaned_data)
        d["responsible"] = form.users[d["responsible"]]
        try:
            services.key_person_flag(actor=request.user, petitioner=petitioner, **d)
        except DomainError as exc:
            if exc.status_code == 403:
                return render_error(request, exc)
            return _petitioner_page(request, petitioner, flag_form=form, status=form_error(form, exc))
        messages.success(request, _("已列为重点信访人员。"))
        return redirect("petitions:petitioner", pk=pk)
    return _petitioner_page(request, petitioner, flag_form=form, status=400)


@view_required
@require_POST
def key_contact(request: HttpRequest, pk: int) -> HttpResponse:
    plan = selectors.key_plan_get(request.user, pk)
    form = f.ContactForm(request.POST)
    if form.is_valid():
        try:
            services.key_contact_add(actor=request.user, plan=plan, **form.cleaned_data)
        except DomainError as exc:
            if exc.status_code == 403:
                return render_error(request, exc)
            return _petitioner_page(request, plan.petitioner, contact_form=form, status=form_error(form, exc))
        messages.success(request, _("已记录联系情况。"))
        return redirect("petitions:petitioner", pk=plan.petitioner_id)
    return _petitioner_page(request, plan.petitioner, contact_form=form, status=400)


@view_required
@require_POST
def key_end(request: HttpRequest, pk: int) -> HttpResponse:
    plan = selectors.key_plan_get(request.user, pk)
    return _post_service(request, lambda: services.key_person_end(actor=request.user, plan=plan,
                                                                  reason=request.POST.get("reason", "")),
                         _("已解除重点管控。"), redirect("petitions:petitioner", pk=plan.petitioner_id))


@view_required
def key_persons(request: HttpRequest) -> HttpResponse:
    due = request.GET.get("due")
    plans = selectors.key_plans(request.user, due_within=0 if due == "1" else None,
                                stability=request.GET.get("stability", "")[:10])
    return render(request, "petitions/key_persons.html", {"page": paginate(request, plans), "due": due,
                                                           "today": timezone.localdate()})


# --- the 销号 campaign ------------------------------------------------------------------------------------


@view_required
def campaign(request: HttpRequest) -> HttpResponse:
    form = f.MatterFilterForm(request.GET or None, user=request.user)
    stage, community = "", None
    if form.is_valid():
        stage = form.cleaned_data["stage"]
        if form.cleaned_data["community"]:
            community = selectors.communities(request.user).filter(pk=form.cleaned_data["community"]).first()
    page = paginate(request, selectors.matter_list(request.user, stage=stage, community=community))
    return render(request, "petitions/campaign.html", {"form": form, "page": page,
                                                       "board": selectors.campaign_board(request.user)})


def _matter_page(request: HttpRequest, matter: Any, *, forms_: dict[str, Any] | None = None,
                 status: int = 200) -> HttpResponse:
    forms_ = forms_ or {}
    initial = {k: getattr(matter, k) for k in ("causes", "responsible_unit", "basis", "wants")}
    return render(request, "petitions/matter_detail.html", {
        "matter": matter, "measures": list(matter.measures.all()), "notes": matter.notes.select_related("author"),
        "petitions": selectors.petitions_visible(request.user).filter(matter=matter).order_by("received_on", "pk"),
        "diagnosis_form": forms_.get("diagnose") or f.DiagnosisForm(initial=initial),
        "measure_form": forms_.get("measure") or f.MeasureForm(), "note_form": forms_.get("note") or f.NoteForm(),
        "strike_form": forms_.get("strike") or f.StrikeForm(),
        "can_handle": scope.path_allows(request.user, Perm.HANDLE_PETITIONS, matter.node.path),
        "can_strike": services._is_leader(request.user, matter.node.path),
    }, status=status)


@view_required
def matter_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _matter_page(request, selectors.matter_get(request.user, pk))


_MATTER_FORMS = {"diagnose": f.DiagnosisForm, "measure": f.MeasureForm, "note": f.NoteForm, "strike": f.StrikeForm}


@view_required
@require_POST
def matter_post(request: HttpRequest, pk: int, what: str) -> HttpResponse:
    matter = selectors.matter_get(request.user, pk)
    if what == "done":
        raw = (request.POST.get("measure") or "").strip()
        measure = PlanMeasure.objects.filter(matter=matter, pk=int(raw)).first() if raw.isdigit() and len(raw) < 12 \
            else None
        if measure is None:
            raise Http404(_("未找到该措施。"))
        return _post_service(request, lambda: services.measure_done(actor=request.user, measure=measure),
                             _("已完成。"), redirect("petitions:matter", pk=pk))
    if what not in _MATTER_FORMS:
        raise Http404(_("未找到该页面。"))
    form = _MATTER_FORMS[what](request.POST)
    if form.is_valid():
        d = form.cleaned_data
        calls = {
            "diagnose": lambda: services.matter_diagnose(actor=request.user, matter=matter, **d),
            "measure": lambda: services.measure_add(actor=request.user, matter=matter, **d),
            "note": lambda: services.matter_note_add(actor=request.user, matter=matter, **d),
            "strike": lambda: services.matter_strike_off(actor=request.user, matter=matter, **d),
        }
        try:
            calls[what]()
        except DomainError as exc:
            if exc.status_code == 403:
                return render_error(request, exc)
            return _matter_page(request, selectors.matter_get(request.user, pk), forms_={what: form},
                                status=form_error(form, exc))
        messages.success(request, _("已保存。"))
        return redirect("petitions:matter", pk=pk)
    return _matter_page(request, matter, forms_={what: form}, status=400)
