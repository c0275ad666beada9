"""Default duplicate rules, so matching works before an admin writes any."""

from typing import Any

from django.db import migrations

DEFAULT_RULES = [
    ("contacts.contact", "Same email", ["email"], [], 100, "warn"),
    (
        "contacts.contact",
        "Similar name at the same account",
        ["account"],
        ["first_name", "last_name"],
        90,
        "report",
    ),
    ("contacts.account", "Same web domain", ["domain"], [], 100, "warn"),
    ("contacts.account", "Similar name", [], ["name"], 90, "report"),
    ("leads.lead", "Same email", ["email"], [], 100, "warn"),
    ("orders.product", "Similar name", [], ["name"], 90, "report"),
]


def seed(apps: Any, schema_editor: Any) -> None:
    rule_model = apps.get_model("data_exchange", "DuplicateRule")
    for object_type, name, exact, fuzzy, threshold, action in DEFAULT_RULES:
        rule_model.objects.get_or_create(
            object_type=object_type,
            name=name,
            defaults={
                "exact_keys": exact,
                "fuzzy_fields": fuzzy,
                "threshold": threshold,
                "action": action,
            },
        )


def unseed(apps: Any, schema_editor: Any) -> None:
    rule_model = apps.get_model("data_exchange", "DuplicateRule")
    for object_type, name, *_ in DEFAULT_RULES:
        rule_model.objects.filter(object_type=object_type, name=name).delete()


class Migration(migrations.Migration):
    dependencies = [("data_exchange", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
