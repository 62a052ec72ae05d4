"""Local simulators of Salesforce and the messaging providers.

The sandbox is the other side of the wire: a self-contained ASGI app (HTTP) plus a gRPC server
(Pub/Sub API) that answer in the vendors' shapes. It imports nothing from ``portal``, ``relay`` or
``tenants`` so that pointing Switchboard at the real services is only a change of URLs.
"""
