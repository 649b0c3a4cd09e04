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

"""Which Cinder connectors Cinder's 3PAR driver maps to a 3PAR host.

Cinder's 3PAR driver (``hpe_3par_common._safe_hostname`` and the iSCSI/FC
``_create_host``) picks the array host of a connector in this order:

1. a 3PAR host that already holds the connector's initiator (IQN or one of
   its WWNs), whatever its name (``queryHost`` wins over the name);
2. otherwise the host named after the connector: with
   ``unique_fqdn_network = false`` and an iSCSI initiator in the connector,
   the IQN with ``:`` -> ``-``, reversed, cut to 31 characters; else the
   connector's host name cut at its first dot or at 31 characters.

The iSCSI driver looks for the IQN among hosts' iSCSI names, the FC
driver for the WWNs among FC paths: a host holding no initiator of the
attachment's protocol is its host only by name (Cinder adds the initiator
to a host so named).

Cinder's API shows an attachment's connector host name, its protocol
(connection_info's ``driver_volume_type``) and its FC WWNs
(``initiator_target_map``), read by point look-ups, but never an iSCSI
IQN. So a host that holds initiators of the attachment's protocol that it
may have (rule 1) and is not named after it answers None: unknown, never
an orphan. The backend's protocol (its Cinder ``volume_driver``) stands for
an attachment's where the look-up did not read it. No I/O here; the engine
asks the rule an export carries.
"""

import functools

from reconciler import model

_ISCSI_NAMES = ('iqn.', 'eui.', 'naa.')

MAX_NAME = 31


def _norm(initiator):
    return initiator.lower().replace(':', '')


def safe_hostname(connector_host):
    """The 3PAR host name Cinder gives a connector host name."""
    return connector_host.split('.')[0][:MAX_NAME]


def iqn_hostname(iqn):
    """The 3PAR host name Cinder gives an IQN (unique_fqdn_network=false)."""
    return iqn.replace(':', '-')[::-1][:MAX_NAME]


def _named_after(hostname, attachment, unique_fqdn_network):
    """True if Cinder's naming rule gives ``hostname`` to the attachment."""
    if not unique_fqdn_network and any(
            iqn_hostname(i).lower() == hostname
            for i in attachment.initiators if i.lower().startswith('iqn.')):
        return True
    return bool(attachment.host_name) and (
        safe_hostname(attachment.host_name).lower() == hostname)


def _protocol(path):
    return model.ISCSI if path.startswith(_ISCSI_NAMES) else (
        model.FIBRE_CHANNEL)


def _maps_to(hostname, paths, unique_fqdn_network, protocol, attachment):
    initiators = {_norm(i) for i in attachment.initiators}
    if paths is None:
        # The host's record was not read: it may hold any initiator.
        return _named_after(hostname, attachment, unique_fqdn_network) or None
    if initiators & set(paths.values()):
        return True          # rule 1: the host holding the initiator
    named = _named_after(hostname, attachment, unique_fqdn_network)
    protocol = attachment.protocol or protocol
    held = [p for p in paths if protocol in (None, _protocol(p))]
    if initiators or not held:
        # Rule 1 chose another host, or this one holds no initiator that
        # rule 1 could have found: only the name can tie it.
        return named
    if named and unique_fqdn_network:
        return True
    # The IQN is not shown, and the host holds initiators that may be it:
    # named or reused, Cinder's data cannot tell (with non-unique FQDNs a
    # host name proves nothing either).
    return None


def host_rule(hostname, paths, unique_fqdn_network, protocol=None):
    """The ``model.HostRule`` of a 3PAR host ``hostname`` holding ``paths``.

    ``paths`` are the host's iSCSI names and FC WWNs, as the array lists
    them (None if its record is unknown); ``unique_fqdn_network`` is the
    backend's Cinder option, ``protocol`` its attachments' (None: unknown).
    """
    if paths is not None:
        paths = {p.lower(): _norm(p) for p in paths}
    return functools.partial(_maps_to, hostname.lower(), paths,
                             unique_fqdn_network, protocol)
