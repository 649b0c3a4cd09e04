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

"""RPC building blocks: transport, versioned clients and endpoints, server.

A client class names its API's topic, namespace, newest version and the
``[upgrade_levels]`` option capping it; each method asks the version it
needs with :meth:`Client.prepare`, which falls back as the cap requires
(``can_send_version``). An endpoint class names the same namespace and the
newest version it serves; oslo.messaging's dispatcher refuses a message of
another namespace or of a newer minor version. Payloads are plain dicts of
JSON types: what crosses the broker is exactly what the method was given.
"""

import importlib
import threading
import uuid

from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging
from oslo_messaging import opts as messaging_opts

from reconciler import exception

LOG = logging.getLogger(__name__)

#: Payloads are JSON already; this only turns a stray datetime or set into
#: JSON types instead of failing in the driver.
SERIALIZER = oslo_messaging.JsonPayloadSerializer()

#: What a broken RPC exchange raises: the broker or the peer is unreachable,
#: the peer did not answer in time, or it refused the message's version.
ERRORS = (oslo_messaging.MessagingException,)


#: The RPC exchange where the configuration files name none: the service's
#: own, as Nova's is ``nova``. It is set on each target, never made
#: oslo.messaging's global default: notifications (the reconciler's and the
#: listener's of Cinder's) keep theirs.
EXCHANGE = 'cinder-reconciler'


def exchange(conf):
    """``[DEFAULT] control_exchange`` where the files set it, else ours."""
    _register(conf)
    location = conf.get_location('control_exchange').location
    if location in (cfg.Locations.opt_default, cfg.Locations.set_default):
        return EXCHANGE
    return conf.control_exchange


def configured(conf):
    """Whether ``[DEFAULT] transport_url`` is set (its default, a local
    ``rabbit://``, counts only when set).
    """
    _register(conf)
    return (conf.get_location('transport_url').location
            != cfg.Locations.opt_default)


def _register(conf):
    """oslo.messaging's [DEFAULT] options (transport_url,
    rpc_response_timeout...), as a transport would register them.
    """
    for group, opts in messaging_opts.list_opts():
        if group is None:
            conf.register_opts(opts)
    # oslo.messaging 18.3 reads [oslo_messaging_tracing] and
    # [oslo_messaging_metrics] from the transport's configuration at every
    # call, but registers them on its global one only.
    for module, group in (('_tracing', 'oslo_messaging_tracing'),
                          ('_metrics', 'oslo_messaging_metrics')):
        try:
            found = importlib.import_module(
                'oslo_messaging.%s.client' % module)
        except ImportError:
            continue
        conf.register_opts(getattr(found, group, []), group=group)


def get_transport(conf):
    """The RPC transport of ``[DEFAULT] transport_url``; the caller cleans
    it up. Raises ConfigError on a URL the drivers cannot use.
    """
    _register(conf)
    try:
        return oslo_messaging.get_rpc_transport(conf)
    except (oslo_messaging.InvalidTransportURL,
            oslo_messaging.DriverLoadFailure) as e:
        raise exception.ConfigError('[DEFAULT] transport_url: %s'
                                    % type(e).__name__)


def context(sender):
    """The request context every message carries: a request id for the
    logs of both sides and the sender's name as it configured it. The
    context is a claim, never proof: see reconciler.rpc.signing.
    """
    return {'request_id': 'req-' + str(uuid.uuid4()), 'sender': sender}


def describe(error):
    """One line for an RPC failure, without the remote traceback."""
    if isinstance(error, oslo_messaging.MessagingTimeout):
        return 'no answer in time (%s)' % type(error).__name__
    text = str(error).strip().splitlines()
    return '%s%s' % (type(error).__name__, ': ' + text[0] if text else '')


class Client(object):
    """The caller's side of one versioned API."""

    #: Where its messages go, and which API of the endpoints there.
    TOPIC = None
    NAMESPACE = None
    #: The newest version this release sends.
    VERSION = '1.0'
    #: The ``[upgrade_levels]`` option capping it.
    CAP = None

    def __init__(self, conf, transport, server=None, timeout=None):
        """``server``: one server of the topic (an agent's host), else any.
        ``timeout``: seconds a call waits, else ``rpc_response_timeout``.
        """
        self.version_cap = getattr(conf.upgrade_levels, self.CAP)
        target = oslo_messaging.Target(exchange=exchange(conf),
                                       topic=self.TOPIC, server=server,
                                       namespace=self.NAMESPACE,
                                       version=self.VERSION)
        self._client = oslo_messaging.get_rpc_client(
            transport, target, version_cap=self.version_cap,
            serializer=SERIALIZER, timeout=timeout)

    def can_send_version(self, version):
        return self._client.can_send_version(version)

    def prepare(self, version, **kwargs):
        """A call context for ``version`` (refused by oslo.messaging if
        the cap is lower: check ``can_send_version`` first where a method
        has an older form).
        """
        return self._client.prepare(version=version, **kwargs)


class Endpoint(object):
    """The serving side of one versioned API."""

    NAMESPACE = None
    #: The newest version served; every older minor version of the same
    #: major is served too, as oslo.messaging's dispatcher assumes.
    VERSION = '1.0'

    @property
    def target(self):
        return oslo_messaging.Target(namespace=self.NAMESPACE,
                                     version=self.VERSION)

    def stop(self):
        """The server stopped: end what the endpoint runs beside it."""


class Server(object):
    """An RPC server of ``endpoints`` on ``topic`` (and ``server``: this
    process's name on it), in threads of its own.

    Started in a thread, as the notification listener is: with the broker
    down, oslo.messaging's start blocks in its reconnection loop, which
    must delay neither the daemon's start nor its stop.
    """

    def __init__(self, transport, topic, server, endpoints):
        self._server = oslo_messaging.get_rpc_server(
            transport, oslo_messaging.Target(
                exchange=exchange(transport.conf), topic=topic,
                server=server),
            endpoints, executor='threading', serializer=SERIALIZER,
            access_policy=oslo_messaging.DefaultRPCAccessPolicy)
        self.endpoints = endpoints
        self.what = '%s on %s' % (server, topic)
        self.started = threading.Event()
        self._stopping = False
        self._mutex = threading.Lock()

    def start(self):
        threading.Thread(target=self._run, daemon=True,
                         name='rpc-server').start()

    def _run(self):
        try:
            self._server.start()
        except Exception as e:
            LOG.error('RPC server %s did not start: %s', self.what,
                      describe(e))
            return
        with self._mutex:
            stopping = self._stopping
            if not stopping:
                self.started.set()
        if stopping:
            # Stopped while it was still connecting.
            self._halt()
            return
        LOG.info('RPC server %s started', self.what)

    def _halt(self):
        self._server.stop()
        self._server.wait()

    def stop(self):
        """Stop serving; a server still connecting stops once connected
        (its thread never keeps the process alive).
        """
        with self._mutex:
            self._stopping = True
            started = self.started.is_set()
        if started:
            self._halt()
        for endpoint in self.endpoints:
            endpoint.stop()
