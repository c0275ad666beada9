"""Sales analytics (SPEC 10.3): win rates, loss reasons, stage of loss, sales cycle, stage
conversion, deal size trend and pipeline coverage.

Every report starts from ``Opportunity.objects.visible_to(viewer)`` and is one grouped SQL
query (the median wraps that query's compiled SQL, so it carries the same visibility
predicate). Python only turns the few grouped rows into labelled report rows. Each row
carries the drill-down parameters that select exactly the opportunities behind it
(``drill_queryset``).

Other apps add dimensions to group by with ``register_dimension`` from their
``AppConfig.ready`` (the orders app adds "product"), so this app imports none of them.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    Avg,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Cast

from patron.core.exceptions import ValidationFailed
from patron.core.filters import LARGEST_INTEGER
from patron.core.org import org_settings
from patron.core.visibility import Principal
from patron.pipeline.choices import ForecastCategory
from patron.pipeline.models import Opportunity, Pipeline, Quota, Stage, StageHistory
from patron.users.models import User

NONE_KEY = "none"
GRAINS = ("quarter", "month")


# --- dimensions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Dimension:
    """Something to group closed opportunities by: ``value`` is the ORM path of the group key
    (also the drill-down filter), ``display`` the path of its label. ``many`` marks paths that
    can join several rows per opportunity (counted distinct)."""

    key: str
    label: str
    value: str
    display: str
    many: bool = False


_dimensions: dict[str, Dimension] = {}


def register_dimension(dimension: Dimension) -> None:
    """Offer ``dimension`` in the win-rate report (call from ``AppConfig.ready``)."""
    _dimensions[dimension.key] = dimension


def dimensions() -> list[Dimension]:
    return list(_dimensions.values())


for _builtin in (
    Dimension("owner", "Owner", "owner_id", "owner__full_name"),
    Dimension("team", "Team (the owner's teams)", "owner__teams__id", "owner__teams__name", True),
    Dimension("industry", "Account industry", "account__industry", "account__industry"),
    Dimension("source", "Source", "source", "source"),
    Dimension(
        "competitor",
        "Competitor",
        "competitors__competitor_id",
        "competitors__competitor__name",
        True,
    ),
):
    register_dimension(_builtin)
# Used by drill-downs only (loss reasons and the stage a deal was lost from).
LOSS_REASON = Dimension("loss_reason", "Loss reason", "loss_reason_id", "loss_reason__name")


def dimension_get(key: str) -> Dimension:
    if key == LOSS_REASON.key:
        return LOSS_REASON
    try:
        return _dimensions[key]
    except KeyError:
        raise ValidationFailed(
            "Unknown dimension.",
            errors={"dimension": [f"Choose one of: {', '.join(sorted(_dimensions))}."]},
        ) from None


# --- filters -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AnalyticsFilters:
    """What every report is narrowed by; dates bound the close date of closed deals."""

    start: datetime.date | None = None
    end: datetime.date | None = None
    pipeline_id: int | None = None
    owner_id: int | None = None
    team_id: int | None = None

    def params(self) -> dict[str, str]:
        values = {
            "start": self.start.isoformat() if self.start else "",
            "end": self.end.isoformat() if self.end else "",
            "pipeline": str(self.pipeline_id or ""),
            "owner": str(self.owner_id or ""),
            "team": str(self.team_id or ""),
        }
        return {k: v for k, v in values.items() if v}


def _date_param(params: Mapping[str, str], name: str, errors: dict[str, list[str]]) -> Any:
    text = (params.get(name) or "").strip()
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        errors[name] = [f"“{text}” is not a date; write it as YYYY-MM-DD, e.g. 2027-03-31."]
        return None


def _id_param(params: Mapping[str, str], name: str, errors: dict[str, list[str]]) -> int | None:
    text = (params.get(name) or "").strip()
    if not text:
        return None
    # isdigit() alone also takes digits such as "²" that int() refuses.
    if not (text.isascii() and text.isdigit()):
        errors[name] = [f"“{text[:40]}” is not an id; pick a {name} from the list."]
        return None
    if int(text) > LARGEST_INTEGER:
        # Beyond the database's integer: no row has it, and the comparison would raise.
        errors[name] = [f"No {name} has the id {text[:40]}; pick a {name} from the list."]
        return None
    return int(text)


def filters_from(params: Mapping[str, str]) -> AnalyticsFilters:
    """Filters from query parameters; bad values are a ValidationFailed naming the field."""
    errors: dict[str, list[str]] = {}
    start = _date_param(params, "start", errors)
    end = _date_param(params, "end", errors)
    if start and end and end < start:
        errors["end"] = ["The end date is before the start date; swap them."]
    values = {name: _id_param(params, name, errors) for name in ("pipeline", "owner", "team")}
    if errors:
        raise ValidationFailed("The analytics filters are not valid.", errors=errors)
    return AnalyticsFilters(
        start=start,
        end=end,
        pipeline_id=values["pipeline"],
        owner_id=values["owner"],
        team_id=values["team"],
    )


def _opportunities(viewer: Principal, filters: AnalyticsFilters) -> QuerySet[Opportunity]:
    queryset: QuerySet[Opportunity] = Opportunity.objects.visible_to(viewer)
    if filters.pipeline_id:
        queryset = queryset.filter(pipeline_id=filters.pipeline_id)
    if filters.owner_id:
        queryset = queryset.filter(owner_id=filters.owner_id)
    if filters.team_id:
        queryset = queryset.filter(
            owner_id__in=User.objects.filter(teams=filters.team_id).values("pk")
        )
    return queryset


def _in_range(
    queryset: QuerySet[Opportunity], field_name: str, filters: AnalyticsFilters
) -> QuerySet[Opportunity]:
    if filters.start:
        queryset = queryset.filter(**{f"{field_name}__gte": filters.start})
    if filters.end:
        queryset = queryset.filter(**{f"{field_name}__lte": filters.end})
    return queryset


def _closed(viewer: Principal, filters: AnalyticsFilters) -> QuerySet[Opportunity]:
    return _in_range(_opportunities(viewer, filters).filter(is_closed=True), "closed_on", filters)


# --- periods -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A month, or a (fiscal) quarter, as the index SQL groups by."""

    grain: str
    index: int
    start: datetime.date
    end: datetime.date
    label: str


class MonthNumber(Func):
    """year * 12 + month of a date, as an integer, with each database's native functions
    (Django's own Extract runs a Python function per row on SQLite)."""

    output_field = IntegerField()
    template = (
        "(CAST(EXTRACT(YEAR FROM %(expressions)s) AS integer) * 12 "
        "+ CAST(EXTRACT(MONTH FROM %(expressions)s) AS integer))"
    )

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        # The formats are parameters: a literal % in the SQL text would clash with them.
        day = self.source_expressions[0]
        year = Cast(Func(Value("%Y"), day, function="strftime"), IntegerField())
        month = Cast(Func(Value("%m"), day, function="strftime"), IntegerField())
        return compiler.compile(ExpressionWrapper(year * 12 + month, output_field=IntegerField()))


def _month_number(field_name: str) -> Any:
    return MonthNumber(F(field_name))


def period_expression(field_name: str, grain: str, fiscal_start: int) -> Any:
    """The period index of a date column: months since year 0, or fiscal quarters."""
    if grain == "month":
        return ExpressionWrapper(_month_number(field_name) - 1, output_field=IntegerField())
    return ExpressionWrapper(
        (_month_number(field_name) - fiscal_start) / 3, output_field=IntegerField()
    )


def _add_months(day: datetime.date, months: int) -> datetime.date:
    total = day.year * 12 + day.month - 1 + months
    return datetime.date(total // 12, total % 12 + 1, 1)


def period_of(grain: str, index: int, fiscal_start: int) -> Period:
    if grain == "month":
        start = datetime.date(index // 12, index % 12 + 1, 1)
        end = _add_months(start, 1) - datetime.timedelta(days=1)
        return Period(grain, index, start, end, f"{start:%Y-%m}")
    first = index * 3 + fiscal_start - 1
    start = datetime.date(first // 12, first % 12 + 1, 1)
    end = _add_months(start, 3) - datetime.timedelta(days=1)
    quarter = (start.month - fiscal_start) % 12 // 3 + 1
    if fiscal_start == 1:
        return Period(grain, index, start, end, f"{start.year} Q{quarter}")
    fiscal_year = start.year if start.month >= fiscal_start else start.year - 1
    return Period(grain, index, start, end, f"FY{fiscal_year} Q{quarter}")


def _grain(grain: str) -> str:
    if grain not in GRAINS:
        raise ValidationFailed("Unknown period.", errors={"period": ["Choose quarter or month."]})
    return grain


# --- report rows -------------------------------------------------------------------------


def percent(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class Row:
    """One figure line: its label, values by column key, and the drill-down parameters."""

    label: str
    values: dict[str, Any]
    drill: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool = True


@dataclass(frozen=True)
class Report:
    key: str
    title: str
    description: str
    columns: list[Column]
    rows: list[Row]
    # The column the bar chart draws (None: no chart).
    chart: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)


def _key(value: Any) -> str:
    return NONE_KEY if value is None or value == "" else str(value)


def win_rates(
    *,
    viewer: Principal,
    filters: AnalyticsFilters,
    dimension: str | None,
    grain: str | None = None,
) -> list[Row]:
    """Won / closed by ``dimension`` and/or period (``grain``), biggest groups first."""
    if dimension is None and grain is None:
        raise ValidationFailed(
            "Nothing to group by.", errors={"dimension": ["Choose a dimension or a period."]}
        )
    dim = dimension_get(dimension) if dimension else None
    fiscal = org_settings().fiscal_year_start_month
    groups: dict[str, Any] = {}
    if dim:
        groups.update(group_key=F(dim.value), group_label=F(dim.display))
    if grain:
        groups["period"] = period_expression("closed_on", _grain(grain), fiscal)
    distinct = bool(dim and dim.many)
    rows = (
        _closed(viewer, filters)
        .values(**groups)
        .annotate(
            closed=Count("pk", distinct=distinct),
            won=Count("pk", filter=Q(is_won=True), distinct=distinct),
        )
        .order_by(*(["period"] if grain else []), "-closed", *(["group_label"] if dim else []))
    )
    result = []
    for row in rows:
        drill = {"outcome": "closed"}
        label_parts = []
        if grain:
            period = period_of(grain, row["period"], fiscal)
            label_parts.append(period.label)
            drill.update(grain=grain, period=str(period.index))
        if dim:
            label_parts.append(str(row["group_label"] or "(none)"))
            drill.update(dimension=dim.key, value=_key(row["group_key"]))
        result.append(
            Row(
                label=" · ".join(label_parts),
                values={
                    "closed": row["closed"],
                    "won": row["won"],
                    "lost": row["closed"] - row["won"],
                    "win_rate": percent(row["won"], row["closed"]),
                },
                drill=drill,
            )
        )
    return result


def loss_reasons_ranked(*, viewer: Principal, filters: AnalyticsFilters) -> list[Row]:
    """Lost deals by reason, most frequent first, with the cumulative share (Pareto)."""
    rows = list(
        _closed(viewer, filters)
        .filter(is_won=False)
        .values("loss_reason_id", "loss_reason__name")
        .annotate(lost=Count("pk"), amount=Sum("amount_org"))
        .order_by("-lost", "loss_reason__name")
    )
    total = sum(row["lost"] for row in rows)
    running = 0
    result = []
    for row in rows:
        running += row["lost"]
        result.append(
            Row(
                label=row["loss_reason__name"] or "(no reason given)",
                values={
                    "lost": row["lost"],
                    "amount": row["amount"] or Decimal("0"),
                    "share": percent(row["lost"], total),
                    "cumulative_share": percent(running, total),
                },
                drill={
                    "outcome": "lost",
                    "dimension": LOSS_REASON.key,
                    "value": _key(row["loss_reason_id"]),
                },
            )
        )
    return result


def _lost_moves() -> QuerySet[StageHistory]:
    return StageHistory.objects.filter(to_stage__forecast_category=ForecastCategory.CLOSED_LOST)


def loss_stages(*, viewer: Principal, filters: AnalyticsFilters) -> list[Row]:
    """Lost deals by the stage they were in when lost (the move into a Lost stage)."""
    lost = _closed(viewer, filters).filter(is_won=False)
    rows = list(
        _lost_moves()
        .filter(opportunity__in=lost.values("pk"))
        .values("from_stage_id", "from_stage__name", "from_stage__position")
        .annotate(lost=Count("opportunity", distinct=True))
        .order_by("from_stage__position", "from_stage__name")
    )
    total = sum(row["lost"] for row in rows)
    return [
        Row(
            label=row["from_stage__name"] or "(created lost)",
            values={"lost": row["lost"], "share": percent(row["lost"], total)},
            drill={"outcome": "lost", "loss_stage": _key(row["from_stage_id"])},
        )
        for row in rows
    ]


class DaysBetween(Func):
    """Whole days from the second date to the first, on SQLite and PostgreSQL."""

    output_field = IntegerField()

    template = "(%(expressions)s)"
    arg_joiner = " - "

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="CAST(julianday(%(expressions)s) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra_context,
        )


def _median(queryset: QuerySet[Any], column: str) -> Decimal | None:
    """The median of ``column`` over ``queryset``, in SQL with window functions.

    The queryset's own SQL (with its visibility predicate) is the inner query; the rows in
    the middle (one or two) are averaged, which works on SQLite and PostgreSQL alike.
    """
    try:
        inner, params = queryset.values_list(column).query.sql_with_params()
    except EmptyResultSet:
        # A viewer who may see no opportunity gets an empty queryset, which has no SQL.
        return None
    numbered = f"SELECT {column} AS v FROM ({inner}) AS inner_rows"  # noqa: S608
    window = "SELECT v, ROW_NUMBER() OVER (ORDER BY v) AS rn, COUNT(*) OVER () AS n FROM"
    ranked = f"{window} ({numbered}) AS numbered"
    sql = f"SELECT AVG(v) FROM ({ranked}) AS ranked WHERE 2 * rn BETWEEN n AND n + 2"  # noqa: S608
    with connection.cursor() as cursor:
        # Only the compiled queryset and a fixed column alias go into the text; values are
        # parameters.
        cursor.execute(sql, params)
        value = cursor.fetchone()[0]
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.1"))


def sales_cycle(*, viewer: Principal, filters: AnalyticsFilters) -> dict[str, Any]:
    """Days from first engagement to close for won deals: count, average and median."""
    won = (
        _closed(viewer, filters)
        .filter(is_won=True, engaged_on__isnull=False)
        .annotate(cycle_days=DaysBetween("closed_on", "engaged_on"))
    )
    totals = won.aggregate(deals=Count("pk"), average=Avg("cycle_days"))
    average = totals["average"]
    return {
        "deals": totals["deals"],
        "average_days": None if average is None else Decimal(str(average)).quantize(Decimal("0.1")),
        "median_days": _median(won, "cycle_days"),
    }


def report_pipeline(filters: AnalyticsFilters) -> Pipeline | None:
    """The pipeline whose stages the conversion report walks (the filter's or the default)."""
    queryset = Pipeline.objects.order_by("-is_default", "position", "pk")
    if filters.pipeline_id:
        queryset = queryset.filter(pk=filters.pipeline_id)
    return queryset.first()


def _furthest_positions(opportunities: QuerySet[Opportunity]) -> dict[int, int]:
    """How many of ``opportunities`` got furthest to each stage position (Lost moves do not
    count), in SQL.

    The history is grouped per opportunity by the ORM (its query embeds the opportunities'
    visibility predicate as a semi-join); SQL then counts those groups per position, which
    the ORM cannot express (an aggregate over an aggregate).
    """
    furthest = (
        StageHistory.objects.filter(opportunity_id__in=opportunities.values("pk"))
        .exclude(to_stage__forecast_category=ForecastCategory.CLOSED_LOST)
        .values("opportunity_id")
        .annotate(furthest=Max("to_stage__position"))
        .order_by()
    )
    try:
        inner, params = furthest.query.sql_with_params()
    except EmptyResultSet:
        # A viewer who may see no opportunity gets an empty queryset, which has no SQL.
        return {}
    sql = f"SELECT furthest, COUNT(*) FROM ({inner}) AS per_deal GROUP BY furthest"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {int(position): int(deals) for position, deals in cursor.fetchall()}


def stage_conversion(*, viewer: Principal, filters: AnalyticsFilters) -> list[Row]:
    """For each stage: deals that reached it, how many went on to the next, and drop-off.

    A deal reached a stage when its history shows it at that stage or a later one (skipped
    stages count as passed). Deals are those whose close date is in the period.
    """
    pipeline = report_pipeline(filters)
    if pipeline is None:
        return []
    stages = list(
        Stage.objects.filter(pipeline=pipeline)
        .exclude(forecast_category=ForecastCategory.CLOSED_LOST)
        .order_by("position", "pk")
    )
    counts = _furthest_positions(
        _in_range(_opportunities(viewer, filters).filter(pipeline=pipeline), "close_date", filters)
    )
    reached = [sum(n for position, n in counts.items() if position >= s.position) for s in stages]
    rows = []
    for index, stage in enumerate(stages):
        following = reached[index + 1] if index + 1 < len(stages) else None
        rows.append(
            Row(
                label=stage.name,
                values={
                    "reached": reached[index],
                    "next_stage": stages[index + 1].name if following is not None else "",
                    "converted": following,
                    "conversion": None if following is None else percent(following, reached[index]),
                    "dropped": None if following is None else reached[index] - following,
                },
                drill={"reached": str(stage.pk)},
            )
        )
    return rows


def deal_size_trend(
    *, viewer: Principal, filters: AnalyticsFilters, grain: str = "quarter"
) -> list[Row]:
    """Won deals per period: count, total and average amount (organisation currency)."""
    fiscal = org_settings().fiscal_year_start_month
    rows = (
        _closed(viewer, filters)
        .filter(is_won=True)
        .values(period=period_expression("closed_on", _grain(grain), fiscal))
        .annotate(deals=Count("pk"), total=Sum("amount_org"), average=Avg("amount_org"))
        .order_by("period")
    )
    result = []
    for row in rows:
        period = period_of(grain, row["period"], fiscal)
        average = row["average"]
        result.append(
            Row(
                label=period.label,
                values={
                    "deals": row["deals"],
                    "total": row["total"] or Decimal("0"),
                    "average": None
                    if average is None
                    else Decimal(str(average)).quantize(Decimal("0.01")),
                },
                drill={"outcome": "won", "grain": grain, "period": str(period.index)},
            )
        )
    return result


def current_quarter(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    fiscal = org_settings().fiscal_year_start_month
    index = (today.year * 12 + today.month - fiscal) // 3
    period = period_of("quarter", index, fiscal)
    return period.start, period.end


def coverage(*, viewer: Principal, filters: AnalyticsFilters, today: datetime.date) -> list[Row]:
    """Per owner: open pipeline closing in the period / (quota - won in the period).

    The period is the filters' range, or the current fiscal quarter; quotas count when their
    period lies within it. Amounts are in the organisation's currency.
    """
    start, end = (
        (filters.start, filters.end) if filters.start and filters.end else current_quarter(today)
    )
    scoped = AnalyticsFilters(
        start=start,
        end=end,
        pipeline_id=filters.pipeline_id,
        owner_id=filters.owner_id,
        team_id=filters.team_id,
    )
    base = _opportunities(viewer, scoped)
    open_rows = {
        row["owner_id"]: row
        for row in base.filter(is_closed=False, close_date__range=(start, end))
        .values("owner_id", "owner__full_name", "owner__email")
        .annotate(open_amount=Sum("amount_org"), open_deals=Count("pk"))
        .order_by()
    }
    won_rows = {
        row["owner_id"]: row
        for row in base.filter(is_won=True, closed_on__range=(start, end))
        .values("owner_id", "owner__full_name", "owner__email")
        .annotate(won_amount=Sum("amount_org"))
        .order_by()
    }
    owners = {**won_rows, **open_rows}
    quotas = {
        row["user_id"]: row["quota"]
        for row in Quota.objects.filter(
            user_id__in=list(owners), period_start__gte=start, period_end__lte=end
        )
        .values("user_id")
        .annotate(quota=Sum("amount"))
        .order_by()
    }
    result = []
    for owner_id, row in sorted(
        owners.items(), key=lambda item: item[1]["owner__full_name"] or item[1]["owner__email"]
    ):
        open_amount = (open_rows.get(owner_id) or {}).get("open_amount") or Decimal("0")
        won_amount = (won_rows.get(owner_id) or {}).get("won_amount") or Decimal("0")
        quota = quotas.get(owner_id)
        remaining = None if quota is None else quota - won_amount
        ratio = (
            (open_amount / remaining).quantize(Decimal("0.01"))
            if remaining is not None and remaining > 0
            else None
        )
        result.append(
            Row(
                label=row["owner__full_name"] or row["owner__email"],
                values={
                    "open_amount": open_amount,
                    "won_amount": won_amount,
                    "quota": quota,
                    "remaining": remaining,
                    "coverage": ratio,
                },
                drill={
                    "outcome": "open",
                    "dimension": "owner",
                    "value": str(owner_id),
                    "close_start": start.isoformat(),
                    "close_end": end.isoformat(),
                },
            )
        )
    return result


# --- drill-down --------------------------------------------------------------------------

OUTCOMES: dict[str, Q] = {
    "closed": Q(is_closed=True),
    "won": Q(is_won=True),
    "lost": Q(is_closed=True, is_won=False),
    "open": Q(is_closed=False),
}


def drill_queryset(
    *, viewer: Principal, filters: AnalyticsFilters, params: Mapping[str, str]
) -> QuerySet[Opportunity]:
    """The visible opportunities behind a figure, from the row's drill parameters."""
    outcome = params.get("outcome", "")
    if outcome and outcome not in OUTCOMES:
        raise ValidationFailed(
            "Unknown outcome.", errors={"outcome": [f"Choose one of: {', '.join(OUTCOMES)}."]}
        )
    queryset = _opportunities(viewer, filters)
    if outcome == "open":
        errors: dict[str, list[str]] = {}
        close_start = _date_param(params, "close_start", errors)
        close_end = _date_param(params, "close_end", errors)
        if errors:
            raise ValidationFailed("The drill-down is not valid.", errors=errors)
        queryset = queryset.filter(OUTCOMES["open"])
        if close_start:
            queryset = queryset.filter(close_date__gte=close_start)
        if close_end:
            queryset = queryset.filter(close_date__lte=close_end)
    elif outcome:
        queryset = _in_range(queryset.filter(OUTCOMES[outcome]), "closed_on", filters)
    if params.get("dimension"):
        dim = dimension_get(params["dimension"])
        value = params.get("value", NONE_KEY)
        lookup: dict[str, Any] = (
            {f"{dim.value}__isnull": True} if value == NONE_KEY else {dim.value: value}
        )
        queryset = queryset.filter(**lookup)
    if params.get("grain"):
        grain = _grain(params["grain"])
        if not params.get("period", "").lstrip("-").isdigit():
            raise ValidationFailed(
                "Unknown period.", errors={"period": ["Give the period index from the report."]}
            )
        fiscal = org_settings().fiscal_year_start_month
        period = period_of(grain, int(params["period"]), fiscal)
        queryset = queryset.filter(closed_on__range=(period.start, period.end))
    if params.get("loss_stage"):
        moves = _lost_moves().filter(opportunity=OuterRef("pk"))
        stage = params["loss_stage"]
        moves = (
            moves.filter(from_stage__isnull=True)
            if stage == NONE_KEY
            else moves.filter(from_stage_id=_drill_id(stage, "loss_stage"))
        )
        queryset = queryset.filter(Exists(moves))
    if params.get("reached"):
        stage_obj = Stage.objects.filter(pk=_drill_id(params["reached"], "reached")).first()
        if stage_obj is None:
            raise ValidationFailed("Unknown stage.", errors={"reached": ["Pick a stage."]})
        reached = StageHistory.objects.filter(
            opportunity=OuterRef("pk"), to_stage__position__gte=stage_obj.position
        ).exclude(to_stage__forecast_category=ForecastCategory.CLOSED_LOST)
        queryset = _in_range(
            queryset.filter(pipeline_id=stage_obj.pipeline_id), "close_date", filters
        ).filter(Exists(reached))
    return queryset.distinct() if params.get("dimension") else queryset


def _drill_id(text: str, name: str) -> int:
    if not text.isdigit():
        raise ValidationFailed("Not an id.", errors={name: ["Use the link from the report."]})
    return int(text)


# --- reports by name (page, CSV and API) -------------------------------------------------

REPORTS: dict[str, str] = {
    "win-rate": "Win rate",
    "loss-reasons": "Loss reasons",
    "loss-stages": "Stage of loss",
    "sales-cycle": "Sales cycle",
    "conversion": "Stage conversion",
    "deal-size": "Average deal size",
    "coverage": "Pipeline coverage",
}

_WIN_COLUMNS = [
    Column("closed", "Closed"),
    Column("won", "Won"),
    Column("lost", "Lost"),
    Column("win_rate", "Win rate %"),
]


def _win_rate_report(
    viewer: Principal, filters: AnalyticsFilters, options: Mapping[str, str], today: Any
) -> Report:
    dimension = options.get("dimension") or "owner"
    grain = options.get("period") or None
    if dimension == "period":
        dimension_key = None
        grain = grain or "quarter"
    else:
        dimension_key = dimension
    rows = win_rates(viewer=viewer, filters=filters, dimension=dimension_key, grain=grain)
    label = dimension_get(dimension_key).label if dimension_key else "Period"
    if dimension_key and grain:
        label = f"{label} by {grain}"
    return Report(
        key="win-rate",
        title=f"Win rate by {label.lower()}",
        description="Won deals as a share of closed deals (won and lost), by close date.",
        columns=_WIN_COLUMNS,
        rows=rows,
        chart="win_rate",
    )


def _loss_reason_report(
    viewer: Principal, filters: AnalyticsFilters, options: Mapping[str, str], today: Any
) -> Report:
    return Report(
        key="loss-reasons",
        title="Loss reasons",
        description="Lost deals by reason, most frequent first; the cumulative share shows "
        "which few reasons explain most losses.",
        columns=[
            Column("lost", "Lost"),
            Column("amount", "Amount lost"),
            Column("share", "Share %"),
            Column("cumulative_share", "Cumulative %"),
        ],
        rows=loss_reasons_ranked(viewer=viewer, filters=filters),
        chart="lost",
    )


def _loss_stage_report(
    viewer: Principal, filters: AnalyticsFilters, options: Mapping[str, str], today: Any
) -> Report:
    return Report(
        key="loss-stages",
        title="Stage of loss",
        description="The stage lost deals were in when they were marked lost.",
        columns=[Column("lost", "Lost"), Column("share", "Share %")],
        rows=loss_stages(viewer=viewer, filters=filters),
        chart="lost",
    )


def _cycle_report(
    viewer: Principal, filters: AnalyticsFilters, options: Mapping[str, str], today: Any
) -> Report:
    figures = sales_cycle(viewer=viewer, filters=filters)
    return Report(
        key="sales-cycle",
        title="Sales cycle of won deals",
        description="Days from first engagement to close, for won deals with an engage date.",
        columns=[
            Column("deals", "Won deals"),
            Column("average_days", "Average days"),
            Column("median_days", "Median days"),
        ],
        rows=[Row(label="Won deals", values=figures, drill={"outcome": "won"})],
        summary=figures,
    )


def _conversion_report(
    viewer: Principal, filters: AnalyticsFilters, options: Mapping[str, str], today: Any
) -> Report:
    pipeline = report_pipeline(filters)
    return Report(
        key="conversion",
        title=f"Stage conversion{f' ({pipeline.name})' if pipeline else ''}",
        description="Deals closing in the period that reached each stage, how many went on "
        "to the next stage and how many dropped off there.",
        columns=[
            Column("reached", "Reached"),
            Column("next_stage", "Next stage", numeric=False),
            Column("converted", "Went on"),
            Column("conversion", "Conversion %"),
            Column("dropped", "Dropped off"),
        ],
        rows=stage_conversion(viewer=viewer, filters=filters),
        chart="reached",
    )


def _deal_size_report(
    viewer: Principal, filters: AnalyticsFilters, options: Mapping[str, str], today: Any
) -> Report:
    grain = options.get("period") or "quarter"
    return Report(
        key="deal-size",
        title="Average deal size",
        description="Won deals per period, in the organisation's currency.",
        columns=[
            Column("deals", "Won deals"),
            Column("total", "Total"),
            Column("average", "Average"),
        ],
        rows=deal_size_trend(viewer=viewer, filters=filters, grain=grain),
        chart="average",
    )


def _coverage_report(
    viewer: Principal, filters: AnalyticsFilters, options: Mapping[str, str], today: Any
) -> Report:
    return Report(
        key="coverage",
        title="Pipeline coverage",
        description="Open pipeline closing in the period divided by what is left of the "
        "quota (quota minus won); without dates, the current fiscal quarter.",
        columns=[
            Column("open_amount", "Open pipeline"),
            Column("won_amount", "Won"),
            Column("quota", "Quota"),
            Column("remaining", "Quota left"),
            Column("coverage", "Coverage (times)"),
        ],
        rows=coverage(viewer=viewer, filters=filters, today=today),
        chart="coverage",
    )


_BUILDERS: dict[
    str, Callable[[Principal, AnalyticsFilters, Mapping[str, str], datetime.date], Report]
] = {
    "win-rate": _win_rate_report,
    "loss-reasons": _loss_reason_report,
    "loss-stages": _loss_stage_report,
    "sales-cycle": _cycle_report,
    "conversion": _conversion_report,
    "deal-size": _deal_size_report,
    "coverage": _coverage_report,
}


def sales_report(
    *,
    viewer: Principal,
    name: str,
    filters: AnalyticsFilters,
    options: Mapping[str, str],
    today: datetime.date,
) -> Report:
    """The report called ``name`` (see REPORTS) for ``viewer``."""
    builder = _BUILDERS.get(name)
    if builder is None:
        raise ValidationFailed(
            "Unknown report.", errors={"report": [f"Choose one of: {', '.join(REPORTS)}."]}
        )
    return builder(viewer, filters, options, today)
