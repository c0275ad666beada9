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


class CompetitorStatus(models.TextChoices):
    """Where a competitor stands at one account."""

    INCUMBENT = "incumbent", "Incumbent (sells there now)"
    EVALUATING = "evaluating", "Being evaluated"
    DISPLACED = "displaced", "Displaced by us"
    LOST_TO = "lost_to", "Won a deal from us"


class ConsentPurpose(models.TextChoices):
    MARKETING_EMAIL = "marketing_email", "Marketing email"
    NEWSLETTER = "newsletter", "Newsletter"
    PHONE = "phone", "Phone calls"
    SMS = "sms", "Text messages"
    POSTAL = "postal", "Postal mail"
    PROFILING = "profiling", "Profiling and personalisation"
    THIRD_PARTY = "third_party", "Sharing with partners"


class ConsentStatus(models.TextChoices):
    GRANTED = "granted", "Granted"
    DENIED = "denied", "Denied"
    WITHDRAWN = "withdrawn", "Withdrawn"


class ConsentSource(models.TextChoices):
    WEB_FORM = "web_form", "Web form"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    IN_PERSON = "in_person", "In person"
    PAPER = "paper", "Paper form"
    IMPORT = "import", "Import"
    API = "api", "API"
    MANUAL = "manual", "Entered by hand"
    EMAIL_LINK = "email_link", "Email link"


class LiteratureChannel(models.TextChoices):
    EMAIL = "email", "Email"
    POST = "post", "Post"
    DOWNLOAD = "download", "Download"
    IN_PERSON = "in_person", "In person"


class SubscriptionKind(models.TextChoices):
    MAILING_LIST = "list", "Mailing list"
    PRODUCT = "product", "Product"


class SubscriptionStatus(models.TextChoices):
    PENDING = "pending", "Pending confirmation"
    SUBSCRIBED = "subscribed", "Subscribed"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"


class TrainingResult(models.TextChoices):
    ATTENDED = "attended", "Attended"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    NO_SHOW = "no_show", "Did not attend"
