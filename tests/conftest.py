"""Collection settings for the whole test run.

``--doctest-modules`` (pyproject's addopts) imports every module under the test paths; the
scripts that made the reference numbers are not tests and some write files when imported,
so they are left out of collection.
"""
collect_ignore_glob = ["reference/*.py", "reference/*/*.py", "reference/*/*/*.py"]
