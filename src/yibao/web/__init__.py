"""The staff web console (经办工作台), served under ``/console`` by the same application: server-
rendered pages (Jinja2), a few lines of script, every asset in the package. Imports services and
below, never ``api``. See docs/console.md."""
