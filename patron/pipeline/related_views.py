"""The cards on an opportunity's page for its contacts and roles, competitors, and team
and revenue splits, and the plain POST forms behind them.

A form that saves redirects back to the opportunity's card; one that does not is shown again
on its own page with the errors and what was typed (422), so nothing entered is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.views.decorators.http import require_POST

from patron.contacts.forms import RecordIdChoiceField
from patron.contacts.models import Competitor, Contact
from patron.core.choices import Action
from patron.core.exceptions import ValidationFailed
from patron.core.record_pages import DetailPanel, record_detail_url, register_detail_panel
from patron.core.views import handles_domain_errors
from patron.core.visibility import access_answers
from patron.pipeline import related_selectors as selectors
from patron.pipeline import related_services as services
from patron.pipeline.choices import (
    OpportunityContactRoleKind,
    OpportunityTeamRole,
    SplitType,
    TeamAccess,
)
from patron.pipeline.models import Opportunity
from patron.pipeline.selectors import opportunity_get
from patron.users.models import User

# The add forms offer this many records by name; the pickers search beyond them.
CHOICE_LIMIT = 200
OPPORTUNITY = "pipeline.opportunity"
ANCHORS = {"contacts": "opp-contacts-title", "competitors": "opp-competitors-title"}
TEAM_ANCHOR = "opp-team-title"


# --- forms ------------------------------------------------------------------------------------


class ServiceErrorsForm(forms.Form):
    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        for key, found in errors.items():
            target = key if key in self.fields else None
            for message in found:
                self.add_error(target, message)


class ContactRoleForm(ServiceErrorsForm):
    role = forms.ChoiceField(choices=OpportunityContactRoleKind.choices, label="Role")
    is_primary = forms.BooleanField(required=False, label="Primary contact")


class ContactRoleAddForm(ContactRoleForm):
    field_order = ["contact", "role", "is_primary"]

    def __init__(self, *args: Any, choices: list[tuple[Any, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["contact"] = RecordIdChoiceField(
            object_type=Contact.object_type(),
            choices=[("", "Choose a contact"), *choices],
            label="Contact",
        )
        self.order_fields(self.field_order)


class CompetitorNotesForm(ServiceErrorsForm):
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class CompetitorAddForm(CompetitorNotesForm):
    field_order = ["competitor", "notes"]

    def __init__(self, *args: Any, choices: list[tuple[Any, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["competitor"] = RecordIdChoiceField(
            object_type=Competitor.object_type(),
            choices=[("", "Choose a competitor"), *choices],
            label="Competitor",
        )
        self.order_fields(self.field_order)


class TeamMemberForm(ServiceErrorsForm):
    role = forms.ChoiceField(choices=OpportunityTeamRole.choices, label="Role")
    access = forms.ChoiceField(
        choices=TeamAccess.choices,
        label="Access",
        help_text="Read: sees the opportunity. Read and edit: also changes it.",
    )


class TeamMemberAddForm(TeamMemberForm):
    field_order = ["user", "role", "access"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"] = forms.ModelChoiceField(
            queryset=User.objects.filter(is_active=True).order_by("full_name", "email"),
            label="User",
            empty_label="Choose a user",
        )
        self.order_fields(self.field_order)


class SplitForm(ServiceErrorsForm):
    """One percentage per person who may hold a share (the owner and the team)."""

    def __init__(self, *args: Any, people: list[User], current: dict[int, Decimal], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.people = people
        for person in people:
            self.fields[f"share_{person.pk}"] = forms.DecimalField(
                label=f"{person} (%)",
                required=False,
                min_value=Decimal("0"),
                max_value=Decimal("100"),
                decimal_places=2,
                initial=current.get(person.pk),
            )

    def shares(self) -> list[tuple[User, Decimal]]:
        """The people given a share; an empty or zero field gives none."""
        chosen = []
        for person in self.people:
            value = self.cleaned_data.get(f"share_{person.pk}")
            if value:
                chosen.append((person, value))
        return chosen


# --- the cards --------------------------------------------------------------------------------


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _may_edit(user: User, record: Opportunity) -> bool:
    return access_answers(user, record, (Action.UPDATE,))[Action.UPDATE]


def _contact_choices(user: User, opportunity: Opportunity, taken: set[int]) -> list[Any]:
    """The account's contacts first, then any other contact the user sees, by name."""
    rows = Contact.objects.visible_to(user).exclude(pk__in=taken)
    if opportunity.account_id is not None:
        rows = rows.filter(account_id=opportunity.account_id)
    ordered = rows.only("id", "first_name", "last_name").order_by("last_name", "first_name", "id")
    return [(contact.pk, str(contact)) for contact in ordered[:CHOICE_LIMIT]]


def _competitor_choices(user: User, taken: set[int]) -> list[Any]:
    rows = Competitor.objects.visible_to(user).exclude(pk__in=taken).only("id", "name")
    return [(row.pk, row.name) for row in rows.order_by("name", "id")[:CHOICE_LIMIT]]


def _contacts_card(request: HttpRequest, record: Any) -> dict[str, Any] | None:
    if not isinstance(record, Opportunity):
        return None
    user = _user(request)
    links = selectors.opportunity_contact_list(user=user, opportunity=record)
    may_edit = _may_edit(user, record)
    context: dict[str, Any] = {"links": links, "may_edit": may_edit}
    if may_edit:
        taken = {link.contact_id for link in links}
        context["form"] = ContactRoleAddForm(
            choices=_contact_choices(user, record, taken), auto_id="opp-contact-new-%s"
        )
        context["roles"] = OpportunityContactRoleKind.choices
    return context


def _competitors_card(request: HttpRequest, record: Any) -> dict[str, Any] | None:
    user = _user(request)
    if not isinstance(record, Opportunity):
        return None
    if not user.access_profile().may(Competitor.object_type(), Action.READ):
        return None
    links = selectors.opportunity_competitor_list(user=user, opportunity=record)
    may_edit = _may_edit(user, record)
    context: dict[str, Any] = {"links": links, "may_edit": may_edit}
    if may_edit:
        taken = {link.competitor_id for link in links}
        context["form"] = CompetitorAddForm(
            choices=_competitor_choices(user, taken), auto_id="opp-competitor-new-%s"
        )
    return context


def _split_people(opportunity: Opportunity, members: list[Any]) -> list[User]:
    return [opportunity.owner, *(member.user for member in members)]


def _team_card(request: HttpRequest, record: Any) -> dict[str, Any] | None:
    if not isinstance(record, Opportunity):
        return None
    user = _user(request)
    members = selectors.opportunity_team_list(opportunity=record)
    splits = selectors.opportunity_split_list(opportunity=record)
    may_edit = _may_edit(user, record)
    split_groups: list[dict[str, Any]] = [
        {
            "type": value,
            "label": label,
            "rows": [split for split in splits if split.split_type == value],
        }
        for value, label in SplitType.choices
    ]
    context: dict[str, Any] = {
        "members": members,
        "split_groups": split_groups,
        "may_edit": may_edit,
    }
    if may_edit:
        context["form"] = TeamMemberAddForm(auto_id="opp-team-new-%s")
        context["roles"] = OpportunityTeamRole.choices
        context["accesses"] = TeamAccess.choices
        people = _split_people(record, members)
        for group in split_groups:
            current = {split.user_id: split.percent for split in group["rows"]}
            group["form"] = SplitForm(
                people=people, current=current, auto_id=f"opp-split-{group['type']}-%s"
            )
    return context


# --- the forms behind the cards ---------------------------------------------------------------


def _back(opportunity: Opportunity, anchor: str) -> HttpResponse:
    url = record_detail_url(OPPORTUNITY, opportunity.pk) or "/"
    return redirect(f"{url}#{anchor}")


def _again(
    request: HttpRequest,
    opportunity: Opportunity,
    form: forms.Form,
    *,
    title: str,
    submit: str,
    action: str,
) -> HttpResponse:
    """The form once more, with its errors and what was typed (nothing was saved)."""
    context = {
        "record": opportunity,
        "record_url": record_detail_url(OPPORTUNITY, opportunity.pk),
        "form": form,
        "title": title,
        "submit": submit,
        "action": action,
    }
    return render(request, "pipeline/partials/opp_form_page.html", context, status=422)


def _save(
    request: HttpRequest,
    opportunity: Opportunity,
    form: ServiceErrorsForm,
    save: Callable[[], str],
    *,
    title: str,
    submit: str,
    anchor: str,
) -> HttpResponse:
    if form.is_valid():
        try:
            done = save()
        except ValidationFailed as error:
            form.add_service_errors(error.errors or {"__all__": [error.detail]})
        else:
            messages.success(request, done)
            return _back(opportunity, anchor)
    return _again(request, opportunity, form, title=title, submit=submit, action=request.path)


def _editable(request: HttpRequest, pk: int) -> Opportunity:
    return opportunity_get(user=_user(request), pk=pk, action=Action.UPDATE)


def _contact_add(request: HttpRequest, pk: int) -> HttpResponse:
    user, opportunity = _user(request), _editable(request, pk)
    choices = _contact_choices(user, opportunity, set())
    form = ContactRoleAddForm(request.POST, choices=choices, auto_id="opp-contact-new-%s")

    def save() -> str:
        link = services.opportunity_contact_add(
            user=user,
            opportunity=opportunity,
            contact_id=form.cleaned_data["contact"],
            role=form.cleaned_data["role"],
            is_primary=form.cleaned_data["is_primary"],
        )
        return f"{link.contact} is now on the opportunity as {link.get_role_display()}."

    return _save(
        request,
        opportunity,
        form,
        save,
        title=f"Add a contact to {opportunity}",
        submit="Add contact",
        anchor=ANCHORS["contacts"],
    )


def _contact_update(request: HttpRequest, pk: int, link_pk: int) -> HttpResponse:
    user, opportunity = _user(request), _editable(request, pk)
    link = selectors.opportunity_contact_get(opportunity=opportunity, pk=link_pk)
    form = ContactRoleForm(request.POST, auto_id=f"opp-contact-{link.pk}-%s")

    def save() -> str:
        services.opportunity_contact_update(
            user=user,
            contact_role=link,
            role=form.cleaned_data["role"],
            is_primary=form.cleaned_data["is_primary"],
        )
        return f"Saved {link.contact}'s role."

    return _save(
        request,
        opportunity,
        form,
        save,
        title=f"Change {link.contact}'s role on {opportunity}",
        submit="Save",
        anchor=ANCHORS["contacts"],
    )


def _contact_remove(request: HttpRequest, pk: int, link_pk: int) -> HttpResponse:
    user, opportunity = _user(request), _editable(request, pk)
    link = selectors.opportunity_contact_get(opportunity=opportunity, pk=link_pk)
    services.opportunity_contact_remove(user=user, contact_role=link)
    messages.success(request, f"{link.contact} is no longer on the opportunity.")
    return _back(opportunity, ANCHORS["contacts"])


def _competitor_add(request: HttpRequest, pk: int) -> HttpResponse:
    user, opportunity = _user(request), _editable(request, pk)
    choices = _competitor_choices(user, set())
    form = CompetitorAddForm(request.POST, choices=choices, auto_id="opp-competitor-new-%s")

    def save() -> str:
        link = services.opportunity_competitor_add(
            user=user,
            opportunity=opportunity,
            competitor_id=form.cleaned_data["competitor"],
            notes=form.cleaned_data["notes"],
        )
        return f"{link.competitor} is now listed as competing for this deal."

    return _save(
        request,
        opportunity,
        form,
        save,
        title=f"Add a competitor to {opportunity}",
        submit="Add competitor",
        anchor=ANCHORS["competitors"],
    )


def _competitor_update(request: HttpRequest, pk: int, link_pk: int) -> HttpResponse:
    user, opportunity = _user(request), _editable(request, pk)
    link = selectors.opportunity_competitor_get(opportunity=opportunity, pk=link_pk)
    form = CompetitorNotesForm(request.POST, auto_id=f"opp-competitor-{link.pk}-%s")

    def save() -> str:
        services.opportunity_competitor_update(
            user=user, link=link, notes=form.cleaned_data["notes"]
        )
        return f"Saved the notes on {link.competitor}."

    return _save(
        request,
        opportunity,
        form,
        save,
        title=f"Notes on {link.competitor} for {opportunity}",
        submit="Save",
        anchor=ANCHORS["competitors"],
    )


def _competitor_remove(request: HttpRequest, pk: int, link_pk: int) -> HttpResponse:
    user, opportunity = _user(request), _editable(request, pk)
    link = selectors.opportunity_competitor_get(opportunity=opportunity, pk=link_pk)
    services.opportunity_competitor_remove(user=user, link=link)
    messages.success(request, f"{link.competitor} is no longer listed on this opportunity.")
    return _back(opportunity, ANCHORS["competitors"])


def _team_add(request: HttpRequest, pk: int) -> HttpResponse:
    user, opportunity = _user(request), _editable(request, pk)
    form = TeamMemberAddForm(request.POST, auto_id="opp-team-new-%s")

    def save() -> str:
        member = services.opportunity_team_add(
            user=user,
            opportunity=opportunity,
            member_user=form.cleaned_data["user"],
            role=form.cleaned_data["role"],
            access=form.cleaned_data["access"],
        )
        return f"{member.user} is now on the team as {member.get_role_display()}."

    return _save(
        request,
        opportunity,
        form,
        save,
        title=f"Add a team member to {opportunity}",
        submit="Add to team",
        anchor=TEAM_ANCHOR,
    )


def _team_update(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    user, opportunity = _user(request), _editable(request, pk)
    member = selectors.opportunity_team_member_get(opportunity=opportunity, pk=member_pk)
    form = TeamMemberForm(request.POST, auto_id=f"opp-team-{member.pk}-%s")

    def save() -> str:
        services.opportunity_team_update(
            user=user,
            member=member,
            role=form.cleaned_data["role"],
            access=form.cleaned_data["access"],
        )
        return f"Saved {member.user}'s role and access."

    return _save(
        request,
        opportunity,
        form,
        save,
        title=f"Change {member.user}'s place on the team of {opportunity}",
        submit="Save",
        anchor=TEAM_ANCHOR,
    )


def _team_remove(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    user, opportunity = _user(request), _editable(request, pk)
    member = selectors.opportunity_team_member_get(opportunity=opportunity, pk=member_pk)
    try:
        services.opportunity_team_remove(user=user, member=member)
    except ValidationFailed as error:
        found = [m for messages_ in error.errors.values() for m in messages_]
        messages.error(request, f"{error.detail} {' '.join(found)}")
    else:
        messages.success(request, f"{member.user} is no longer on the team.")
    return _back(opportunity, TEAM_ANCHOR)


def _splits_replace(request: HttpRequest, pk: int, split_type: str) -> HttpResponse:
    if split_type not in SplitType.values:
        raise Http404("Unknown split type.")
    user, opportunity = _user(request), _editable(request, pk)
    people = _split_people(opportunity, selectors.opportunity_team_list(opportunity=opportunity))
    form = SplitForm(request.POST, people=people, current={}, auto_id=f"opp-split-{split_type}-%s")
    label = SplitType(split_type).label

    def save() -> str:
        services.opportunity_splits_replace(
            user=user, opportunity=opportunity, split_type=split_type, shares=form.shares()
        )
        return f"Saved the {label.lower()} split."

    return _save(
        request,
        opportunity,
        form,
        save,
        title=f"{label} split of {opportunity}",
        submit=f"Save {label.lower()} split",
        anchor=TEAM_ANCHOR,
    )


def _post_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    return login_required(require_POST(handles_domain_errors(view)))


opportunity_contact_add = _post_view(_contact_add)
opportunity_contact_update = _post_view(_contact_update)
opportunity_contact_remove = _post_view(_contact_remove)
opportunity_competitor_add = _post_view(_competitor_add)
opportunity_competitor_update = _post_view(_competitor_update)
opportunity_competitor_remove = _post_view(_competitor_remove)
opportunity_team_add = _post_view(_team_add)
opportunity_team_update = _post_view(_team_update)
opportunity_team_remove = _post_view(_team_remove)
opportunity_splits_replace = _post_view(_splits_replace)


_ROUTES: tuple[tuple[str, Callable[..., HttpResponse], str], ...] = (
    ("contacts/add/", opportunity_contact_add, "contact_add"),
    ("contacts/<int:link_pk>/edit/", opportunity_contact_update, "contact_update"),
    ("contacts/<int:link_pk>/remove/", opportunity_contact_remove, "contact_remove"),
    ("competitors/add/", opportunity_competitor_add, "competitor_add"),
    ("competitors/<int:link_pk>/edit/", opportunity_competitor_update, "competitor_update"),
    ("competitors/<int:link_pk>/remove/", opportunity_competitor_remove, "competitor_remove"),
    ("team/add/", opportunity_team_add, "team_add"),
    ("team/<int:member_pk>/edit/", opportunity_team_update, "team_update"),
    ("team/<int:member_pk>/remove/", opportunity_team_remove, "team_remove"),
    ("splits/<str:split_type>/", opportunity_splits_replace, "splits_replace"),
)
# Included by pipeline/urls.py (namespace "pipeline"): pipeline:opportunity_contact_add...
urlpatterns: list[URLPattern] = [
    path(f"opportunities/<int:pk>/{route}", view, name=f"opportunity_{name}")
    for route, view, name in _ROUTES
]


def register_related_panels() -> None:
    """The three cards on opportunity pages (from AppConfig.ready)."""
    for key, template, context, order in (
        ("contacts", "opp_contacts.html", _contacts_card, 20),
        ("competitors", "opp_competitors.html", _competitors_card, 30),
        ("team", "opp_team.html", _team_card, 40),
    ):
        register_detail_panel(
            DetailPanel(
                key=f"pipeline.opportunity_{key}",
                template=f"pipeline/partials/{template}",
                context=context,
                object_types=frozenset({OPPORTUNITY}),
                order=order,
            )
        )
