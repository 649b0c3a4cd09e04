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

"""The controller's RPC server: one topic, endpoints from entry points.

Every controller (``cinder-reconciler``) with ``[DEFAULT] transport_url``
serves :data:`TOPIC`; a call goes to any one of them. Besides ``ping``, the
endpoints are the classes registered in the
``cinder_reconciler.controller_rpc`` entry point namespace: each is
instantiated with the :class:`Services` of the daemon and serves its own
namespace and version (an :class:`reconciler.rpc.api.Endpoint`). To add an
API to the controller, write its endpoint and client classes, register the
endpoint there and a cap option in ``[upgrade_levels]``; nothing here
changes.
"""

import dataclasses
import threading

from oslo_log import log as logging
import stevedore

from reconciler.rpc import api
from reconciler.rpc import base

LOG = logging.getLogger(__name__)

#: Not ``cinder-reconciler``: the RPC server's queue is named after its
#: topic, and the listener of Cinder's notifications names its queue after
#: its pool, ``cinder-reconciler`` by default ([cinder_notifications]
#: pool); one queue for both made the listener take (and drop) RPC calls.
TOPIC = 'cinder-reconciler-controller'
BINARY = 'cinder-reconciler'
ENDPOINTS = 'cinder_reconciler.controller_rpc'


@dataclasses.dataclass
class Services:
    """What the daemon lends its RPC endpoints: they run in the server's
    threads, beside the passes, and must not keep the daemon from stopping
    (``stop`` is set when it stops).
    """

    conf: object
    history: object
    notifier: object
    coordinator: object
    stop: threading.Event
    transport: object


def endpoints(services):
    """``ping`` and the registered endpoints, built for ``services``."""
    found = [base.BaseEndpoint(BINARY, services.conf.host)]
    manager = stevedore.ExtensionManager(
        ENDPOINTS, invoke_on_load=True, invoke_args=(services,),
        on_load_failure_callback=_failed)
    found += [ext.obj for ext in sorted(manager, key=lambda e: e.name)]
    return found


def _failed(_manager, entrypoint, error):
    # A broken endpoint must not take the others down with it.
    LOG.error('RPC endpoint %s not served: %s', entrypoint,
              type(error).__name__)


def server(services):
    """The controller's :class:`reconciler.rpc.api.Server` (not started)."""
    served = endpoints(services)
    LOG.info('Controller RPC APIs: %s', ', '.join(
        '%s %s' % (e.NAMESPACE, e.VERSION) for e in served))
    return api.Server(services.transport, TOPIC, services.conf.host, served)


def client(conf, transport, timeout=None):
    """A client of the controller's base API (``ping``)."""
    return base.BaseClient(conf, transport, TOPIC, timeout=timeout)
