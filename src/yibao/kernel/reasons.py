"""Why a layer paid nothing or less (the ``reasons`` output column): one bit a reason."""

from __future__ import annotations

WAITING = 1
BASIC_DEDUCTIBLE = 2
BASIC_CAP = 4
CI_DEDUCTIBLE = 8
CI_CAP = 16
LA_CAP = 32
NOT_AID_RECIPIENT = 64
MA_CAP = 128
CHRONIC_NOT_CERTIFIED = 256
CHRONIC_LIMIT = 512
REASONS = {
    WAITING: "waiting period: insured but not yet entitled, all self-paid",
    BASIC_DEDUCTIBLE: "basic fund: within the deductible",
    BASIC_CAP: "basic fund: annual cap reached",
    CI_DEDUCTIBLE: "critical illness: year-to-date base below its deductible",
    CI_CAP: "critical illness: annual cap reached",
    LA_CAP: "large-amount insurance: annual cap reached",
    NOT_AID_RECIPIENT: "medical assistance: not an aid recipient",
    MA_CAP: "medical assistance: annual limit reached",
    CHRONIC_NOT_CERTIFIED: (
        "chronic and special diseases: no disease certified for the person on the claim's date "
        "(or the disease is not listed), the basic fund pays nothing"
    ),
    CHRONIC_LIMIT: "chronic and special diseases: the disease's annual limit reached",
}
