"""Account structure pages and forms: the account team, contacts' relations, the org chart.

Team forms are POSTs from the account page that call one service and return to it with the
outcome (or the error naming the field) as a message; relations have a form page of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from patron.contacts import selectors, services
from patron.contacts.forms import PICKER_LIMIT, RelationForm
from patron.contacts.models import Account, AccountContactRelation, Contact
from patron.core.choices import Action
from patron.core.exceptions import ValidationFailed
from patron.core.forms import add_service_errors
from patron.core.views import handles_domain_errors
from patron.users.models import User


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _post_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    return login_required(require_POST(handles_domain_errors(view)))


def _back_to_account(pk: int, anchor: str) -> HttpResponse:
    return redirect(f"/accounts/{pk}/#{anchor}")


def _report(request: HttpRequest, error: ValidationFailed) -> None:
    details = "; ".join(
        f"{field.replace('_', ' ')}: {' '.join(msgs)}" for field, msgs in error.errors.items()
    )
    messages.error(request, details or error.detail)


def _team_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    account = selectors.account_get(user=user, pk=pk)
    raw_user = request.POST.get("user", "")
    member_user = (
        User.objects.filter(pk=int(raw_user), is_active=True).first()
        if raw_user.isdigit()
        else None
    )
    try:
        member = services.account_team_add(
            user=user,
            account=account,
            member_user=member_user,
            team_role=request.POST.get("team_role", ""),
            access=request.POST.get("access", ""),
        )
    except ValidationFailed as error:
        _report(request, error)
    else:
        messages.success(request, f"{member.user} joined the account team.")
    return _back_to_account(pk, "team-title")


def _team_update(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    user = _user(request)
    account = selectors.account_get(user=user, pk=pk)
    member = selectors.account_team_member_get(account=account, pk=member_pk)
    try:
        services.account_team_update(
            user=user,
            member=member,
            team_role=request.POST.get("team_role") or None,
            access=request.POST.get("access") or None,
        )
    except ValidationFailed as error:
        _report(request, error)
    else:
        messages.success(request, f"{member.user}'s place on the account team was changed.")
    return _back_to_account(pk, "team-title")


def _team_remove(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    user = _user(request)
    account = selectors.account_get(user=user, pk=pk)
    member = selectors.account_team_member_get(account=account, pk=member_pk)
    services.account_team_remove(user=user, member=member)
    messages.success(request, f"{member.user} left the account team.")
    return _back_to_account(pk, "team-title")


def _colleagues(user: User, account: Account) -> list[Contact]:
    """Contacts related to the account whom a relation may report to."""
    return [r.contact for r in selectors.account_relation_list(user=user, account=account)]


def _relation_form_page(
    request: HttpRequest,
    account: Account,
    relation: AccountContactRelation | None,
) -> HttpResponse:
    user = _user(request)
    contacts = None
    if relation is None:
        contacts = list(
            Contact.objects.visible_to(user)
            .exclude(account_relations__account=account)
            .only("id", "first_name", "last_name")
            .order_by("last_name", "first_name", "id")[:PICKER_LIMIT]
        )
    colleagues = [
        c for c in _colleagues(user, account) if relation is None or c != relation.contact
    ]
    initial: dict[str, object] = {}
    if relation is not None:
        initial = {
            "roles": relation.roles,
            "responsibilities": relation.responsibilities,
            "start_date": relation.start_date,
            "end_date": relation.end_date,
            "is_primary": relation.is_primary,
            "reports_to": relation.reports_to_id,
        }
    elif request.GET.get("contact", "").isdigit():
        initial = {"contact": int(request.GET["contact"])}
    form = RelationForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        contacts=contacts,
        colleagues=colleagues,
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                if relation is None:
                    services.relation_add(
                        user=user,
                        account=account,
                        contact_id=form.cleaned_data["contact"],
                        **form.service_fields(),
                    )
                else:
                    services.relation_update(user=user, relation=relation, **form.service_fields())
            except ValidationFailed as error:
                add_service_errors(form, error)
            else:
                messages.success(request, "The contact's relation to the account was saved.")
                return _back_to_account(account.pk, "relations-title")
        status = 422
    context = {"account": account, "relation": relation, "form": form}
    return render(request, "contacts/relation_form.html", context, status=status)


def _relation_add(request: HttpRequest, pk: int) -> HttpResponse:
    account = selectors.account_get(user=_user(request), pk=pk, action=Action.UPDATE)
    return _relation_form_page(request, account, None)


def _relation_edit(request: HttpRequest, pk: int, relation_pk: int) -> HttpResponse:
    account = selectors.account_get(user=_user(request), pk=pk, action=Action.UPDATE)
    relation = selectors.relation_get(account=account, pk=relation_pk)
    return _relation_form_page(request, account, relation)


def _relation_end(request: HttpRequest, pk: int, relation_pk: int) -> HttpResponse:
    user = _user(request)
    account = selectors.account_get(user=user, pk=pk)
    relation = selectors.relation_get(account=account, pk=relation_pk)
    try:
        services.relation_end(user=user, relation=relation)
    except ValidationFailed as error:
        _report(request, error)
    else:
        messages.success(request, f"{relation.contact}'s relation to {account} was ended.")
    return _back_to_account(pk, "relations-title")


def _relation_remove(request: HttpRequest, pk: int, relation_pk: int) -> HttpResponse:
    user = _user(request)
    account = selectors.account_get(user=user, pk=pk)
    relation = selectors.relation_get(account=account, pk=relation_pk)
    services.relation_remove(user=user, relation=relation)
    messages.success(request, f"{relation.contact} is no longer related to {account}.")
    return _back_to_account(pk, "relations-title")


def _org_chart(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    account = selectors.account_get(user=user, pk=pk)
    roots, truncated = selectors.account_org_chart(
        user=user, account=account, today=timezone.localdate()
    )
    context = {"account": account, "roots": roots, "truncated": truncated}
    return render(request, "contacts/account_org_chart.html", context)


def _page_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    return login_required(handles_domain_errors(view))


account_team_add = _post_view(_team_add)
account_team_update = _post_view(_team_update)
account_team_remove = _post_view(_team_remove)
relation_add = _page_view(_relation_add)
relation_edit = _page_view(_relation_edit)
relation_end = _post_view(_relation_end)
relation_remove = _post_view(_relation_remove)
account_org_chart = _page_view(_org_chart)
