"""Plausibility of inventories (traps T1, T3, T15): refuse what cannot be."""

from oslotest import base

from reconciler import exception
from reconciler import history
from reconciler import manager
from reconciler import model
from reconciler.simulators.scenario import uid

R = model.ResourceType


def views(volumes, objects, cinder_named=True):
    cls = model.ObjectClass.CINDER if cinder_named else \
        model.ObjectClass.FOREIGN
    cinder = model.CinderView('h@b', tuple(
        model.CinderVolume(uid('v%d' % i), None, 'h@b#p', 'available')
        for i in range(volumes)), (), 0.0)
    array = model.ArrayView(tuple(
        model.ArrayObject(R.VOLUME, 'o%d' % i, uid('o%d' % i), cls)
        for i in range(objects)), 0.0)
    return cinder, array


def previous(volumes, objects):
    return history.RunRecord(
        id=7, backend='b', host='h', status=model.RunStatus.OK,
        started_at=0.0, finished_at=1.0, counts={}, error=None,
        inventory={'cinder_volumes': volumes, 'array_objects': objects})


class PlausibilityTest(base.BaseTestCase):

    def check(self, prev, cinder_view, array_view, shrink=50):
        return manager.check_plausible(prev, cinder_view, array_view, shrink)

    def test_first_pass_and_steady_passes_are_plausible(self):
        self.assertEqual({'cinder_volumes': 0, 'array_objects': 0},
                         self.check(None, *views(0, 0)))
        self.check(None, *views(10, 12))
        self.check(previous(100, 100), *views(50, 50))
        self.check(previous(100, 100), *views(150, 90))

    def test_sharp_shrink_fails(self):
        for now in ((49, 100), (100, 49), (0, 100)):
            e = self.assertRaises(exception.ImplausibleInventory, self.check,
                                  previous(100, 100), *views(*now))
            self.assertIn('since run 7', str(e))
        self.check(previous(100, 100), *views(80, 80), shrink=20)
        self.assertRaises(exception.ImplausibleInventory, self.check,
                          previous(100, 100), *views(79, 80), shrink=20)

    def test_empty_cinder_beside_cinder_named_volumes_fails(self):
        e = self.assertRaises(exception.ImplausibleInventory, self.check,
                              None, *views(0, 3))
        self.assertIn('h@b', str(e))
        # Foreign objects alone say nothing about Cinder's view.
        self.check(None, *views(0, 3, cinder_named=False))
