"""Policy simulation (back-office.md §6): an area's year of claims settled under the baseline and
each reform through the one kernel, compared. ``engine`` is the seam every engine calls
(``settle_households``), ``local`` the in-process engine over an area's parts, ``aggregate``
the totals and household burden, ``reform`` reading and checking reforms, ``contributions`` the
year's contributions as arrays, ``charts`` the PNGs."""
