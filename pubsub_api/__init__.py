"""Python stubs for Salesforce's Pub/Sub API (gRPC service ``eventbus.v1.PubSub``).

Shared by the sandbox's simulator (server side) and the relay's listener (client side)::

    from pubsub_api import pb2, pb2_grpc

    stub = pb2_grpc.PubSubStub(channel)
    topic = stub.GetTopic(pb2.TopicRequest(topic_name="/event/Acme_Msg_Event__e"), metadata=auth)

``pubsub_api.proto`` is the wire definition; the ``*_pb2*.py`` files are generated from it by
``python -m pubsub_api.regenerate`` and committed. Replay ids are opaque bytes on the wire.
"""

from . import pubsub_api_pb2 as pb2
from . import pubsub_api_pb2_grpc as pb2_grpc

# The gRPC metadata keys Salesforce reads the session from, on every RPC.
METADATA_ACCESS_TOKEN = "accesstoken"
METADATA_INSTANCE_URL = "instanceurl"
METADATA_TENANT_ID = "tenantid"
# The trailer in which Salesforce puts its own error code on a failed RPC.
TRAILER_ERROR_CODE = "error-code"

__all__ = [
    "METADATA_ACCESS_TOKEN",
    "METADATA_INSTANCE_URL",
    "METADATA_TENANT_ID",
    "TRAILER_ERROR_CODE",
    "pb2",
    "pb2_grpc",
]
