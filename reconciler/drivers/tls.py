#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""TLS verification options shared by every HTTPS array driver.

Cinder's option names, but verification is on by default: a reconciler that
silently trusts any certificate would hand array credentials to whoever
answers. Turning it off is an explicit, logged choice.
"""

import ssl

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


# What OpenSSL says when the other end does not answer in TLS at all (a
# plain-HTTP server behind an https:// URL).
_NOT_TLS = ('wrong_version_number', 'wrong version number',
            'unknown protocol', 'record layer failure', 'http_request',
            'packet length too long')


def _text(exc):
    try:
        return str(exc).lower()
    except Exception:   # str() of some client exceptions raises
        return ''


def protocol_mismatch(exc):
    """True if ``exc``, or an exception it was raised from, says the server
    does not speak TLS: an ``https://`` URL pointed at a plain-HTTP port.
    Client libraries report that as a certificate failure.
    """
    seen = set()
    while exc is not None and id(exc) not in seen and len(seen) < 20:
        seen.add(id(exc))
        if isinstance(exc, ssl.SSLError) and exc.reason in (
                'WRONG_VERSION_NUMBER', 'UNKNOWN_PROTOCOL',
                'RECORD_LAYER_FAILURE', 'HTTP_REQUEST'):
            return True
        if any(m in _text(exc) for m in _NOT_TLS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def mismatch_message(where, option):
    """The error text of :func:`protocol_mismatch`."""
    return ('%s: protocol mismatch: the server does not answer in TLS; %s '
            'says https:// but the port serves plain HTTP (or something '
            'else)' % (where, option))
