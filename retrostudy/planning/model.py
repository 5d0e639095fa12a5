"""The stated model trials are simulated from: means by arm and visit, covariance, dropout.

:class:`TrialModel` is a frozen value (picklable, JSON-describable) and :func:`generate`
draws one trial from it with a numpy Generator: complete outcomes for every subject and
visit, which of them are observed, and the values after dropout under the chosen
departure (used only for the true treatment-policy effect).

Dropout is monotone (who leaves stays out):

* ``"mcar"``: each subject is observed at visit j with probability ``retention[arm, j]``,
  independently of the outcomes;
* ``"mar"``: at visit j a subject still in leaves with probability
  ``expit(a_j + mar_slope * z)``, where ``z`` is the standardized last observed value
  (missing at random: it depends on observed data only) and ``a_j`` is set so that the
  average over ``z ~ N(0, 1)`` is the hazard ``h_j = 1 - r_j / r_{j-1}``. The first
  dropout visit then keeps ``retention`` exactly (in expectation); later visits stay
  close to it (those still in are no longer a N(0, 1) sample).

After dropout the unobserved values follow the arm's own distribution (``departure=
"none"``: the hypothetical estimand equals the difference in means) or jump to the
reference arm (``"j2r"``, Carpenter, Roger & Kenward 2013): the joint mean is the arm's
before dropout and the reference arm's after, with the same covariance.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, TypedDict

import numpy as np
from scipy import special

from ..errors import SpecError
from .checks import check_corr, check_positive, check_retention

__all__ = ["TrialDescription", "TrialModel", "generate", "true_effects"]

DROPOUT = ("mcar", "mar")
DEPARTURE = ("none", "j2r")


def _tuple_str(values: Any, name: str) -> tuple[str, ...]:
    out = tuple(str(v) for v in values)
    if len(set(out)) != len(out) or not out:
        raise SpecError(f"{name} must be distinct names, not {list(values)!r}.")
    return out


class TrialDescription(TypedDict):
    """:meth:`TrialModel.describe`: the simulated trial as JSON (the fields of :class:`TrialModel`)."""

    arms: list[str]
    n_per_arm: list[int]
    visits: list[str]
    weeks: list[float]
    means: list[list[float]]
    sd: list[float]
    corr: list[list[float]]
    retention: list[list[float]]
    dropout: str
    mar_slope: float
    departure: str
    reference_arm: str
    sources: dict[str, str]


@dataclass(frozen=True, eq=False)
class TrialModel:
    """A randomized trial to simulate.

    Parameters
    ----------
    arms
        Arm names; the last is the reference (control) arm unless ``reference_arm``.
    n_per_arm
        Subjects randomized to each arm.
    visits
        Visit names; the first is the baseline.
    means
        Arms x visits true means.
    sd
        SD at each visit (one number: the same at every visit).
    corr
        Visits x visits correlation (positive definite).
    retention
        Arms x visits proportion observed (first visit 1, non-increasing); one row for
        all arms.
    weeks
        Time of each visit (default 0, 1, 2, ...).
    dropout
        ``"mcar"`` or ``"mar"`` (see the module docstring).
    mar_slope
        MAR: log-odds of leaving per SD of the last observed value.
    departure
        ``"none"`` or ``"j2r"`` (jump to reference after dropout).
    reference_arm
        The control arm (default the last).
    sources
        Where each input came from (input name -> sentence), for the result's summary.

    Raises
    ------
    SpecError
        Fewer than two arms or visits, or an input of the wrong shape or range (a
        correlation that is not positive definite, a retention that is not 1 at baseline
        or that increases, an unknown dropout or departure).

    Examples
    --------
    >>> from retrostudy.planning import TrialModel
    >>> model = TrialModel(arms=("retro", "control"), n_per_arm=(30, 30), visits=("baseline", "week6"),
    ...                    means=[[6.0, 4.0], [6.0, 5.0]], sd=1.8, corr=[[1, 0.6], [0.6, 1]],
    ...                    retention=[1, 0.85])
    >>> model.effects(), model.null().effects(), model.with_n(90).n_per_arm
    ({'retro - control': -1.0}, {'retro - control': 0.0}, (45, 45))
    """

    arms: tuple[str, ...]
    n_per_arm: tuple[int, ...]
    visits: tuple[str, ...]
    means: np.ndarray
    sd: np.ndarray
    corr: np.ndarray
    retention: np.ndarray
    weeks: tuple[float, ...] = ()
    dropout: str = "mcar"
    mar_slope: float = 0.0
    departure: str = "none"
    reference_arm: str = ""
    sources: dict[str, str] = field(default_factory=dict)
    #: MAR dropout intercepts per arm and visit, derived in ``__post_init__``.
    _mar_intercepts: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        arms = _tuple_str(self.arms, "arms")
        visits = _tuple_str(self.visits, "visits")
        if len(arms) < 2 or len(visits) < 2:
            raise SpecError("A trial model needs at least two arms and two visits (baseline and one later visit).")
        n = tuple(int(x) for x in np.atleast_1d(self.n_per_arm))
        if len(n) == 1:
            n = n * len(arms)
        if len(n) != len(arms) or min(n) < 2:
            raise SpecError(f"n_per_arm needs one whole number of at least 2 per arm ({len(arms)} arms), not "
                            f"{list(np.atleast_1d(self.n_per_arm))!r}.")
        means = np.asarray(self.means, float)
        if means.shape != (len(arms), len(visits)) or not np.all(np.isfinite(means)):
            raise SpecError(f"means must be an arms x visits table ({len(arms)} x {len(visits)}) of numbers.")
        sd = np.broadcast_to(np.asarray(self.sd, float), (len(visits),)).copy()
        for v, s in zip(visits, sd):
            check_positive(s, f"sd at {v}", hint="give the outcome's standard deviation at each visit")
        corr = check_corr(self.corr, "corr", n_visits=len(visits))
        ret = np.asarray(self.retention, float)
        ret = np.broadcast_to(ret, (len(arms), len(visits))).copy() if ret.ndim == 1 else ret
        if ret.shape != (len(arms), len(visits)):
            raise SpecError(f"retention must have one value per visit (or per arm and visit), shape "
                            f"{len(arms)} x {len(visits)}.")
        for a, row in zip(arms, ret):
            check_retention(row, f"retention of {a}")
            if row[0] != 1.0:
                raise SpecError(f"retention of {a} at the baseline visit must be 1 (everyone randomized has a "
                                f"baseline), not {row[0]:g}.")
        weeks = tuple(float(w) for w in self.weeks) if len(self.weeks) else tuple(float(i) for i in range(len(visits)))
        if len(weeks) != len(visits):
            raise SpecError(f"weeks needs one time per visit ({len(visits)}).")
        if self.dropout not in DROPOUT:
            raise SpecError(f"dropout must be 'mcar' or 'mar', not {self.dropout!r}.")
        if self.departure not in DEPARTURE:
            raise SpecError(f"departure must be 'none' or 'j2r' (jump to reference), not {self.departure!r}.")
        ref = self.reference_arm or arms[-1]
        if ref not in arms:
            raise SpecError(f"reference_arm {ref!r} is not one of the arms {', '.join(arms)}.")
        object.__setattr__(self, "_mar_intercepts", _mar_intercepts(ret, float(self.mar_slope)))
        for name, value in (("arms", arms), ("visits", visits), ("n_per_arm", n), ("means", means), ("sd", sd),
                            ("corr", corr), ("retention", ret), ("weeks", weeks), ("reference_arm", ref),
                            ("mar_slope", float(self.mar_slope))):
            object.__setattr__(self, name, value)

    # ------------------------------------------------------------------ derived
    @property
    def n_total(self) -> int:
        """Subjects randomized, all arms."""
        return int(sum(self.n_per_arm))

    @property
    def covariance(self) -> np.ndarray:
        """Visits x visits covariance of the outcome (``corr`` scaled by ``sd``)."""
        return self.corr * np.outer(self.sd, self.sd)

    @property
    def experimental(self) -> tuple[str, ...]:
        """The arms other than the reference arm."""
        return tuple(a for a in self.arms if a != self.reference_arm)

    def effects(self) -> dict[str, float]:
        """True differences in means at the final visit (arm - reference), no departure."""
        r = self.arms.index(self.reference_arm)
        return {f"{a} - {self.reference_arm}": float(self.means[i, -1] - self.means[r, -1])
                for i, a in enumerate(self.arms) if i != r}

    def null(self) -> TrialModel:
        """The same trial with every arm's means equal to the reference arm's (for type I error)."""
        r = self.arms.index(self.reference_arm)
        return replace(self, means=np.tile(self.means[r], (len(self.arms), 1)))

    def with_n(self, n_total: int) -> TrialModel:
        """The same trial with ``n_total`` subjects split as ``n_per_arm`` is (rounded)."""
        share = np.asarray(self.n_per_arm, float) / self.n_total
        n = np.maximum(2, np.round(share * n_total)).astype(int)
        return replace(self, n_per_arm=tuple(int(x) for x in n))

    def describe(self) -> TrialDescription:
        """JSON-safe description (for results, checkpoints and reports)."""
        return {"arms": list(self.arms), "n_per_arm": list(self.n_per_arm), "visits": list(self.visits),
                "weeks": list(self.weeks), "means": self.means.tolist(), "sd": self.sd.tolist(),
                "corr": self.corr.tolist(), "retention": self.retention.tolist(), "dropout": self.dropout,
                "mar_slope": self.mar_slope, "departure": self.departure, "reference_arm": self.reference_arm,
                "sources": dict(self.sources)}

    @classmethod
    def from_inputs(cls, inputs: Any, *, effect: float | dict[str, float] | None = None, n_per_arm: Any = None,
                    dropout: str = "mar", mar_slope: float = 0.5, departure: str = "none") -> TrialModel:
        """A model of a trial like the one ``inputs`` (:func:`planning_inputs`) were read from.

        Every arm has the trial's pooled baseline mean (randomization); the reference
        arm's later means are its observed ones and each experimental arm adds ``effect``
        (a number for every arm or a dict by arm; default the observed ANCOVA effects)
        at the final visit, proportionally to the week before. SD, correlation and
        retention by arm and visit are the trial's.
        """
        arms, visits = list(inputs.arms), list(inputs.visits)
        cov = inputs.covariance.to_numpy()
        sd = np.sqrt(np.diag(cov))
        ref = inputs.reference_arm
        obs = {f"{a} - {ref}": inputs.effect(a) for a in arms if a != ref}
        if effect is None:
            eff = {a: obs[f"{a} - {ref}"] for a in arms if a != ref}
        elif isinstance(effect, dict):
            eff = {a: float(effect.get(a, 0.0)) for a in arms if a != ref}
        else:
            eff = {a: float(effect) for a in arms if a != ref}
        ref_means = inputs.means.loc[ref, visits].to_numpy(float).copy()
        ref_means[0] = float(inputs.means[visits[0]].mean())  # randomization: one baseline mean
        means = np.tile(ref_means, (len(arms), 1))
        frac = np.linspace(0.0, 1.0, len(visits))
        for i, a in enumerate(arms):
            if a != ref:
                means[i] = ref_means + eff[a] * frac
        n = tuple(int(inputs.n_randomized[a]) for a in arms) if n_per_arm is None else n_per_arm
        sources = {
            "sd": inputs.sources["sd"], "corr": inputs.sources["corr"], "retention": inputs.sources["retention"],
            "effect": ("observed: " + inputs.sources["effect"]) if effect is None else "given",
            "means": f"reference arm: {inputs.sources['means']}; every arm starts at the mean baseline; "
                     "experimental arms add the effect linearly up to the final visit",
        }
        return cls(arms=tuple(arms), n_per_arm=n, visits=tuple(visits), means=means, sd=sd,
                   corr=cov / np.outer(sd, sd), retention=np.vstack([inputs.retention[a] for a in arms]),
                   dropout=dropout, mar_slope=mar_slope, departure=departure, reference_arm=ref, sources=sources)


_GH = np.polynomial.hermite_e.hermegauss(64)


def _mar_intercepts(retention: np.ndarray, slope: float) -> np.ndarray:
    """``a[arm, j]`` with ``E[expit(a + slope Z)] = 1 - r_j / r_{j-1}`` for Z ~ N(0, 1) (nan: no dropout)."""
    from scipy import optimize

    x, w = _GH
    w = w / w.sum()
    out = np.full(retention.shape, np.nan)
    for i, row in enumerate(retention):
        for j in range(1, len(row)):
            h = 1.0 - row[j] / row[j - 1]
            if h <= 1e-12 or h >= 1 - 1e-12:
                continue
            out[i, j] = optimize.brentq(lambda a, h=h: float(special.expit(a + slope * x) @ w) - h, -60.0, 60.0,
                                        xtol=1e-12)
    return out


def _subjects(model: TrialModel) -> np.ndarray:
    return np.repeat(np.arange(len(model.arms)), model.n_per_arm)


def generate(model: TrialModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One trial: ``(y, observed, y_policy)`` as subjects x visits arrays (subjects in arm order).

    ``y`` are the outcomes without dropout, ``observed`` the monotone observation mask and
    ``y_policy`` the outcomes with post-dropout values under the model's departure (equal
    to ``y`` for ``"none"``).
    """
    arm = _subjects(model)
    n, T = len(arm), len(model.visits)
    chol = np.linalg.cholesky(model.covariance)
    z = rng.standard_normal((n, T))
    y = model.means[arm] + z @ chol.T
    ret = model.retention[arm]
    observed = np.ones((n, T), dtype=bool)
    if model.dropout == "mcar":
        u = rng.random(n)
        observed = u[:, None] < ret
        observed[:, 0] = True
    else:
        u = rng.random((n, T))
        prev = np.ones(n, dtype=bool)
        a = model._mar_intercepts[arm]
        for j in range(1, T):
            h = 1.0 - ret[:, j] / ret[:, j - 1]
            zlast = (y[:, j - 1] - model.means[arm, j - 1]) / model.sd[j - 1]
            with np.errstate(invalid="ignore"):
                p = np.where(np.isnan(a[:, j]), np.clip(h, 0.0, 1.0), special.expit(a[:, j] + model.mar_slope * zlast))
            prev = prev & (u[:, j] >= p)
            observed[:, j] = prev
    y_policy = y
    if model.departure == "j2r":
        y_policy = _jump_to_reference(model, arm, y, observed, rng)
    return y, observed, y_policy


def _jump_to_reference(model: TrialModel, arm: np.ndarray, y: np.ndarray, observed: np.ndarray,
                       rng: np.random.Generator) -> np.ndarray:
    """Post-dropout values of experimental arms drawn given the observed ones, reference means after."""
    out = y.copy()
    S = model.covariance
    r = model.arms.index(model.reference_arm)
    k_obs = observed.sum(axis=1)
    T = len(model.visits)
    for k in range(1, T):
        who = np.flatnonzero((k_obs == k) & (arm != r))
        if who.size == 0:
            continue
        o, m = slice(0, k), slice(k, T)
        mu_o = model.means[arm[who]][:, o]
        mu_m = np.tile(model.means[r, m], (who.size, 1))
        B = S[m, o] @ np.linalg.inv(S[o, o])
        cond = S[m, m] - B @ S[o, m]
        mean = mu_m + (y[who][:, o] - mu_o) @ B.T
        out[np.ix_(who, np.arange(k, T))] = mean + rng.standard_normal((who.size, T - k)) @ np.linalg.cholesky(cond).T
    return out


def true_effects(model: TrialModel, *, n_per_arm: int = 200_000, seed: int = 20190159) -> tuple[dict, dict]:
    """True final-visit effects (arm - reference) and their Monte Carlo SE.

    Without departure they are the differences in means (SE 0). With ``"j2r"`` they are
    the treatment-policy effects, estimated from ``n_per_arm`` simulated subjects per arm
    (a fixed seed, so the same model always gives the same truth).
    """
    if model.departure == "none":
        return model.effects(), {k: 0.0 for k in model.effects()}
    big = replace(model, n_per_arm=(n_per_arm,) * len(model.arms))
    _, _, yp = generate(big, np.random.default_rng(seed))
    arm = _subjects(big)
    r = model.arms.index(model.reference_arm)
    final = yp[:, -1]
    out, se = {}, {}
    for i, a in enumerate(model.arms):
        if i == r:
            continue
        key = f"{a} - {model.reference_arm}"
        out[key] = float(final[arm == i].mean() - final[arm == r].mean())
        se[key] = float(np.sqrt(final[arm == i].var(ddof=1) / n_per_arm + final[arm == r].var(ddof=1) / n_per_arm))
    return out, se
