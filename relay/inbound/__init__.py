"""Customer → agent: the provider's webhook (``webhook``: verify with ``auth``, parse with the provider's
parser), the rows it becomes (``ingest``), and the line's step that hands each to the tenant's desk
(``deliver``, run by relay/lines/pipeline.py)."""
