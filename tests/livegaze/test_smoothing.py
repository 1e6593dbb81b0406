"""livegaze.smoothing: the One Euro filter smooths a still value hard and follows a moving one
closely."""
import numpy as np

from livegaze.smoothing import OneEuro


def test_a_still_noisy_value_is_smoothed_and_a_ramp_followed():
    rng = np.random.default_rng(0)
    dt = 1 / 30
    still = 0.1 + rng.normal(0, 0.01, 120)
    f = OneEuro(min_cutoff=1.0, beta=2.0)
    out = np.array([f(x, dt) for x in still])
    assert np.std(out[30:]) < 0.5 * np.std(still[30:])  # an exponential smoother at 1 Hz: about 0.3
    # A ramp of 0.5 per second: the smoothed value keeps up with it; without the speed term
    # (beta 0) the same filter lags several times further behind.
    ramp = 0.5 * dt * np.arange(60)
    lags = []
    for beta in (2.0, 0.0):
        g = OneEuro(min_cutoff=1.0, beta=beta)
        values = [g(x, dt) for x in ramp]
        lags.append(float(ramp[-1] - values[-1]))
    assert 0 <= lags[0] < 0.3 * lags[1]


def test_reset_starts_from_the_next_value():
    f = OneEuro()
    f(np.array([1.0, 2.0]), 1 / 30)
    f.reset()
    assert np.allclose(f(np.array([5.0, -1.0]), 1 / 30), [5.0, -1.0])
