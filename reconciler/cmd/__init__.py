"""Entry points. Importing this package selects oslo.service's threading
backend before anything can make oslo.service fall back to eventlet."""

from oslo_service import backend

try:
    backend.init_backend(backend.BackendType.THREADING)
except backend.exceptions.BackendAlreadySelected:
    pass
