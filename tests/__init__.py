"""Tests run under oslo.service's threading backend, as the daemon does."""

from oslo_service import backend

try:
    backend.init_backend(backend.BackendType.THREADING)
except backend.exceptions.BackendAlreadySelected:
    pass

import os

# The repository's top directory (the tests are not installed).
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
