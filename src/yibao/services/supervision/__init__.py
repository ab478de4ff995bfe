"""Supervision (智能监控) use cases: the year's rules over an area or the store; findings."""
