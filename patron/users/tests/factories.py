from __future__ import annotations

from typing import Any, Protocol, TypeVar, cast

from factory.declarations import PostGenerationMethodCall, Sequence
from factory.django import DjangoModelFactory

from patron.users.models import Role, Team, User
from patron.users.services import role_create

PASSWORD = "correct horse battery"

Built = TypeVar("Built")


class ModelFactory(Protocol[Built]):
    """How tests use a factory; factory_boy types ``Factory()`` as the factory, not the model."""

    def __call__(self, **kwargs: Any) -> Built: ...

    def create(self, **kwargs: Any) -> Built: ...

    def build(self, **kwargs: Any) -> Built: ...

    def create_batch(self, size: int, **kwargs: Any) -> list[Built]: ...


class _UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = Sequence(lambda n: f"user{n}@example.com")
    full_name = Sequence(lambda n: f"User {n}")
    password = PostGenerationMethodCall("set_password", PASSWORD)

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        if create:
            instance.save()


class _TeamFactory(DjangoModelFactory[Team]):
    class Meta:
        model = Team

    name = Sequence(lambda n: f"Team {n}")


UserFactory = cast("ModelFactory[User]", _UserFactory)
TeamFactory = cast("ModelFactory[Team]", _TeamFactory)


def make_role(name: str, parent: Role | None = None, **fields: Any) -> Role:
    return role_create(name=name, parent=parent, **fields)
