"""The HTTP edge of the institution API: the app, its routes and envelopes, authentication,
roles and the transaction handlers."""
