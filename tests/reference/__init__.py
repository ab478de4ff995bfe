"""The reference settlement (the oracle of the kernel's property tests): rules.md §6 written
plainly, claim by claim, in ``Decimal``, reading the parameters through ``yibao.policy.Policy``
and nothing of ``yibao.kernel``. Tests only: ``tests/test_kernel_oracle.py`` checks that the
kernel equals it to the fen."""
