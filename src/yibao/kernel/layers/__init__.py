"""The settlement layers of rules.md §6, one module each, in the order they pay:

- ``scope``: waiting period (待遇等待期) and the amount within policy scope (政策范围内费用);
- ``basic``: the basic pooling fund (基本统筹);
- ``critical_illness``: critical illness insurance (大病保险), residents;
- ``large_amount``: large-amount insurance (大额医疗费用补助), employees;
- ``assistance``: medical assistance (医疗救助), by tier;
- ``accounts``: personal account (个人账户) and family mutual aid (家庭共济).

``common`` holds what they share (annual caps, deductibles, banded schedules);
``kernel.settle.settle_claims`` composes them.
"""
