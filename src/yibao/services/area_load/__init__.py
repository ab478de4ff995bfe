"""Loading a generated pooling area (``yibao synth generate``'s Parquet) into the registry."""

from yibao.services.area_load.load import AreaLoadRefused, LoadReport, load_area

__all__ = ["AreaLoadRefused", "LoadReport", "load_area"]
