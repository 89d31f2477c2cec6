"""`kfit.utils.errors`: the shared wording of error messages."""

from __future__ import annotations

import pytest

from kfit.utils.errors import received, unknown_identifier_error


def test_received_names_the_value_and_its_type():
    assert received("units", 3.5) == "Received: units=3.5 (of type float)."
    assert received("fn", None) == "Received: fn=None (of type NoneType)."


def test_unknown_identifier_error_suggests_close_matches():
    error = unknown_identifier_error("metric", "acuracy", ["accuracy", "mae"])
    assert isinstance(error, ValueError)
    assert "Could not interpret metric identifier" in str(error)
    assert "Received: identifier='acuracy' (of type str)." in str(error)
    assert "Did you mean 'accuracy'?" in str(error)


def test_unknown_identifier_error_without_matches_points_at_the_namespace():
    message = str(unknown_identifier_error("loss", 3, ["mse"]))
    assert "(of type int)" in message and "see `kfit.losses`" in message


def test_the_errors_are_raised_by_get():
    from kfit import losses, metrics

    with pytest.raises(ValueError, match="Did you mean 'mse'"):
        losses.get("mse2")
    with pytest.raises(ValueError, match="Could not interpret metric identifier"):
        metrics.get("no_such_metric")
