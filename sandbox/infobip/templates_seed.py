"""Realistic WhatsApp templates seeded for every WhatsApp sender (shape of ``GET /whatsapp/2/.../templates``).

A mix of text and media (IMAGE/VIDEO/DOCUMENT) headers, body placeholders, footers, QUICK_REPLY, static
and dynamic URL and PHONE_NUMBER buttons; APPROVED, PENDING and REJECTED; several languages.
"""

from __future__ import annotations

import copy

SEED_TEMPLATES: list[dict] = [
    {
        "name": "order_shipped",
        "language": "en",
        "status": "APPROVED",
        "category": "UTILITY",
        "structure": {
            "header": {
                "format": "TEXT",
                "text": "Order {{1}} is on its way",
                "example": "Order 10234 is on its way",
            },
            "body": {
                "text": "Hi {{1}}, your order {{2}} has shipped and should arrive by {{3}}.",
                "examples": ["Maria", "10234", "Friday"],
            },
            "footer": {"text": "Acme Store"},
            "buttons": [
                {
                    "type": "URL",
                    "text": "Track parcel",
                    "url": "https://track.example.com/{{1}}",
                    "example": "https://track.example.com/10234",
                },
                {"type": "QUICK_REPLY", "text": "Talk to an agent"},
            ],
            "type": "TEXT",
        },
    },
    {
        "name": "order_shipped",
        "language": "pt_BR",
        "status": "APPROVED",
        "category": "UTILITY",
        "structure": {
            "header": {
                "format": "TEXT",
                "text": "Pedido {{1}} a caminho",
                "example": "Pedido 10234 a caminho",
            },
            "body": {
                "text": "Olá {{1}}, seu pedido {{2}} foi enviado e deve chegar até {{3}}.",
                "examples": ["Maria", "10234", "sexta-feira"],
            },
            "footer": {"text": "Acme Store"},
            "buttons": [
                {
                    "type": "URL",
                    "text": "Rastrear",
                    "url": "https://track.example.com/{{1}}",
                    "example": "https://track.example.com/10234",
                },
                {"type": "QUICK_REPLY", "text": "Falar com atendente"},
            ],
            "type": "TEXT",
        },
    },
    {
        "name": "appointment_reminder",
        "language": "en_GB",
        "status": "APPROVED",
        "category": "UTILITY",
        "structure": {
            "body": {
                "text": "Hello {{1}}, this is a reminder of your appointment on {{2}} at {{3}}. Can you make it?",
                "examples": ["John", "12 May", "10:30"],
            },
            "footer": {"text": "Reply STOP to opt out"},
            "buttons": [
                {"type": "QUICK_REPLY", "text": "Yes, I'll be there"},
                {"type": "QUICK_REPLY", "text": "No, reschedule"},
            ],
            "type": "TEXT",
        },
    },
    {
        "name": "welcome_back",
        "language": "en",
        "status": "APPROVED",
        "category": "MARKETING",
        "structure": {"body": {"text": "Welcome back to Acme! How can we help you today?"}, "type": "TEXT"},
    },
    {
        "name": "spring_sale",
        "language": "en",
        "status": "APPROVED",
        "category": "MARKETING",
        "structure": {
            "header": {"format": "IMAGE", "example": "https://cdn.example.com/spring-sale.jpg"},
            "body": {
                "text": "Hi {{1}}! Our spring sale starts today: {{2}} off everything.",
                "examples": ["Ana", "20%"],
            },
            "footer": {"text": "Offer valid while stocks last"},
            "buttons": [
                {"type": "URL", "text": "Shop now", "url": "https://shop.example.com/sale"},
                {"type": "PHONE_NUMBER", "text": "Call us", "phoneNumber": "+447860099299"},
            ],
            "type": "MEDIA",
        },
    },
    {
        "name": "invoice_ready",
        "language": "en",
        "status": "APPROVED",
        "category": "UTILITY",
        "structure": {
            "header": {"format": "DOCUMENT", "example": "https://cdn.example.com/invoice.pdf"},
            "body": {
                "text": "Your invoice {{1}} for {{2}} is attached.",
                "examples": ["INV-001", "EUR 49.00"],
            },
            "buttons": [{"type": "QUICK_REPLY", "text": "I have a question"}],
            "type": "MEDIA",
        },
    },
    {
        "name": "product_demo",
        "language": "de",
        "status": "APPROVED",
        "category": "MARKETING",
        "structure": {
            "header": {"format": "VIDEO", "example": "https://cdn.example.com/demo.mp4"},
            "body": {"text": "Hallo {{1}}, sehen Sie sich unser neues Produkt an!", "examples": ["Jonas"]},
            "buttons": [
                {
                    "type": "URL",
                    "text": "Mehr erfahren",
                    "url": "https://www.example.com/de/{{1}}",
                    "example": "https://www.example.com/de/neu",
                }
            ],
            "type": "MEDIA",
        },
    },
    {
        "name": "feedback_request",
        "language": "es",
        "status": "PENDING",
        "category": "MARKETING",
        "structure": {
            "body": {"text": "Hola {{1}}, ¿cómo valorarías tu última compra?", "examples": ["Lucía"]},
            "buttons": [
                {"type": "QUICK_REPLY", "text": "Muy bien"},
                {"type": "QUICK_REPLY", "text": "Regular"},
                {"type": "QUICK_REPLY", "text": "Mal"},
            ],
            "type": "TEXT",
        },
    },
    {
        "name": "win_back_offer",
        "language": "en",
        "status": "REJECTED",
        "category": "MARKETING",
        "structure": {
            "body": {"text": "We miss you {{1}}! Come back for a FREE gift!!!", "examples": ["Sam"]},
            "type": "TEXT",
        },
    },
    {
        "name": "account_verification",
        "language": "fr",
        "status": "APPROVED",
        "category": "UTILITY",
        "structure": {
            "body": {
                "text": "Bonjour {{1}}, votre demande {{2}} a été reçue.",
                "examples": ["Claire", "A-77"],
            },
            "footer": {"text": "Service client Acme"},
            "type": "TEXT",
        },
    },
]


def seed_templates() -> list[dict]:
    return copy.deepcopy(SEED_TEMPLATES)
