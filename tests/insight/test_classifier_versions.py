"""The classifier on the platform's own history: versions, the activation rule, roll-back, cold
start, suggestion at intake (pages and API, scoped), override records, the evaluation page and
the `jiedao insight retrain|report` commands."""

from __future__ import annotations

import contextlib
import io
import itertools
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from jiedao.cases import selectors as case_selectors
from jiedao.cases import services as case_services
from jiedao.cases.models import Case, Category, RoutingRule, Source
from jiedao.cases.workflow import Action
from jiedao.core.models import AuditEvent, JobRun
from jiedao.core.permissions import Role
from jiedao.insight import selectors, services
from jiedao.insight.models import CaseSuggestion, ClassifierVersion
from jiedao.org import services as org_services
from jiedao.org.models import NodeKind
from tests.conftest import PASSWORD
from tests.insight.history import file_history

pytestmark = pytest.mark.django_db

GARBAGE_TEXT = ("1幢楼下垃圾没人清运", "1幢楼下垃圾堆了好几天没人清运，很臭。")


def cat(code: str) -> Category:
    return Category.objects.get(code=code)


def train(**kwargs) -> ClassifierVersion:
    return services.classifier_train(actor=None, trigger=ClassifierVersion.Trigger.COMMAND, **kwargs)


def run_cli(*argv: str) -> tuple[int, str, str]:
    from jiedao import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


# --- training, activation, roll-back, cold start ------------------------------------------------------


def test_cold_start_without_history_comes_from_the_catalogue(world):
    version = train()
    assert version.kind == ClassifierVersion.Kind.COLD_START and version.is_active
    assert version.training_cases == 0 and version.holdout_cases == 0 and version.macro_f1 is None
    assert set(version.labels) == {c.code for c in selectors.catalogue_leaves()}
    found = selectors.suggest(*GARBAGE_TEXT)
    assert found.top.code == "exposed_garbage" and not found.low_confidence and found.version_id == version.pk
    assert AuditEvent.objects.filter(action="insight.classifier.train", object_id=str(version.pk)).exists()
    assert AuditEvent.objects.filter(action="insight.classifier.activate", object_id=str(version.pk)).exists()


def test_training_from_accepted_cases_holds_back_the_most_recent_fifth(world):
    cases = file_history(world, 60)
    # a case still waiting to be accepted and a rejected one are not labels
    file_history(world, 2, seed=9, accept=False)
    version = train()
    assert version.kind == ClassifierVersion.Kind.HISTORY and version.is_active
    assert (version.training_cases, version.holdout_cases) == (48, 12)
    assert version.holdout_from_case == cases[48].pk and version.trained_through_case == cases[47].pk
    assert version.macro_f1 is not None and version.macro_f1 >= 0.8 and version.accuracy >= 0.8
    assert sum(s["support"] for s in version.per_category.values()) == 12
    assert sum(map(sum, version.confusion["matrix"])) == 12
    found = selectors.suggest("3号楼前路灯坏了", "3号楼前的路灯坏了一周，晚上很黑。")
    assert found.top.code == "street_lamp" and found.version_id == version.pk and found.version_number == version.number


def test_a_worse_model_is_kept_inactive(world):
    cases = file_history(world, 60)
    good = train()
    assert good.is_active
    # the labels of the older cases go bad (each category filed as the next one); the slice stays
    codes = sorted({c.category.code for c in cases})
    for case in cases[:48]:
        wrong = cat(codes[(codes.index(case.category.code) + 1) % len(codes)])
        Case.objects.filter(pk=case.pk).update(category=wrong)
    worse = train()
    good.refresh_from_db()
    assert not worse.is_active and good.is_active
    assert worse.compared_with_id == good.pk and worse.compared_scores["macro_f1"] > worse.macro_f1
    assert "未启用" in worse.decision
    assert selectors.suggest(*GARBAGE_TEXT).version_id == good.pk


def test_equal_or_better_model_replaces_a_cold_start(world):
    cold = train()
    file_history(world, 60)
    learned = train()
    cold.refresh_from_db()
    assert learned.is_active and not cold.is_active
    assert learned.compared_with_id == cold.pk and learned.macro_f1 >= learned.compared_scores["macro_f1"]


def test_administrator_rolls_back_and_it_is_audited(client, world):
    first = train()
    file_history(world, 60)
    second = train()
    assert second.is_active
    client.force_login(world.leader)  # may look, may not switch
    assert client.post(reverse("insight:activate", args=[first.pk])).status_code == 403
    client.force_login(world.admin)
    response = client.post(reverse("insight:activate", args=[first.pk]), {"reason": "新版本误判多"})
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.is_active and not second.is_active
    event = AuditEvent.objects.get(action="insight.classifier.rollback")
    assert event.actor_id == world.admin.pk and event.reason == "新版本误判多"
    assert event.before == {"active": f"v{second.number}"} and event.after == {"active": f"v{first.number}"}
    assert selectors.suggest(*GARBAGE_TEXT).version_id == first.pk
    # rolling "back" to the active one is refused with a message, nothing changes
    client.post(reverse("insight:activate", args=[first.pk]))
    assert AuditEvent.objects.filter(action="insight.classifier.rollback").count() == 1
    assert client.post(reverse("insight:activate", args=[999999])).status_code == 404


def test_import_of_labelled_messages_maps_labels_onto_the_catalogue(world, tmp_path):
    path = tmp_path / "labelled.csv"
    path.write_text(
        "留言编号,留言主题,留言详情,一级分类\n"
        "1,楼道灯不亮,楼道里的灯坏了,路灯不亮\n"
        "2,垃圾没人收,垃圾堆满了,环境卫生\n"
        "3,水管漏水,水管爆了,城乡建设\n", encoding="utf-8")
    version = train(import_path=path, label_map={"环境卫生": "exposed_garbage"})
    assert version.imported_messages == 2 and version.import_name == "labelled.csv"
    assert "城乡建设（1）" in version.message  # said, not silently dropped
    from jiedao.core.errors import DomainError

    with pytest.raises(DomainError) as refused:
        train(import_path=path, label_map={"环境卫生": "no_such_category"})
    assert refused.value.field == "map"


# --- suggestion at intake ------------------------------------------------------------------------------


def test_suggest_category_keeps_its_shape_and_gives_tier_and_unit(world):
    garbage = cat("exposed_garbage")
    RoutingRule.objects.create(category=garbage, node=world.subdistrict, department=world.department)
    result = case_selectors.suggest_category(GARBAGE_TEXT[1])
    assert isinstance(result, list) and len(result) == 3
    category, confidence = result[0]
    assert category == garbage and 0 < confidence <= 1 and not result.low_confidence
    found = selectors.suggest_for_intake(*GARBAGE_TEXT, node=world.building)
    assert found.tier == "public" and found.unit == {"kind": "department", "id": world.department.pk, "name": "城建办"}
    dispute = selectors.suggest_for_intake("楼上邻居吵架", "和楼上邻居吵起来了，矛盾很大", node=world.grid)
    assert dispute.top.code == "neighbour_dispute" and dispute.tier == "community"
    assert dispute.unit == {"kind": "community", "id": world.community.pk, "name": "东门社区"}
    assert case_selectors.suggest_category("嗯嗯").low_confidence


def test_the_intake_partial_offers_one_tap_and_says_low_confidence(client, world):
    client.force_login(world.worker)
    response = client.post(reverse("cases:suggest"), {"description": GARBAGE_TEXT[1], "building": world.building.pk},
                          HTTP_HX_REQUEST="true")
    page = response.content.decode()
    garbage = cat("exposed_garbage")
    assert f'data-pick-category="{garbage.pk}"' in page and 'data-pick-tier="public"' in page
    assert "暴露垃圾" in page and "东门社区" in page  # no routing rule: the community handles it
    page = client.post(reverse("cases:suggest"), {"description": "你好你好"}, HTTP_HX_REQUEST="true").content.decode()
    assert "低置信度" in page
    client.force_login(world.handler)  # no intake forms for a department handler
    assert client.post(reverse("cases:suggest"), {"description": GARBAGE_TEXT[1]}).status_code == 403


def test_public_form_shows_the_category_only(client, world):
    response = client.post(reverse("insight:public_suggest"), {"title": GARBAGE_TEXT[0], "description": GARBAGE_TEXT[1]})
    page = response.content.decode()
    assert response.status_code == 200 and "暴露垃圾" in page
    assert "%" not in page and "城建办" not in page and "data-pick" not in page
    assert client.post(reverse("insight:public_suggest"), {"description": "你好"}).content.decode().strip() == ""


def test_suggest_api_is_for_reporters_and_scoped(client, world):
    url = "/api/v1/insight/suggest"
    body = {"title": GARBAGE_TEXT[0], "description": GARBAGE_TEXT[1], "node": world.building.pk}
    assert client.post(url, body, content_type="application/json").status_code == 401
    client.force_login(world.worker)
    response = client.post(url, body, content_type="application/json")
    data = response.json()
    assert response.status_code == 200 and data["category"]["code"] == "exposed_garbage"
    assert data["category"]["tier"] == "public" and data["handling_unit"]["name"] == "东门社区"
    assert data["model_version"] is None and data["low_confidence"] is False and len(data["alternatives"]) == 2
    # a place outside the worker's grid answers like a missing one
    response = client.post(url, {**body, "node": world.other_grid.pk}, content_type="application/json")
    assert response.status_code == 404 and response.json()["field"] == "node"
    client.force_login(world.handler)
    assert client.post(url, body, content_type="application/json").status_code == 403
    client.force_login(world.worker)
    low = client.post(url, {"description": "嗯"}, content_type="application/json").json()
    assert low["low_confidence"] is True and low["handling_unit"] is None


# --- override tracking ---------------------------------------------------------------------------------


def test_intake_records_the_suggestion_and_overrides_are_counted(client, world):
    version = train()
    client.force_login(world.worker)
    dispute = cat("neighbour_dispute")
    response = client.post(reverse("cases:new"), {
        "source": Source.DOOR_VISIT, "node": world.grid.pk, "building": world.building.pk,
        "title": GARBAGE_TEXT[0], "description": GARBAGE_TEXT[1], "category": dispute.pk, "tier": "community",
        "urgency": "normal"})
    assert response.status_code == 302
    # filed with a category: intake does not wait for the classifier, the backfill job records it
    assert not CaseSuggestion.objects.exists()
    assert services.suggestion_backfill() == "1 suggestions recorded"
    record = CaseSuggestion.objects.get()
    assert record.suggested.code == "exposed_garbage" and record.chosen == dispute and record.version == version
    assert 0.5 <= record.confidence <= 1 and not record.low_confidence
    agreed = case_services.case_create(actor=world.worker, source=Source.DOOR_VISIT, node=world.grid,
                                       title="路灯不亮", description="3号楼前的路灯坏了一周", category=cat("street_lamp"))
    services.suggestion_backfill()
    assert CaseSuggestion.objects.get(case=agreed).suggested.code == "street_lamp"
    table = selectors.override_table(world.leader)
    assert (table["total"], table["overridden"]) == (2, 1)
    assert {r["name"]: (r["n"], r["overridden"]) for r in table["rows"]} == {"暴露垃圾": (1, 1), "路灯不亮": (1, 0)}
    # a resident's report has no category until staff accept it: not counted yet
    case_services.case_create(actor=None, source=Source.SELF_REPORT, node=world.grid, title="垃圾", description=GARBAGE_TEXT[1])
    assert selectors.override_table(world.leader)["total"] == 2


# --- the evaluation page and the commands ----------------------------------------------------------------


def test_evaluation_page_shows_scores_confusion_versions_and_scoped_overrides(client, world):
    file_history(world, 60)
    version = train()
    services.suggestion_backfill()
    client.force_login(world.leader)
    response = client.get(reverse("insight:evaluation"))
    page = response.content.decode()
    assert response.status_code == 200
    assert f"v{version.number}" in page and f"{version.macro_f1:.3f}" in page and "混淆表" in page
    assert 'data-category="street_lamp"' in page and "立即重新训练" not in page  # leaders look, admins act
    table = selectors.override_table(world.leader)
    assert table["total"] + table["low_total"] == 60  # every accepted case has its intake suggestion
    mine = f"有把握的建议 {table['total']} 条，最终类别与建议不同的 {table['overridden']} 条"
    assert mine in page
    # a leader of another sub-district sees the page but none of these cases' overrides
    other_sub = org_services.node_create(actor=world.root, parent=None, kind=NodeKind.SUBDISTRICT, name="东城街道",
                                         code="330225003000")
    stranger = org_services.user_create(actor=world.root, username="stranger", full_name="外街道领导",
                                        home_node=other_sub, password=PASSWORD)
    org_services.role_assign(actor=world.root, user=stranger, role=Role.LEADER, node=other_sub)
    client.force_login(stranger)
    page = client.get(reverse("insight:evaluation")).content.decode()
    assert mine not in page and "还没有带类别建议记录的事项" in page
    client.force_login(world.worker)
    assert client.get(reverse("insight:evaluation")).status_code == 403


def test_retrain_now_runs_as_a_background_task(client, world):
    file_history(world, 60)
    client.force_login(world.admin)
    page = client.get(reverse("insight:evaluation")).content.decode()
    assert "立即重新训练" in page
    response = client.post(reverse("insight:retrain"))
    assert response.status_code == 302
    version = ClassifierVersion.objects.get()  # JIEDAO_TASKS=eager in tests: already trained
    assert version.status == "ready" and version.trigger == "manual" and version.requested_by == world.admin
    assert version.is_active and AuditEvent.objects.filter(action="insight.classifier.request").exists()
    client.force_login(world.leader)
    assert client.post(reverse("insight:retrain")).status_code == 403


def test_queued_training_refuses_a_second_request(world):
    services.classifier_request(actor=world.admin)
    from jiedao.core.errors import ConflictError

    with pytest.raises(ConflictError):
        services.classifier_request(actor=world.admin)


def test_commands_retrain_and_report(world, tmp_path):
    code, out, err = run_cli("insight", "report")
    assert code == 1 and "retrain" in err
    file_history(world, 60)
    code, out, _err = run_cli("insight", "retrain")
    assert code == 0 and "macro_f1=" in out and out.strip().endswith("active=v1")
    version = ClassifierVersion.objects.get(number=1)
    assert version.trigger == "command" and version.is_active
    services.suggestion_backfill()
    code, out, _err = run_cli("insight", "report")
    assert code == 0 and "混淆表" in out and "路灯不亮" in out
    rate = selectors.override_table(None)["rate"]
    assert out.strip().splitlines()[-1] == (
        f"macro_f1={version.macro_f1:.3f} accuracy={version.accuracy:.3f} override_rate={rate:.3f}")
    code, _out, err = run_cli("insight", "retrain", "--map", "nonsense")
    assert code == 2 and "--map" in err


def test_weekly_job_is_registered_and_retrains(world):
    from jiedao.core import scheduler

    assert any(job.path == "jiedao.insight.services.classifier_retrain_scheduled" for job in scheduler.JOBS)
    result = services.classifier_retrain_scheduled()
    version = ClassifierVersion.objects.get()
    assert result.startswith("v1") and version.trigger == "schedule" and version.is_active
    assert not JobRun.objects.exists()  # called directly; the scheduler claims runs itself


def test_old_model_data_is_pruned_but_scores_stay_and_the_active_one_is_kept(world, monkeypatch):
    monkeypatch.setattr(services, "KEEP_MODEL_DATA", 2)
    first = train()
    versions = [first] + [train() for _ in range(3)]  # cold starts: each replaces the previous one
    for version in versions:
        version.refresh_from_db()
    assert [bool(v.model_data) for v in versions] == [False, False, True, True]
    assert versions[-1].is_active
    event = AuditEvent.objects.filter(action="insight.classifier.prune").latest("id")
    assert event.after == {"versions": [f"v{versions[1].number}"]}
    # a pruned version cannot be switched to: a clear message, nothing changes
    with pytest.raises(services.DomainError, match="已按保留规则清理"):
        services.classifier_activate(actor=world.admin, version=first)
    first.refresh_from_db()
    assert not first.is_active and ClassifierVersion.objects.get(is_active=True).pk == versions[-1].pk


def test_the_backfill_records_what_intake_did_not_wait_for(world):
    """Cases filed with a category get their suggestion record from the job: `chosen` is the
    category they were filed with even if staff changed it since; a case filed without one was
    recorded at intake and is not touched; old cases are left alone; a second run records none."""
    train()
    lamp, dispute = cat("street_lamp"), cat("neighbour_dispute")
    filed = case_services.case_create(actor=world.worker, source=Source.DOOR_VISIT, node=world.grid,
                                      title="路灯不亮", description="3号楼前的路灯坏了一周", category=dispute)
    case_services.case_act(actor=world.secretary, case=filed, action=Action.ACCEPT, category=lamp)
    guessed = case_services.case_create(actor=world.worker, source=Source.DOOR_VISIT, node=world.grid,
                                        title="路灯不亮", description="3号楼前的路灯坏了一周")
    assert CaseSuggestion.objects.get(case=guessed).chosen is None  # recorded at intake: the model filed it
    old = case_services.case_create(actor=world.worker, source=Source.DOOR_VISIT, node=world.grid,
                                    title="路灯不亮", description="路灯坏了", category=lamp)
    Case.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=services.BACKFILL_DAYS + 1))
    events = AuditEvent.objects.filter(action="insight.suggestion.backfill").count()

    assert services.suggestion_backfill() == "1 suggestions recorded"
    record = CaseSuggestion.objects.get(case=filed)
    assert record.suggested == lamp and record.chosen == dispute and not record.low_confidence
    assert not CaseSuggestion.objects.filter(case=old).exists()
    assert AuditEvent.objects.filter(action="insight.suggestion.backfill").count() == events + 1
    assert services.suggestion_backfill() == "0 suggestions recorded"
    # the staff's correction counts as agreeing with the model; the filing choice is kept apart
    table = selectors.override_table(world.leader)
    assert {r["name"]: (r["n"], r["overridden"]) for r in table["rows"]}["路灯不亮"] == (1, 0)


# --- calibration on the held-back slice (issue 15) ------------------------------------------------------


def test_confidences_are_calibrated_on_one_half_of_the_held_back_slice_and_scored_on_the_other(client, world):
    cases = file_history(world, 300)
    version = train()
    cal = version.calibration
    assert version.holdout_cases == 60 and cal["fit_n"] == 30 and cal["eval_n"] == 30
    # never a case it trained on: the calibration half follows the training cases, the scored half follows it
    assert version.trained_through_case < cal["fit_cases"][0] <= cal["fit_cases"][1] < cal["eval_cases"][0]
    assert cal["eval_cases"] == [cases[270].pk, cases[299].pk]
    # the scores are those of the scored half only, recounted from the confusion table
    assert sum(s["support"] for s in version.per_category.values()) == 30
    assert sum(s["predicted"] for s in version.per_category.values()) == 30
    matrix = version.confusion["matrix"]
    assert round(sum(matrix[i][i] for i in range(len(matrix))) / 30, 4) == version.accuracy
    assert sum(b["n"] for b in cal["bins"]) == 30 and cal["above_n"] + cal["below_n"] == 30
    # a suggestion never claims certainty
    found = selectors.suggest("3号楼前路灯坏了", "3号楼前的路灯坏了一周，晚上很黑。")
    assert 0 < found.confidence < 1 and all(c > 0 for _cat, c in found.items)
    client.force_login(world.leader)
    page = client.get(reverse("insight:evaluation")).content.decode()
    assert "得分所用的数据" in page and f"较新的 30 件（编号 {cases[270].pk}–{cases[299].pk}）" in page
    assert "<svg" in page and "可靠性图" in page and "建议为此类" in page
    # the generated history repeats its sentences: the page says the scores are of known wording
    assert 15 <= cal["same_wording"] <= 30 and "与训练事项的某个标题文字相同" in page


def test_same_wording_counts_held_back_titles_that_repeat_a_training_title_elsewhere(world):
    from jiedao.insight.selectors.suggest import LabelledCase, place_name_pattern, wording_signature

    community = world.community.name
    assert wording_signature(f"{community}25号楼楼道堆放杂物！", place_name_pattern()) == "号楼楼道堆放杂物"
    train = [LabelledCase(1, f"{community}3号楼楼道堆放杂物", "", "a"), LabelledCase(2, "路灯不亮", "", "b")]
    scored = [LabelledCase(3, f"{community}25号楼楼道堆放杂物", "", "a"),  # same wording, another building
              LabelledCase(4, "路灯不亮了", "", "b"),  # other words
              LabelledCase(5, "１２３", "", "b")]  # nothing but numbers: no wording to match
    assert selectors.same_wording(train, scored) == 1


def test_isotonic_map_is_monotone_and_never_promises_certainty():
    from jiedao.insight.text.classifier import _line, isotonic

    xs, ys = isotonic([0.2, 0.3, 0.5, 0.6, 0.9, 0.95], [0, 1, 0, 1, 1, 1])
    assert all(a <= b for a, b in itertools.pairwise(ys)) and all(a < b for a, b in itertools.pairwise(xs))
    assert min(ys) > 0 and max(ys) < 1
    import numpy as np

    conf = np.array([0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.4, 0.3])
    right = np.array([1, 1, 1, 1, 1, 0, 0, 0])
    assert _line(conf, right, 0.9) == 0.75  # five right above it; one more would bring it to 5/6
    assert _line(conf, right, 1.01) == 1.01  # unreachable: everything is low-confidence
