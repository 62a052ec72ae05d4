"""The partner API's resources, one module each: its serializers, its query filters and its viewset (after
NetBox). ``portal/api/urls.py`` registers each viewset; the shared pieces are in ``portal/api/base.py``.

A new resource (or a new desk's fields on an existing one) goes in its module here; a resource's live
checks answer with ``checks.LiveCheckSerializer`` through ``checks.accepted``."""
