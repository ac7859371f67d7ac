"""Quality flags for kept-but-suspicious rows: a ';'-separated list per row (see schema.QUALITY_FLAGS)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from conflict_report.data.schema import QUALITY_FLAGS


class Flags:
    """Each row's flags as text, in the order they were added. Vectorised: one mask per flag,
    and only the flagged rows' text is touched (a few in a hundred)."""

    def __init__(self, index: pd.Index):
        self._index = index
        self._text = np.full(len(index), "", dtype=object)

    def add(self, mask: pd.Series, flag: str) -> None:
        assert flag in QUALITY_FLAGS, f"undocumented quality flag {flag!r}: add it to schema.QUALITY_FLAGS"
        rows = np.flatnonzero(mask.fillna(False).to_numpy(dtype=bool))
        self._text[rows] = [f"{text};{flag}" if text else flag for text in self._text[rows]]

    def deaths_range(self, low: pd.Series, best: pd.Series, high: pd.Series, civilians: pd.Series) -> None:
        self.add(low > best, "deaths_low_above_best")
        self.add(best > high, "deaths_best_above_high")
        self.add(civilians > best, "civilians_above_best")

    def joined(self) -> pd.Series:
        return pd.Series(self._text.copy(), index=self._index, dtype="object")
