"""Test helpers for API endpoints: problem-document assertions."""

from __future__ import annotations

from typing import Any

from patron.core.api.problems import PROBLEM_CONTENT_TYPE


def assert_problem(response: Any, status: int, *fields: str) -> dict[str, Any]:
    """Assert ``response`` is a problem document with ``status`` naming ``fields``."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith(PROBLEM_CONTENT_TYPE), response["Content-Type"]
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance", "errors"} <= set(body)
    for name in fields:
        assert name in body["errors"], (name, body)
    return body
