"""Infobip: WhatsApp, SMS and Viber (``client`` sends and reads, ``parser`` reads webhooks, ``payloads``
writes request bodies, ``conversations`` reads bot transcripts, ``fixtures/`` holds real webhook bodies)."""
