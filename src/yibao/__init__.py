"""yibao: China's basic medical insurance (基本医疗保险) as policy-as-code."""

__version__ = "0.1.0"
