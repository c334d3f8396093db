"""engage-web: an engagement eligibility and availability check, in Python, for any page.

Placeholder: the public names are filled in by the engine work.
"""

from .errors import (
    AttemptTimeout,
    ConfigError,
    EngageError,
    FieldError,
    NetworkError,
    RequestError,
    TransportError,
)
from .transport import HttpRequest, HttpResponse, Transport

__all__ = [
    "AttemptTimeout",
    "ConfigError",
    "EngageError",
    "FieldError",
    "HttpRequest",
    "HttpResponse",
    "NetworkError",
    "RequestError",
    "Transport",
    "TransportError",
]
__version__ = "0.1.0"
