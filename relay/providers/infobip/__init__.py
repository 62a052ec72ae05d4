"""Infobip: WhatsApp, SMS and Viber (``client`` sends and reads, ``parser`` reads webhooks, ``fixtures/``
holds real webhook bodies)."""

from ..base import register
from .client import InfobipProvider

register(InfobipProvider)

__all__ = ["InfobipProvider"]
