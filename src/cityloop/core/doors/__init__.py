"""What every app's doors share: the pieces its pages and API operations use, below every app.

A door is a page (``views*.py``) or an API operation (``api*.py``); each app has its own, so the pieces
they share cannot live in ``web`` or ``openapi``, which sit above the apps (docs/architecture.md,
decision 0006): API token authentication (``auth``), the checked input types (``inputs``), the upload
size cap (``uploads``) and the SVG charts (``charts``). They depend on ``core`` only.
"""
