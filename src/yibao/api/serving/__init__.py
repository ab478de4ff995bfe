"""Serving the API: worker processes (server), group commit of concurrent settlements (batch)
and the signed-2207 fast path in front of the routes (fastpath)."""
