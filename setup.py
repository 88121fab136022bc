"""The one native part of LiveFlow: liveflow._idset, the compact table of remembered event ids (metadata is
in pyproject.toml)."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("liveflow._idset", ["liveflow/_idset.c"], extra_compile_args=["-O2", "-Wall"])])
