"""The Enhanced Chat simulator: Salesforce's Messaging for In-App and Web API v2 on the SCRT host.

``/sim/scrt/iamessage/api/v2/...`` (access tokens, conversations, messages, files, typing, acknowledgements)
and ``/sim/scrt/eventrouter/v1/sse`` (the server-sent event stream). Conversations become Messaging
sessions of the shared Messaging state, so the agent console accepts, answers and ends them; what the
agent does comes back on the end user's event stream. The spec with its sources:
``sandbox/README.md`` (Enhanced Chat section).
"""
