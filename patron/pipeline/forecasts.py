"""Forecasts (SPEC 4.2): fiscal periods, per-user figures rolled up by team and by role
hierarchy, managers' adjustments, quotas and the week-over-week comparison.

Fiscal years are named by the calendar year they END in: with a fiscal year starting in
April, April 2026 - March 2027 is FY2027 (a January start makes FY2026 the calendar year
2026). Periods are the org's ``forecast_period``: quarters ("FY2027 Q1") or months
("FY2027 M01 (Apr 2026)").

Figures are in the organisation's currency (``Opportunity.amount_org``) and cover only the
opportunities the viewer may see:

* closed: won with ``closed_on`` in the period;
* commit: open, category commit, closing in the period;
* best case: commit + best case (cumulative, as most CRMs show it);
* pipeline: every open, non-omitted deal closing in the period (includes commit and best case).
"""

from __future__ import annotations

import csv
import datetime
import io
import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Count, DecimalField, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from patron.core.currency import CENT, rate_on
from patron.core.exceptions import PermissionDenied, RecordNotFound, ValidationFailed
from patron.core.org import org_settings
from patron.pipeline.choices import ForecastCategory, ForecastPeriodKind
from patron.pipeline.models import ForecastAdjustment, Opportunity, OpportunitySnapshot, Quota
from patron.users.models import Team, User

ZERO = Decimal("0.00")
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# The forecast figures, in the order pages and the API show them.
FIGURES = ("closed", "commit", "best_case", "pipeline")
FIGURE_LABELS = {
    "closed": "Closed won",
    "commit": "Commit",
    "best_case": "Best case (incl. commit)",
    "pipeline": "Pipeline (all open)",
}
# Closed is what happened; a manager adjusts only the judgement calls.
ADJUSTABLE = ("commit", "best_case", "pipeline")
SNAPSHOT_BATCH = 1000
MAX_QUOTA = Decimal("9999999999999999.99")
_LABEL = re.compile(r"^\s*FY(\d{4})\s+([QM])(\d{1,2})\b", re.IGNORECASE)


# --- fiscal periods ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    kind: str
    fiscal_year: int
    number: int
    start: datetime.date
    end: datetime.date  # inclusive

    @property
    def label(self) -> str:
        if self.kind == ForecastPeriodKind.QUARTER:
            return f"FY{self.fiscal_year} Q{self.number}"
        month = MONTH_NAMES[self.start.month - 1]
        return f"FY{self.fiscal_year} M{self.number:02d} ({month} {self.start.year})"

    @property
    def key(self) -> str:
        """The period as it appears in URLs and the API: its first day."""
        return self.start.isoformat()

    def contains(self, day: datetime.date) -> bool:
        return self.start <= day <= self.end


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def fiscal_year_of(day: datetime.date, *, start_month: int) -> int:
    if start_month == 1 or day.month < start_month:
        return day.year
    return day.year + 1


def fiscal_year_start(fiscal_year: int, *, start_month: int) -> datetime.date:
    return datetime.date(fiscal_year if start_month == 1 else fiscal_year - 1, start_month, 1)


def _settings() -> tuple[int, str]:
    row = org_settings()
    return row.fiscal_year_start_month, row.forecast_period


def fiscal_periods(
    fiscal_year: int, *, start_month: int | None = None, kind: str | None = None
) -> list[Period]:
    """The periods of ``fiscal_year`` in order (the org's settings unless given)."""
    if start_month is None or kind is None:
        org_start, org_kind = _settings()
        start_month = start_month or org_start
        kind = kind or org_kind
    first = fiscal_year_start(fiscal_year, start_month=start_month)
    step = 3 if kind == ForecastPeriodKind.QUARTER else 1
    periods = []
    for number in range(1, 12 // step + 1):
        start = _add_months(first, (number - 1) * step)
        end = _add_months(start, step) - datetime.timedelta(days=1)
        periods.append(Period(kind, fiscal_year, number, start, end))
    return periods


def period_containing(
    day: datetime.date, *, start_month: int | None = None, kind: str | None = None
) -> Period:
    if start_month is None or kind is None:
        org_start, org_kind = _settings()
        start_month = start_month or org_start
        kind = kind or org_kind
    fiscal_year = fiscal_year_of(day, start_month=start_month)
    periods = fiscal_periods(fiscal_year, start_month=start_month, kind=kind)
    return next(period for period in periods if period.contains(day))


def period_parse(text: str, *, field_name: str = "period") -> Period:
    """A period from its label ("FY2027 Q1", "FY2027 M01") or its first day (2026-04-01, in
    the org's period kind); anything else is a field error saying what to send."""
    start_month, org_kind = _settings()
    match = _LABEL.match(text or "")
    if match:
        year, letter, number = int(match[1]), match[2].upper(), int(match[3])
        kind = ForecastPeriodKind.QUARTER if letter == "Q" else ForecastPeriodKind.MONTH
        periods = fiscal_periods(year, start_month=start_month, kind=kind)
        if 1 <= number <= len(periods):
            return periods[number - 1]
    else:
        try:
            day = datetime.date.fromisoformat((text or "").strip())
        except ValueError:
            day = None
        if day is not None:
            period = period_containing(day, start_month=start_month, kind=org_kind)
            if period.start == day:
                return period
            raise ValidationFailed(
                "The date does not start a forecast period.",
                errors={field_name: [f"{day} is inside {period.label}; use {period.start}."]},
            )
    raise ValidationFailed(
        "Unknown period.",
        errors={
            field_name: [
                f"“{text}” is not a period: use a label like FY2027 Q1 or FY2027 M01, or the "
                "period's first day (YYYY-MM-DD)."
            ]
        },
    )


def current_period() -> Period:
    return period_containing(timezone.localdate())


# --- who is in a forecast ---------------------------------------------------------------------


def _role_path(user: User) -> str:
    return user.role.path if user.role else ""


def is_above(manager: User, user: User) -> bool:
    """Whether ``manager``'s role is above ``user``'s in the role hierarchy."""
    manager_path, user_path = _role_path(manager), _role_path(user)
    return bool(manager_path) and user_path.startswith(manager_path) and user_path != manager_path


def may_manage(manager: User, user: User) -> bool:
    """Adjusting a forecast and setting a quota: administrators, or a manager above."""
    return manager.is_admin or is_above(manager, user)


def forecast_users(viewer: User) -> list[User]:
    """The viewer and everyone whose forecast they may see (in roles below; all for admins),
    ordered down the hierarchy."""
    users = User.objects.filter(is_active=True).select_related("role")
    if not viewer.is_admin:
        path = _role_path(viewer)
        if not path:
            return [viewer]
        users = users.filter(Q(pk=viewer.pk) | Q(role__path__startswith=path)).exclude(
            Q(role_id=viewer.role_id) & ~Q(pk=viewer.pk)
        )
    return sorted(users, key=lambda u: (_role_path(u), u.full_name.lower(), u.email))


def team_users(viewer: User, team_id: int) -> tuple[Team, list[User]]:
    """A team's members whose forecast the viewer may see."""
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        raise RecordNotFound(f"There is no team with id {team_id}.")
    allowed = {user.pk for user in forecast_users(viewer)}
    members = team.members.filter(is_active=True).select_related("role")
    ordered = sorted(members, key=lambda u: (u.full_name.lower(), u.email))
    return team, [member for member in ordered if member.pk in allowed]


# --- the forecast -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Adjustment:
    category: str
    computed_amount: Decimal
    amount: Decimal
    note: str
    adjusted_by: str
    created_at: datetime.datetime


@dataclass
class Row:
    user: User
    depth: int = 0
    computed: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(FIGURES, ZERO))
    adjustments: dict[str, Adjustment] = field(default_factory=dict)
    quota: Decimal | None = None
    # Totals of this user plus everyone below (hierarchy scope); equal to own figures otherwise.
    rolled: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(FIGURES, ZERO))
    rolled_quota: Decimal | None = None
    has_reports: bool = False

    @property
    def figures(self) -> dict[str, Decimal]:
        """The figures that count: a manager's adjustment replaces the computed one."""
        return {
            name: (self.adjustments[name].amount if name in self.adjustments else value)
            for name, value in self.computed.items()
        }

    @property
    def attainment(self) -> Decimal | None:
        return _ratio(self.computed["closed"], self.quota)

    @property
    def rolled_attainment(self) -> Decimal | None:
        return _ratio(self.rolled["closed"], self.rolled_quota)


def _ratio(closed: Decimal, quota: Decimal | None) -> Decimal | None:
    if not quota:
        return None
    return (closed * 100 / quota).quantize(Decimal("0.1"))


@dataclass
class Forecast:
    period: Period
    currency: str
    rows: list[Row]
    total: dict[str, Decimal]
    total_quota: Decimal | None

    @property
    def total_attainment(self) -> Decimal | None:
        return _ratio(self.total["closed"], self.total_quota)


def _in_period(period: Period) -> Q:
    return Q(close_date__gte=period.start, close_date__lte=period.end)


def _amount(condition: Q) -> Coalesce:
    return Coalesce(
        Sum("amount_org", filter=condition),
        Value(ZERO),
        output_field=DecimalField(max_digits=18, decimal_places=2),
    )


def _computed(
    viewer: User, period: Period, user_ids: Sequence[int]
) -> dict[int, dict[str, Decimal]]:
    """Every user's figures in one grouped query over the opportunities the viewer sees."""
    open_in_period = Q(is_closed=False) & _in_period(period)
    rows = (
        Opportunity.objects.visible_to(viewer)
        .filter(owner_id__in=user_ids)
        .filter(
            open_in_period | Q(is_won=True, closed_on__gte=period.start, closed_on__lte=period.end)
        )
        .values("owner_id")
        .annotate(
            closed=_amount(Q(is_won=True, closed_on__gte=period.start, closed_on__lte=period.end)),
            commit=_amount(open_in_period & Q(forecast_category=ForecastCategory.COMMIT)),
            best_case=_amount(
                open_in_period
                & Q(forecast_category__in=[ForecastCategory.COMMIT, ForecastCategory.BEST_CASE])
            ),
            pipeline=_amount(open_in_period & ~Q(forecast_category=ForecastCategory.OMITTED)),
        )
        .order_by()
    )
    return {
        row["owner_id"]: {name: Decimal(row[name]).quantize(CENT) for name in FIGURES}
        for row in rows
    }


def _quotas(period: Period, user_ids: Sequence[int]) -> dict[int, Decimal]:
    """Quotas overlapping the period in the org's currency; a quota for a longer period counts
    pro rata by days (a quarterly quota in a monthly forecast)."""
    totals: dict[int, Decimal] = defaultdict(lambda: ZERO)
    rates: dict[str, Decimal | None] = {}
    quotas = Quota.objects.filter(
        user_id__in=user_ids, period_start__lte=period.end, period_end__gte=period.start
    )
    for quota in quotas:
        if quota.currency not in rates:
            rates[quota.currency] = rate_on(quota.currency, quota.period_start)
        rate = rates[quota.currency] or Decimal(1)
        overlap = (min(quota.period_end, period.end) - max(quota.period_start, period.start)).days
        length = (quota.period_end - quota.period_start).days + 1
        share = Decimal(overlap + 1) / Decimal(length)
        totals[quota.user_id] += (quota.amount * rate * share).quantize(CENT)
    return dict(totals)


def _adjustments(period: Period, user_ids: Sequence[int]) -> dict[int, dict[str, Adjustment]]:
    """The latest adjustment per user and category."""
    latest: dict[int, dict[str, Adjustment]] = defaultdict(dict)
    rows = (
        ForecastAdjustment.objects.filter(user_id__in=user_ids, period_start=period.start)
        .select_related("adjusted_by")
        .order_by("-created_at", "-pk")
    )
    for row in rows:
        if row.category not in latest[row.user_id]:
            latest[row.user_id][row.category] = Adjustment(
                category=row.category,
                computed_amount=row.computed_amount,
                amount=row.amount,
                note=row.note,
                adjusted_by=str(row.adjusted_by),
                created_at=row.created_at,
            )
    return dict(latest)


def _sum(figures: Iterable[dict[str, Decimal]]) -> dict[str, Decimal]:
    total = dict.fromkeys(FIGURES, ZERO)
    for item in figures:
        for name in FIGURES:
            total[name] += item[name]
    return total


def _sum_quota(quotas: Iterable[Decimal | None]) -> Decimal | None:
    present = [quota for quota in quotas if quota is not None]
    return sum(present, ZERO) if present else None


def forecast(
    *, viewer: User, period: Period, users: Sequence[User], hierarchy: bool = False
) -> Forecast:
    """Each user's figures, quota and attainment for ``period``; with ``hierarchy`` each row
    also rolls up everyone in roles below that user's role (in ``users``). A fixed number of
    queries, however many users."""
    user_ids = [user.pk for user in users]
    computed = _computed(viewer, period, user_ids)
    quotas = _quotas(period, user_ids)
    adjustments = _adjustments(period, user_ids)
    rows = []
    for user in users:
        row = Row(user=user, quota=quotas.get(user.pk), adjustments=adjustments.get(user.pk, {}))
        row.computed.update(computed.get(user.pk, {}))
        rows.append(row)
    base_depth = min((_depth(row.user) for row in rows), default=0)
    for row in rows:
        below = [other for other in rows if hierarchy and is_above(row.user, other.user)]
        row.depth = _depth(row.user) - base_depth if hierarchy else 0
        row.has_reports = bool(below)
        row.rolled = _sum([row.figures, *(other.figures for other in below)])
        row.rolled_quota = _sum_quota([row.quota, *(other.quota for other in below)])
    return Forecast(
        period=period,
        currency=org_settings().default_currency,
        rows=rows,
        total=_sum(row.figures for row in rows),
        total_quota=_sum_quota(row.quota for row in rows),
    )


def _depth(user: User) -> int:
    return user.role.depth if user.role else 0


def direct_reports(rows: Sequence[Row], focus: User | None) -> list[Row]:
    """The rows one level below ``focus`` (the top rows when None): users whose nearest
    manager among the rows is ``focus``'s role; a role nobody holds is skipped over."""
    held = {_role_path(row.user) for row in rows if row.user.role}

    def manager_path(user: User) -> str | None:
        path = _role_path(user)
        parts = path.split(".")[:-1]
        for size in range(len(parts) - 1, 0, -1):
            prefix = ".".join(parts[:size]) + "."
            if prefix in held:
                return prefix
        return None

    wanted = _role_path(focus) if focus is not None else None
    if focus is not None and not wanted:
        return []
    return [row for row in rows if row.user != focus and manager_path(row.user) == wanted]


# --- adjustments ------------------------------------------------------------------------------


@transaction.atomic
def forecast_adjust(
    *,
    manager: User,
    user: User,
    period_start: datetime.date,
    category: str,
    amount: Decimal | str,
    note: str,
) -> ForecastAdjustment:
    """Record a manager's figure for a subordinate's category; the computed figure is kept
    beside it and the latest adjustment counts."""
    if not may_manage(manager, user):
        raise PermissionDenied(
            f"Only a manager above {user} in the role hierarchy may adjust their forecast."
        )
    errors: dict[str, list[str]] = {}
    if category not in ADJUSTABLE:
        errors["category"] = [f"Choose one of {', '.join(ADJUSTABLE)}; closed is what was won."]
    value = _decimal(amount)
    if value is None or value < 0 or value > MAX_QUOTA:
        errors["amount"] = ["Enter an amount of 0 or more, like 125000 or 125000.50."]
    if not note.strip():
        errors["note"] = ["Say why the figure differs; the note is shown beside it."]
    period = period_parse(period_start.isoformat(), field_name="period_start")
    if errors or value is None:
        raise ValidationFailed("The forecast was not adjusted.", errors=errors)
    computed = _computed(manager, period, [user.pk]).get(user.pk, {}).get(category, ZERO)
    return ForecastAdjustment.objects.create(
        user=user,
        adjusted_by=manager,
        period_start=period.start,
        category=category,
        computed_amount=computed,
        amount=value.quantize(CENT),
        note=note.strip(),
    )


def _decimal(raw: Decimal | str | None) -> Decimal | None:
    if isinstance(raw, Decimal):
        return raw if raw.is_finite() else None
    try:
        value = Decimal(str(raw or "").strip().replace(",", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


# --- quotas -----------------------------------------------------------------------------------


def _quota_errors(amount: Decimal | None, currency: str, period: Period) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if amount is None or amount < 0 or amount > MAX_QUOTA:
        errors["amount"] = ["Enter an amount of 0 or more, like 250000."]
    if not re.fullmatch(r"[A-Za-z]{3}", currency or ""):
        errors["currency"] = ["Use a three-letter currency code, like USD."]
    elif rate_on(currency, period.start) is None:
        errors["currency"] = [
            f"No exchange rate for {currency.upper()} on {period.start}: an administrator adds "
            f"one under Admin > Exchange rates, or use {org_settings().default_currency}."
        ]
    return errors


def quota_set(
    *, actor: User, user: User, period: Period, amount: Decimal | str, currency: str = ""
) -> Quota:
    """Set ``user``'s quota for a fiscal period (replacing one starting the same day)."""
    if not may_manage(actor, user):
        raise PermissionDenied(f"Only an administrator or a manager above {user} sets quotas.")
    value = _decimal(amount)
    currency = (currency or org_settings().default_currency).upper()
    errors = _quota_errors(value, currency, period)
    if errors or value is None:
        raise ValidationFailed("The quota was not saved.", errors=errors)
    quota, _ = Quota.objects.update_or_create(
        user=user,
        period_start=period.start,
        defaults={"period_end": period.end, "amount": value.quantize(CENT), "currency": currency},
    )
    return quota


def quota_clear(*, actor: User, user: User, period: Period) -> None:
    if not may_manage(actor, user):
        raise PermissionDenied(f"Only an administrator or a manager above {user} sets quotas.")
    Quota.objects.filter(user=user, period_start=period.start).delete()


def quotas_for(*, viewer: User, users: Sequence[User], periods: Sequence[Period]) -> list[Quota]:
    """Quotas of ``users`` (whose forecasts the viewer may see) in the periods."""
    if not periods:
        return []
    allowed = {user.pk for user in forecast_users(viewer)}
    return list(
        Quota.objects.filter(
            user_id__in=[user.pk for user in users if user.pk in allowed],
            period_start__gte=periods[0].start,
            period_start__lte=periods[-1].end,
        )
        .select_related("user")
        .order_by("user__email", "period_start")
    )


@dataclass(frozen=True)
class ImportResult:
    saved: int
    errors: list[tuple[int, dict[str, list[str]]]]


QUOTA_COLUMNS = ("email", "period", "amount", "currency")


def _csv_rows(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(lines)
    reader.fieldnames = [name.strip().lower() for name in reader.fieldnames or []]
    for row in reader:
        yield reader.line_num, {key: (value or "").strip() for key, value in row.items() if key}


def quota_import_csv(*, actor: User, lines: Iterable[str]) -> ImportResult:
    """Quotas from CSV lines (columns email, period, amount, currency; currency optional).

    Read as a stream; each valid row is saved on its own (nothing half-written) and each bad
    one is reported with its line number and what to fix.
    """
    iterator = iter(lines)
    header = next(iterator, "")
    columns = {name.strip().lower() for name in next(csv.reader([header]), [])}
    missing = [name for name in QUOTA_COLUMNS[:3] if name not in columns]
    if missing:
        raise ValidationFailed(
            "The CSV has no header row with the quota columns.",
            errors={"file": [f"Add the columns {', '.join(missing)} (and optionally currency)."]},
        )
    users: dict[str, User | None] = {}
    saved, errors = 0, []
    for line, row in _csv_rows(itertools.chain([header], iterator)):
        email = row.get("email", "").lower()
        if email not in users:
            users[email] = User.objects.filter(email__iexact=email).select_related("role").first()
        user = users[email]
        try:
            if user is None:
                raise ValidationFailed(
                    "Unknown user.", errors={"email": [f"No user has the email “{email}”."]}
                )
            period = period_parse(row.get("period", ""))
            with transaction.atomic():
                quota_set(
                    actor=actor,
                    user=user,
                    period=period,
                    amount=row.get("amount", ""),
                    currency=row.get("currency", ""),
                )
        except ValidationFailed as error:
            errors.append((line, error.errors or {"row": [error.detail]}))
        except PermissionDenied as error:
            errors.append((line, {"email": [error.detail]}))
        except IntegrityError:
            errors.append((line, {"row": ["The row could not be saved; try it again."]}))
        else:
            saved += 1
    return ImportResult(saved=saved, errors=errors)


def csv_text_lines(data: bytes | Iterable[bytes]) -> Iterator[str]:
    """Decode uploaded bytes (a BOM from spreadsheet programs is dropped) line by line."""
    chunks = [data] if isinstance(data, bytes) else data
    stream = io.TextIOWrapper(
        io.BufferedReader(_BytesStream(chunks)), encoding="utf-8-sig", newline=""
    )
    try:
        yield from stream
    except UnicodeDecodeError:
        raise ValidationFailed(
            "The file is not UTF-8 text.", errors={"file": ["Save the CSV as UTF-8 and retry."]}
        ) from None


class _BytesStream(io.RawIOBase):
    """Chunks of an upload as a readable stream, so the CSV is never held whole."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


# --- week over week ---------------------------------------------------------------------------


def week_start(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def snapshot_take(*, on: datetime.date | None = None) -> int:
    """Snapshot every open opportunity for the week containing ``on`` (Monday); running it
    again that week adds nothing. Returns the number of opportunities looked at."""
    taken_on = week_start(on or timezone.localdate())
    fields = ("pk", "owner_id", "forecast_category", "amount_org", "close_date")
    opportunities = (
        Opportunity.objects.filter(is_closed=False, owner__isnull=False)
        .values_list(*fields)
        .order_by("pk")
    )
    batch: list[OpportunitySnapshot] = []
    seen = 0
    for pk, owner_id, category, amount, close_date in opportunities.iterator(SNAPSHOT_BATCH):
        seen += 1
        batch.append(
            OpportunitySnapshot(
                opportunity_id=pk,
                taken_on=taken_on,
                owner_id=owner_id,
                forecast_category=category,
                amount_org=amount,
                close_date=close_date,
            )
        )
        if len(batch) == SNAPSHOT_BATCH:
            OpportunitySnapshot.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    OpportunitySnapshot.objects.bulk_create(batch, ignore_conflicts=True)
    return seen


@dataclass(frozen=True)
class Movement:
    from_category: str
    to_category: str
    count: int
    amount: Decimal

    @property
    def from_label(self) -> str:
        return ForecastCategory(self.from_category).label

    @property
    def to_label(self) -> str:
        return ForecastCategory(self.to_category).label


@dataclass(frozen=True)
class CountAmount:
    count: int = 0
    amount: Decimal = ZERO


@dataclass(frozen=True)
class WeekOverWeek:
    since: datetime.date | None
    moves: list[Movement]
    pushed_out: CountAmount
    new: CountAmount
    won: CountAmount
    lost: CountAmount


def _count_amount(row: dict[str, object], prefix: str) -> CountAmount:
    count = row.get(f"{prefix}_n")
    amount = row.get(f"{prefix}_amount")
    return CountAmount(
        count=count if isinstance(count, int) else 0,
        amount=amount if isinstance(amount, Decimal) else ZERO,
    )


def week_over_week(*, viewer: User, period: Period, users: Sequence[User]) -> WeekOverWeek:
    """What changed since the last snapshot for deals closing in ``period`` (as they stood
    then), owned by ``users`` and visible to the viewer: amounts moved between categories,
    close dates pushed past the period, deals won or lost, and new deals."""
    user_ids = [user.pk for user in users]
    since = OpportunitySnapshot.objects.order_by("-taken_on").values_list("taken_on", flat=True)
    taken_on = since.first()
    if taken_on is None:
        empty = CountAmount()
        return WeekOverWeek(None, [], empty, empty, empty, empty)
    visible = Opportunity.objects.visible_to(viewer).filter(owner_id__in=user_ids)
    snapshots = OpportunitySnapshot.objects.filter(
        taken_on=taken_on,
        close_date__gte=period.start,
        close_date__lte=period.end,
        opportunity__in=visible.values("pk"),
    )
    now_amount = Coalesce("opportunity__amount_org", "amount_org", Value(ZERO))
    moved = (
        snapshots.exclude(opportunity__forecast_category=F("forecast_category"))
        .values("forecast_category", "opportunity__forecast_category")
        .annotate(n=Count("pk"), amount=Sum(now_amount))
        .order_by("forecast_category", "opportunity__forecast_category")
    )
    moves = [
        Movement(
            row["forecast_category"],
            row["opportunity__forecast_category"],
            row["n"],
            row["amount"] or ZERO,
        )
        for row in moved
    ]
    pushed = Q(opportunity__is_closed=False, opportunity__close_date__gt=period.end)
    won = Q(opportunity__is_won=True)
    lost = Q(opportunity__is_closed=True, opportunity__is_won=False)
    totals = snapshots.aggregate(
        pushed_n=Count("pk", filter=pushed),
        pushed_amount=Sum(now_amount, filter=pushed),
        won_n=Count("pk", filter=won),
        won_amount=Sum(now_amount, filter=won),
        lost_n=Count("pk", filter=lost),
        lost_amount=Sum(now_amount, filter=lost),
    )
    new = (
        visible.filter(_in_period(period), created_at__date__gte=taken_on)
        .filter(Q(is_closed=False) | Q(closed_on__gte=taken_on))
        .exclude(pk__in=OpportunitySnapshot.objects.filter(taken_on=taken_on).values("opportunity"))
        .aggregate(new_n=Count("pk"), new_amount=Sum("amount_org"))
    )
    return WeekOverWeek(
        since=taken_on,
        moves=moves,
        pushed_out=_count_amount(totals, "pushed"),
        new=_count_amount(new, "new"),
        won=_count_amount(totals, "won"),
        lost=_count_amount(totals, "lost"),
    )
