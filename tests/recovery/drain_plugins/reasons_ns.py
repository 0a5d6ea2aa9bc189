"""``/reasons``: echoes ``message``; each disconnect's reason is appended, one per line,
to the file named by $OPENLINE_TEST_REASONS (tests/recovery/test_drain.py reads it)."""

import os

import socketio


class Reasons(socketio.AsyncNamespace):
    async def on_message(self, sid, data):
        await self.send(data, to=sid)

    async def on_disconnect(self, sid, reason):
        with open(os.environ["OPENLINE_TEST_REASONS"], "a") as out:
            out.write(f"{reason}\n")


namespace = Reasons("/reasons")
