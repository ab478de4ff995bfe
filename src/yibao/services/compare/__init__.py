"""Data comparison with other departments: files in, matching, linkage, findings, coverage."""
