from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "patron.contacts"
    label = "contacts"
    verbose_name = "Accounts and contacts"

    def ready(self) -> None:
        from patron.contacts.competitor_views import register_competitor_ui
        from patron.contacts.consent_views import register_consent_ui
        from patron.contacts.exports import register_exports
        from patron.contacts.pickers import register_pickers
        from patron.contacts.purchase_history import register_purchase_history_panel
        from patron.contacts.related_list_views import register_related_lists
        from patron.contacts.rollups import register_contact_rollups
        from patron.contacts.search import register_search
        from patron.contacts.selectors import register_visibility_rules
        from patron.contacts.timeline import register_timeline_scopes
        from patron.contacts.vcard_views import register_vcard_job
        from patron.contacts.views import register_ui

        register_exports()
        register_pickers()
        register_search()
        register_ui()
        register_visibility_rules()
        register_contact_rollups()
        register_related_lists()
        register_timeline_scopes()
        register_competitor_ui()
        register_purchase_history_panel()
        register_vcard_job()
        from patron.contacts.imports import register_imports

        register_imports()
        register_consent_ui()
        from patron.contacts.quality import register_quality

        register_quality()
