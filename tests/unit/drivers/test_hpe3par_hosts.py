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

"""Cinder's 3PAR host naming rules, as the export's host rule applies them."""

from oslotest import base

from reconciler.drivers import hpe3par_hosts as hosts
from reconciler import model

IQN = 'iqn.1993-08.org.debian:01:compute-1'
WWN = '10000000C9AABB01'


def att(host, *initiators):
    return model.CinderAttachment(host, initiators=frozenset(initiators))


class NamesTest(base.BaseTestCase):

    def test_safe_hostname(self):
        # Cinder's _safe_hostname: first dot or 31 characters, first wins.
        self.assertEqual('compute-1', hosts.safe_hostname('compute-1.a.b'))
        self.assertEqual('x' * 31, hosts.safe_hostname('x' * 40 + '.a'))
        self.assertEqual('x' * 31, hosts.safe_hostname('x' * 40))

    def test_iqn_hostname(self):
        name = hosts.iqn_hostname(IQN)
        self.assertEqual(31, len(name))
        self.assertEqual(IQN.replace(':', '-')[::-1][:31], name)
        self.assertTrue(name.startswith('1-etupmoc-10-'))


class RuleTest(base.BaseTestCase):

    def test_host_holding_the_initiator_whatever_its_name(self):
        rule = hosts.host_rule('esx-rack3-17', [WWN.lower()], True)
        self.assertIs(True, rule(att('compute-1', WWN)))
        self.assertIs(True, rule(att('compute-1', '10:00:00:00:c9:aa:bb:01')))
        # Its WWNs are elsewhere: Cinder would have used that host.
        self.assertIs(False, rule(att('compute-1', '10000000c9aabb02')))
        # WWNs not read yet (a listing): the re-check decides.
        self.assertIsNone(rule(att('compute-1')))

    def test_named_after_the_connector(self):
        rule = hosts.host_rule('compute-1', [IQN], True)
        self.assertIs(True, rule(att('compute-1.example.org')))
        self.assertIs(True, rule(att('COMPUTE-1')))
        # Another node, whose IQN is not shown: the host may hold it.
        self.assertIsNone(rule(att('compute-2')))
        long_rule = hosts.host_rule('y' * 31, [IQN], True)
        self.assertIs(True, long_rule(att('y' * 40)))

    def test_unique_fqdn_network_false(self):
        name = hosts.iqn_hostname(IQN)
        rule = hosts.host_rule(name, [IQN], False)
        self.assertIs(True, rule(att('compute-1', IQN)))
        self.assertIsNone(rule(att('compute-1')))
        # A name after the FQDN proves nothing when FQDNs are not unique.
        self.assertIsNone(hosts.host_rule('compute-1', [IQN], False)(
            att('compute-1')))

    def test_host_without_initiators_or_record(self):
        bare = hosts.host_rule('compute-1', [], True)
        self.assertIs(True, bare(att('compute-1')))
        self.assertIs(False, bare(att('compute-2')))
        unknown = hosts.host_rule('compute-1', None, True)
        self.assertIs(True, unknown(att('compute-1')))
        self.assertIsNone(unknown(att('compute-2', WWN)))

    def test_a_host_without_initiators_of_the_protocol_is_tied_by_name(self):
        """Cinder's iSCSI driver finds hosts by IQN among iSCSI names, its
        FC driver by WWN among FC paths: another protocol's host is the
        attachment's only when named after it.
        """
        iscsi = model.CinderAttachment('compute-1', protocol=model.ISCSI)
        fc = model.CinderAttachment('compute-1', protocol=model.FIBRE_CHANNEL)
        fc_host = hosts.host_rule('san-backup-9', [WWN], True)
        iscsi_host = hosts.host_rule('esx-rack3-17', [IQN], True)
        self.assertIs(False, fc_host(iscsi))
        self.assertIs(False, iscsi_host(fc))
        self.assertIsNone(iscsi_host(iscsi))
        self.assertIsNone(fc_host(fc))          # WWNs not read yet
        # The protocol unknown, an initiator of either kind may be it.
        self.assertIsNone(fc_host(att('compute-1')))
        # The backend's protocol stands for an attachment's unread one.
        self.assertIs(False, hosts.host_rule(
            'san-backup-9', [WWN], True, model.ISCSI)(att('compute-1')))
        self.assertIs(False, hosts.host_rule(
            'esx-rack3-17', [IQN], True, model.FIBRE_CHANNEL)(
                att('compute-1')))
        # Named after the connector: Cinder adds the initiator to it.
        self.assertIs(True, hosts.host_rule('compute-1', [WWN], True)(iscsi))
