"""The covariance structures by name: SAS names, aliases, display names, and the factory.

One place for every spelling a user may give (``covariance="ante(1)"``, ``"arh1"``,
``"UN"``, ``"toeplitz"``) and for the words reports print.
"""
from __future__ import annotations

import difflib

from ..errors import SpecError
from .covariance import CovarianceStructure, GroupedStructure, _CS, _TOEP, _UN
from .varcorr import VarCorrStructure

__all__ = ["STRUCTURES", "ALIASES", "DISPLAY_NAMES", "covariance_key", "make_structure"]

#: Structure name -> SAS TYPE= name.
STRUCTURES = {"us": "UN", "cs": "CS", "csh": "CSH", "ar1": "AR(1)", "ar1h": "ARH(1)", "toep": "TOEP",
              "toeph": "TOEPH", "ad": "ANTE(1) homogeneous", "adh": "ANTE(1)"}

#: Other spellings -> structure name (SAS names, R mmrm names, common words).
ALIASES = {"un": "us", "unstructured": "us", "ar(1)": "ar1", "arh(1)": "ar1h", "arh1": "ar1h", "ante(1)": "adh",
           "ante1": "adh", "ante": "adh", "toeplitz": "toep", "toep(h)": "toeph", "cs(h)": "csh",
           "compound symmetry": "cs", "exchangeable": "cs"}

#: Structure name -> how reports name it.
DISPLAY_NAMES = {"us": "unstructured (SAS UN)", "cs": "compound symmetry (CS)",
                 "csh": "heterogeneous compound symmetry (CSH)", "ar1": "first-order autoregressive (AR(1))",
                 "ar1h": "heterogeneous AR(1) (ARH(1))", "toep": "Toeplitz (TOEP)",
                 "toeph": "heterogeneous Toeplitz (TOEPH)", "ad": "first-order ante-dependence with one variance",
                 "adh": "first-order ante-dependence (ANTE(1))", "sp_exp": "spatial exponential (SP(EXP))",
                 "sp_gau": "spatial Gaussian (SP(GAU))"}


def covariance_key(name: str, *, spatial: bool = False) -> str:
    """The structure name of any accepted spelling, or a :class:`SpecError` with the closest one.

    >>> covariance_key("ANTE(1)"), covariance_key("arh1"), covariance_key("Toeplitz")
    ('adh', 'ar1h', 'toep')
    """
    key = " ".join(str(name).strip().lower().replace("_", " ").split()) if " " in str(name).strip() else str(
        name).strip().lower()
    key = ALIASES.get(key, key)
    known = list(STRUCTURES) + (["sp_exp", "sp_gau"] if spatial else [])
    if key in known:
        return key
    close = difflib.get_close_matches(key, known + list(ALIASES), n=1, cutoff=0.6)
    hint = f" (did you mean {ALIASES.get(close[0], close[0])!r}?)" if close else ""
    raise SpecError(f"Unknown covariance structure {name!r}{hint}; use one of {', '.join(known)}.")


def _single(name: str, T: int, grouped: bool) -> CovarianceStructure:
    var = [f"Var({i + 1})" for i in range(T)]
    if name == "us":
        return _UN(T)
    if name == "cs":
        return _CS(T, grouped=grouped)
    if name == "toep":
        return _TOEP(T)
    if name == "csh":
        return VarCorrStructure("csh", T, "cs", True, var + ["CSH"])
    if name == "ar1":
        if grouped:
            return VarCorrStructure("ar1", T, "ar1", False, ["Variance", "AR(1)"])
        return VarCorrStructure("ar1", T, "ar1", False, ["AR(1)", "Residual"], corr_first=True)
    if name == "ar1h":
        return VarCorrStructure("ar1h", T, "ar1", True, var + ["ARH(1)"])
    if name == "toeph":
        return VarCorrStructure("toeph", T, "toep", True, var + [f"TOEPH({k})" for k in range(1, T)])
    if name == "adh":
        return VarCorrStructure("adh", T, "ante", True, var + [f"Rho({k})" for k in range(1, T)])
    if name == "ad":
        return VarCorrStructure("ad", T, "ante", False, ["Variance"] + [f"Rho({k})" for k in range(1, T)])
    raise SpecError(f"Unknown covariance structure {name!r}; use one of {', '.join(STRUCTURES)}.")


def make_structure(name: str, n_times: int, *, groups: list[str] | None = None) -> CovarianceStructure:
    """A covariance structure by name (``us``, ``cs``, ``csh``, ``ar1``, ``ar1h``, ``toep``,
    ``toeph``, ``ad``, ``adh``) for ``n_times`` visits.

    Parameters
    ----------
    name
        Structure name or an alias (:data:`ALIASES`: SAS names such as ``un``, ``ar(1)``,
        ``arh(1)``, ``ante(1)``).
    n_times
        Number of visits T.
    groups
        Group levels for a separate covariance per group (SAS ``GROUP=``).
    """
    key = covariance_key(name)
    if int(n_times) < 1:
        raise SpecError("A covariance structure needs at least one visit.")
    T = int(n_times)
    if T == 1 and key not in ("us", "cs"):
        key = "us"
    if groups is None or len(groups) <= 1:
        return _single(key, T, grouped=False)
    return GroupedStructure([_single(key, T, grouped=True) for _ in groups], list(groups))


