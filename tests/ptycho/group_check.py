"""Reference k-NN for test_group.c: scipy.spatial.cKDTree on the same points.

usage: group_check.py POINTS QUERIES K OUT
POINTS and QUERIES are little-endian float64 (x, y) pairs; OUT receives the
int64 indices of the K nearest points of each query, nearest first.
"""
import sys

import numpy as np
from scipy.spatial import cKDTree


def main():
    pts = np.fromfile(sys.argv[1], dtype="<f8").reshape(-1, 2)
    q = np.fromfile(sys.argv[2], dtype="<f8").reshape(-1, 2)
    k = int(sys.argv[3])
    _, idx = cKDTree(pts).query(q, k=k)
    np.asarray(idx, dtype="<i8").reshape(len(q), k).tofile(sys.argv[4])


if __name__ == "__main__":
    main()
