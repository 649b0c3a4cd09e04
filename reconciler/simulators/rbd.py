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

"""A stand-in for the ``rbd`` command line, answering from a JSON file.

The RBD driver's tests point ``reconciler_rbd_command`` at a small script
that calls :func:`main`. It answers the read-only subcommands the driver
uses (``ls -l``, ``info``, ``snap ls``, ``children --all``, ``trash ls``)
with JSON shaped like the ``--format json`` output of Ceph 16.2 (checked
against a real cluster in tests/functional/test_rbd_ceph.py), from a cluster
file the test writes (:class:`Cluster`), re-read on every call so a test can
change the cluster between a listing and a re-check. Every call's argv is
appended to the file's ``log``. ``fault`` injects a failure into every call
whose arguments (global options left out) start with ``command``, and counts
them in ``fired``::

    {"fault": {"command": "ls", "exit": 1, "stderr": "...", "stdout": "",
               "fired": 0}}
"""

import json
import sys

from reconciler.simulators import scenario as scn

GIB = 1024 ** 3


class Cluster(object):
    """Images, snapshots and trash of one pool, saved for :func:`main`."""

    def __init__(self, pool):
        self.data = {'pool': pool, 'images': {}, 'trash': [], 'log': [],
                     'fault': None}

    def image(self, name, size_gib=1, parent=None):
        """Add image ``name``; ``parent`` is ``(image, snap)`` of a clone."""
        self.data['images'][name] = {
            'id': scn.uid('rbd:' + name).replace('-', '')[:12],
            'size': size_gib * GIB, 'snaps': {}, 'parent': parent}
        if parent:
            self.data['images'][parent[0]]['snaps'][parent[1]].append(name)

    def snap(self, image, snap):
        self.data['images'][image]['snaps'][snap] = []

    def trash(self, name, source='USER'):
        self.data['trash'].append(
            {'id': scn.uid('trash:' + name).replace('-', '')[:12],
             'name': name, 'source': source})

    def remove(self, name):
        del self.data['images'][name]

    def fault(self, command, exit=1, stderr='', stdout=''):
        """Fail calls starting with ``command`` from now on; None: none."""
        self.data['fault'] = command and dict(
            command=command, exit=exit, stderr=stderr, stdout=stdout,
            fired=0)

    def save(self, path):
        with open(path, 'w') as f:
            json.dump(self.data, f)

    @classmethod
    def from_scenario(cls, scenario, backend, pool,
                      volume_template='volume-%s',
                      snapshot_template='snapshot-%s'):
        cluster = cls(pool)
        snaps = []
        for obj in scenario.array_contents(backend):
            if obj.kind == 'volume':
                cluster.image(obj.name or volume_template % obj.uuid,
                              obj.size)
            elif obj.kind == 'snapshot':
                snaps.append(obj)
        for obj in snaps:
            image = volume_template % obj.parent
            if obj.object_class == 'temporary':
                cluster.snap(image, (volume_template % obj.uuid)
                             + '.clone_snap')
            else:
                cluster.snap(image, obj.name or snapshot_template % obj.uuid)
        return cluster


def _split(spec):
    pool, _, rest = spec.partition('/')
    image, _, snap = rest.partition('@')
    return pool, image, snap or None


class _Error(Exception):
    def __init__(self, text, code=2):
        super().__init__(text)
        self.code = code


def _answer(data, args):
    images = data['images']

    def image_of(spec):
        pool, image, snap = _split(spec)
        if pool != data['pool'] or image not in images:
            raise _Error('rbd: error opening image %s: (2) No such file or '
                         'directory' % image)
        return image, images[image], snap

    words = [a for a in args if not a.startswith('-')]
    command = ' '.join(words[:2]) if words[0] in ('snap', 'trash') else (
        words[0])
    if command == 'ls':
        if words[1] != data['pool']:
            raise _Error('rbd: error opening pool %s: (2) No such file or '
                         'directory' % words[1])
        out = []
        for name, img in sorted(images.items()):
            row = {'image': name, 'id': img['id'], 'size': img['size'],
                   'format': 2}
            if img['parent']:
                parent = images.get(img['parent'][0], {})
                row['parent'] = {
                    'pool': data['pool'], 'pool_namespace': '',
                    'image': img['parent'][0], 'id': parent.get('id'),
                    'snapshot': img['parent'][1], 'trash': False,
                    'overlap': img['size']}
            out.append(row)
            for n, snap in enumerate(sorted(img['snaps']), 1):
                out.append(dict(row, snapshot=snap, snapshot_id=n,
                                protected='true'))
        return out
    if command == 'info':
        name, img, _snap = image_of(words[1])
        return {'name': name, 'id': img['id'], 'size': img['size'],
                'objects': img['size'] // (4 << 20), 'order': 22,
                'object_size': 4 << 20, 'snapshot_count': len(img['snaps']),
                'block_name_prefix': 'rbd_data.' + img['id'], 'format': 2,
                'features': ['layering', 'exclusive-lock', 'object-map',
                             'fast-diff', 'deep-flatten'],
                'op_features': [], 'flags': []}
    if command == 'snap ls':
        _name, img, _snap = image_of(words[2])
        return [{'id': n, 'name': snap, 'size': img['size'],
                 'protected': 'true', 'timestamp': 'Sun Nov 22 10:00:00 2026'}
                for n, snap in enumerate(sorted(img['snaps']), 1)]
    if command == 'children':
        if '--snap-id' in args:
            snap_id = int(args[args.index('--snap-id') + 1])
            _name, img, _snap = image_of(words[2])
            snap = dict(enumerate(sorted(img['snaps']), 1)).get(snap_id)
        else:
            _name, img, snap = image_of(words[1])
        if snap not in img['snaps']:
            raise _Error('rbd: error setting snapshot context: (2) No such '
                         'file or directory')
        return [{'pool': data['pool'], 'pool_namespace': '', 'image': child,
                 'id': images[child]['id'], 'trash': False}
                for child in img['snaps'][snap] if child in images]
    if command == 'trash ls':
        return [dict(e, source=e.get('source', 'USER'),
                     deleted_at='Sun Nov 22 10:00:00 2026',
                     status='expired at Sun Nov 22 10:00:00 2026')
                for e in data['trash']]
    raise _Error('rbd: unknown command %r' % command, code=1)


def main(state_path, argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    with open(state_path) as f:
        data = json.load(f)
    # Global options with a value, as the driver passes them.
    args, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ('--cluster', '--id', '--conf', '--format',
                     '--client-mount-timeout', '--rados-mon-op-timeout',
                     '--rados-osd-op-timeout'):
            skip = True
        else:
            args.append(arg)
    fault = data.get('fault')
    if fault and not ' '.join(args).startswith(fault['command']):
        fault = None
    data['log'].append(argv)
    if fault:
        fault['fired'] = fault.get('fired', 0) + 1
    with open(state_path, 'w') as f:
        json.dump(data, f)
    if fault:
        sys.stdout.write(fault['stdout'])
        sys.stderr.write(fault['stderr'])
        return fault['exit']
    try:
        json.dump(_answer(data, args), sys.stdout)
    except _Error as e:
        sys.stderr.write('%s\n' % e)
        return e.code
    return 0
