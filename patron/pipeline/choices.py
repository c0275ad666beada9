from django.db import models


class ForecastCategory(models.TextChoices):
    PIPELINE = "pipeline", "Pipeline"
    BEST_CASE = "best_case", "Best case"
    COMMIT = "commit", "Commit"
    CLOSED_WON = "closed_won", "Closed won"
    CLOSED_LOST = "closed_lost", "Closed lost"
    OMITTED = "omitted", "Omitted"


class OpportunityContactRoleKind(models.TextChoices):
    DECISION_MAKER = "decision_maker", "Decision maker"
    ECONOMIC_BUYER = "economic_buyer", "Economic buyer"
    TECHNICAL_BUYER = "technical_buyer", "Technical buyer"
    INFLUENCER = "influencer", "Influencer"
    CHAMPION = "champion", "Champion"
    USER = "user", "User"
    EVALUATOR = "evaluator", "Evaluator"
    OTHER = "other", "Other"


class OpportunityTeamRole(models.TextChoices):
    ACCOUNT_EXECUTIVE = "account_executive", "Account executive"
    SALES_ENGINEER = "sales_engineer", "Sales engineer"
    EXECUTIVE_SPONSOR = "executive_sponsor", "Executive sponsor"
    PARTNER_MANAGER = "partner_manager", "Partner manager"
    SPECIALIST = "specialist", "Product specialist"
    OTHER = "other", "Other"


class TeamAccess(models.TextChoices):
    READ = "read", "Read"
    EDIT = "edit", "Read and edit"


class SplitType(models.TextChoices):
    """Revenue splits total 100 % per type: revenue is the booked amount, overlay is credit
    given to specialists on top of it."""

    REVENUE = "revenue", "Revenue"
    OVERLAY = "overlay", "Overlay"


class ForecastPeriodKind(models.TextChoices):
    MONTH = "month", "Month"
    QUARTER = "quarter", "Quarter"
