"""Choices of territory management."""

from django.db import models


class ModelState(models.TextChoices):
    PLANNING = "planning", "Planning"
    ACTIVE = "active", "Active"
    ARCHIVED = "archived", "Archived"


class RuleField(models.TextChoices):
    COUNTRY = "country", "Country"
    REGION = "region", "Region / state"
    POSTAL_CODE = "postal_code", "Postal code"
    INDUSTRY = "industry", "Industry"
    EMPLOYEE_COUNT = "employee_count", "Employee count"
    ANNUAL_REVENUE = "annual_revenue", "Annual revenue"


class RuleOperator(models.TextChoices):
    IN = "in", "is one of"
    RANGE = "range", "is between"


class MemberRole(models.TextChoices):
    MANAGER = "manager", "Manager"
    SALES_REP = "sales_rep", "Sales rep"
    OVERLAY = "overlay", "Overlay"
    SUPPORT = "support", "Support"


# Fields compared as numbers; the others are text.
NUMERIC_FIELDS = frozenset({RuleField.EMPLOYEE_COUNT, RuleField.ANNUAL_REVENUE})
