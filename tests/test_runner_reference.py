"""The runner's numbers equal a stored reference computed by an earlier runner version
(tests/runner_reference.py says which): restructuring the compiled loop must not move them.

Float arrays agree to 1e-12 relative, with an absolute floor of 1e-12 times the largest
magnitude of the same array for the same lane (a loss of 1e-20 near a minimum carries no
twelve significant digits, and an eigenvalue near zero is only as exact as the largest one
of its spectrum); counts, steps and flags are equal exactly. Both sides are computed with
the kernels pinned (tests/runner_reference.py says why and how), in a process of their own.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.runner_reference import REFERENCE, compute_pinned, pinning_unavailable

RTOL = 1e-12


@pytest.fixture(scope="module")
def arrays(tmp_path_factory):
    reason = pinning_unavailable()
    if reason:
        pytest.skip(reason)
    new = compute_pinned(tmp_path_factory.mktemp("reference") / "now.npz")
    return new, dict(np.load(REFERENCE))


def test_every_reference_cell_is_computed(arrays):
    new, old = arrays
    assert sorted(new) == sorted(old)


def test_the_numbers_equal_the_reference(arrays):
    new, old = arrays
    failures = []
    for name, reference in old.items():
        value = new[name]
        if value.shape != reference.shape:
            failures.append(f"{name}: shape {value.shape} != {reference.shape}")
        elif reference.dtype.kind == "f":
            lanes = reference.reshape(*reference.shape[:2], -1)
            finite = np.where(np.isfinite(lanes), np.abs(lanes), 0.0)
            scale = finite.max(axis=-1, keepdims=True, initial=0.0)
            atol = np.broadcast_to(RTOL * scale, lanes.shape).reshape(reference.shape)
            same_nan = np.isnan(value) == np.isnan(reference)
            with np.errstate(invalid="ignore"):  # inf - inf where both diverged alike
                close = np.abs(value - reference) <= np.maximum(RTOL * np.abs(reference), atol)
            close |= np.isnan(value) & np.isnan(reference)
            close |= np.isinf(value) & (value == reference)
            if not (same_nan.all() and close.all()):
                with np.errstate(invalid="ignore"):
                    worst = np.nanmax(np.abs(value - reference) / np.maximum(atol, 1e-300))
                failures.append(
                    f"{name}: {(~close).sum()} entries differ (worst {worst:.3g} x tol)"
                )
        elif not np.array_equal(value, reference):
            failures.append(f"{name}: {(value != reference).sum()} entries differ")
    assert not failures, "\n".join(failures)


FIRST_ORDER = ("gd", "momentum", "adam", "optax.adam")


def test_first_order_cells_are_bitwise_equal_past_the_start(arrays):
    """Where the arithmetic of the step is unchanged, so are the numbers, to the last bit.

    A first-order step has no solve or search whose fusion could change, so its whole
    trajectory is bitwise the reference's. Two things are computed in another program than
    before and may differ in the last bits: the Hessian spectra (one shared program per
    problem now) and the start's recorded loss and distance when the start is drawn (it
    was fused with the drawing before).
    """
    new, old = arrays
    differ = []
    for name, reference in old.items():
        _problem, optimizer, field = name.split("|")
        if optimizer not in FIRST_ORDER or field == "eigenvalues":
            continue
        value = new[name]
        if field in ("loss", "dist"):
            value, reference = value[..., 1:], reference[..., 1:]
        if not np.array_equal(value, reference, equal_nan=reference.dtype.kind == "f"):
            differ.append(name)
    assert not differ, differ
