"""Empirical ("sandwich") covariance of the GLS fixed effects.

SAS PROC MIXED ``EMPIRICAL`` (Liang & Zeger 1986; the CR0 cluster-robust estimator
with subjects as clusters, no small-sample correction)::

    C_emp = C (sum_i X_i' V_i^-1 r_i r_i' V_i^-1 X_i) C,   C = (X'V^-1X)^-1,

with ``r_i = y_i - X_i b`` and V_i the fitted covariance of subject i (with SAS
``WEIGHT``s, computed on the weight-scaled rows, which is the same thing).
"""
from __future__ import annotations

import numpy as np

from .reml import RemlFit

__all__ = ["empirical_vcov"]


def empirical_vcov(fit: RemlFit) -> np.ndarray:
    """CR0 sandwich covariance of ``fit.beta`` (SAS ``EMPIRICAL``)."""
    p = fit.problem.p
    meat = np.zeros((p, p))
    Sig = fit.sigma
    for pat in fit.problem.patterns:
        S = np.linalg.inv(Sig[pat.group][pat.ix])
        r = pat.y - pat.X @ fit.beta  # (n, m)
        g = np.einsum("nmp,nm->np", pat.X, r @ S)
        meat += g.T @ g
    C = fit.vcov_beta
    out = C @ meat @ C
    return (out + out.T) / 2.0
