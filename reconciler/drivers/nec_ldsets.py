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

"""Which Cinder attachments Cinder's NEC driver maps to an LD set.

Cinder's NEC driver (``volume_helper._validate_iscsildset_exist`` and
``_validate_fcldset_exist``) picks a connector's LD set by initiator,
never by name: for an iSCSI connector an LD set whose initiator list holds
its IQN (FC sets have none), for an FC connector one whose path list holds
one of its WWPNs (iSCSI sets have none); with ``nec_ldset``, the one set it
names, where no export is judged. So an attachment is never in an LD set of
the other protocol. Cinder's API shows an attachment's protocol
(connection_info's ``driver_volume_type``) and an FC attachment's WWPNs
(``initiator_target_map``), read by point look-ups, never an iSCSI IQN:
an LD set of the attachment's protocol answers None until WWPNs tell. The
backend's protocol (its Cinder ``volume_driver``) stands for an
attachment's where the look-up did not read it. No I/O here.
"""

import functools

from reconciler import model

# LD set protocols as iSMCLI prints them -> Cinder's driver_volume_type.
PROTOCOLS = {'iSCSI': model.ISCSI, 'FC': model.FIBRE_CHANNEL}


def _norm(initiator):
    return initiator.lower().replace(':', '').replace('-', '')


def _maps_to(ldset_protocol, initiators, protocol, attachment):
    protocol = attachment.protocol or protocol
    if protocol is not None and protocol != ldset_protocol:
        return False
    wanted = {_norm(i) for i in attachment.initiators}
    if wanted:
        return bool(wanted & initiators)
    return None


def host_rule(ldset_protocol, initiators, protocol=None):
    """The ``model.HostRule`` of an LD set of ``ldset_protocol`` (as the
    array prints it) holding ``initiators``, on a backend whose attachments
    are of ``protocol`` (None: unknown).
    """
    return functools.partial(
        _maps_to, PROTOCOLS.get(ldset_protocol),
        frozenset(_norm(i) for i in initiators), protocol)
