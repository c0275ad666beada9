"""The learned lead score: a logistic regression fitted on converted (won) and disqualified
(lost) leads with scikit-learn, kept as plain coefficients and applied in pure Python.

Features are simple and readable, so a lead's top reasons can be said in words: source,
industry, country, employee and revenue bands, whether there is a phone number, seniority
words in the title, and how often each behaviour happened. A feature's contribution to a
lead is coefficient times value; the largest ones are the reasons. Nothing is pickled: loading
the model never runs code, and scoring needs neither numpy nor scikit-learn.
"""

from __future__ import annotations

import datetime
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from patron.leads.choices import LeadSource, LeadStatus
from patron.leads.models import Lead, ScoreModel
from patron.leads.scoring_sources import behaviour_counts, behaviour_label

# Fewer examples than this of either outcome and the model would learn noise.
MIN_PER_CLASS = 20
# A category seen on fewer training leads than this gets no coefficient of its own.
MIN_FEATURE_LEADS = 3
MAX_TRAINING_LEADS = 50_000
TOP_REASONS = 3

EMPLOYEE_BANDS: tuple[tuple[int, str], ...] = (
    (10, "1-10"),
    (50, "11-50"),
    (200, "51-200"),
    (1000, "201-1,000"),
    (10**12, "more than 1,000"),
)
REVENUE_BANDS: tuple[tuple[int, str], ...] = (
    (1_000_000, "under 1M"),
    (10_000_000, "1M-10M"),
    (100_000_000, "10M-100M"),
    (10**18, "over 100M"),
)
SENIORITY: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    (
        "executive",
        "an executive",
        re.compile(r"\b(ceo|cto|cfo|coo|cio|cmo|chief|founder|owner|president|partner)\b"),
    ),
    ("vp", "a vice president", re.compile(r"\b(vp|svp|evp|vice[- ]president)\b")),
    ("director", "a director or head", re.compile(r"\b(director|head)\b")),
    ("manager", "a manager or lead", re.compile(r"\b(manager|lead|supervisor)\b")),
)


def _band(value: Any, bands: tuple[tuple[int, str], ...]) -> str:
    if value is None:
        return "unknown"
    number = Decimal(str(value))
    return next(label for limit, label in bands if number <= limit)


def seniority(title: str) -> str:
    text = (title or "").lower()
    return next((key for key, _label, pattern in SENIORITY if pattern.search(text)), "other")


def lead_features(lead: Lead, counts: Mapping[str, int]) -> dict[str, float]:
    """The lead as named numbers: 1.0 for each category it has, log counts for behaviour."""
    features: dict[str, float] = {
        f"source={lead.source}": 1.0,
        f"employees={_band(lead.employee_count, EMPLOYEE_BANDS)}": 1.0,
        f"revenue={_band(lead.annual_revenue, REVENUE_BANDS)}": 1.0,
        f"seniority={seniority(lead.title)}": 1.0,
    }
    if lead.industry.strip():
        features[f"industry={lead.industry.strip().lower()}"] = 1.0
    if lead.country:
        features[f"country={lead.country.upper()}"] = 1.0
    if lead.phone or lead.mobile:
        features["has_phone"] = 1.0
    for event_type, n in counts.items():
        if n:
            features[f"behaviour={event_type}"] = math.log1p(n)
    return features


def feature_label(name: str) -> str:
    """A feature in words, as the score panel shows it."""
    if name == "has_phone":
        return "Has a phone number"
    key, _, value = name.partition("=")
    if key == "source":
        return f"Source is {LeadSource(value).label if value in LeadSource.values else value}"
    if key == "industry":
        return f"Industry is {value}"
    if key == "country":
        return f"Country is {value}"
    if key == "employees":
        return "Employee count unknown" if value == "unknown" else f"{value} employees"
    if key == "revenue":
        return "Annual revenue unknown" if value == "unknown" else f"Annual revenue {value}"
    if key == "seniority":
        words = {k: label for k, label, _pattern in SENIORITY}
        return f"Title suggests {words[value]}" if value in words else "No senior title"
    if key == "behaviour":
        return f"{behaviour_label(value)} (how often)"
    return name


# --- fitting ----------------------------------------------------------------------------------


def training_leads() -> Any:
    """Leads whose outcome is known: converted (positive) or disqualified (negative)."""
    return Lead.objects.filter(
        Q(converted_at__isnull=False) | Q(status=LeadStatus.DISQUALIFIED)
    ).order_by("-id")


@dataclass(frozen=True)
class History:
    converted: int
    disqualified: int

    @property
    def enough(self) -> bool:
        return self.converted >= MIN_PER_CLASS and self.disqualified >= MIN_PER_CLASS

    @property
    def message(self) -> str:
        if self.enough:
            return (
                f"Enough history to learn from: {self.converted} converted and "
                f"{self.disqualified} disqualified leads."
            )
        return (
            f"Not enough history to learn from yet: {self.converted} converted and "
            f"{self.disqualified} disqualified leads; the model needs at least {MIN_PER_CLASS} "
            "of each. Until then leads are scored by the rules only."
        )


def history() -> History:
    converted = Lead.objects.filter(converted_at__isnull=False).count()
    disqualified = Lead.objects.filter(
        converted_at__isnull=True, status=LeadStatus.DISQUALIFIED
    ).count()
    return History(converted=converted, disqualified=disqualified)


@dataclass(frozen=True)
class FitOutcome:
    model: ScoreModel | None
    message: str


def score_model_fit(*, now: datetime.datetime | None = None) -> FitOutcome:
    """Learn a new model from the leads' history and make it current (None: too little data)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    known = history()
    if not known.enough:
        return FitOutcome(None, known.message)
    leads = list(training_leads()[:MAX_TRAINING_LEADS])
    counts = behaviour_counts(lead.pk for lead in leads)
    rows = [lead_features(lead, counts.get(lead.pk, {})) for lead in leads]
    labels = [1 if lead.converted_at is not None else 0 for lead in leads]
    seen = Counter(name for row in rows for name in row)
    names = sorted(name for name, n in seen.items() if n >= MIN_FEATURE_LEADS)
    column = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(rows), len(names)))
    for i, row in enumerate(rows):
        for name, value in row.items():
            if name in column:
                matrix[i, column[name]] = value
    target = np.array(labels)
    estimator = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
    estimator.fit(matrix, target)
    folds = min(5, int(target.sum()), int(len(target) - target.sum()))
    auc = cross_val_score(
        LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000),
        matrix,
        target,
        cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=0),
        scoring="roc_auc",
    )
    coefficients = estimator.coef_[0]
    features = {
        name: {"label": feature_label(name), "coefficient": round(float(coefficients[i]), 6)}
        for i, name in enumerate(names)
        if abs(float(coefficients[i])) > 1e-9
    }
    converted = int(target.sum())
    with transaction.atomic():
        ScoreModel.objects.filter(is_current=True).update(is_current=False)
        model = ScoreModel.objects.create(
            trained_at=now or timezone.now(),
            sample_count=len(leads),
            converted_count=converted,
            disqualified_count=len(leads) - converted,
            features=features,
            intercept=round(float(estimator.intercept_[0]), 6),
            metrics={
                "roc_auc": round(float(auc.mean()), 4),
                "folds": folds,
                "training_accuracy": round(float(estimator.score(matrix, target)), 4),
            },
            is_current=True,
        )
    return FitOutcome(
        model,
        f"Learned from {len(leads)} leads ({converted} converted, {len(leads) - converted} "
        f"disqualified); cross-validated ROC AUC {model.metrics['roc_auc']:.2f}.",
    )


def current_model() -> ScoreModel | None:
    return ScoreModel.objects.filter(is_current=True).first()


def refit_due(*, refit_days: int, now: datetime.datetime | None = None) -> bool:
    """Whether the scheduled refit should run: no model yet, or the current one is old."""
    model = current_model()
    if model is None:
        return history().enough
    moment = now or timezone.now()
    return model.trained_at <= moment - datetime.timedelta(days=refit_days)


# --- applying ---------------------------------------------------------------------------------


def model_explain(
    model: ScoreModel, lead: Lead, counts: Mapping[str, int]
) -> tuple[float, list[dict[str, Any]]]:
    """The probability that ``lead`` converts and its top reasons (largest contributions)."""
    coefficients = model.features
    contributions = []
    z = model.intercept
    for name, value in lead_features(lead, counts).items():
        spec = coefficients.get(name)
        if not spec:
            continue
        effect = float(spec["coefficient"]) * value
        z += effect
        contributions.append((name, str(spec.get("label") or feature_label(name)), effect))
    probability = 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))
    contributions.sort(key=lambda c: abs(c[2]), reverse=True)
    reasons = [
        {
            "feature": name,
            "label": label,
            "effect": round(effect, 3),
            "direction": "raises" if effect > 0 else "lowers",
        }
        for name, label, effect in contributions[:TOP_REASONS]
    ]
    return round(probability, 4), reasons
