"""Classic test surfaces of the optimization literature, with their published minima.

Formulas, domains and minima follow the cited papers and the standard surveys: Jamil & Yang
(2013), "A literature survey of benchmark functions for global optimization problems",
Int. J. Math. Modelling and Numerical Optimisation 4(2):150-194, and Surjanovic & Bingham,
"Virtual Library of Simulation Experiments" (https://www.sfu.ca/~ssurjano/optimization.html).
Minimizers that have no closed form are given to full float64 precision (a Newton solve on
the gradient, checked in the tests against the published digits).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from problems.base import Array, Batch, Problem, fixed_start, propagate_nan, uniform_start
from problems.validation import check_int

_SURVEYS = (
    "Jamil & Yang (2013), Int. J. Math. Modelling Num. Optim. 4(2):150-194; Surjanovic & "
    "Bingham, Virtual Library of Simulation Experiments, sfu.ca/~ssurjano"
)

# The ``dim`` cap of the n-d surfaces: far above any benchmark use, low enough that a
# mistyped dimension is an error rather than an out-of-memory crash.
_MAX_DIM = 100_000


def rosenbrock(dim: int = 2) -> Problem:
    """The Rosenbrock valley in ``dim >= 2`` dimensions (the chained form of scipy's ``rosen``).

    ``f(x) = sum_{i=1}^{n-1} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2``.

    Minimum ``f* = 0`` at ``x* = (1, ..., 1)``; the Hessian there is ``scipy.optimize.rosen_hess``
    (eigenvalues about 0.4 and 1001.6 in 2-d). For ``dim >= 4`` there is also a local minimum
    near ``(-1, 1, ..., 1)`` (Shang & Qiu 2006), not listed in ``x_star``.

    Start: the standard ``(-1.2, 1, -1.2, 1, ...)`` for every seed (Rosenbrock 1960; Moré,
    Garbow & Hillstrom 1981, problem 1). Window: ``[-2.048, 2.048]`` per coordinate.

    Source: H. H. Rosenbrock (1960), "An automatic method for finding the greatest or least value
    of a function", The Computer Journal 3(3):175-184.
    """
    dim = check_int("dim", dim, low=2, high=_MAX_DIM)

    def loss(x: Array, batch: Batch = None) -> Array:
        del batch
        head, tail = x[:-1], x[1:]
        value = jnp.sum(100.0 * (tail - head**2) ** 2 + (1.0 - head) ** 2)
        return propagate_nan(value, x)

    x0 = np.where(np.arange(dim) % 2 == 0, -1.2, 1.0)
    return Problem(
        name="rosenbrock",
        dim=dim,
        init=fixed_start(x0),
        loss=loss,
        f_star=0.0,
        x_star=np.ones((1, dim)),
        bounds=((-2.048, 2.048),) * dim,
        description=f"Rosenbrock's curved valley in {dim}-d, start (-1.2, 1, ...)",
        source="Rosenbrock (1960), The Computer Journal 3(3):175-184",
    )


def beale() -> Problem:
    """Beale's function (2-d): flat arms and a narrow curved valley.

    ``f(x, y) = (1.5 - x + x y)^2 + (2.25 - x + x y^2)^2 + (2.625 - x + x y^3)^2``.

    Minimum ``f* = 0`` at ``x* = (3, 0.5)``. Start: the standard ``(1, 1)`` for every seed
    (Moré, Garbow & Hillstrom 1981, problem 5), where ``f = 14.203125``. Domain:
    ``[-4.5, 4.5]^2``.

    Source: E. M. L. Beale (1958), "On an iterative method for finding a local minimum of a
    function of more than one variable", Tech. Rep. 25, Princeton; Moré, Garbow & Hillstrom
    (1981), ACM TOMS 7(1):17-41.
    """

    def loss(x: Array, batch: Batch = None) -> Array:
        del batch
        u, v = x[0], x[1]
        value = (1.5 - u + u * v) ** 2 + (2.25 - u + u * v**2) ** 2 + (2.625 - u + u * v**3) ** 2
        return propagate_nan(value, x)

    return Problem(
        name="beale",
        dim=2,
        init=fixed_start([1.0, 1.0]),
        loss=loss,
        f_star=0.0,
        x_star=np.array([[3.0, 0.5]]),
        bounds=((-4.5, 4.5), (-4.5, 4.5)),
        description="Beale's function: flat arms, narrow valley to (3, 0.5)",
        source="Beale (1958); Moré, Garbow & Hillstrom (1981), ACM TOMS 7(1):17-41, problem 5",
    )


def booth() -> Problem:
    """Booth's function (2-d): a convex quadratic with a mildly elongated bowl.

    ``f(x, y) = (x + 2y - 7)^2 + (2x + y - 5)^2``.

    Minimum ``f* = 0`` at ``x* = (1, 3)``; constant Hessian ``[[10, 8], [8, 10]]``
    (eigenvalues 2 and 18). Start: no standard point, so uniform in the domain
    ``[-10, 10]^2``, drawn from the seed.

    Source: Jamil & Yang (2013), Booth function; Surjanovic & Bingham (booth.html).
    """

    def loss(x: Array, batch: Batch = None) -> Array:
        del batch
        value = (x[0] + 2.0 * x[1] - 7.0) ** 2 + (2.0 * x[0] + x[1] - 5.0) ** 2
        return propagate_nan(value, x)

    bounds = ((-10.0, 10.0), (-10.0, 10.0))
    return Problem(
        name="booth",
        dim=2,
        init=uniform_start(bounds),
        loss=loss,
        f_star=0.0,
        x_star=np.array([[1.0, 3.0]]),
        bounds=bounds,
        description="Booth's convex quadratic, minimum at (1, 3), random start",
        source=_SURVEYS,
    )


HIMMELBLAU_MINIMIZERS = np.array(
    [
        [3.0, 2.0],
        [-2.805118086952745, 3.131312518250573],
        [-3.779310253377747, -3.2831859912861696],
        [3.5844283403304917, -1.8481265269644036],
    ]
)


def himmelblau() -> Problem:
    """Himmelblau's function (2-d): four global minima of equal value.

    ``f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2``.

    Minimum ``f* = 0`` at four points: ``(3, 2)``, ``(-2.805118, 3.131313)``,
    ``(-3.779310, -3.283186)`` and ``(3.584428, -1.848127)`` (full precision in
    ``x_star``; the distance is to the nearest). A local maximum sits at
    ``(-0.270845, -0.923039)`` with ``f = 181.617``. Start: no standard point, so uniform in
    the domain ``[-5, 5]^2``, drawn from the seed (which minimum is reached depends on it).

    Source: D. M. Himmelblau (1972), Applied Nonlinear Programming, McGraw-Hill.
    """

    def loss(x: Array, batch: Batch = None) -> Array:
        del batch
        value = (x[0] ** 2 + x[1] - 11.0) ** 2 + (x[0] + x[1] ** 2 - 7.0) ** 2
        return propagate_nan(value, x)

    bounds = ((-5.0, 5.0), (-5.0, 5.0))
    return Problem(
        name="himmelblau",
        dim=2,
        init=uniform_start(bounds),
        loss=loss,
        f_star=0.0,
        x_star=HIMMELBLAU_MINIMIZERS.copy(),
        bounds=bounds,
        description="Himmelblau's function: four equal minima, random start",
        source="Himmelblau (1972), Applied Nonlinear Programming, McGraw-Hill",
    )


SIX_HUMP_CAMEL_MINIMIZER = np.array([0.08984201310031807, -0.7126564030207396])


def six_hump_camel() -> Problem:
    """The six-hump camel function (2-d): six local minima, two of them global.

    ``f(x, y) = (4 - 2.1 x^2 + x^4 / 3) x^2 + x y + (-4 + 4 y^2) y^2``.

    Minimum ``f* = -1.0316284534898774`` at ``x* = ±(0.0898420131, -0.7126564030)``.
    Start: no standard point, so uniform in the domain ``[-3, 3] x [-2, 2]``, drawn from
    the seed.

    Source: L. C. W. Dixon & G. P. Szegő (1978), "The global optimization problem: an
    introduction", Towards Global Optimisation 2:1-15; Surjanovic & Bingham (camel6.html).
    """

    def loss(x: Array, batch: Batch = None) -> Array:
        del batch
        u, v = x[0], x[1]
        value = (4.0 - 2.1 * u**2 + u**4 / 3.0) * u**2 + u * v + (-4.0 + 4.0 * v**2) * v**2
        return propagate_nan(value, x)

    u, v = SIX_HUMP_CAMEL_MINIMIZER
    f_star = (4.0 - 2.1 * u**2 + u**4 / 3.0) * u**2 + u * v + (-4.0 + 4.0 * v**2) * v**2
    bounds = ((-3.0, 3.0), (-2.0, 2.0))
    return Problem(
        name="six_hump_camel",
        dim=2,
        init=uniform_start(bounds),
        loss=loss,
        f_star=float(f_star),
        x_star=np.stack([SIX_HUMP_CAMEL_MINIMIZER, -SIX_HUMP_CAMEL_MINIMIZER]),
        bounds=bounds,
        description="six-hump camel: six local minima, two global, random start",
        source="Dixon & Szegő (1978), Towards Global Optimisation 2:1-15",
    )


def goldstein_price() -> Problem:
    """The Goldstein-Price function (2-d): steep walls, several local minima.

    ``f(x, y) = [1 + (x + y + 1)^2 (19 - 14x + 3x^2 - 14y + 6xy + 3y^2)]
    * [30 + (2x - 3y)^2 (18 - 32x + 12x^2 + 48y - 36xy + 27y^2)]``.

    Minimum ``f* = 3`` at ``x* = (0, -1)``; ``f(0, 0) = 600``. Start: no standard point, so
    uniform in the domain ``[-2, 2]^2``, drawn from the seed.

    Source: A. A. Goldstein & J. F. Price (1971), "On descent from local minima", Mathematics
    of Computation 25(115):569-574.
    """

    def loss(x: Array, batch: Batch = None) -> Array:
        del batch
        u, v = x[0], x[1]
        first = 1.0 + (u + v + 1.0) ** 2 * (
            19.0 - 14.0 * u + 3.0 * u**2 - 14.0 * v + 6.0 * u * v + 3.0 * v**2
        )
        second = 30.0 + (2.0 * u - 3.0 * v) ** 2 * (
            18.0 - 32.0 * u + 12.0 * u**2 + 48.0 * v - 36.0 * u * v + 27.0 * v**2
        )
        return propagate_nan(first * second, x)

    bounds = ((-2.0, 2.0), (-2.0, 2.0))
    return Problem(
        name="goldstein_price",
        dim=2,
        init=uniform_start(bounds),
        loss=loss,
        f_star=3.0,
        x_star=np.array([[0.0, -1.0]]),
        bounds=bounds,
        description="Goldstein-Price: steep walls, local minima, minimum 3 at (0, -1)",
        source="Goldstein & Price (1971), Mathematics of Computation 25(115):569-574",
    )


STYBLINSKI_TANG_COORDINATE = -2.903534027771177


def styblinski_tang(dim: int = 2) -> Problem:
    """The Styblinski-Tang function in ``dim >= 1`` dimensions: ``2^dim`` local minima.

    ``f(x) = 1/2 sum_i (x_i^4 - 16 x_i^2 + 5 x_i)``.

    Minimum ``f* = -39.16616570377142 * dim`` at ``x*_i = -2.903534027771177`` (the root of
    ``4t^3 - 32t + 5``); the other corner ``t = 2.746803`` of each coordinate is a local
    minimum. Start: no standard point, so uniform in the domain ``[-5, 5]^dim``, drawn from
    the seed.

    Source: M. A. Styblinski & T.-S. Tang (1990), "Experiments in nonconvex optimization:
    stochastic approximation with function smoothing and simulated annealing", Neural
    Networks 3(4):467-483.
    """
    dim = check_int("dim", dim, low=1, high=_MAX_DIM)

    def loss(x: Array, batch: Batch = None) -> Array:
        del batch
        return propagate_nan(0.5 * jnp.sum(x**4 - 16.0 * x**2 + 5.0 * x), x)

    t = STYBLINSKI_TANG_COORDINATE
    bounds = ((-5.0, 5.0),) * dim
    return Problem(
        name="styblinski_tang",
        dim=dim,
        init=uniform_start(bounds),
        loss=loss,
        f_star=dim * 0.5 * (t**4 - 16.0 * t**2 + 5.0 * t),
        x_star=np.full((1, dim), t),
        bounds=bounds,
        description=f"Styblinski-Tang in {dim}-d: 2^{dim} local minima, random start",
        source="Styblinski & Tang (1990), Neural Networks 3(4):467-483",
    )


def rastrigin(dim: int = 2) -> Problem:
    """The Rastrigin function in ``dim >= 1`` dimensions: a bowl covered in local minima.

    ``f(x) = 10 n + sum_i (x_i^2 - 10 cos(2 pi x_i))``.

    Minimum ``f* = 0`` at ``x* = 0`` (Hessian ``(2 + 40 pi^2) I``); local minima near every
    integer point. Start: no standard point, so uniform in the domain ``[-5.12, 5.12]^dim``,
    drawn from the seed.

    Source: L. A. Rastrigin (1974), Systems of Extremal Control, Nauka, Moscow; n-d form from
    H. Mühlenbein, M. Schomisch & J. Born (1991), Parallel Computing 17:619-632.
    """
    dim = check_int("dim", dim, low=1, high=_MAX_DIM)

    def loss(x: Array, batch: Batch = None) -> Array:
        del batch
        value = 10.0 * dim + jnp.sum(x**2 - 10.0 * jnp.cos(2.0 * jnp.pi * x))
        return propagate_nan(value, x)

    bounds = ((-5.12, 5.12),) * dim
    return Problem(
        name="rastrigin",
        dim=dim,
        init=uniform_start(bounds),
        loss=loss,
        f_star=0.0,
        x_star=np.zeros((1, dim)),
        bounds=bounds,
        description=f"Rastrigin in {dim}-d: many local minima, random start",
        source="Rastrigin (1974); Mühlenbein, Schomisch & Born (1991), Parallel Comput. 17",
    )


def ackley(dim: int = 2) -> Problem:
    """The Ackley function in ``dim >= 1`` dimensions (a = 20, b = 0.2, c = 2 pi).

    ``f(x) = -20 exp(-0.2 sqrt(mean_i x_i^2)) - exp(mean_i cos(2 pi x_i)) + 20 + e``.

    Minimum ``f* = 0`` at ``x* = 0``. The minimum is a cone tip: ``f`` is not differentiable
    there. The gradient at ``x*`` is taken as 0 (a valid subgradient) and the Hessian there is
    that of the smooth cosine part, ``(4 pi^2 e / n) I``; everywhere else both are exact.
    Start: no standard point, so uniform in the domain ``[-32.768, 32.768]^dim``, drawn from
    the seed.

    Source: D. H. Ackley (1987), A Connectionist Machine for Genetic Hillclimbing, Kluwer;
    Surjanovic & Bingham (ackley.html).
    """
    dim = check_int("dim", dim, low=1, high=_MAX_DIM)

    def loss(x: Array, batch: Batch = None) -> Array:
        del batch
        mean_square = jnp.mean(x**2)
        # sqrt has an infinite derivative at 0: feed it a safe value there and take the
        # subgradient 0, so gradients stay finite at the minimum and NaN never leaks in.
        positive = mean_square > 0
        radius = jnp.where(positive, jnp.sqrt(jnp.where(positive, mean_square, 1.0)), 0.0)
        # Grouped so that each bracket is exactly 0 at x = 0 (f(x*) = 0 with no rounding).
        # e - exp(c) is written -e expm1(c - 1) for the same reason.
        value = -20.0 * jnp.expm1(-0.2 * radius) - math.e * jnp.expm1(
            jnp.mean(jnp.cos(2.0 * jnp.pi * x)) - 1.0
        )
        return propagate_nan(value, x)

    bounds = ((-32.768, 32.768),) * dim
    return Problem(
        name="ackley",
        dim=dim,
        init=uniform_start(bounds),
        loss=loss,
        f_star=0.0,
        x_star=np.zeros((1, dim)),
        bounds=bounds,
        description=f"Ackley in {dim}-d: nearly flat outer region, cone-tip minimum at 0",
        source="Ackley (1987), A Connectionist Machine for Genetic Hillclimbing, Kluwer",
    )
