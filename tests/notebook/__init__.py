"""Tests of the IPython extension: in-process shells and real kernels (see conftest)."""
