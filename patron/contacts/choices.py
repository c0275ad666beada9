from django.db import models


class AccountKind(models.TextChoices):
    COMPANY = "company", "Company"
    PERSON = "person", "Person (B2C)"


class AccountTier(models.TextChoices):
    STRATEGIC = "strategic", "Strategic"
    KEY = "key", "Key"
    STANDARD = "standard", "Standard"
    SMALL = "small", "Small"


class EmailKind(models.TextChoices):
    WORK = "work", "Work"
    PERSONAL = "personal", "Personal"
    OTHER = "other", "Other"


class PhoneKind(models.TextChoices):
    WORK = "work", "Work"
    MOBILE = "mobile", "Mobile"
    HOME = "home", "Home"
    FAX = "fax", "Fax"
    OTHER = "other", "Other"


class AddressKind(models.TextChoices):
    WORK = "work", "Work"
    HOME = "home", "Home"
    BILLING = "billing", "Billing"
    SHIPPING = "shipping", "Shipping"
    OTHER = "other", "Other"
