"""The web side: what a browser or an HTTP client talks to.

The REST routes, one router per resource (thin: validate, call one domain function, answer);
the HTML pages; a run's and a worker log's Server-Sent Events; the API's request and response
shapes, which the Python client reuses; the access guard (a token, and no cross-site writes);
and the one mapping of domain errors to HTTP. Nothing here imports torch.
"""
