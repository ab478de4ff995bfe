"""Loading a generated pooling area (``yibao synth generate``'s Parquet) into the registry:
``read`` streams the parts, ``build`` makes the rows with the services' builders, ``write``
copies them, ``visits`` loads the claims as visits with their classified fee lines, diagnoses
and procedures, ``settle`` settles them through the kernel and stores the settlements with
their ledger transactions, ``report`` counts; ``load.load_area`` runs a load."""

from yibao.services.area_load.load import load_area
from yibao.services.area_load.report import AreaLoadRefused, LoadReport

__all__ = ["AreaLoadRefused", "LoadReport", "load_area"]
