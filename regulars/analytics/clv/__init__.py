"""Customer lifetime value: BG/NBD purchase counts, Gamma-Gamma spend, and the RFM summary.

Pure numpy/scipy; nothing here touches the database. See each module for formulas and
references.
"""

from ._optim import ConvergenceError
from .bgnbd import BGNBD, BGNBDParams
from .gammagamma import PERIODS_PER_MONTH, GammaGamma, GammaGammaParams
from .summary import (
    Summary,
    Transactions,
    TransactionsFileError,
    deduplicate_rows,
    read_transactions_csv,
    summary_from_transactions,
)

__all__ = [
    "BGNBD",
    "BGNBDParams",
    "ConvergenceError",
    "GammaGamma",
    "GammaGammaParams",
    "PERIODS_PER_MONTH",
    "Summary",
    "Transactions",
    "TransactionsFileError",
    "deduplicate_rows",
    "read_transactions_csv",
    "summary_from_transactions",
]
