"""Forecasts of monthly El Niño sea-surface temperature against persistence and climatology.

The series is the monthly mean SST of the Niño 1+2 region (0-10 S, 90-80 W), 1950-2010, bundled
with statsmodels as ``statsmodels.datasets.elnino``. Forecasts are made for anomalies from the
mean annual cycle of the training years, and scored on later years only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def load_sst() -> pd.Series:
    """Return the monthly SST in degrees Celsius as a Series indexed by month (1950-01 to 2010-12)."""
    from statsmodels.datasets import elnino

    table = elnino.load_pandas().data
    values = table[list(MONTHS)].to_numpy().ravel()
    index = pd.period_range(f"{int(table['YEAR'].iloc[0])}-01", periods=values.size, freq="M")
    return pd.Series(values, index=index, name="sst")


def split_anomalies(sst: pd.Series, first_test_year: int) -> dict:
    """Split ``sst`` before ``first_test_year`` and remove the training years' mean annual cycle.

    Returns ``train`` and ``test`` anomaly arrays, the ``climatology`` (12 monthly means of the
    training years) and the calendar month (0-11) of each test value.
    """
    is_train = sst.index.year < first_test_year
    months = sst.index.month.to_numpy() - 1
    climatology = np.array([sst[is_train & (months == m)].mean() for m in range(12)])
    anomaly = sst.to_numpy() - climatology[months]
    return {
        "train": anomaly[is_train],
        "test": anomaly[~is_train],
        "climatology": climatology,
        "test_months": months[~is_train],
        "test_index": sst.index[~is_train],
    }


def lagged(series: np.ndarray, order: int, lead: int) -> tuple[np.ndarray, np.ndarray]:
    """Return predictors ``(n, order)`` (the last ``order`` values, newest first) and targets ``lead`` months on."""
    series = np.asarray(series, dtype=float)
    rows = range(order - 1, series.size - lead)
    predictors = np.array([series[i - order + 1 : i + 1][::-1] for i in rows])
    targets = np.array([series[i + lead] for i in rows])
    return predictors, targets


def fit_direct_regression(train: np.ndarray, order: int, lead: int) -> np.ndarray:
    """Fit target = c + sum_j a_j x_{t-j} by least squares, one model per lead; return [c, a_0, ...]."""
    predictors, targets = lagged(train, order, lead)
    design = np.column_stack([np.ones(len(targets)), predictors])
    coefficients, *_ = np.linalg.lstsq(design, targets, rcond=None)
    return coefficients


def forecasts_at_lead(split: dict, lead: int, order: int = 3) -> dict:
    """Return the test-period forecasts ``lead`` months ahead by persistence, climatology and regression.

    Persistence forecasts that today's anomaly stays. Climatology forecasts an anomaly of 0, the
    mean annual cycle. The regression uses the last ``order`` anomalies and is fitted on the
    training years only. Forecasts start from every month from the first test month on that has a
    verifying value ``lead`` months later; their history may reach back into the training
    years. Returns ``index`` (the verifying months), ``observed`` and ``forecasts`` (a dict).
    """
    full = np.concatenate([split["train"], split["test"]])
    offset = split["train"].size
    coefficients = fit_direct_regression(split["train"], order, lead)
    predictors, targets = lagged(full, order, lead)
    # Row i of `lagged` starts at time i + order - 1; keep the starts inside the test years.
    starts = np.arange(order - 1, full.size - lead)
    keep = starts >= offset
    predictors, targets = predictors[keep], targets[keep]
    return {
        "index": split["test_index"][lead:],
        "observed": targets,
        "forecasts": {
            "persistence": predictors[:, 0],
            "climatology": np.zeros_like(targets),
            f"regression on {order} months": coefficients[0] + predictors @ coefficients[1:],
        },
    }


def score_forecasts(split: dict, leads: tuple[int, ...] = (1, 3, 6, 12), order: int = 3) -> pd.DataFrame:
    """Return the test RMSE (deg C) of each method of :func:`forecasts_at_lead` at each lead, in a table."""
    rows = []
    for lead in leads:
        result = forecasts_at_lead(split, lead, order)
        for method, forecast in result["forecasts"].items():
            error = float(np.sqrt(np.mean((forecast - result["observed"]) ** 2)))
            rows.append({"lead (months)": lead, "method": method, "RMSE (deg C)": error})
    return pd.DataFrame(rows).pivot(index="lead (months)", columns="method", values="RMSE (deg C)")
