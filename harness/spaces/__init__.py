"""Search spaces: cells, networks, params/FLOPs, isomorphism. Importing registers the built-in spaces."""

from harness.spaces import nats_sss, nb201  # noqa: F401  (registration)
from harness.spaces.base import Cost, SearchSpace, get_space, register_space, space_names

__all__ = ["Cost", "SearchSpace", "get_space", "register_space", "space_names"]
