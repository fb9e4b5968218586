"""Greedy layer-wise pretraining against random and normalized init, on one deep sigmoid MLP.

Hinton et al. (2006) trained a deep belief net one RBM at a time; Bengio et al. (2007) did the
same with autoencoders and with a supervised greedy procedure, and asked whether the gain came
from the unsupervised criterion. Here every starting point — Nielsen's random init, Glorot's
normalized init, an RBM stack, an autoencoder stack, a denoising autoencoder stack, a
supervised greedy stack, and ReLU with He init as the modern reference — becomes the
parameters of the same :class:`~cnn_jax.nn.mlp.MLPSpec` network and is fine-tuned by the
same engine (:mod:`cnn_jax.studies.pretraining.finetune`) with the same batch size and
epochs; each row's learning rate is picked from a grid on a validation split (the last
10,000 training images). Per row: test error over seeds at the last epoch and at each seed's
best validation epoch (early stopping), Nielsen's speed of learning ‖δˡ‖ per hidden layer at
the start of fine-tuning (:func:`cnn_jax.training.gradients.grad_stats`), and the linear
probe and nearest class mean of every hidden layer before and after fine-tuning
(:mod:`cnn_jax.studies.pretraining.readout`). :func:`~.measure.measure_depths` repeats a few rows at
several depths (Erhan et al. 2010's question: does the benefit grow with depth?).

Modules: :mod:`.config` (the config and its presets), :mod:`.rbm` and :mod:`.greedy` (the
greedy methods), :mod:`.stages` (pretraining layer by layer, saved as it goes, and every row's
start), :mod:`.finetune` (the learning-rate grid's engine), :mod:`.measure` (results.json's
content), :mod:`.readout` (probes of the hidden layers), :mod:`.tables`, :mod:`.figures` and
:mod:`.plots`. The command line is experiments/pretraining.py.
"""
