from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "patron.contacts"
    label = "contacts"
    verbose_name = "Accounts and contacts"

    def ready(self) -> None:
        from patron.contacts.exports import register_exports
        from patron.contacts.rollups import register_contact_rollups
        from patron.contacts.search import register_search
        from patron.contacts.selectors import register_visibility_rules
        from patron.contacts.views import register_ui

        register_exports()
        register_search()
        register_ui()
        register_visibility_rules()
        register_contact_rollups()
