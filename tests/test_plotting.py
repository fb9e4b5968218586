"""The shared training-curves figure draws what the history holds (Agg)."""

from cnn_jax import plotting


def test_training_curves_draw_each_split_given():
    history = {
        "epoch": [1, 2, 3],
        "train_accuracy": [0.5, 0.7, 0.8],
        "test_accuracy": [0.4, 0.6, 0.7],
        "train_loss": [1.0, 0.6, 0.4],
    }
    fig = plotting.plot_training_curves(history, title="run")
    accuracy, loss = fig.axes
    assert [line.get_label() for line in accuracy.get_lines()] == ["train", "test"]
    assert [line.get_label() for line in loss.get_lines()] == ["train"]
    assert list(loss.get_lines()[0].get_ydata()) == [1.0, 0.6, 0.4]
    assert fig._suptitle.get_text() == "run"
