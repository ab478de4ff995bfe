"""The system of record's domain model: plain Python, no ORM, no database.

Persons and households (一人一档), enrolments over time, coverage years and the double-entry
ledger's transactions. The store (``yibao.store``) maps these to tables; the services
(``yibao.services``) are the use cases over a unit of work.
"""
