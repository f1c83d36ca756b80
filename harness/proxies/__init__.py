"""Zero-cost proxies, one module each. Every module in this package is imported here so that its
``@register_proxy`` decorators run: adding a proxy is adding one file."""

import importlib
import pkgutil

from harness.proxies.base import (
    ProxyContext,
    ProxySpec,
    get_proxy,
    parse_proxy_list,
    proxy_names,
    register_proxy,
    temporary_proxy,
    unregister_proxy,
)

_NOT_PROXIES = ("base", "contract", "status")  # modules that register no proxy (contract: the check of a proxy)

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _NOT_PROXIES and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "ProxyContext",
    "ProxySpec",
    "get_proxy",
    "parse_proxy_list",
    "proxy_names",
    "register_proxy",
    "temporary_proxy",
    "unregister_proxy",
]
