"""A test server that is not installed: skipped by developers, fatal in CI."""

import unittest

import fixtures
from oslotest import base

from tests import servers


class MissingServerTest(base.BaseTestCase):

    def test_skipped_outside_ci(self):
        self.useFixture(fixtures.EnvironmentVariable('CI'))
        self.assertRaises(unittest.SkipTest, servers.find,
                          'no-such-server-x', '/nonexistent/*/bin/x')

    def test_fails_in_ci(self):
        self.useFixture(fixtures.EnvironmentVariable('CI', 'true'))
        e = self.assertRaises(RuntimeError, servers.find, 'no-such-server-x')
        self.assertIn('install-debs.sh', str(e))

    def test_found(self):
        self.assertEqual('/bin/sh', servers.find('sh', '/bin/sh'))
