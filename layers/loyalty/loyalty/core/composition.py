"""A handler's composition, built once per instance."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import TypeVar

T = TypeVar("T")


def cold_start(build: Callable[[], T]) -> Callable[[], T]:
    """`build` once per instance.

    In Lambda (and the local runtime), where AWS_LAMBDA_FUNCTION_NAME is set, it is built at once, so a
    function missing its configuration fails its cold start with a message naming what is missing.
    Elsewhere (a tool importing the handler for its OpenAPI) it is built on first use.
    """
    built = cache(build)
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        built()
    return built
