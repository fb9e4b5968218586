"""epoch_batches: the shuffle every engine shares."""

import jax
import numpy as np

from cnn_jax.training.batches import epoch_batches


def test_batches_are_the_epochs_permutation_cut_with_the_remainder_left_out():
    key = jax.random.key(3)
    batches = np.asarray(epoch_batches(key, 2, 10, 3))
    order = np.asarray(jax.random.permutation(jax.random.fold_in(key, 2), 10))
    assert batches.shape == (3, 3)
    np.testing.assert_array_equal(batches.ravel(), order[:9])
    assert not np.array_equal(batches, np.asarray(epoch_batches(key, 3, 10, 3)))


def test_a_traced_epoch_gives_the_same_batches():
    key = jax.random.key(0)
    jitted = jax.jit(epoch_batches, static_argnums=(2, 3))
    np.testing.assert_array_equal(jitted(key, 5, 12, 4), epoch_batches(key, 5, 12, 4))
