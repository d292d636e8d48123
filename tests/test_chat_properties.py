"""
Property-based tests of the chat's invariants: whatever users do, in any
order, the hub stays consistent.
"""

from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import SynchronousTestCase

from globalchat.chat import names
from globalchat.chat.hub import Hub
from tests.chatfakes import connect, Recorder

USERS = range(5)
NAMES = ["ann", "Ann", "bob", "BOB", "cy", "Ｃｙ", "dee", "bad name", ""]
ROOMS = ["lobby", "dev", "DEV", "tmp", "#tmp"]
TEXTS = ["hi", "/me waves", "//slash", "", "x" * 5]

actions = st.lists(
    st.tuples(
        st.sampled_from(["connect", "line", "join", "part", "nick", "msg", "say", "quit",
                         "drop", "who", "rooms"]),
        st.sampled_from(USERS),
        st.sampled_from(NAMES),
        st.sampled_from(ROOMS),
        st.sampled_from(TEXTS),
    ),
    max_size=60,
)


class InvariantTests(SynchronousTestCase):
    """
    Random sessions never break the hub's invariants.
    """

    def check(self, hub, sessions):
        logged = {id(s) for s in hub.bus}
        # Names are unique case-insensitively and each finds its holder.
        keys = [names.key(n) for n in hub.names]
        self.assertEqual(len(keys), len(set(keys)))
        for session in hub.bus:
            self.assertIs(hub.bus.holder(session.name.upper()), session)
        for room in hub.bus.rooms():
            # No empty room is kept; every member is logged in and knows it.
            self.assertTrue(room.members)
            for member in room.members.values():
                self.assertIn(id(member), logged)
                self.assertIn(room, member.rooms)
        for session in sessions.values():
            if id(session) not in logged:
                self.assertEqual(session.rooms, [])

    @settings(max_examples=200, deadline=None)
    @given(actions)
    def test_invariants(self, steps):
        """
        After every step: names are unique, rooms hold only logged-in
        members, and nobody receives a room's message without being in the
        room.
        """
        hub = Hub()
        sessions, recorders = {}, {}
        for action, user, name, room, text in steps:
            if action == "connect" or user not in sessions:
                recorders[user] = Recorder()
                sessions[user] = connect(hub, recorders[user])
            session = sessions[user]
            line = {
                "connect": name, "line": name, "join": f"/join {room}", "part": f"/part {room}",
                "nick": f"/nick {name}", "msg": f"/msg {name} {text}", "say": text,
                "quit": "/quit", "who": f"/who {room}", "rooms": "/rooms",
            }.get(action)
            before = {u: len(r.data) for u, r in recorders.items()}
            current = session.current
            if action == "drop":
                session.disconnected()
            else:
                session.lineReceived(line)
            self.check(hub, sessions)
            if action == "say" and current is not None and text and not text.startswith("/me"):
                tag = f"MSG #{current.name} ".encode()
                for other, recorder in recorders.items():
                    got = b"".join(recorder.data[before[other]:])
                    member = current in sessions[other].rooms
                    if tag in got:
                        self.assertTrue(member or sessions[other] is session)
