"""Doctest namespace: every docstring example may use ``nerve`` and ``np`` without importing."""
import numpy
import pytest

import nerve


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace["nerve"] = nerve
    doctest_namespace["np"] = numpy
    doctest_namespace["nn"] = nerve.nn
