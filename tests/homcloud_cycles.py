"""HomCloud's H1 pairs and optimal 1-cycles of an alpha filtration, for tests/test_homology.cpp.

usage: homcloud_cycles.py POINTS OUT
POINTS: one point per line, "x y z". OUT: one pair per line, "birth death i j i j ..." with the
cycle's edges as point indices (squared radii, as GUDHI's filtration values).
"""
import sys

import homcloud.interface as hc
import numpy as np

points = np.loadtxt(sys.argv[1], ndmin=2)
index = {tuple(p): i for i, p in enumerate(points.tolist())}
pd1 = hc.PDList.from_alpha_filtration(points, save_boundary_map=True).dth_diagram(1)
with open(sys.argv[2], "w") as out:
    for pair in pd1.pairs():
        if not pair.death_time() > pair.birth_time():
            continue
        edges = []
        for a, b in pair.optimal_1_cycle().path():
            edges += sorted((index[tuple(a)], index[tuple(b)]))
        out.write(" ".join([repr(pair.birth_time()), repr(pair.death_time())] +
                           [str(k) for k in edges]) + "\n")
