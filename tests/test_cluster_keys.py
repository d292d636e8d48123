"""
The cluster's Redis names: one prefix, and channels that say whose they are.
"""

from twisted.trial.unittest import SynchronousTestCase

from globalchat.cluster import keys


class KeysTests(SynchronousTestCase):
    def test_prefixed(self):
        """
        Every key and channel starts with the cluster's prefix.
        """
        for name in [keys.NODES, keys.ROOMS, keys.node("n1"), keys.nodeNames("n1"),
                     keys.name("ann"), keys.look("ann"), keys.room("lobby"),
                     keys.members("lobby"), keys.userRooms("ann"), keys.roomChannel(0, "lobby"),
                     keys.nodeChannel(0, "n1")]:
            self.assertTrue(name.startswith(keys.PREFIX), name)

    def test_roomOfChannel(self):
        """
        A room's channel leads back to its room key; other channels to none.
        """
        self.assertEqual(keys.roomOfChannel(3, keys.roomChannel(3, "lobby")), "lobby")
        self.assertIsNone(keys.roomOfChannel(3, keys.roomChannel(4, "lobby")))
        self.assertIsNone(keys.roomOfChannel(3, keys.nodeChannel(3, "n1")))

    def test_expiryOutlastsBeats(self):
        """
        A node misses more than one heartbeat before it counts as dead.
        """
        self.assertGreaterEqual(keys.HEARTBEAT_EXPIRY, 2 * keys.HEARTBEAT_INTERVAL)
