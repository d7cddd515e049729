from math import comb

import pytest

from evalkit.stats import mean_stderr, pass_at_k


def test_mean_stderr_matches_the_sample_formula():
    mean, stderr = mean_stderr([1.0, 0.0, 1.0, 1.0])
    # sample variance = (3 * 0.0625 + 0.5625) / 3 = 0.25; stderr = sqrt(0.25 / 4)
    assert mean == 0.75 and stderr == pytest.approx(0.25)
    assert mean_stderr([1.0])[0] == 1.0


@pytest.mark.parametrize(("n", "c", "k"), [(10, 3, 1), (10, 3, 5), (10, 0, 10), (20, 20, 5), (200, 13, 10), (5, 4, 2)])
def test_pass_at_k_equals_the_binomial_definition(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k), abs=1e-12)


def test_pass_at_1_is_the_pass_rate_and_bounds():
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(10, 0, 5) == 0.0 and pass_at_k(10, 6, 5) == 1.0
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 5)
