"""The web side: what a browser or an HTTP client talks to.

`routes/` holds one router per resource (thin: validate, call one domain function, answer);
`pages.py` the HTML pages; `event_stream.py` builds a run's Server-Sent Events and
`log_stream.py` a worker log's; `shapes.py` is the API's request and response shapes;
`auth.py` the token and Origin guard; `error_handlers.py` maps domain errors to HTTP; `deps.py`
the dependencies routes take. Nothing here imports torch, and nothing outside it imports it.
"""
