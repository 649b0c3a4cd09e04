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

"""Which host a report comes from: signatures with a key per host.

The broker authenticates connections, not senders: every agent with the
transport's credentials may publish anything to the controller's topic,
and a request context is only a claim. So each agent signs what it sends
with a key of its own host (``[host_scan] report_key``), derived from the
controllers' secret (``[agents] auth_key``):

    key(host) = HMAC-SHA256(auth_key, "cinder-reconciler-agent" NUL host)

A controller derives the key of the host a report names and checks the
signature; an agent holds its own key only, so a compromised host can sign
reports for itself, never for another host (``cinder-reconciler-manage
agent-key HOST`` prints a host's key for its configuration). The
controller signs what it asks of an agent with that agent's key too, so no
other host can ask it to disconnect a device. The signature covers the
whole payload (canonical JSON) with the RPC method it is for and the time
it was sent, and a payload older than ``[agents] signature_max_age`` is
refused, so a copy replayed later, or to another method, says nothing new.
Python's hmac and hashlib: nothing in oslo.messaging signs messages.
"""

import hashlib
import hmac
import json

_DOMAIN = b'cinder-reconciler-agent\0'
FIELD = 'signature'


def host_key(auth_key, host):
    """The report key of ``host``, as hex."""
    return hmac.new(auth_key.encode(), _DOMAIN + host.encode(),
                    hashlib.sha256).hexdigest()


def _canonical(body):
    return json.dumps({k: v for k, v in body.items() if k != FIELD},
                      sort_keys=True, separators=(',', ':'),
                      ensure_ascii=True).encode()


def _digest(key, body):
    return hmac.new(key.encode(), _canonical(body),
                    hashlib.sha256).hexdigest()


def sign(key, method, body, now):
    """``body`` for RPC ``method``, sent ``now``, with its signature
    (``key``: the host key), or unsigned without a key.
    """
    body = dict(body, method=method, sent_at=now)
    return dict(body, **{FIELD: _digest(key, body)}) if key else body


def verify(key, method, body, now, max_age):
    """Why ``body`` must be refused for ``method``, or None."""
    signature = body.get(FIELD)
    if not isinstance(signature, str):
        return 'unsigned'
    if not hmac.compare_digest(_digest(key, body), signature):
        return 'bad signature'
    if body.get('method') != method:
        return 'signed for %r, not %r' % (body.get('method'), method)
    sent = body.get('sent_at')
    if (not isinstance(sent, (int, float)) or isinstance(sent, bool)
            or abs(now - sent) > max_age):
        return 'sent at %s, more than %ds from now' % (sent, max_age)
    return None


def check(auth_key, host, method, body, now, max_age):
    """As :func:`verify`, with the key of ``host`` derived from the
    controllers' ``auth_key``.
    """
    why = verify(host_key(auth_key, host), method, body, now, max_age)
    return "signature is not %s's" % host if why == 'bad signature' else why
