"""Build the optional C accelerator; everything else is in pyproject.toml.

``optional=True``: without a C compiler the extension is skipped and the package runs on
its pure-Python code paths (the specification the accelerator is tested against).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "log_analytics_engine._native._speedups",
            [f"log_analytics_engine/_native/{name}.c" for name in (
                "module", "timestamp", "entry", "parse", "postings", "timeorder", "codec",
                "aggregate", "columns", "archive", "records", "ingest")],
            depends=["log_analytics_engine/_native/_native.h"],
            optional=True,
            # no fused multiply-add: the C kernels round as Python's float arithmetic does
            extra_compile_args=["-O2", "-ffp-contract=off"],
        )
    ]
)
