"""TLS verification options shared by every HTTPS array driver.

Cinder's option names, but verification is on by default: a reconciler that
silently trusts any certificate would hand array credentials to whoever
answers. Turning it off is an explicit, logged choice.
"""

from oslo_config import cfg
from oslo_log import log as logging

LOG = logging.getLogger(__name__)

OPTS = [
    cfg.BoolOpt('driver_ssl_cert_verify', default=True,
                help="Verify the array's HTTPS certificate. Setting it to "
                     'false is insecure and logged as a warning.'),
    cfg.StrOpt('driver_ssl_cert_path',
               help='CA bundle to verify the array certificate with, '
                    'instead of the system store.'),
]


def verify_setting(backend):
    """The ``verify`` value for requests-based clients: True, a path, False."""
    if not backend.driver_ssl_cert_verify:
        LOG.warning('Backend %s: TLS certificate verification is disabled '
                    '(driver_ssl_cert_verify = false); the array credentials '
                    'are exposed to any server on the path.', backend.name)
        return False
    return backend.driver_ssl_cert_path or True
