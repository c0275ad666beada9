"""Approval processes: entry criteria, approver kinds, first response vs unanimous, steps with
conditions, reject, recall, escalation, the record lock, the timeline, pages and API, and the
quote discount approval running on the engine."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from patron.automation import approval_services as approvals
from patron.automation.approval_tasks import approval_escalate
from patron.automation.choices import ApprovalStatus, ApprovalTaskStatus
from patron.automation.models import ApprovalHistory, ApprovalProcess, ApprovalTask
from patron.contacts.services import account_create, account_update
from patron.core import records
from patron.core.exceptions import PermissionDenied, RecordLocked, ValidationFailed
from patron.core.models import Notification
from patron.core.testing import Endpoint, assert_max_queries, check_visibility_matrix
from patron.core.timeline import timeline_page
from patron.routing.models import RoutingQueue
from patron.users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ACCOUNT = "contacts.account"
JSON = "application/json"


@pytest.fixture(autouse=True)
def forget_process_types() -> Any:
    """The types cache outlives a test's rolled-back processes: drop it around each test."""
    cache.delete(approvals.TYPES_CACHE_KEY)
    yield
    cache.delete(approvals.TYPES_CACHE_KEY)


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def step(**fields: Any) -> dict[str, Any]:
    return {"name": "Manager", "approver_kind": "manager", **fields}


@pytest.fixture
def make_process(admin_user: Any) -> Any:
    counter = iter(range(1, 100))

    def build(steps: list[dict[str, Any]], **fields: Any) -> ApprovalProcess:
        return approvals.approval_process_create(
            user=admin_user,
            name=fields.pop("name", f"Process {next(counter)}"),
            object_type=fields.pop("object_type", ACCOUNT),
            steps=steps,
            **fields,
        )

    return build


@pytest.fixture
def account(rep: Any) -> Any:
    return account_create(user=rep, name="Acme Corporation", industry="Retail")


def pending_tasks(request: Any) -> list[ApprovalTask]:
    return list(
        ApprovalTask.objects.filter(request=request, status=ApprovalTaskStatus.PENDING).order_by(
            "id"
        )
    )


def fresh(request: Any) -> Any:
    request.refresh_from_db()
    return request


# --- configuration --------------------------------------------------------------------------


def test_a_step_without_its_approver_target_is_refused_and_nothing_is_saved(admin_user):
    with pytest.raises(ValidationFailed) as error:
        approvals.approval_process_create(
            user=admin_user,
            name="Needs a role",
            object_type=ACCOUNT,
            steps=[{"name": "Legal", "approver_kind": "role"}],
        )
    assert "steps[0].approver_role" in error.value.errors
    assert not ApprovalProcess.objects.filter(name="Needs a role").exists()


def test_invalid_conditions_unknown_types_and_short_timeouts_are_named(admin_user):
    with pytest.raises(ValidationFailed) as error:
        approvals.approval_process_create(
            user=admin_user,
            name="Bad",
            object_type=ACCOUNT,
            entry_conditions={"field": "no_such_field", "op": "eq", "value": "x"},
            steps=[
                step(
                    conditions={"any": []},
                    timeout_hours=0,
                    escalation="reject",
                )
            ],
        )
    errors = error.value.errors
    assert any(key.startswith("entry_conditions") for key in errors)
    assert any(key.startswith("steps[0].conditions") for key in errors)
    assert "steps[0].timeout_hours" in errors
    with pytest.raises(ValidationFailed) as error:
        approvals.approval_process_create(
            user=admin_user, name="Bad type", object_type="nope.thing", steps=[step()]
        )
    assert "object_type" in error.value.errors


def test_only_administrators_configure_processes(rep):
    with pytest.raises(PermissionDenied):
        approvals.approval_process_create(
            user=rep, name="Mine", object_type=ACCOUNT, steps=[step()]
        )


# --- submitting -----------------------------------------------------------------------------


def test_entry_criteria_pick_the_first_matching_process(make_process, rep, manager, account):
    make_process(
        [step()],
        name="Banks",
        entry_conditions={"field": "industry", "op": "eq", "value": "Banking"},
    )
    retail = make_process(
        [step()],
        name="Retail",
        entry_conditions={"field": "industry", "op": "eq", "value": "Retail"},
    )

    request = approvals.approval_submit(user=rep, record=account)

    assert request.process == retail
    assert [t.approver for t in pending_tasks(request)] == [manager]
    assert Notification.objects.filter(user=manager, kind="approval").exists()
    assert ApprovalHistory.objects.filter(request=request, action="submitted").exists()


def test_a_record_outside_the_entry_criteria_cannot_be_submitted(make_process, rep, account):
    banks = make_process(
        [step()], entry_conditions={"field": "industry", "op": "eq", "value": "Banking"}
    )
    with pytest.raises(ValidationFailed, match="entry criteria"):
        approvals.approval_submit(user=rep, record=account, process=banks)
    with pytest.raises(ValidationFailed, match="No active approval process"):
        approvals.approval_submit(user=rep, record=account)


def test_a_second_submit_while_pending_is_refused(make_process, rep, manager, account):
    make_process([step()])
    approvals.approval_submit(user=rep, record=account)
    with pytest.raises(ValidationFailed, match="already waiting for approval"):
        approvals.approval_submit(user=rep, record=account)


def test_approvers_by_user_role_and_queue(
    make_process, rep, manager, other_rep, sales_roles, account
):
    vp = UserFactory(role=sales_roles["vp"], email="vp@example.com")
    queue = RoutingQueue.objects.create(name="Deal desk")
    queue.members.add(other_rep, vp)
    for kind, target, expected in (
        ("user", {"approver_user": vp.pk}, [vp]),
        ("role", {"approver_role": sales_roles["manager"].pk}, [manager]),
        ("queue", {"approver_queue": queue.pk}, sorted([other_rep, vp], key=lambda u: u.full_name)),
    ):
        process = make_process([{"name": kind, "approver_kind": kind, **target}])
        request = approvals.approval_submit(user=rep, record=account, process=process)
        assert [t.approver for t in pending_tasks(request)] == expected, kind
        approvals.approval_recall(user=rep, request=request)


def test_without_a_manager_the_submit_says_who_must_fix_the_hierarchy(make_process, sales_roles):
    vp = UserFactory(role=sales_roles["vp"], email="vp@example.com")
    make_process([step()])
    record = account_create(user=vp, name="Top")
    with pytest.raises(ValidationFailed, match="role hierarchy"):
        approvals.approval_submit(user=vp, record=record)


# --- deciding -------------------------------------------------------------------------------


def test_first_response_decides_and_cancels_the_other_tasks(
    make_process, rep, manager, sales_roles, account
):
    second = UserFactory(role=sales_roles["manager"], email="m2@example.com", full_name="Max Two")
    make_process(
        [{"name": "Managers", "approver_kind": "role", "approver_role": sales_roles["manager"].pk}]
    )
    request = approvals.approval_submit(user=rep, record=account)
    tasks = pending_tasks(request)
    assert {t.approver for t in tasks} == {manager, second}

    approvals.approval_decide(
        user=second, task=tasks[1] if tasks[1].approver == second else tasks[0], approve=True
    )

    assert fresh(request).status == ApprovalStatus.APPROVED
    assert ApprovalTask.objects.filter(request=request, status="cancelled").count() == 1


def test_unanimous_needs_everyone_and_one_rejection_rejects(
    make_process, rep, manager, sales_roles, account
):
    second = UserFactory(role=sales_roles["manager"], email="m2@example.com", full_name="Max Two")
    role_step = {
        "name": "Managers",
        "approver_kind": "role",
        "approver_role": sales_roles["manager"].pk,
        "decision_mode": "unanimous",
    }
    process = make_process([role_step])
    request = approvals.approval_submit(user=rep, record=account)
    by_user = {t.approver: t for t in pending_tasks(request)}
    approvals.approval_decide(user=manager, task=by_user[manager], approve=True)
    assert fresh(request).status == ApprovalStatus.PENDING
    approvals.approval_decide(user=second, task=by_user[second], approve=True)
    assert fresh(request).status == ApprovalStatus.APPROVED

    again = approvals.approval_submit(user=rep, record=account, process=process)
    by_user = {t.approver: t for t in pending_tasks(again)}
    approvals.approval_decide(
        user=second, task=by_user[second], approve=False, comment="Margin too thin"
    )
    again = fresh(again)
    assert again.status == ApprovalStatus.REJECTED
    assert ApprovalTask.objects.get(pk=by_user[second].pk).comment == "Margin too thin"
    assert Notification.objects.filter(user=rep, title__contains="rejected").exists()


def test_steps_run_in_order_and_skip_when_their_conditions_fail(
    make_process, rep, manager, sales_roles, account
):
    vp = UserFactory(role=sales_roles["vp"], email="vp@example.com", full_name="Vera VP")
    director = UserFactory(email="director@example.com", full_name="Dora Director")
    make_process(
        [
            step(),
            {
                "name": "Banking compliance",
                "approver_kind": "user",
                "approver_user": director.pk,
                "conditions": {"field": "industry", "op": "eq", "value": "Banking"},
            },
            {"name": "VP", "approver_kind": "user", "approver_user": vp.pk},
        ]
    )
    request = approvals.approval_submit(user=rep, record=account)
    approvals.approval_decide(user=manager, task=pending_tasks(request)[0], approve=True)

    request = fresh(request)
    assert request.status == ApprovalStatus.PENDING
    assert request.current_step.name == "VP"
    assert [t.approver for t in pending_tasks(request)] == [vp]
    approvals.approval_decide(user=vp, task=pending_tasks(request)[0], approve=True, comment="Go")
    assert fresh(request).status == ApprovalStatus.APPROVED


def test_only_the_tasks_approver_decides_and_only_once(
    make_process, rep, manager, other_rep, account
):
    make_process([step()])
    request = approvals.approval_submit(user=rep, record=account)
    task = pending_tasks(request)[0]
    with pytest.raises(PermissionDenied):
        approvals.approval_decide(user=other_rep, task=task, approve=True)
    approvals.approval_decide(user=manager, task=task, approve=False, comment="No")
    with pytest.raises(ValidationFailed, match="no longer waiting"):
        approvals.approval_decide(user=manager, task=task, approve=True)


def test_the_submitter_recalls_when_the_process_allows_it(make_process, rep, manager, account):
    make_process([step()])
    request = approvals.approval_submit(user=rep, record=account)
    with pytest.raises(PermissionDenied):
        approvals.approval_recall(user=manager, request=request)
    approvals.approval_recall(user=rep, request=request, comment="Wrong figures")
    assert fresh(request).status == ApprovalStatus.RECALLED
    assert not pending_tasks(request)

    make_process([step()], name="No recall", allow_recall=False, position=0)
    ApprovalProcess.objects.exclude(name="No recall").update(is_active=False)
    locked_in = approvals.approval_submit(user=rep, record=account)
    with pytest.raises(ValidationFailed, match="cannot be recalled"):
        approvals.approval_recall(user=rep, request=locked_in)


# --- escalation -----------------------------------------------------------------------------


def later(hours: float) -> datetime.datetime:
    return timezone.now() + datetime.timedelta(hours=hours)


def test_a_timed_out_task_adds_the_approvers_manager_once(
    make_process, rep, manager, sales_roles, account
):
    vp = UserFactory(role=sales_roles["vp"], email="vp@example.com", full_name="Vera VP")
    make_process([step(timeout_hours=4, escalation="approver_manager")])
    request = approvals.approval_submit(user=rep, record=account)

    assert approvals.approval_escalate_due(now=later(3)) == 0
    assert approvals.approval_escalate_due(now=later(5)) == 1
    assert approvals.approval_escalate_due(now=later(6)) == 0

    tasks = pending_tasks(request)
    assert [t.approver for t in tasks] == [manager, vp]
    assert tasks[1].escalated_from == tasks[0]
    assert ApprovalHistory.objects.filter(request=request, action="escalated").count() == 1
    approvals.approval_decide(user=vp, task=tasks[1], approve=True)
    assert fresh(request).status == ApprovalStatus.APPROVED


def test_escalation_can_approve_reject_or_remind(make_process, rep, manager, account, admin_user):
    for action, expected in (
        ("approve", ApprovalStatus.APPROVED),
        ("reject", ApprovalStatus.REJECTED),
        ("none", ApprovalStatus.PENDING),
    ):
        ApprovalProcess.objects.update(is_active=False)
        make_process([step(timeout_hours=1, escalation=action)])
        request = approvals.approval_submit(user=rep, record=account)
        approvals.approval_escalate_due(now=later(2))
        assert fresh(request).status == expected, action
        if expected == ApprovalStatus.PENDING:
            assert Notification.objects.filter(user=manager, title__startswith="Reminder").exists()
            approvals.approval_recall(user=rep, request=request)


def test_the_scheduled_task_runs_the_escalations(make_process, rep, manager, account):
    make_process([step(timeout_hours=1, escalation="approve")])
    request = approvals.approval_submit(user=rep, record=account)
    ApprovalTask.objects.filter(request=request).update(due_at=later(-1))
    assert approval_escalate() == 1
    assert fresh(request).status == ApprovalStatus.APPROVED


# --- the record lock ------------------------------------------------------------------------


def test_a_pending_record_is_locked_in_services_pages_and_api_until_recalled(
    make_process, rep, manager, account
):
    make_process([step()])
    request = approvals.approval_submit(user=rep, record=account)

    with pytest.raises(RecordLocked, match="waiting for approval by Mia Manager"):
        account_update(user=rep, account=account, name="Renamed")

    page = login(rep).post(
        f"/accounts/{account.pk}/edit/",
        {"name": "Renamed", "kind": "company", "version": account.version, "owner": rep.pk},
    )
    assert "recall the request to edit it" in page.content.decode()
    api = login(rep).patch(f"/api/v1/accounts/{account.pk}", {"name": "Renamed"}, content_type=JSON)
    assert api.status_code == 409
    assert "recall the request to edit it" in api.json()["detail"]

    approvals.approval_recall(user=rep, request=request)
    account.refresh_from_db()
    assert account_update(user=rep, account=account, name="Renamed").name == "Renamed"


def test_a_process_without_lock_leaves_the_record_editable(make_process, rep, manager, account):
    make_process([step()], lock_record=False)
    approvals.approval_submit(user=rep, record=account)
    assert account_update(user=rep, account=account, name="Still editable").name == "Still editable"


# --- timeline, pages and API ----------------------------------------------------------------


def test_the_history_shows_on_the_records_timeline(make_process, rep, manager, account):
    make_process([step()])
    request = approvals.approval_submit(user=rep, record=account, comment="Please")
    approvals.approval_decide(
        user=manager, task=pending_tasks(request)[0], approve=False, comment="Too risky"
    )
    page = timeline_page(user=rep, record=account)
    kinds = [entry.kind for entry in page.entries if entry.source == "approvals"]
    assert kinds == ["approval_result", "approval_decision", "approval_submitted"]
    assert any("Too risky" in entry.summary for entry in page.entries)


def test_the_record_card_submits_and_the_approver_decides_with_htmx(
    make_process, rep, manager, account
):
    make_process([step()])
    detail = login(rep).get(f"/accounts/{account.pk}/")
    assert "Submit for approval" in detail.content.decode()

    htmx = {"HX-Request": "true"}
    submitted = login(rep).post(
        f"/approvals/records/{ACCOUNT}/{account.pk}/submit/", {"comment": "Please"}, headers=htmx
    )
    assert submitted.status_code == 200
    assert "Pending" in submitted.content.decode()
    task = ApprovalTask.objects.get(approver=manager)

    assert "Approve" in login(manager).get(f"/accounts/{account.pk}/").content.decode()
    decided = login(manager).post(
        f"/approvals/tasks/{task.pk}/decide/",
        {"decision": "approve", "comment": "OK"},
        headers=htmx,
    )
    assert decided.status_code == 200
    assert "Approved" in decided.content.decode()
    assert (
        login(rep).post(f"/approvals/tasks/{task.pk}/decide/", {"decision": "approve"}).status_code
        == 404
    )


def test_my_approvals_lists_filters_sorts_and_exports_in_few_queries(
    make_process, rep, other_rep, manager, account
):
    make_process([step(timeout_hours=2)])
    records = [account] + [account_create(user=other_rep, name=f"Other {i}") for i in range(4)]
    for record in records:
        owner = rep if record == account else other_rep
        approvals.approval_submit(user=owner, record=record)
    client = login(manager)
    client.get("/approvals/")
    with assert_max_queries(12):
        page = client.get("/approvals/?sort=due")
    assert page.status_code == 200
    assert page.content.decode().count("/approvals/requests/") == 5
    assert client.get("/approvals/?overdue=maybe").status_code == 422
    csv_body = client.get("/approvals/export.csv").getvalue().decode()
    assert csv_body.count("\n") == 6
    assert "Other 1" not in login(rep).get("/approvals/").content.decode()


def test_processes_are_built_in_the_admin_pages(admin_user, sales_roles):
    client = login(admin_user)
    assert client.get("/approvals/processes/new/").status_code == 200
    bad = client.post(
        f"/approvals/processes/new/?object_type={ACCOUNT}",
        {
            "name": "Big accounts",
            "step_count": "1",
            "step-0-name": "Legal",
            "step-0-approver_kind": "role",
        },
    )
    assert bad.status_code == 422
    assert (
        "this step&#x27;s approvers need it" in bad.content.decode()
        or "approvers need it" in bad.content.decode()
    )
    saved = client.post(
        f"/approvals/processes/new/?object_type={ACCOUNT}",
        {
            "name": "Big accounts",
            "is_active": "on",
            "lock_record": "on",
            "entry-0-field": "industry",
            "entry-0-op": "eq",
            "entry-0-value": "Banking",
            "step_count": "1",
            "step-0-name": "Legal",
            "step-0-approver_kind": "role",
            "step-0-approver_role": str(sales_roles["vp"].pk),
            "step-0-decision_mode": "first",
            "step-0-escalation": "none",
        },
    )
    assert saved.status_code == 302
    process = ApprovalProcess.objects.get(name="Big accounts")
    assert process.entry_conditions == {"field": "industry", "op": "eq", "value": "Banking"}
    assert process.steps.get().approver_role == sales_roles["vp"]
    assert client.get(f"/approvals/processes/{process.pk}/").status_code == 200
    assert "Big accounts" in client.get("/approvals/processes/").content.decode()


def test_the_api_submits_decides_recalls_and_refuses_bad_input(
    make_process, admin_user, rep, manager, account
):
    admin = login(admin_user)
    bad = admin.post(
        "/api/v1/approvals/processes",
        {"name": "X", "object_type": ACCOUNT, "steps": [{"name": "U", "approver_kind": "user"}]},
        content_type=JSON,
    )
    assert bad.status_code == 422
    assert "steps[0].approver_user" in bad.json()["errors"]
    created = admin.post(
        "/api/v1/approvals/processes",
        {"name": "API process", "object_type": ACCOUNT, "steps": [step()]},
        content_type=JSON,
    )
    assert created.status_code == 201, created.content
    process_id = created.json()["id"]
    assert login(rep).get("/api/v1/approvals/processes").status_code == 403

    submitted = login(rep).post(
        "/api/v1/approvals/requests",
        {"object_type": ACCOUNT, "object_id": account.pk, "process": process_id},
        content_type=JSON,
    )
    assert submitted.status_code == 201, submitted.content
    request_id = submitted.json()["id"]
    again = login(rep).post(
        "/api/v1/approvals/requests",
        {"object_type": ACCOUNT, "object_id": account.pk},
        content_type=JSON,
    )
    assert again.status_code == 422
    tasks = login(manager).get("/api/v1/approvals/tasks?status=pending").json()["items"]
    assert [t["request"] for t in tasks] == [request_id]
    assert (
        login(rep)
        .post(
            f"/api/v1/approvals/tasks/{tasks[0]['id']}/decide", {"approve": True}, content_type=JSON
        )
        .status_code
        == 404
    )
    decided = login(manager).post(
        f"/api/v1/approvals/tasks/{tasks[0]['id']}/decide",
        {"approve": False, "comment": "Not now"},
        content_type=JSON,
    )
    assert decided.json()["status"] == "rejected"
    listed = login(rep).get(
        f"/api/v1/approvals/requests?object_type={ACCOUNT}&object_id={account.pk}"
    )
    assert [r["status"] for r in listed.json()] == ["rejected"]

    second = (
        login(rep)
        .post(
            "/api/v1/approvals/requests",
            {"object_type": ACCOUNT, "object_id": account.pk},
            content_type=JSON,
        )
        .json()
    )
    recalled = login(rep).post(
        f"/api/v1/approvals/requests/{second['id']}/recall", {}, content_type=JSON
    )
    assert recalled.json()["status"] == "recalled"


def test_visibility_matrix_for_configuration_and_decisions(
    make_process, admin_user, rep, manager, other_rep, account
):
    process = make_process([step()], name="Matrix process")
    request = approvals.approval_submit(user=rep, record=account)
    task = pending_tasks(request)[0]
    config = [
        Endpoint("process list", "/approvals/processes/", "list"),
        Endpoint("process page", f"/approvals/processes/{process.pk}/", "detail"),
        Endpoint("API processes", "/api/v1/approvals/processes", "detail"),
        Endpoint("API process", f"/api/v1/approvals/processes/{process.pk}", "detail"),
    ]
    check_visibility_matrix(config[1:], marker="Matrix process", allowed=admin_user, denied=rep)
    assert login(rep).get(config[0].url).status_code == 403
    requests = [
        Endpoint("request page", f"/approvals/requests/{request.pk}/", "detail"),
        Endpoint("API request", f"/api/v1/approvals/requests/{request.pk}", "detail"),
        Endpoint("inbox", "/approvals/", "list"),
    ]
    check_visibility_matrix(requests, marker="Acme Corp", allowed=manager, denied=other_rep)
    for outsider in (rep, other_rep, admin_user):
        refused = login(outsider).post(
            f"/api/v1/approvals/tasks/{task.pk}/decide", {"approve": True}, content_type=JSON
        )
        assert refused.status_code == 404
    assert fresh(request).status == ApprovalStatus.PENDING


# --- quotes on the engine -------------------------------------------------------------------


def test_the_start_approval_step_validates_its_process(make_process):
    from patron.automation.approval_steps import validate_start_approval

    process = make_process([step()], name="Accounts")
    assert validate_start_approval({"process": "Accounts"}, ACCOUNT) == {}
    assert "process" in validate_start_approval({"process": "Accounts"}, "pipeline.opportunity")
    assert "process" in validate_start_approval({"process": "missing"}, ACCOUNT)
    assert validate_start_approval({"process": str(process.pk)}, ACCOUNT) == {}


def test_the_start_approval_step_submits_for_the_owner_once(
    make_process, admin_user, rep, manager, account
):
    from patron.automation.approval_steps import execute_start_approval
    from patron.automation.registry import StepContext, StepError

    make_process([step()], name="From workflows")
    context = StepContext(
        step_id="s1",
        step_type="start_approval",
        config={"process": "From workflows"},
        object_type=ACCOUNT,
        record=account,
        actor=admin_user,
    )
    result = execute_start_approval(context)
    request = approvals.pending_request_for(account)
    assert request is not None
    assert result.output["request_id"] == request.pk
    assert request.submitted_by == rep
    assert [t.approver for t in pending_tasks(request)] == [manager]
    with pytest.raises(StepError, match="already waiting"):
        execute_start_approval(context)


def test_quote_discount_approval_runs_on_the_engine_end_to_end(rep, manager, quote_setup):
    from patron.orders import quote_services as qs
    from patron.orders.choices import QuoteStatus

    quote = quote_setup
    qs.quote_line_add(
        user=rep,
        quote=quote,
        description="Seats",
        quantity="10",
        unit_price="100",
        discount_percent="35",
    )
    quote = type(quote).objects.get(pk=quote.pk)
    pending = qs.quote_submit_for_approval(user=rep, quote=quote)
    assert pending.status == QuoteStatus.PENDING_APPROVAL
    request = approvals.pending_request_for(pending)
    assert request is not None
    assert request.process.name == "Quote discount"
    assert Decimal(request.process.entry_conditions["value"]) == Decimal("20")
    assert qs.quote_approvers(pending) == [manager]

    with pytest.raises(RecordLocked):
        records.record_update(pending, changes={"name": "Sneaky"}, actor=rep)

    approved = qs.quote_approve(user=manager, quote=pending, note="Fine")
    assert approved.status == QuoteStatus.APPROVED
    assert approved.approver == manager
    assert fresh(request).status == ApprovalStatus.APPROVED
    assert ApprovalHistory.objects.filter(request=request, action="approved").exists()


def test_recalling_a_quotes_request_puts_the_quote_back_to_draft(rep, manager, quote_setup):
    from patron.orders import quote_services as qs
    from patron.orders.choices import QuoteStatus

    quote = quote_setup
    qs.quote_line_add(
        user=rep,
        quote=quote,
        description="Seats",
        quantity="1",
        unit_price="100",
        discount_percent="50",
    )
    pending = qs.quote_submit_for_approval(user=rep, quote=type(quote).objects.get(pk=quote.pk))
    request = approvals.pending_request_for(pending)
    assert request is not None
    approvals.approval_recall(user=rep, request=request)
    assert type(quote).objects.get(pk=quote.pk).status == QuoteStatus.DRAFT


@pytest.fixture
def quote_setup(rep, sales_roles):
    from conftest import ALL_ACTIONS
    from patron.core.choices import OrgWideAccess
    from patron.core.testing import grant, set_org_default
    from patron.orders import quote_services as qs
    from patron.orders.models import QuotePolicy
    from patron.pipeline.services import opportunity_create
    from patron.pipeline.tests.conftest import make_pipeline

    for role in sales_roles.values():
        for object_type in ("orders.quote", "pipeline.opportunity", "orders.product"):
            grant(role, object_type, *ALL_ACTIONS)
    set_org_default("orders.quote", OrgWideAccess.PRIVATE)
    set_org_default("pipeline.opportunity", OrgWideAccess.PRIVATE)
    make_pipeline()
    QuotePolicy.objects.update_or_create(
        pk=1, defaults={"approval_discount_percent": Decimal("20")}
    )
    account = account_create(user=rep, name="Quote Co")
    deal = opportunity_create(
        user=rep,
        name="Seats",
        account=account,
        amount=Decimal("1000"),
        currency="USD",
        close_date=datetime.date(2026, 12, 31),
    )
    return qs.quote_create_from_opportunity(user=rep, opportunity=deal)


def test_the_quote_discount_process_is_listed_and_editable_before_any_quote_is_submitted(
    admin_user,
):
    client = login(admin_user)
    assert not ApprovalProcess.objects.exists()
    listing = client.get("/approvals/processes/").content.decode()
    process = ApprovalProcess.objects.get(name="Quote discount")
    assert process.object_type == "orders.quote"
    assert f"/approvals/processes/{process.pk}/" in listing
    assert [s.name for s in process.steps.all()] == ["Manager"]
    # Listing again creates nothing more and costs no extra query for the seeding.
    with assert_max_queries(8):
        client.get("/approvals/processes/")
    assert ApprovalProcess.objects.count() == 1
    assert [row["name"] for row in client.get("/api/v1/approvals/processes").json()] == [
        "Quote discount"
    ]
    editor = client.get(f"/approvals/processes/{process.pk}/")
    assert editor.status_code == 200
    assert 'value="Manager"' in editor.content.decode()


def _step_post(index: int, name: str, kind: str = "manager", **extra: str) -> dict[str, str]:
    return {
        f"step-{index}-name": name,
        f"step-{index}-approver_kind": kind,
        f"step-{index}-decision_mode": "first",
        f"step-{index}-escalation": "none",
        **{f"step-{index}-{key}": value for key, value in extra.items()},
    }


def test_the_process_editor_adds_removes_and_reorders_any_number_of_steps(admin_user, sales_roles):
    client = login(admin_user)
    url = f"/approvals/processes/new/?object_type={ACCOUNT}"
    first = client.get(url).content.decode()
    assert 'id="step-0-name"' in first
    assert 'id="step-1-name"' not in first
    base = {"name": "Three levels", "is_active": "on"}
    vp = str(sales_roles["vp"].pk)
    # "Add a step" twice: three blocks, what was typed kept, nothing saved.
    posted = {**base, "step_count": "1", **_step_post(0, "Manager"), "action": "add"}
    added = client.post(url, posted, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="step-1-name"' in added
    assert 'value="Manager"' in added
    posted = {
        **base,
        "step_count": "3",
        **_step_post(0, "Manager"),
        **_step_post(1, "Director", "role", approver_role=vp),
        **_step_post(2, "Finance", "role", approver_role=vp),
        "action": "up:2",
    }
    moved = client.post(url, posted).content.decode()
    assert moved.index('value="Finance"') < moved.index('value="Director"')
    assert not ApprovalProcess.objects.filter(name="Three levels").exists()
    posted["action"] = "remove:0"
    removed = client.post(url, posted).content.decode()
    assert 'value="Manager"' not in removed
    assert 'id="step-2-name"' not in removed
    # Saved in the order shown.
    posted.pop("action")
    assert client.post(url, posted).status_code == 302
    process = ApprovalProcess.objects.get(name="Three levels")
    assert [s.name for s in process.steps.order_by("position")] == [
        "Manager",
        "Director",
        "Finance",
    ]
    # Editing: move Finance first and remove the manager step; the saved steps follow.
    edit = f"/approvals/processes/{process.pk}/"
    ids = [s.pk for s in process.steps.order_by("position")]
    rows = {
        **base,
        "step_count": "3",
        **_step_post(0, "Finance", "role", approver_role=vp, id=str(ids[2])),
        **_step_post(1, "Manager", id=str(ids[0])),
        **_step_post(2, "Director", "role", approver_role=vp, id=str(ids[1])),
        "action": "remove:1",
    }
    shown = client.post(edit, rows).content.decode()
    assert 'value="Manager"' not in shown
    rows = {
        **base,
        "step_count": "2",
        **_step_post(0, "Finance", "role", approver_role=vp, id=str(ids[2])),
        **_step_post(1, "Director", "role", approver_role=vp, id=str(ids[1])),
    }
    assert client.post(edit, rows).status_code == 302
    assert [s.name for s in process.steps.order_by("position")] == ["Finance", "Director"]
