"""The service designated institutions call: ``POST /api/v1/tx`` (national-platform envelope),
staff endpoints, authentication (institution HMAC keys, staff bearer tokens), roles, masking and
the append-only audit log. ``create_app(settings)`` builds the FastAPI application."""
