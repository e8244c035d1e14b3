"""Inter-annotator agreement: reliability data from our annotations, Krippendorff's alpha (the
``krippendorff`` package does the arithmetic), bootstrap intervals, span F1, per-annotator reliability.

Modules, one job each:

- :mod:`~annotator.agree.spans`: tokens of a text, a cause span as a token mask and back, span F1;
- :mod:`~annotator.agree.distance`: MASI distance between emotion sets;
- :mod:`~annotator.agree.alpha`: value counts -> alpha (via ``krippendorff.alpha``) and bootstrap CIs;
- :mod:`~annotator.agree.matrix`: codings (who said what about which item) -> value counts per field;
- :mod:`~annotator.agree.reliability`: each annotator against the leave-one-out consensus of the others.

Everything here is pure (arrays and dataclasses in, numbers out); the database side is
:mod:`annotator.agree.service`.
"""
