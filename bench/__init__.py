"""relay's benchmarks: every figure is a ratio against a baseline measured side by side in one
run on the same machine (baseline and relay alternated over several rounds).

``python -m bench`` runs every figure, prints one line per figure and appends the results to
``BENCHMARKS.md``; ``python -m bench NAME ...`` runs some; ``--quick`` is a fast pass;
``python -m bench.profile NAME`` prints a cProfile of relay's side of a figure.
"""
