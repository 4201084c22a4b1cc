"""The local web page: sky search by text or image, similar-image browsing, zero-shot classes.

``create_app(engine)`` (in :mod:`hubbleclip.web.app`) builds the ASGI app around an injected
:class:`hubbleclip.web.engine.SkyEngine`; ``hubbleclip serve`` runs it with uvicorn.
"""
