"""Export statsmodels' bundled copy of the dietox data to ``dietox.csv`` and record
what statsmodels' MixedLM returns on it (the "silent wrong optimum" near miss).

Run from this folder:  python3 export_dietox.py
The R script ``make_lmer.R`` reads the CSV written here.
"""
from __future__ import annotations

import json
import os
import platform
import warnings

import numpy as np
import pandas as pd
import statsmodels
import statsmodels.formula.api as smf

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(os.path.dirname(statsmodels.__file__), "regression", "tests", "results", "dietox.csv")


def main() -> None:
    raw = pd.read_csv(SOURCE, index_col=0)
    out = raw.loc[:, ["Pig", "Evit", "Cu", "Litter", "Time", "Weight", "Feed"]]
    out.to_csv(os.path.join(HERE, "dietox.csv"), index=False)
    data = pd.read_csv(os.path.join(HERE, "dietox.csv"))
    fits = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ri = smf.mixedlm("Weight ~ Time", data, groups=data["Pig"]).fit(reml=True)
        rs = smf.mixedlm("Weight ~ Time", data, groups=data["Pig"], re_formula="~Time").fit(reml=True)
    for name, res in (("dietox_ri", ri), ("dietox_rs", rs)):
        fits[name] = {
            "loglik": float(res.llf),
            "minus2_loglik": float(-2.0 * res.llf),
            "converged": bool(res.converged),
            "fe_params": [float(x) for x in np.asarray(res.fe_params)],
            "bse_fe": [float(x) for x in np.asarray(res.bse_fe)],
        }
    record = {
        "what": "statsmodels MixedLM (REML, default optimizer chain) on dietox: Weight ~ Time with (1|Pig) and (Time|Pig)",
        "note": "For (Time|Pig) statsmodels stops at loglik -2220.39 (not converged) while lme4 reaches "
                "-2217.047459; the slope value is a near miss the engine must NOT reproduce.",
        "versions": {"python": platform.python_version(), "statsmodels": statsmodels.__version__,
                     "pandas": pd.__version__, "numpy": np.__version__},
        "source": "statsmodels/regression/tests/results/dietox.csv (bundled with statsmodels)",
        "fits": fits,
    }
    with open(os.path.join(HERE, "dietox_statsmodels.json"), "w") as fh:
        json.dump(record, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
