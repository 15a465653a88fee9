"""Data-set exploration report (``kwsapp explore DATA_DIR --out DIR``).

- :mod:`.layout`: the Speech Commands folder layout (clips, words, speakers, splits);
- :mod:`.stats`: one streaming pass, running sums and reservoir samples;
- :mod:`.figures`: matplotlib figures (Agg);
- :mod:`.page`: the self-contained HTML page;
- :mod:`.report`: puts them together (:func:`build_report`);
- :mod:`.render_check`: loads a report in headless Chromium and checks every image decodes.
"""

from training.explore.report import build_report

__all__ = ["build_report"]
