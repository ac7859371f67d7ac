"""Quality flags for kept-but-suspicious rows: a ';'-separated list per row (see schema.QUALITY_FLAGS)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from conflict_report.schema import QUALITY_FLAGS


class Flags:
    def __init__(self, index: pd.Index):
        self._lists = pd.Series([[] for _ in range(len(index))], index=index, dtype="object")

    def add(self, mask: pd.Series, flag: str) -> None:
        assert flag in QUALITY_FLAGS, f"undocumented quality flag {flag!r}: add it to schema.QUALITY_FLAGS"
        mask = mask.fillna(False).astype(bool)
        for position in np.flatnonzero(mask.to_numpy()):
            self._lists.iat[position].append(flag)

    def deaths_range(self, low: pd.Series, best: pd.Series, high: pd.Series, civilians: pd.Series) -> None:
        self.add(low > best, "deaths_low_above_best")
        self.add(best > high, "deaths_best_above_high")
        self.add(civilians > best, "civilians_above_best")

    def joined(self) -> pd.Series:
        return self._lists.map(";".join)
