"""A visit's fee detail lines and clinical data (费用明细, 诊断, 出院):

- ``lines``: upload (2204) and cancel (2205) lines, all or nothing, the visit's live lines
  classified again against its area's catalogue after each (``classify``); an upload
  previewed (classified, nothing written: 2206 with lines);
- ``clinical``: diagnoses (ICD-10, principal first), procedures (ICD-9-CM-3), discharge (2402)
  and its cancellation (2405);
- ``source``: where the catalogue comes from (``services.catalogue``).

Settlement (``services.settlement``) derives a claim's amounts from the stored classification
of the visit's live lines.
"""

from yibao.services.fees.clinical import (
    VisitRecord,
    cancel_discharge,
    diagnoses_from,
    discharge,
    procedures_from,
    record_diagnoses,
    visit_diagnoses,
    visit_record,
)
from yibao.services.fees.lines import (
    FeeChange,
    LineResult,
    Upload,
    cancel_lines,
    preview_upload,
    upload_lines,
    upload_many,
    visit_lines,
)

__all__ = [
    "FeeChange",
    "LineResult",
    "Upload",
    "VisitRecord",
    "cancel_discharge",
    "cancel_lines",
    "diagnoses_from",
    "discharge",
    "preview_upload",
    "procedures_from",
    "record_diagnoses",
    "upload_lines",
    "upload_many",
    "visit_diagnoses",
    "visit_lines",
    "visit_record",
]
