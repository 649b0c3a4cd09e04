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

"""How often an operator's name reads as Cinder's, per driver, measured.

10,000 operator-style names in each driver's Cinder shape
(tests/operator_names.py) go through the driver's own decoder. Where some
decode (NEC's base 62, 3PAR's base 64), a name is evidence that could
arise by chance, and the driver's views say so (``chance_names``) so that
findings carry ``ownership_evidence: name``; where none can (a whole UUID
in the text), they do not.
"""

from oslotest import base

from reconciler.drivers import fake
from reconciler.drivers import hpe3par
from reconciler.drivers import lefthand
from reconciler.drivers import lvm
from reconciler.drivers import manageable
from reconciler.drivers import nec
from reconciler.drivers import rbd
from tests import operator_names

COUNT = 10000
# driver shape -> (most read as Cinder-named, driver classes of that shape)
BOUNDS = {
    'nec': (0.01, (nec.MStorageDriver,)),           # measured 0.38-0.60 %
    'hpe3par': (0.002, (hpe3par.HPE3PARDriver,)),   # measured 0.05-0.06 %
    'volume-<uuid>': (0.0, (lefthand.LeftHandDriver, lvm.LVMDriver,
                            rbd.RBDDriver, fake.FakeDriver,
                            manageable.ManageableDriver)),
}


class NameCollisionTest(base.BaseTestCase):

    def test_measured_rate_per_driver(self):
        deciders = operator_names.deciders()
        self.assertEqual(set(BOUNDS), set(deciders))
        for shape, (bound, drivers) in BOUNDS.items():
            make, is_cinder = deciders[shape]
            hits, count = operator_names.rate(is_cinder, make, COUNT)
            self.assertEqual(COUNT, count)
            self.assertLessEqual(hits / count, bound, shape)
            # Chance collisions happen exactly where drivers say so.
            for driver in drivers:
                self.assertEqual(hits > 0, driver.CHANCE_NAMES,
                                 (shape, driver))

    def test_names_are_operator_style(self):
        """The shapes only: prefix, alphabet and length of each driver."""
        for name in operator_names.names(operator_names.nec, 1000):
            self.assertRegex(name, r'^LX:[A-Za-z0-9]{13,22}$')
        for name in operator_names.names(operator_names.hpe3par, 1000):
            self.assertRegex(name, r'^os[sv]-[A-Za-z0-9.-]{22}$')
        for name in operator_names.names(operator_names.template, 1000):
            self.assertRegex(name, r'^(volume|snapshot)-[a-z0-9-]{8,36}$')
