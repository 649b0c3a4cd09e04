"""Which Cinder connectors Cinder's 3PAR driver maps to a 3PAR host.

Cinder's 3PAR driver (``hpe_3par_common._safe_hostname`` and the iSCSI/FC
``_create_host``) picks the array host of a connector in this order:

1. a 3PAR host that already holds the connector's initiator (IQN or one of
   its WWNs), whatever its name (``queryHost`` wins over the name);
2. otherwise the host named after the connector: with
   ``unique_fqdn_network = false`` and an iSCSI initiator in the connector,
   the IQN with ``:`` -> ``-``, reversed, cut to 31 characters; else the
   connector's host name cut at its first dot or at 31 characters.

Cinder's API shows an attachment's connector host name, and its FC WWNs
(``initiator_target_map`` of the connection_info, read by point look-ups)
but never an iSCSI IQN. So a host that holds initiators the attachment may
have (rule 1) and is not named after it answers None: unknown, never an
orphan. No I/O here; the engine asks the rule an export carries.
"""

import functools

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


def _maps_to(hostname, paths, unique_fqdn_network, attachment):
    initiators = {_norm(i) for i in attachment.initiators}
    if paths is None:
        # The host's record was not read: it may hold any initiator.
        return _named_after(hostname, attachment, unique_fqdn_network) or None
    if initiators & paths:
        return True          # rule 1: the host holding the initiator
    named = _named_after(hostname, attachment, unique_fqdn_network)
    if initiators or not paths:
        # Rule 1 chose another host, or this one holds no initiator that
        # rule 1 could have found: only the name can tie it.
        return named
    if named and unique_fqdn_network:
        return True
    # The IQN is not shown, and the host holds initiators that may be it:
    # named or reused, Cinder's data cannot tell (with non-unique FQDNs a
    # host name proves nothing either).
    return None


def host_rule(hostname, paths, unique_fqdn_network):
    """The ``model.HostRule`` of a 3PAR host ``hostname`` holding ``paths``.

    ``paths`` are the host's iSCSI names and FC WWNs, as the array lists
    them (None if its record is unknown); ``unique_fqdn_network`` is the
    backend's Cinder option.
    """
    if paths is not None:
        paths = frozenset(_norm(p) for p in paths)
    return functools.partial(_maps_to, hostname.lower(), paths,
                             unique_fqdn_network)
