from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "patron.users"
    label = "users"
    verbose_name = "Users, teams and roles"

    def ready(self) -> None:
        from patron.users.imports import register_imports

        register_imports()
