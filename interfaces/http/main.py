"""The ASGI entry point uvicorn imports (`interfaces.http.main:app`); settings from the environment."""

from interfaces import collector
from interfaces.http.app import create_app
from interfaces.logging import configure

configure()
# A serving process's collector policy (interfaces.collector): here, not in create_app, so
# that tests and one-off commands building an app keep CPython's own.
collector.settle_long_lived()

app = create_app()
