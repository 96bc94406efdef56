"""Factories check their arguments first: one clear ValueError naming parameter and value."""

import pytest

from problems import PROBLEMS

# (kind, arguments, the message, or a fragment of it)
BAD_ARGUMENTS = (
    ("quadratic", {"condition_number": -3}, "condition_number must be >= 1, got -3"),
    ("quadratic", {"condition_number": 0.5}, "condition_number must be >= 1, got 0.5"),
    ("quadratic", {"condition_number": float("inf")}, "condition_number must be a finite number"),
    (
        "quadratic",
        {"condition_number": "big"},
        "condition_number must be a finite number, got 'big'",
    ),
    ("quadratic", {"dim": 0}, "dim must be >= 1, got 0"),
    ("quadratic", {"dim": 2.5}, "dim must be an integer, got 2.5"),
    ("quadratic", {"dim": True}, "dim must be an integer, got True"),
    ("quadratic", {"dim": 5000}, "dim must be <= 2000, got 5000"),
    ("quadratic", {"spectrum": "cubic"}, "spectrum must be one of 'log', 'linear', 'outliers'"),
    (
        "quadratic",
        {"dim": 4, "spectrum": "outliers", "num_outliers": 4},
        "num_outliers must be between 1 and dim - 1 = 3 for spectrum 'outliers', got 4",
    ),
    ("quadratic", {"seed": -1}, "seed must be >= 0, got -1"),
    ("rosenbrock", {"dim": 1}, "dim must be >= 2, got 1"),
    ("styblinski_tang", {"dim": 0}, "dim must be >= 1, got 0"),
    ("rastrigin", {"dim": -2}, "dim must be >= 1, got -2"),
    ("ackley", {"dim": "3"}, "dim must be an integer, got '3'"),
    ("saddle", {"start_radius": 0.0}, "start_radius must be > 0, got 0"),
    ("saddle_nd", {"negative_directions": 0}, "negative_directions must be >= 1, got 0"),
    ("saddle_nd", {"negative_directions": 11}, "negative_directions must be <= 10, got 11"),
    ("saddle_nd", {"dim": 3, "negative_directions": 4}, "negative_directions must be <= dim = 3"),
    ("plateau", {"width": -1.0}, "width must be > 0, got -1"),
    ("plateau", {"start_distance": -1.0}, "start_distance must be >= 0, got -1"),
    ("plateau", {"aspect": 0.5}, "aspect must be >= 1, got 0.5"),
    ("least_squares", {"dataset": "iris"}, "dataset must be one of 'synthetic', 'diabetes'"),
    ("least_squares", {"n_samples": 5, "n_features": 10}, "n_samples must be >= n_features = 10"),
    ("least_squares", {"noise": -0.1}, "noise must be >= 0, got -0.1"),
    (
        "least_squares",
        {"batch_size": 0},
        "batch_size must be an integer between 1 and the 200 rows of the data",
    ),
    ("logistic", {"dataset": "mnist"}, "dataset must be one of 'breast_cancer', 'synthetic'"),
    ("logistic", {"l2": 0.0}, "l2 must be > 0, got 0"),
    ("logistic", {"batch_size": 600}, "between 1 and the 569 rows of the data"),
    ("logistic", {"batch_size": 1.5}, "got 1.5"),
    ("mlp", {"hidden_sizes": (32, 0)}, "hidden_sizes must be a list of positive integers"),
    ("mlp", {"hidden_sizes": 32}, "hidden_sizes must be a list of positive integers"),
    ("mlp", {"activation": "swish"}, "activation must be one of 'tanh', 'relu'"),
    ("mlp", {"dataset": "mnist"}, "dataset must be one of 'digits', 'synthetic'"),
    ("mlp", {"n_classes": 1, "dataset": "synthetic"}, "n_classes must be >= 2, got 1"),
    ("mlp", {"l2": -1.0}, "l2 must be >= 0, got -1"),
    ("mlp", {"hidden_sizes": (4096, 4096)}, "parameters, at most 10000000 are allowed"),
)


@pytest.mark.parametrize(("kind", "kwargs", "fragment"), BAD_ARGUMENTS)
def test_bad_arguments_raise_a_clear_value_error(kind, kwargs, fragment):
    with pytest.raises(ValueError) as info:
        PROBLEMS[kind](**kwargs)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    parameter = next(iter(kwargs)) if len(kwargs) == 1 else None
    if parameter:
        assert message.startswith(parameter) or parameter in message


def test_edge_values_are_accepted():
    assert PROBLEMS["quadratic"](dim=1).dim == 1
    assert PROBLEMS["quadratic"](dim=3, condition_number=1).dim == 3  # int is a number
    assert PROBLEMS["quadratic"](dim=2, spectrum="outliers", num_outliers=1).dim == 2
    assert PROBLEMS["saddle_nd"](dim=3, negative_directions=3).x_star.shape == (8, 3)
    assert PROBLEMS["plateau"](start_distance=0.0).dim == 2
    assert PROBLEMS["logistic"](batch_size=1).stochastic
    assert PROBLEMS["mlp"](hidden_sizes=[], dataset="synthetic").dim == 16 * 4 + 4
