"""Agency simulator: one process standing in for every government agency the portal talks to.

It answers the portal over HTTP exactly as docs/contracts.md ("The agency simulator") describes: identity
records, self-information and the information provision network's records (情報提供等記録) keyed by
agency-specific codes (機関別符号), behind signed client assertions, with injectable latency, errors and
outages.

This package must never import the Django portal (``portal``, ``api``, ``notices``) and must never store a
My Number: it shares only the HTTP contract and the files in ``demo/`` with the portal.
"""
