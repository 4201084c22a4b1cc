"""Proprietary periods and access tokens.

A row with a ``release_date`` stays private until that UTC date; ``program_id`` says which
proposal/program owns it.  :mod:`hubbleclip.access.policy` decides visibility at query time
(anonymous callers see public rows only); :mod:`hubbleclip.access.tokens` holds hashed bearer
tokens that name the programs (or "all") a caller may see.
"""
