"""Entry points. Importing this package selects oslo.service's threading
backend before anything can make oslo.service fall back to eventlet."""

import warnings

# futurist probes for eventlet with an import, which prints eventlet's
# deprecation banner; nothing here uses or patches eventlet.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

from oslo_service import backend  # noqa: E402

try:
    backend.init_backend(backend.BackendType.THREADING)
except backend.exceptions.BackendAlreadySelected:
    pass
