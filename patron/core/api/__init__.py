"""API infrastructure shared by every app's router: auth, problem+json, paging, idempotency."""
