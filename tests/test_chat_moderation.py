"""
Tests for moderation: server operators, bans, mutes, registered rooms and
their modes, /ignore and the audit record (L{globalchat.chat.moderation},
L{globalchat.chat.modcommands}).
"""

from twisted.trial.unittest import SynchronousTestCase

from globalchat.chat.errors import ChatError
from globalchat.chat.moderation import Moderation, parseDuration, parseMask
from tests.chatfakes import Chat


class ParseTests(SynchronousTestCase):
    def test_durations(self):
        """
        Durations in seconds to weeks; anything else is refused.
        """
        self.assertEqual([parseDuration(t) for t in ("30s", "10m", "2h", "7d", "1w")],
                         [30, 600, 7200, 604800, 604800])
        for bad in ("10x", "0m", "", "m", "1.5h", "²m", "-1h"):
            self.assertRaises(ChatError, parseDuration, bad)

    def test_masks(self):
        """
        A ban's mask is an address, a network, an account or a name.
        """
        self.assertEqual(parseMask("203.0.113.7"), ("203.0.113.7", "address"))
        self.assertEqual(parseMask("::ffff:203.0.113.7"), ("203.0.113.7", "address"))
        self.assertEqual(parseMask("203.0.113.0/24"), ("203.0.113.0/24", "network"))
        self.assertEqual(parseMask("Bea", ["bea"]), ("bea", "account"))
        self.assertEqual(parseMask("Bob"), ("bob", "name"))
        for bad in ("300.1.1.1/8", "bad name!", "a/b"):
            self.assertRaises(ChatError, parseMask, bad)


class ModerationTests(SynchronousTestCase):
    def setUp(self):
        self.chat = Chat(operators=["Root"])
        self.root, self.rootLines = self.chat.connect("Root", "/register root-password")
        self.bob, self.bobLines = self.chat.connect("Bob", host="198.51.100.20")
        self.rootLines.lines()
        self.bobLines.lines()

    def test_onlyOperators(self):
        """
        A non-operator's moderation command is refused and changes nothing.
        """
        for line in ("/kill Root", "/ban Root", "/mute Root", "/wall hi", "/audit",
                     "/bans", "/kick #lobby Root"):
            self.bob.lineReceived(line)
        self.assertEqual(set(self.bobLines.lines()), {
            "ERROR only server operators may do that",
            "ERROR only the room's operators may do that"})
        self.assertEqual(self.chat.hub.names, ["Root", "Bob"])

    def test_kickAndKill(self):
        """
        /kick puts a user out of a room with the reason; /kill disconnects.
        """
        self.root.lineReceived("/kick #lobby Bob spamming")
        self.assertEqual(self.bobLines.lines(), ["PART #lobby Bob kicked by Root: spamming"])
        self.root.lineReceived("/kill Bob bye")
        self.assertEqual(self.bobLines.lines(), ["ERROR disconnected by Root: bye"])
        self.assertTrue(self.bobLines.closed)
        self.assertEqual(self.chat.hub.names, ["Root"])

    def test_toldWhileCatchingUp(self):
        """
        Someone put out while a history is still being shown to them (just
        after logging in) is still told why.
        """
        self.bob.catchUp()
        self.root.lineReceived("/kill Bob flooding")
        self.assertEqual(self.bobLines.lines(), ["ERROR disconnected by Root: flooding"])
        self.assertTrue(self.bobLines.closed)

    def test_banPersistsAndExpires(self):
        """
        A ban ends the banned user's connection, refuses it at login, is
        kept in the store, and ends on time.
        """
        self.root.lineReceived("/ban Bob 10m flooding")
        self.assertEqual(self.bobLines.lines(), ["ERROR you are banned from this server: flooding"])
        _, again = self.chat.connect("BOB")
        self.assertEqual(again.lines(), ["ERROR you are banned from this server: flooding"])
        reloaded = Moderation(self.chat.store, self.chat.clock.seconds)
        reloaded.load()
        self.assertEqual([b.mask for b in reloaded.bans()], ["bob"])
        self.chat.clock.advance(601)
        _, later = self.chat.connect("Bob")
        self.assertEqual(later.lines()[0], "Hello Good morning !!!! ::: Bob")

    def test_banAddress(self):
        """
        An address ban keeps out every name from there.
        """
        self.root.lineReceived("/ban 198.51.100.9")
        self.assertEqual(self.rootLines.lines(), ["ERROR you cannot ban yourself"])
        self.root.lineReceived("/ban 198.51.100.16/28")
        self.assertTrue(self.bobLines.closed)
        _, other = self.chat.connect("Carol", host="198.51.100.17")
        self.assertEqual(other.lines(), ["ERROR you are banned from this server"])
        self.root.lineReceived("/unban 198.51.100.16/28")
        _, back = self.chat.connect("Carol", host="198.51.100.17")
        self.assertEqual(back.lines()[0], "Hello Good morning !!!! ::: Carol")

    def test_badInput(self):
        """
        Bad masks, durations, yourself, unknown names: one clear error each.
        """
        for line, error in [
                ("/ban bad!name", "ERROR invalid name 'bad!name'"),
                ("/ban Bob 10x", "ERROR not a duration: '10x'"),
                ("/ban Root", "ERROR you cannot ban yourself"),
                ("/mute Nobody", "ERROR no one called Nobody is online"),
                ("/kick #nowhere Bob", "ERROR no room #nowhere"),
                ("/unban Bob", "ERROR there is no ban on Bob"),
                ("/mode +x", "ERROR usage: /mode")]:
            self.root.lineReceived(line)
            self.assertTrue(self.rootLines.lines()[0].startswith(error), line)

    def test_mute(self):
        """
        A muted user cannot speak, anywhere, until the time is up.
        """
        self.root.lineReceived("/mute Bob 1m")
        self.bobLines.lines()
        self.bob.lineReceived("hello?")
        self.bob.lineReceived("/msg Root hello?")
        self.assertEqual(self.bobLines.lines(), ["ERROR you are muted for 60 s more"] * 2)
        self.chat.clock.advance(61)
        self.bob.lineReceived("free")
        self.assertEqual(self.bobLines.lines(), ["MSG #lobby <Bob> free"])

    def test_wallAndAudit(self):
        """
        /wall reaches everyone; /audit lists what operators did.
        """
        self.root.lineReceived("/wall restart at noon")
        self.assertEqual(self.bobLines.lines(), ["INFO notice from Root: restart at noon"])
        self.root.lineReceived("/audit 5")
        lines = self.rootLines.lines()
        self.assertTrue(lines[-2].endswith("root wall everyone: restart at noon"), lines)
        self.assertEqual(lines[-1], "OK /audit")

    def test_ignore(self):
        """
        /ignore stops a sender's room lines and private messages reaching
        you, nobody else.
        """
        _, carol = self.chat.connect("Carol", host="198.51.100.30")
        carol.lines()
        self.rootLines.lines()
        self.root.lineReceived("/ignore Bob")
        self.bob.lineReceived("noise")
        self.bob.lineReceived("/msg Root psst")
        self.assertEqual(self.rootLines.lines(), ["OK /ignore"])
        self.assertEqual(carol.lines(), ["MSG #lobby <Bob> noise"])
        self.root.lineReceived("/unignore Bob")
        self.bob.lineReceived("again")
        self.assertEqual(self.rootLines.lines(), ["OK /unignore", "MSG #lobby <Bob> again"])


class RoomTests(SynchronousTestCase):
    def setUp(self):
        self.chat = Chat()
        self.ann, self.annLines = self.chat.connect("Ann", "/register ann-password",
                                                    "/join tea", "/room register")
        self.bob, self.bobLines = self.chat.connect("Bob", host="198.51.100.20")
        self.annLines.lines()
        self.bobLines.lines()

    def test_founderOnly(self):
        """
        Only the founder (or a room operator) changes the room.
        """
        self.bob.lineReceived("/mode #tea +i")
        self.assertEqual(self.bobLines.lines(), ["ERROR only the room's operators may do that"])
        self.ann.lineReceived("/room info")
        self.assertEqual(self.annLines.lines()[0],
                         "INFO #tea: founder ann; operators none; modes none")

    def test_inviteOnlyAndKey(self):
        """
        An invite-only room lets in only those invited; a keyed room only
        those who give the key.
        """
        self.ann.lineReceived("/mode +i")
        self.bob.lineReceived("/join tea")
        self.assertEqual(self.bobLines.lines(), [
            "ERROR #tea is invite-only: ask one of its operators for an /invite"])
        self.ann.lineReceived("/invite Bob")
        self.assertEqual(self.bobLines.lines(), ["INFO Ann invites you to #tea"])
        self.ann.lineReceived("/mode -i")
        self.ann.lineReceived("/mode +k sesame")
        self.bob.lineReceived("/join tea")
        self.bob.lineReceived("/join tea sesame")
        lines = self.bobLines.lines()
        self.assertEqual(lines[0], "ERROR #tea needs its key: /join #tea KEY")
        self.assertEqual(lines[-1], "OK /join")

    def test_moderatedAndTopicLock(self):
        """
        In a moderated room only voiced members and operators speak; with
        the topic locked only operators set it.
        """
        self.bob.lineReceived("/join tea")
        self.ann.lineReceived("/mode +m")
        self.ann.lineReceived("/mode +t")
        self.bobLines.lines()
        self.bob.lineReceived("hi")
        self.bob.lineReceived("/topic mine")
        self.assertEqual(self.bobLines.lines(), [
            "ERROR #tea is moderated: only voiced members speak",
            "ERROR only the room's operators may do that"])
        self.ann.lineReceived("/voice Bob")
        self.bob.lineReceived("hi")
        self.assertEqual(self.bobLines.lines()[-1], "MSG #tea <Bob> hi")

    def test_secret(self):
        """
        A secret room is not listed to, and cannot be looked into by, people
        not in it.
        """
        self.ann.lineReceived("/mode +s")
        self.bob.lineReceived("/rooms")
        self.bob.lineReceived("/who #tea")
        self.assertEqual(self.bobLines.lines(), [
            "ROOM #lobby 2", "OK /rooms", "ERROR no room #tea: /join it to create it"])

    def test_roomStateKept(self):
        """
        A registered room's modes and topic are kept in the store.
        """
        self.ann.lineReceived("/topic tea time")
        self.ann.lineReceived("/mode +t")
        reloaded = Moderation(self.chat.store, self.chat.clock.seconds)
        reloaded.load()
        record = reloaded.record("tea")
        self.assertEqual((record.founder, record.modes, record.topic), ("ann", "t", "tea time"))

    def test_roomBan(self):
        """
        A room operator's ban keeps a name out of that room only.
        """
        self.bob.lineReceived("/join tea")
        self.bobLines.lines()
        self.ann.lineReceived("/ban #tea Bob rude")
        self.assertEqual(self.bobLines.lines(), ["PART #tea Bob kicked by Ann: rude"])
        self.bob.lineReceived("/join tea")
        self.assertEqual(self.bobLines.lines(), ["ERROR you are banned from that room"])


class WhoisTests(SynchronousTestCase):
    def test_addressForOperatorsOnly(self):
        """
        /whois shows where a user connects from to operators, nobody else.
        """
        chat = Chat(operators=["Root"])
        root, rootLines = chat.connect("Root", "/register root-password")
        bob, bobLines = chat.connect("Bob", host="198.51.100.20")
        rootLines.lines()
        root.lineReceived("/whois Bob")
        bob.lineReceived("/whois Root")
        self.assertIn("from 198.51.100.20:4000", rootLines.lines()[0])
        self.assertNotIn("198.51.100", bobLines.lines()[0])
