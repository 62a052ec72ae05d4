"""A line is one conversation's messages of one direction, delivered in order, exactly once: the loop
(``pipeline``), one worker per line (``leases``), every call recorded (``attempts``), when to try again
(``backoff``), why a message waits (``waiting``), the admin's and the API's retry (``retry_failed``), the
sweeper that re-queues what a lost task left (``sweep``) and the one place that wakes a worker (``wake``)."""
