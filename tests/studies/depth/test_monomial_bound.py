"""Why counting monomials bounds a depth-2 sum-product network from below: each product
unit computes one monomial, and the monomials are linearly independent functions, so a
weighted sum of fewer product units than F has monomials cannot equal F."""

import itertools
import math

import jax
import numpy as np

from cnn_jax.studies.depth import sum_product as D

N = 16


def _values(monomials, x):
    return np.stack([np.prod(x[:, list(m)], axis=1) for m in monomials], axis=1)


def test_no_two_terms_of_f_cancel_or_merge():
    poly = D.expand_spn(D.spn_weights(jax.random.key(0), N), N)
    assert all(c > 0 for c in poly.values())  # positive weights: nothing cancels
    assert len(poly) == 2 ** (math.isqrt(N) - 1)


def test_dropping_any_monomial_of_f_leaves_a_residual_no_other_monomials_remove():
    poly = D.expand_spn(D.spn_weights(jax.random.key(0), N), N)
    mine = list(poly)
    rng = np.random.default_rng(0)
    others = [m for m in itertools.combinations(range(N), 4) if m not in poly]
    decoys = [others[i] for i in rng.choice(len(others), 40, replace=False)]
    x = rng.uniform(0.5, 1.5, (400, N))
    f = D.evaluate_polynomial(poly, x)
    basis = _values(mine + decoys, x)
    _, full, *_ = np.linalg.lstsq(basis, f, rcond=None)
    assert full[0] < 1e-20 * (f @ f)  # F's own monomials fit it exactly
    for k in range(len(mine)):
        without = np.delete(basis, k, axis=1)
        fit = without @ np.linalg.lstsq(without, f, rcond=None)[0]
        assert np.sum((f - fit) ** 2) > 1e-6 * (f @ f), k
