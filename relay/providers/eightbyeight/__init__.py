"""8x8 Chat Apps: WhatsApp, SMS and Viber through a sub-account (``client`` sends and reads, ``parser``
reads webhooks, ``payloads`` writes request bodies, ``fixtures/`` holds webhook bodies from 8x8's docs)."""
