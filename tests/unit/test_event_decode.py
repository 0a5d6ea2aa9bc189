"""server/realtime/events.py: the direct EVENT decoder reads every packet as python-socketio's
Packet.decode does, or hands it back (None) to the parser class."""

from __future__ import annotations

import pytest
from openline.realtime.parsers import JsonPacket, decode_json_event

DECODED = [
    '2["echo"]',
    '2["echo","x",1,{"a":[1,2]}]',
    '21["echo"]',
    '2123456789["echo",null]',
    '2/chat,["message","hi"]',
    '2/chat,7["message","hi"]',
    '2/,["root"]',
    '2["a-b","-"]',
    '2[1]',
]
HANDED_BACK = [
    "",
    "0",
    '3["ack"]',
    '51-["bin",{"_placeholder":true,"num":0}]',
    '21-["not binary but counted"]',
    "2/chat",
    '2/chat?x=1,["query"]',
    '2"text"',
    "2{}",
    "2",
    '2/a,b,["a comma after the namespace"]',
    "2" + "9" * 100 + '["id too long"]',
]


@pytest.mark.parametrize("text", DECODED)
def test_event_decodes_as_the_parser_class_does(text):
    """Namespace, ack id and data are those python-socketio's decode gives."""
    pkt = JsonPacket(encoded_packet=text)
    assert decode_json_event(text) == (pkt.namespace, pkt.id, pkt.data)


@pytest.mark.parametrize("text", HANDED_BACK)
def test_other_packets_are_handed_back(text):
    """Anything but a plain EVENT (other types, attachments, query, no list) is None."""
    assert decode_json_event(text) is None


def test_bad_json_raises_value_error():
    """Broken JSON raises ValueError, which closes the connection as the general path does."""
    with pytest.raises(ValueError):
        decode_json_event('2["echo"')
