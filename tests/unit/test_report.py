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

"""A host pass's report lines say what the operator needs to act."""

from oslotest import base

from reconciler.cmd import report
from reconciler import model

K = model.FindingKind
R = model.ResourceType
IQN = 'iqn.2010-10.org.openstack:volume-6b4b6c84-4e2f-4b84-9a7d-0c8ef0c1d2a3'
VID = '6b4b6c84-4e2f-4b84-9a7d-0c8ef0c1d2a3'


def candidate(kind, rtype, rid, name, **details):
    return model.Candidate(kind=kind, resource_type=rtype, resource_id=rid,
                           array_name=name, cinder_id=VID,
                           details=tuple(sorted(details.items())))


class HostFindingTest(base.BaseTestCase):

    def test_map_in_use_names_holders_mounts_and_its_open_count(self):
        line = report._host_finding(candidate(
            K.FAULTY_ATTACHED, R.MULTIPATH, '3600140500', '/dev/dm-1',
            target=IQN, in_use='yes', open_count='1'))
        self.assertEqual('multipath  /dev/dm-1  %s  volume %s  IN USE '
                         '(open count 1)' % (IQN, VID), line)
        line = report._host_finding(candidate(
            K.LEFTOVER_DEVICE, R.MULTIPATH, '3600140500', '/dev/dm-1',
            target=IQN, in_use='yes', holders='dm-4', mounts='/srv',
            open_count='0'))
        self.assertTrue(line.endswith('IN USE (dm-4, /srv)'), line)

    def test_session_shows_its_portal_not_its_target_twice(self):
        line = report._host_finding(candidate(
            K.STALE_SESSION, R.SESSION, IQN + ',10.0.0.1:3260', IQN,
            target=IQN, portal='10.0.0.1:3260', sid='7'))
        self.assertEqual('session    %s  portal 10.0.0.1:3260  volume %s'
                         % (IQN, VID), line)
        nqn = 'nqn.2014-08.org.openstack:subsys'
        line = report._host_finding(candidate(
            K.STALE_SESSION, R.SESSION, nqn, nqn, target=nqn,
            subsystem='nvme-subsys2'))
        self.assertIn('%s  subsystem nvme-subsys2  volume' % nqn, line)
