"""Salesforce record ids as the platform makes them: 15 case-sensitive characters plus a checksum."""

from __future__ import annotations

import itertools
import string

from .. import epoch

_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
_CHECKSUM_CHARS = string.ascii_uppercase + "012345"

# Key prefixes of the objects the simulator stores (the first three characters of every id).
KEY_PREFIXES = {
    "Organization": "00D",
    "User": "005",
    "Group": "00G",  # queues are Groups of Type 'Queue'
    "Case": "500",
    "Contact": "003",
    "Account": "001",
    "MessagingSession": "0Mw",
    "MessagingEndUser": "0PA",
    "MessagingChannel": "0Mj",
    "ConversationChannelDefinition": "0oP",
    "ConversationVendorInfo": "0oQ",
    "ConversationEntry": "0XF",
    "Conversation": "0dw",
    "CustomObject": "01I",
    "CustomField": "00N",
    "Flow": "300",
    "LiveChatButton": "573",
    "LiveChatDeployment": "572",
    "LiveChatTranscript": "570",
    "LiveChatVisitor": "571",
    "ContentVersion": "068",
    "ContentDocument": "069",
    "ContentDocumentLink": "06A",
    "FeedItem": "0D5",
    "CaseComment": "00a",
    "ConnectedApplication": "0H4",
}


def checksum(id15: str) -> str:
    """The three-character suffix that makes a 15-character id case-insensitively unique."""
    suffix = ""
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        bits = sum(1 << i for i, ch in enumerate(chunk) if ch.isupper())
        suffix += _CHECKSUM_CHARS[bits]
    return suffix


def to18(sfid: str) -> str:
    return sfid if len(sfid) == 18 else sfid + checksum(sfid)


def to15(sfid: str) -> str:
    return sfid[:15]


def same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and to15(a) == to15(b)


class IdFactory:
    """Makes unique 18-character ids per key prefix, as Salesforce pods do."""

    def __init__(self, pod: str = "8d") -> None:
        self.pod = pod
        self._counter = itertools.count(1)

    def skip_to_boot_block(self) -> None:
        """Records made from here on get this boot's ids. The fixture's own records (users, queues,
        channels) are made before, so their ids stay the same across restarts, as configuration does."""
        self._counter = itertools.count(max(next(self._counter), epoch.first_id()))

    def new(self, sobject: str) -> str:
        prefix = KEY_PREFIXES.get(sobject, "a0X")
        n = next(self._counter)
        digits = ""
        for _ in range(10):
            n, r = divmod(n, 62)
            digits = _ALPHABET[r] + digits
        return to18(prefix + self.pod + digits)
