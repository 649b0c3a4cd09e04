"""A demo cloud (real cinder-api, fake array) and a config file for it."""

import os
import subprocess
import sys

import fixtures

from reconciler.simulators import cinder as cinder_sim
from reconciler.simulators import fake_array
from reconciler.simulators import faultproxy
from reconciler.simulators import scenario as scn

SCENARIO = os.path.join(os.path.dirname(scn.__file__), 'scenarios',
                        'demo.yaml')


class DemoCloud(fixtures.Fixture):
    """The demo scenario behind a fault proxy, and commands to run on it.

    ``conf_text`` is a template formatted with ``tmp`` (a work directory),
    ``endpoint`` (Cinder through the proxy), ``token`` and ``values``.
    """

    def __init__(self, conf_text, **values):
        super().__init__()
        self.conf_text = conf_text
        self.values = values

    def _setUp(self):
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.scenario = scn.Scenario.load(SCENARIO)
        self.cloud = cinder_sim.CinderCloud(
            os.path.join(self.tmp, 'cinder'), self.scenario)
        self.cloud.start()
        self.addCleanup(self.cloud.stop)
        self.proxy = faultproxy.FaultProxy(self.cloud.endpoint).start()
        self.addCleanup(self.proxy.stop)
        self.array = os.path.join(self.tmp, 'array.yaml')
        fake_array.write(self.scenario, 'fake1', self.array)
        self.conf_path = os.path.join(self.tmp, 'r.conf')
        self.write_conf()

    def write_conf(self, **values):
        self.values.update(values)
        with open(self.conf_path, 'w') as f:
            f.write(self.conf_text.format(
                tmp=self.tmp, endpoint=self.proxy.url,
                token=cinder_sim.ADMIN_TOKEN, **self.values))

    def command(self, module, *args):
        """argv running ``reconciler.cmd.<module>:main`` on our config."""
        return [sys.executable, '-c',
                'import sys; from reconciler.cmd.%s import main; '
                'sys.exit(main())' % module,
                '--config-file', self.conf_path] + list(args)

    def manage(self, *args, check=True):
        return subprocess.run(self.command('manage', *args), check=check,
                              capture_output=True, text=True)
